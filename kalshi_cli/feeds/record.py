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
from kalshi_cli.feeds.markets import resolve_markets
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
    all_in_series: bool = False  # a series ticker may expand to all its open events' markets
    redundant: int = 1  # connections merged into one stream
    sink: str | None = None  # nats://... : publish to JetStream too (or only, without out)
    conn: ConnectionArgs = field(default_factory=ConnectionArgs)


TICK = 0.5  # seconds between flushes (a crash loses at most this much, well within "the last second")


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
        """The status at the terminal's width when redrawn in place (a line as wide as the
        terminal would wrap and scroll on every redraw), whole otherwise."""
        from kalshi_cli.render.status import RecordProgress, record_status

        w, h = self.writer, self.handler
        progress = RecordProgress(
            frames=h.frames,
            bytes_in=w.bytes_in,
            files=len(w.files),
            reconnects=h.reconnects,
            gaps=h.gaps,
            bytes_out=w.bytes_out if w.gzip else None,
            current=w.current,
            directory=w.directory,
        )
        return record_status(progress, self._width() if self.live else 1 << 16, final=final)

    def _width(self) -> int:
        try:
            return max(20, os.get_terminal_size(self.stream.fileno()).columns - 1)
        except (AttributeError, OSError, ValueError):
            return 79

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
            markets = await resolve_markets(ctx, settings.markets, all_in_series=settings.all_in_series)
            subs = build_subscriptions(settings.channels, markets, settings.params, default_markets=defaults)
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
