"""``kalshi record``: capture channels to rotating NDJSON files for days (``feeds.record``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kalshi_cli.feeds.context import ConnectionArgs

from kalshi_cli.commands.common import AllInSeriesOption, RedundantOption, connection_options, market_option
from kalshi_cli.completers import complete_channel

__all__ = ["record"]

SINK = "NATS sink"


@connection_options
def record(
    channels: Annotated[
        list[str],
        typer.Argument(
            autocompletion=complete_channel, help="Channels: orderbook_delta, trade, ticker, ...", show_default=False
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Directory for the files (created if missing). Required unless --sink is given.",
            show_default=False,
        ),
    ] = None,
    market: Annotated[
        list[str] | None,
        market_option(
            "Only these markets: a market or event ticker, a series with --all-in-series, or a kalshi.com URL"
            " (repeat for several)."
        ),
    ] = None,
    rotate: Annotated[
        list[str] | None,
        typer.Option(
            "--rotate",
            metavar="PERIOD|SIZE",
            help="Start a new file every PERIOD (1h, 30m; aligned to the "
            "clock) or at SIZE on disk (100MB, 1GB); repeat for both. "
            "[default: 1h]",
            show_default=False,
        ),
    ] = None,
    gzip_out: Annotated[
        bool,
        typer.Option(
            "--gzip",
            help="Write .ndjson.gz (closed gzip members each flush, so even a killed recorder leaves readable files).",
        ),
    ] = False,
    gzip_level: Annotated[
        int | None,
        typer.Option(
            "--gzip-level",
            metavar="1-9",
            min=1,
            max=9,
            help="With --gzip: zlib's level, 1 (quickest, files about 1.6x larger) to 9 (smallest).  [default: 6]",
            show_default=False,
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="KEY=VALUE", help="Extra subscribe parameter, as for tail."),
    ] = None,
    all_in_series: AllInSeriesOption = False,
    redundant: RedundantOption = 1,
    sink: Annotated[
        str | None,
        typer.Option(
            "--sink",
            metavar="nats://HOST:PORT[/STREAM]",
            help="Also (or, without -o, only) publish each frame to NATS JetStream, exactly once per frame "
            "across recorders.",
            show_default=False,
        ),
    ] = None,
    sink_subjects: Annotated[
        list[str] | None,
        typer.Option(
            "--sink-subjects",
            metavar="SUBJECT",
            help="With --sink: the subjects of a stream it creates (repeat for several).  [default: kalshi.>]",
            rich_help_panel=SINK,
            show_default=False,
        ),
    ] = None,
    sink_retention: Annotated[
        str,
        typer.Option(
            "--sink-retention",
            metavar="limits|interest|workqueue",
            help="With --sink: a new stream's retention policy.",
            rich_help_panel=SINK,
        ),
    ] = "limits",
    sink_replicas: Annotated[
        int,
        typer.Option(
            "--sink-replicas", metavar="N", help="With --sink: a new stream's replicas.", rich_help_panel=SINK
        ),
    ] = 1,
    sink_dedup_window: Annotated[
        str,
        typer.Option(
            "--sink-dedup-window",
            metavar="DURATION",
            help="With --sink: how far apart two recorders' copies of one event may arrive and still be "
            "kept once; an existing stream with a shorter window is refused.",
            rich_help_panel=SINK,
        ),
    ] = "2m",
    spool: Annotated[
        Path | None,
        typer.Option(
            "--spool",
            metavar="DIR",
            help="With --sink: where frames wait while the NATS server is away; what a run leaves there is "
            "published first by the next.  [default: OUT/.spool]",
            rich_help_panel=SINK,
            show_default=False,
        ),
    ] = None,
    *,
    conn: ConnectionArgs,
) -> None:
    """Record channels to rotating NDJSON files, for backtests and offline replay.

    Each line is a frame exactly as received plus "recv_ts_ms" (local receive time, ms);
    "kalshi_cli.meta" lines mark connects, disconnects, resubscribes, seq gaps and snapshot
    requests. Files are named by UTC start time so they sort in order, rotate by time or size,
    are flushed twice a second and fsynced on rotation and on Ctrl-C/SIGTERM: a crash loses at
    most the last second. Reconnects forever; only bad credentials stop it. Replay the files
    with 'kalshi replay' or 'kalshi book --replay'.

    With --sink each data frame (the recorded line) is also published to NATS JetStream on
    kalshi.ENV.CHANNEL.MARKET with its exchange-event key as Nats-Msg-Id, so recorders on
    several machines feed one stream, each event once. Credentials: nats://USER:PASS@HOST or
    nats://TOKEN@HOST, or NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY; tls:// for TLS.

    Examples:

      kalshi record orderbook_delta trade -m KXHIGHNY-26NOV25-B52.5 -o data/ --gzip

      kalshi record ticker trade -o data/ --rotate 1h --rotate 500MB

      kalshi record orderbook_delta trade --sim -o data/

      kalshi record orderbook_delta trade --sim --sink nats://127.0.0.1:4222/KALSHI

      kalshi book --replay data/ --replay-speed max --json
    """
    from kalshi_cli import environment
    from kalshi_cli.bus.stream import parse_duration
    from kalshi_cli.errors import UsageError
    from kalshi_cli.feeds import record as feed
    from kalshi_cli.feeds.subscriptions import parse_params
    from kalshi_cli.recorder import parse_rotate

    seconds, size = parse_rotate(list(rotate or ["1h"]))
    stream_flags = sink_subjects or spool is not None or sink_retention != "limits" or sink_replicas != 1
    if sink is None and (stream_flags or sink_dedup_window != "2m"):
        raise UsageError(
            "--sink-subjects, --sink-retention, --sink-replicas, --sink-dedup-window and --spool go with --sink"
        )
    if gzip_level is not None and not gzip_out:
        raise UsageError("--gzip-level goes with --gzip")
    window = parse_duration(sink_dedup_window, "--sink-dedup-window") if sink is not None else 120.0
    settings = feed.RecordSettings(
        channels=list(channels),
        out=out,
        markets=list(market or []),
        rotate_seconds=seconds,
        rotate_bytes=size,
        gzip=gzip_out,
        gzip_level=gzip_level,
        params=parse_params(list(param or [])),
        all_in_series=all_in_series,
        redundant=redundant,
        sink=sink,
        sink_subjects=list(sink_subjects or ["kalshi.>"]),
        sink_retention=sink_retention,
        sink_replicas=sink_replicas,
        sink_dedup_window=window,
        spool=spool,
        conn=conn,
    )
    feed.run(settings, environment.current())
