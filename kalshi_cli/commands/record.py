"""``kalshi record``: capture channels to rotating NDJSON files for days, losing at most a second."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from pathlib import Path
from typing import IO, Annotated

import typer

from kalshi_cli.commands.common import ConnectionArgs, connection_options, open_context
from kalshi_cli.commands.runner import run_main, run_stream
from kalshi_cli.commands.tail import build_subscriptions, check_channel, parse_params
from kalshi_cli.errors import UsageError
from kalshi_cli.output import Reporter
from kalshi_cli.recorder import RecordHandler, RecordWriter, parse_rotate

__all__ = ["record"]

TICK = 0.5  # seconds between flushes (a crash loses at most this much, well within "the last second")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n} B"


class RecordStatus:
    """The one-line status on stderr: redrawn in place on a terminal, a line now and then otherwise."""

    def __init__(
        self,
        writer: RecordWriter,
        handler: RecordHandler,
        *,
        stream: IO[str],
        live: bool,
        quiet: bool,
        every: float = 30.0,
    ) -> None:
        self.writer = writer
        self.handler = handler
        self.stream = stream
        self.live = live
        self.quiet = quiet
        self.every = 0.5 if live else every
        self._last = time.monotonic()
        self._shown = False

    def text(self, *, final: bool = False) -> str:
        w, h = self.writer, self.handler
        disk = f" ({_size(w.bytes_out)} gzip)" if w.gzip else ""
        where = f" in {w.directory}" if final else (f" -> {w.current}" if w.current is not None else "")
        return (
            f"recording: {h.frames:,} frames, {_size(w.bytes_in)}{disk}, {len(w.files)} file"
            f"{'' if len(w.files) == 1 else 's'}, {h.reconnects} reconnect{'' if h.reconnects == 1 else 's'}, "
            f"{h.gaps} gap{'' if h.gaps == 1 else 's'}{where}"
        )

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(text)
            self.stream.flush()

    def maybe_show(self) -> None:
        if self.quiet or time.monotonic() - self._last < self.every:
            return
        self._last = time.monotonic()
        if self.live:
            self._write("\r\x1b[K" + self.text())
            self._shown = True
        else:
            self._write(f"kalshi: {self.text()}\n")

    def clear(self) -> None:
        if self._shown:
            self._write("\r\x1b[K")
            self._shown = False

    def final(self) -> None:
        self.clear()
        if not self.quiet:
            self._write(f"kalshi: {self.text(final=True)}\n")


class _StatusReporter(Reporter):
    """A Reporter that lifts the live status line out of the way of each message."""

    def __init__(self, status: RecordStatus, *, quiet: bool) -> None:
        super().__init__(quiet=quiet)
        self.status = status

    def _emit(self, text: str) -> None:
        self.status.clear()
        super()._emit(text)


async def _tick(writer: RecordWriter, status: RecordStatus) -> None:
    while True:
        await asyncio.sleep(TICK)
        writer.tick()
        status.maybe_show()


def _prepare(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {out} as the output directory: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {out}: permission denied")


@connection_options
def record(
    channels: Annotated[
        list[str], typer.Argument(help="Channels: orderbook_delta, trade, ticker, ...", show_default=False)
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="DIR", help="Directory for the files (created if missing).", show_default=False
        ),
    ],
    market: Annotated[
        list[str] | None,
        typer.Option("--market", "-m", metavar="TICKER", help="Market ticker filter (repeat for several)."),
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
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="KEY=VALUE", help="Extra subscribe parameter, as for tail."),
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

    Examples:

      kalshi record orderbook_delta trade -m KXHIGHNY-26NOV25-B52.5 -o data/ --gzip

      kalshi record ticker trade -o data/ --rotate 1h --rotate 500MB

      kalshi record orderbook_delta --sim -o /tmp/rec && kalshi replay /tmp/rec/*.ndjson
    """
    for name in channels:
        check_channel(name)  # fail before touching the disk
    seconds, size = parse_rotate(list(rotate or ["1h"]))
    extra = parse_params(list(param or []))
    markets = list(market or [])
    _prepare(out)

    async def main() -> None:
        async with open_context(conn) as ctx:
            defaults = ctx.sim.tickers if ctx.sim is not None else None
            subs = build_subscriptions(channels, markets, extra, default_markets=defaults)
            writer = RecordWriter(out, gzip=gzip_out, rotate_seconds=seconds, rotate_bytes=size)
            handler = RecordHandler(writer)
            status = RecordStatus(writer, handler, stream=sys.stderr, live=sys.stderr.isatty(), quiet=conn.quiet)
            ctx.reporter = _StatusReporter(status, quiet=conn.quiet)
            stream = asyncio.ensure_future(run_stream(ctx, subs, handler, stale_after=conn.stale_after))
            ticker = asyncio.ensure_future(_tick(writer, status))
            try:
                done, _ = await asyncio.wait([stream, ticker], return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            finally:
                for task in (stream, ticker):
                    task.cancel()
                try:
                    await asyncio.gather(stream, ticker, return_exceptions=True)
                finally:  # even when a second Ctrl-C or SIGTERM cuts the wait short
                    try:
                        writer.close()  # flush + fsync: Ctrl-C and SIGTERM land here too
                    finally:
                        status.final()

    run_main(main)
