"""``kalshi tail``: stream any channels to the terminal or, as NDJSON, to a pipe (``feeds.tail``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kalshi_cli.feeds.context import ConnectionArgs

from kalshi_cli.commands.common import (
    AllInSeriesOption,
    BusDurableOption,
    BusSinceOption,
    BusSourceOption,
    ContinuityOption,
    RedundantOption,
    StatsOption,
    connection_options,
    market_option,
)
from kalshi_cli.completers import complete_channel

__all__ = ["tail"]


@connection_options
def tail(
    channels: Annotated[
        list[str] | None,
        typer.Argument(
            autocompletion=complete_channel,
            help="Channels: trade, ticker, orderbook_delta, fill, ... (with --from: none is every channel).",
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
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="NDJSON: each frame as received, one per line (the default when stdout is not a terminal)."
        ),
    ] = False,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Exit after this many data frames.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="Extra subscribe parameter, e.g. use_yes_price=true, "
            "send_initial_snapshot=true, index_ids='[\"BRTI\"]'.",
        ),
    ] = None,
    all_in_series: AllInSeriesOption = False,
    continuity: ContinuityOption = False,
    stats: StatsOption = False,
    redundant: RedundantOption = 1,
    source: BusSourceOption = None,
    durable: BusDurableOption = None,
    since: BusSinceOption = None,
    *,
    conn: ConnectionArgs,
) -> None:
    """Stream channels: readable lines on a terminal, NDJSON into a pipe.

    Every channel in Kalshi's API works, public and private. Only data goes to stdout;
    status, warnings and errors go to stderr. Sequence gaps are reported, order books are
    re-snapshotted, and dropped connections reconnect and resubscribe by themselves.
    --continuity marks each gap, reconnect and resubscribe with a line of its own among the
    frames; --stats ends the run with how old the frames were on arrival, per channel.

    Examples:

      kalshi tail trade --sim

      kalshi tail trade ticker -m KXHIGHNY-26NOV25-B52.5 --json | jq .msg.yes_price_dollars

      kalshi tail orderbook_delta -m KXBTCD-26NOV2517-T97999.99 --count 100 > book.ndjson

      kalshi tail orderbook_delta -m KXBTCD-26NOV2517-T97999.99 --continuity --stats > feed.ndjson
    """
    from kalshi_cli import environment
    from kalshi_cli.feeds import tail as feed
    from kalshi_cli.feeds.subscriptions import parse_params

    if not channels and source is None and durable is None and since is None:
        from kalshi_cli.errors import UsageError

        raise UsageError(
            "missing argument 'CHANNELS...' (usage: kalshi tail [OPTIONS] CHANNELS..., "
            "or kalshi tail --from nats://HOST:PORT/STREAM [CHANNELS]...)"
        )
    settings = feed.TailSettings(
        channels=list(channels or []),
        markets=list(market or []),
        params=parse_params(list(param or [])),
        json_out=json_out,
        count=count,
        all_in_series=all_in_series,
        continuity=continuity,
        stats=stats,
        redundant=redundant,
        source=source,
        durable=durable,
        since=since,
        conn=conn,
    )
    feed.run(settings, environment.current())
