"""The ``record`` feed: channels to rotating NDJSON files for days, losing at most a second.

The session side is ``recorder.RecordHandler``, the files ``recorder.RecordWriter``; this
module runs them with a flush tick and the status line on stderr. It reconnects forever
unless ``--connect-tries`` says otherwise.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kalshi_cli.environment import Environment
from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import ConnectionArgs, open_context
from kalshi_cli.feeds.runner import run_feed, run_main
from kalshi_cli.feeds.subscriptions import build_subscriptions, check_channel
from kalshi_cli.feeds.trades import trade_fetcher
from kalshi_cli.output import Reporter
from kalshi_cli.recorder import RecordHandler, RecordWriter

__all__ = ["RecordSettings", "RecordStatus", "run"]


@dataclass
class RecordSettings:
    channels: list[str]
    out: Path
    markets: list[str] = field(default_factory=list)
    rotate_seconds: float | None = 3600.0
    rotate_bytes: int | None = None
    gzip: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    conn: ConnectionArgs = field(default_factory=ConnectionArgs)


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
        handler: RecordHandler | None = None,
        *,
        stream: IO[str],
        live: bool,
        quiet: bool,
        every: float = 30.0,
    ) -> None:
        self.writer = writer
        self.handler = handler or RecordHandler(writer)  # the run's handler is set once it exists
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

    def __init__(self, status: RecordStatus, *, quiet: bool, stream: IO[str]) -> None:
        super().__init__(quiet=quiet, stream=stream)
        self.status = status

    def _emit(self, text: str) -> None:
        self.status.clear()
        super()._emit(text)


def _prepare(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot use {out} as the output directory: {exc.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {out}: permission denied")


def run(settings: RecordSettings, env: Environment) -> None:
    """Record until stopped; the files are flushed, fsynced and closed whatever ends the run."""
    for name in settings.channels:
        check_channel(name)  # fail before touching the disk
    conn = settings.conn
    _prepare(settings.out)

    async def main() -> None:
        async with open_context(conn, env=env) as ctx:
            defaults = ctx.sim.tickers if ctx.sim is not None else None
            subs = build_subscriptions(settings.channels, settings.markets, settings.params, default_markets=defaults)
            writer = RecordWriter(
                settings.out,
                gzip=settings.gzip,
                rotate_seconds=settings.rotate_seconds,
                rotate_bytes=settings.rotate_bytes,
                clock=env.clock,
            )
            status = RecordStatus(writer, stream=env.stderr, live=env.stderr_isatty, quiet=conn.quiet)
            ctx.reporter = _StatusReporter(status, quiet=conn.quiet, stream=env.stderr)
            handler = status.handler = RecordHandler(writer, trades=trade_fetcher(ctx, subs), reporter=ctx.reporter)

            def tick() -> None:
                writer.tick()
                status.maybe_show()

            try:
                await run_feed(
                    ctx,
                    subs,
                    handler,
                    stale_after=conn.stale_after,
                    connect_tries=conn.tries(None),
                    ticks=[(TICK, tick)],
                )
            finally:  # the handler closed the writer (flush + fsync), Ctrl-C and SIGTERM too
                status.final()

    run_main(main)
