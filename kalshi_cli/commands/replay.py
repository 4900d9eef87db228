"""``kalshi replay``: serve recorded files as a local Kalshi WebSocket endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kalshi_cli.commands.sim import HostOption, PortOption, PublicKeyOption
from kalshi_cli.output import Reporter

__all__ = ["replay"]


def replay(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE...",
            help="Recordings: 'kalshi record' files "
            "(.ndjson or .ndjson.gz) or 'kalshi tail --json' output, "
            "played in the order given.",
            show_default=False,
        ),
    ],
    speed: Annotated[
        str,
        typer.Option(
            "--speed",
            metavar="N|max",
            help="N times the recorded pace (1 = as recorded), or max: as fast as the clients read.",
        ),
    ] = "1",
    host: HostOption = "127.0.0.1",
    port: PortOption = 0,
    loop: Annotated[
        bool, typer.Option("--loop", help="Start again at the end instead of closing connections and exiting.")
    ] = False,
    public_key: PublicKeyOption = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="TIME",
            help="Start here: ISO 8601 UTC (2026-11-25T14:05:00Z), Unix ms, or +5m after the recording "
            "starts. Books are rebuilt up to it from the last recorded snapshot before it, so a client gets "
            "each market's book as it stood then.",
            show_default=False,
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", metavar="TIME", help="Stop after this time (same forms as --from).", show_default=False),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status lines on stderr.")] = False,
) -> None:
    """Serve recordings as a Kalshi endpoint; prints its ws:// URL first.

    Clients connect and subscribe as they would to Kalshi and get the recorded frames of the
    channels and markets they asked for, with sids and seqs renumbered for their own
    subscriptions, paced by the recorded times divided by --speed. Playback starts at the
    first subscribe and is shared by every client. Order books start at each market's first
    recorded snapshot, and a recorded gap heals at the next recorded snapshot: a client
    never gets a delta it cannot place. At the end of the data the connections close
    normally (code 1000) and the server exits, unless --loop. When stdout is a pipe, the
    server lets go of it once the URL is read and carries on in the background.
    --from/--to play a time window of the recording (its receive times): at --from each
    market's book is the one rebuilt from the last recorded snapshot and the deltas after it.

    Examples:

      kalshi replay data/*.ndjson.gz --speed 10

      kalshi book --url "$(kalshi replay data/*.ndjson --speed max | head -1)" KXBTCD-26NOV2517-T97999.99

      kalshi book --replay data/kalshi-20261125T140000.000Z-0001.ndjson --replay-speed 10

      kalshi book KXBTCD-26NOV2517-T97999.99 --json --url "$(kalshi replay data/ --from +1s --to +2s | head -1)"

      kalshi replay data/ --from 2026-11-25T14:05:00Z --to +10m
    """
    from kalshi_cli.feeds.signals import run_main
    from kalshi_cli.recording import Recording, scan
    from kalshi_cli.sim.auth import read_public_key
    from kalshi_cli.sim.detach import Announce, serve_detachable
    from kalshi_cli.sim.replay import check_window, parse_speed, parse_window, serve_replay
    from kalshi_cli.sim.serving import check_port

    rate = parse_speed(speed)
    check_port(port)
    pem = read_public_key(public_key)
    reporter = Reporter(quiet=quiet)
    recording = scan(list(files), reporter.warn)  # bad files are reported before anything is served
    window = parse_window(start, end, recording)
    check_window(recording, window)

    def serve(announce: Announce) -> None:
        def ready(url: str, recording: Recording) -> None:
            announce(url)
            markets = len(recording.tickers)
            reporter.info(
                f"replaying {recording.frames:,} frames ({markets} market{'' if markets == 1 else 's'}, "
                f"{recording.duration_s:.1f}s recorded){window.describe()} at "
                f"{'max speed' if rate is None else f'{rate:g}x'}"
            )

        async def main() -> None:
            if window.start is not None:  # the books are rebuilt up to it before the URL is announced
                reporter.info("rebuilding the books up to --from")
            server = await serve_replay(
                recording.paths,
                speed=rate,
                loop=loop,
                host=host,
                port=port,
                public_key_pem=pem,
                on_ready=ready,
                recording=recording,
                handle_signals=False,  # run_main's: Ctrl-C exits 130, SIGTERM 0
                window=window,
            )
            if server.started_at is not None and server.ended_at is not None:
                took = max(server.ended_at - server.started_at, 1e-9)
                reporter.info(
                    f"replayed {server.replayed:,} frames in {took:.2f}s ({server.replayed / took:,.0f} frames/s)"
                )

        run_main(main)

    status = serve_detachable(serve, name="kalshi replay")
    if status:
        raise typer.Exit(status)
