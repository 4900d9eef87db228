"""The ``tail`` feed: every data frame of the chosen channels to the sink, as received.

With NDJSON the session's fast path hands frames straight to the sink (no parse; with msgspec,
each read's frames in runs, one append each: ``fastlane``); readable lines parse each frame.
With a ``trade`` subscription, frames pass through a ``TradeGapFiller`` (public trades missed in
a reconnect or a gap are backfilled from REST). ``--count`` ends the run after that many frames
written.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.continuity import ContinuityLines
from kalshi_cli.environment import Environment
from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import ConnectionArgs, open_context
from kalshi_cli.feeds.markets import resolve_markets
from kalshi_cli.feeds.runner import FeedHandler, run_feed, run_main
from kalshi_cli.feeds.stream_options import StreamOptions
from kalshi_cli.feeds.subscriptions import build_subscriptions, check_channel
from kalshi_cli.feeds.trades import FetchTrades, TradeGapFiller, trade_fetcher
from kalshi_cli.latency import FrameAges, ReadClock, write_report
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import TRADE, Head
from kalshi_cli.session import StreamDone, Subscription
from kalshi_cli.sinks import OutputKind, Sink, choose, open_sink
from kalshi_cli.trade_mark import TRADE_FIRST, TRADE_MARK, TYPE_FIRST

__all__ = ["TailHandler", "TailSettings", "run"]

_NOT_A_FRAME = -1  # the stamp of a continuity line passed through the trade backfill: not counted


@dataclass
class TailSettings(StreamOptions):
    channels: list[str]
    markets: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    json_out: bool = False
    count: int | None = None
    conn: ConnectionArgs = field(default_factory=ConnectionArgs)


class TailHandler(FeedHandler):
    """Writes each data frame to the sink; stops after ``count`` of them.

    ``trades`` (a REST fetch) turns on the trade backfill; ``reporter`` is where it warns.
    ``continuity`` writes a continuity line among the frames at each reconnect, gap and resync;
    ``stats`` takes every frame's age (from its parse: the session's raw fast path is then off).
    """

    def __init__(
        self,
        sink: Sink,
        *,
        count: int | None,
        trades: FetchTrades | None = None,
        reporter: Reporter | None = None,
        clock: Callable[[], float] = time.time,
        continuity: bool = False,
        stats: FrameAges | None = None,
    ) -> None:
        super().__init__()
        self.sink = sink
        self.remaining = count
        self.stats = stats
        self._read_ms = ReadClock(clock).now_ms  # a frame's receive time: its read's
        self.continuity = ContinuityLines(self._write_continuity, clock) if continuity else None
        self.trades: TradeGapFiller | None = None
        if trades is not None:
            self.trades = TradeGapFiller(
                trades,
                reporter or Reporter(),
                write_live=self._write_live,
                write_backfill=self._write_backfill,
                clock=clock,
            )
        if not sink.passes_raw or stats is not None:
            return
        if self.trades is None and count is None:
            self.passthrough = sink.frame
            self.passthrough_batch = sink.frames
        else:
            self.passthrough = self._fast_path()
            self.passthrough_batch = self._pass_batch
            if self.trades is not None:
                self.passthrough_apart = frozenset({TRADE})  # each trade through the backfill's dedupe

    def _pass_batch(self, frames: list[bytes]) -> None:
        """A run of in-order frames of the fast lane, none of them a trade: held with the rest
        during a backfill, else written at once (up to ``--count``)."""
        trades = self.trades
        if trades is not None and trades.holding:
            for raw in frames:
                trades.live(raw, 0)
            return
        left = self.remaining
        if left is None:
            self.sink.frames(frames)
        elif len(frames) < left:
            self.sink.frames(frames)
            self.remaining = left - len(frames)
        else:
            self.sink.frames(frames[:left])
            self.remaining = 0
            raise StreamDone

    def _fast_path(self) -> Callable[[bytes], None]:
        """The session's fast path as one function: a frame the trade backfill need not see (not a
        trade, nothing held) goes straight to the sink and is counted here, the rest through it."""
        frame = self.sink.frame
        trades = self.trades
        live = trades.live if trades is not None else None
        mark, type_first, trade_first = TRADE_MARK, TYPE_FIRST, TRADE_FIRST  # (trade_mark.may_be_trade, inline)

        def pass_on(raw: bytes) -> None:
            if trades is not None and (
                trades.holding or (raw.startswith(trade_first) if raw.startswith(type_first) else raw.find(mark) >= 0)
            ):
                live(raw, 0)  # type: ignore[misc]  # (it writes through _write_live, which counts)
                return
            frame(raw)
            left = self.remaining
            if left is not None:
                self.remaining = left = left - 1
                if left <= 0:
                    raise StreamDone

        return pass_on

    def _write_live(self, raw: bytes, stamp: int) -> None:
        self.sink.frame(raw)
        if stamp != _NOT_A_FRAME:
            self._count()

    def _write_continuity(self, line: bytes) -> None:
        """Where the frames go, so the line keeps its place among them (held with them while a
        trade backfill runs, then written after the backfilled trades)."""
        if self.trades is not None:
            self.trades.live(line, _NOT_A_FRAME)
        else:
            self.sink.frame(line)

    def _write_backfill(self, frame: dict[str, Any]) -> None:
        self.sink.obj(frame)
        self._count()

    def _count(self) -> None:
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                raise StreamDone

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        if self.stats is not None and head.obj is not None:
            self.stats.observe(head.obj, self._read_ms())
        if self.trades is not None:
            self.trades.live(raw)
            return
        if head.obj is not None and not self.sink.passes_raw:
            self.sink.obj(head.obj)
        else:
            self.sink.frame(raw)
        self._count()

    def on_connected(self, url: str) -> None:
        if self.continuity is not None:
            self.continuity.connected(url)

    def on_disconnected(self, reason: str) -> None:
        if self.continuity is not None:
            self.continuity.disconnected(reason)
        if self.trades is not None:
            self.trades.disconnected()

    def on_subscribed(self, sub: Subscription) -> None:
        if self.trades is not None:
            self.trades.subscribed(sub, self.spawn)

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        if self.continuity is not None:
            self.continuity.lost(sub, reason)
        if self.trades is not None:
            self.trades.lost(sub)

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        super().on_gap(sub, missing, head)
        if self.continuity is not None:
            self.continuity.gap(sub, missing, head.seq)
        if self.trades is not None:
            self.trades.gap(sub, self.spawn)

    def close(self) -> None:
        self.sink.flush()


def run(settings: TailSettings, env: Environment) -> None:
    """Stream ``settings.channels`` to stdout until stopped (or ``--count`` frames)."""
    if settings.source or settings.durable or settings.since:  # --from: a bus stream, not Kalshi
        from kalshi_cli.bus.reading import run_tail

        return run_tail(settings, env, TailHandler)
    for name in settings.channels:
        check_channel(name)  # fail before connecting
    kind = choose(settings.json_out, env, OutputKind.LINES)
    if settings.continuity and kind is not OutputKind.NDJSON:
        raise UsageError("--continuity adds lines to NDJSON output: add --json")
    conn = settings.conn

    async def main() -> None:
        async with open_context(conn, env=env) as ctx:
            defaults = ctx.sim.tickers if ctx.sim is not None else None
            markets = await resolve_markets(ctx, settings.markets, all_in_series=settings.all_in_series)
            subs = build_subscriptions(settings.channels, markets, settings.params, default_markets=defaults)
            handler = TailHandler(
                open_sink(kind, env, conn.color),
                count=settings.count,
                trades=trade_fetcher(ctx, subs),
                reporter=ctx.reporter,
                clock=env.clock,
                continuity=settings.continuity,
                stats=FrameAges() if settings.stats else None,
            )
            try:
                await run_feed(
                    ctx,
                    subs,
                    handler,
                    stale_after=conn.stale_after,
                    connect_tries=conn.tries(),
                    redundant=settings.redundant,
                )
            finally:  # however the run ends: --count, Ctrl-C, SIGTERM, the end of a replay, an error
                if handler.stats is not None:
                    write_report(handler.stats, env.stderr)

    run_main(main)
