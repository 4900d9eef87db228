"""The ``record`` feed: channels to rotating NDJSON files for days, losing at most a second.

The session side is ``recorder.RecordHandler``, the files ``recorder.RecordWriter``; this
module runs them with a flush tick and the status line on stderr. It reconnects forever
unless ``--connect-tries`` says otherwise.
"""

from __future__ import annotations

import asyncio
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
from kalshi_cli.recorder import GZIP_LEVEL, RecordHandler, RecordWriter

__all__ = ["RecordSettings", "RecordStatus", "run"]


@dataclass
class RecordSettings:
    channels: list[str]
    out: Path | None  # None: --sink only
    markets: list[str] = field(default_factory=list)
    rotate_seconds: float | None = 3600.0
    rotate_bytes: int | None = None
    gzip: bool = False
    gzip_level: int | None = None  # zlib's level for --gzip (None: recorder.GZIP_LEVEL)
    params: dict[str, Any] = field(default_factory=dict)
    all_in_series: bool = False  # a series ticker may expand to all its open events' markets
    redundant: int = 1  # connections merged into one stream
    sink: str | None = None  # nats://... : publish to JetStream too (or only, without out)
    sink_subjects: list[str] = field(default_factory=lambda: ["kalshi.>"])  # a new stream's subjects
    sink_retention: str = "limits"
    sink_replicas: int = 1
    sink_dedup_window: float = 120.0  # seconds
    spool: Path | None = None  # the publisher's backlog while the server is away (default: OUT/.spool)
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
        self.publisher: Any = None  # with --sink: the bus part of the line (published, backlog)

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
            directory=None if getattr(w, "discards", False) else w.directory,
        )
        width = self._width() if self.live else 1 << 16
        if self.publisher is None:
            return record_status(progress, width, final=final)
        p = self.publisher
        away = "" if p.up or p.closed else " (server away)"
        bus = f"; bus: {p.stored + p.duplicates:,} acked, {p.backlog:,} backlog{away}"
        return record_status(progress, max(20, width - len(bus)), final=final) + bus

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


def _bus_plan(settings: RecordSettings) -> tuple[Any, Any, Path]:
    """``--sink``'s target, stream settings and spool directory, checked before anything starts."""
    from kalshi_cli.bus.connect import import_nats
    from kalshi_cli.bus.stream import StreamSpec
    from kalshi_cli.bus.target import parse_target

    assert settings.sink is not None
    target = parse_target(settings.sink, option="--sink")
    spec = StreamSpec(
        subjects=tuple(settings.sink_subjects),
        retention=settings.sink_retention,
        replicas=settings.sink_replicas,
        duplicate_window=settings.sink_dedup_window,
    )
    spec.check()
    import_nats()
    spool = settings.spool
    if spool is None:
        if settings.out is not None:
            spool = settings.out / ".spool"
        else:
            cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            spool = cache / "kalshi" / "spool" / f"{target.stream}-{os.getpid()}"
    return target, spec, spool


def _writer(settings: RecordSettings, env: Environment) -> RecordWriter:
    if settings.out is None:
        from kalshi_cli.bus.tap import DiscardWriter

        return DiscardWriter()
    return RecordWriter(
        settings.out,
        gzip=settings.gzip,
        gzip_level=GZIP_LEVEL if settings.gzip_level is None else settings.gzip_level,
        rotate_seconds=settings.rotate_seconds,
        rotate_bytes=settings.rotate_bytes,
        clock=env.clock,
    )


async def _watch(task: asyncio.Future[None]) -> None:
    """Wait for the publisher without owning it: the run's end cancels this, not the publisher."""
    await asyncio.shield(task)


async def _close_bus(publisher: Any, sending: asyncio.Future[None]) -> None:
    try:
        await publisher.close()
    finally:
        sending.cancel()
        with contextlib.suppress(BaseException):
            await sending


def run(settings: RecordSettings, env: Environment) -> None:
    """Record until stopped; the files are flushed, fsynced and closed whatever ends the run."""
    for name in settings.channels:
        check_channel(name)  # fail before touching the disk
    conn = settings.conn
    if settings.out is None and settings.sink is None:
        raise UsageError("record needs somewhere to write: -o DIR, --sink nats://HOST:PORT[/STREAM], or both")
    bus = _bus_plan(settings) if settings.sink is not None else None
    if settings.out is not None:
        _prepare(settings.out)

    async def main() -> None:
        async with open_context(conn, env=env) as ctx:
            defaults = ctx.sim.tickers if ctx.sim is not None else None
            markets = await resolve_markets(ctx, settings.markets, all_in_series=settings.all_in_series)
            subs = build_subscriptions(settings.channels, markets, settings.params, default_markets=defaults)
            writer = _writer(settings, env)
            status = RecordStatus(writer, stream=env.stderr, live=env.stderr_isatty, quiet=conn.quiet)
            ctx.reporter = _StatusReporter(status, quiet=conn.quiet, stream=env.stderr)
            publisher = None
            if bus is None:
                handler = RecordHandler(writer, trades=trade_fetcher(ctx, subs), reporter=ctx.reporter)
            else:
                from kalshi_cli.bus.publisher import Publisher
                from kalshi_cli.bus.tap import BusRecordHandler, bus_env

                target, spec, spool = bus
                publisher = status.publisher = Publisher(
                    target, spec, bus_env(ctx.endpoint), spool_dir=spool, on_event=ctx.reporter.info
                )
                handler = BusRecordHandler(
                    writer, publisher, bus_env(ctx.endpoint), trades=trade_fetcher(ctx, subs), reporter=ctx.reporter
                )
                sending = asyncio.ensure_future(publisher.run())
                handler.spawn(_watch(sending))  # a fatal bus error (credentials, stream settings) ends the run
            status.handler = handler

            def tick() -> None:
                writer.tick()
                if publisher is not None:
                    publisher.tick()
                status.maybe_show()

            try:
                await run_feed(
                    ctx,
                    subs,
                    handler,
                    stale_after=conn.stale_after,
                    connect_tries=conn.tries(None),
                    ticks=[(TICK, tick)],
                    redundant=settings.redundant,
                )
            finally:  # the handler closed the writer (flush + fsync), Ctrl-C and SIGTERM too
                if publisher is not None:  # what the server has not acknowledged stays on disk
                    await _close_bus(publisher, sending)
                status.final()

    run_main(main)
