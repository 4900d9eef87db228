"""The ``book`` feed: exact live books that heal themselves, to a live view or as NDJSON lines.

``BookHandler`` keeps a ``BookSet`` exact and, on any doubt, walks the recovery ladder:
``get_snapshot`` on the book's sid; still stale ``escalate_after`` seconds later, resubscribe;
still stale after that, reconnect. ``check_health`` (a tick of the runner, once a second)
climbs the ladder and ends the run when a market never gets a book.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.book import BookState, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.continuity import BookContinuity
from kalshi_cli.environment import Environment
from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import ConnectionArgs, open_context
from kalshi_cli.feeds.markets import check_tickers, resolve_names
from kalshi_cli.feeds.own_orders import Marks, follow_own_orders
from kalshi_cli.feeds.runner import FeedHandler, Tick, finish_on_quit, run_feed, run_main
from kalshi_cli.feeds.stream_options import StreamOptions
from kalshi_cli.latency import FrameAges, ReadClock, write_report
from kalshi_cli.market_stats import MarketStats
from kalshi_cli.output import OutputClosed
from kalshi_cli.protocol import ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT, TICKER, TRADE, Head, parse_frame
from kalshi_cli.session import SessionState, StreamDone, Subscription
from kalshi_cli.sinks import NullSink, OutputKind, Sink, choose, open_sink, view_console

__all__ = ["BookHandler", "BookSettings", "run"]

_LIVE = BookState.LIVE


@dataclass
class BookSettings(StreamOptions):
    tickers: list[str] = field(default_factory=list)
    depth: int | None = None
    json_out: bool = False
    every: bool = False
    once: bool = False
    use_yes_price: bool = False
    wait: float = 10.0
    dollars: bool = False  # the view's prices as the exchange's dollar strings, not cents
    layout: str = "grid"  # the view's panels: "grid" (side by side) or "stack"
    conn: ConnectionArgs = field(default_factory=ConnectionArgs)


class BookHandler(FeedHandler):
    """Keeps a ``BookSet`` exact: applies frames, and on any doubt asks for fresh snapshots.

    Book lines go to ``sink`` once per burst (when the event loop goes idle), one per market
    that changed, or after each applied frame with ``every`` (and ``once``). With ``continuity``,
    a line as each event happens says which markets went stale and which are fresh again (a
    stale market's next book line comes after its ``fresh`` line); ``stats`` takes frame ages.
    """

    def __init__(
        self,
        tickers: list[str],
        sink: Sink | None = None,
        *,
        depth: int | None,
        once: bool,
        every: bool = False,
        escalate_after: float = 5.0,
        snapshot_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        continuity: bool = False,
        stats: FrameAges | None = None,
    ) -> None:
        super().__init__()
        self.tickers = tickers
        self.stats = stats
        self._read_ms = ReadClock(clock).now_ms  # a frame's receive time: its read's
        self.books = BookSet()
        self.sink = sink if sink is not None else NullSink()
        self.continuity = BookContinuity(self.sink.frame, clock) if continuity else None
        self.depth = depth
        self.once = once
        self.clock = clock
        self.printed: set[str] = set()  # --once: markets that had their line
        self.every = every or once
        self._changed: dict[str, dict[str, Any]] = {}  # ticker -> its latest applied frame, this burst
        self._in_burst = False
        self.escalate_after = escalate_after
        self.snapshot_timeout = snapshot_timeout
        self.markets: dict[str, MarketStats] = {}
        self.frames = 0
        self.last_frame_at: float | None = None
        self.started = time.monotonic()
        self._stale_since: dict[str, tuple[float, int]] = {}  # ticker -> (since, recovery step)
        self._book_sub: Subscription | None = None
        self.own_orders: Marks = {}  # the signed-in user's resting orders, marked by the view

    # --- session callbacks ----------------------------------------------------------------

    def on_connected(self, url: str) -> None:
        self.books.mark_all_stale("reconnecting")
        self._stale_since.clear()
        if self.continuity is not None:
            self.continuity.connected(url)
            self.continuity.check(self.books.books)

    def on_subscribed(self, sub: Subscription) -> None:
        if sub.channel == ORDERBOOK_DELTA and sub.sid is not None:
            self._book_sub = sub
            self.books.set_use_yes_price(sub.sid, bool(sub.params.get("use_yes_price")))
            self.books.watch(sub.sid, sub.markets)

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        if sub.channel != ORDERBOOK_DELTA or sub.sid is None:
            return
        self.session.reporter.warn(f"seq gap on {sub.label()}: {missing} frame(s) missing; re-snapshotting")
        self.books.mark_sid_stale(sub.sid, f"seq gap ({missing} missing)")
        if self.continuity is not None:
            self.continuity.gap(sub, missing, head.seq)
            self.continuity.check(self.books.books)
        self._recover(sub, self.books.stale_markets(sub.sid))

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        if sub.channel == ORDERBOOK_DELTA and sub.sid is not None:
            self.books.mark_sid_stale(sub.sid, "subscription lost")
        if self.continuity is not None:
            self.continuity.lost(sub, reason)
            self.continuity.check(self.books.books)

    def on_disconnected(self, reason: str) -> None:
        self.books.mark_all_stale(reason)
        if self.continuity is not None:
            self.continuity.disconnected(reason)
            self.continuity.check(self.books.books)

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        self.frames += 1
        if not self._in_burst:
            self._start_burst()
        obj = head.obj if head.obj is not None else parse_frame(raw)  # the session parsed it (validated)
        if self.stats is not None:
            self.stats.observe(obj, self._read_ms())
        kind = head.type
        if kind == ORDERBOOK_DELTA or kind == ORDERBOOK_SNAPSHOT:
            book = self.books.apply(obj)
            if book is None:
                if self.continuity is not None:
                    self.continuity.check(self.books.books, obj)
                self._not_applied(obj, sub)
                return
            if kind == ORDERBOOK_SNAPSHOT:
                self._stale_since.pop(book.market_ticker, None)  # only a snapshot makes a book live again
                if self.continuity is not None:
                    self.continuity.snapshot_applied(book.market_ticker)
            if not self.every:
                self._changed[book.market_ticker] = obj  # written when the burst ends
            else:
                self._on_change(book, obj)
        elif kind == TRADE or kind == TICKER:
            self._stats(kind, obj.get("msg"))

    def _stats(self, kind: str, msg: Any) -> None:
        if not isinstance(msg, dict):
            return
        ticker = str(msg.get("market_ticker"))
        stats = self.markets.get(ticker)
        if stats is None:
            stats = self.markets[ticker] = MarketStats(ticker)
        if kind == TRADE:
            stats.update_from_trade(msg)
        else:
            stats.update_from_ticker(msg)

    def _start_burst(self) -> None:
        """The first frame since the loop was last idle: note the time, and act when the burst ends.

        The session hands over every frame of a read before it yields, so a ``call_soon`` made now
        runs once they are all applied. ``last_frame_at`` is the time the latest burst began (a
        burst's frames arrived together; the view shows its age).
        """
        if self.sink.closed:
            raise OutputClosed  # the last burst's write found the pipe closed
        self._in_burst = True
        self.last_frame_at = time.monotonic()
        asyncio.get_running_loop().call_soon(self._end_burst)

    def _end_burst(self) -> None:
        self._in_burst = False
        self.write_changed()

    def _not_applied(self, obj: dict[str, Any], sub: Subscription) -> None:
        """A book frame that changed nothing: if it left its book stale, start the recovery."""
        msg = obj.get("msg")
        ticker = msg.get("market_ticker") if isinstance(msg, dict) else None
        book = self.books.book(ticker) if isinstance(ticker, str) else None
        if isinstance(ticker, str) and book is not None and book.state is not _LIVE and ticker not in self._stale_since:
            self.session.reporter.warn(f"{ticker}: book out of sync ({book.stale_reason or 'stale'}); re-snapshotting")
            self._recover(sub, [ticker])

    def _on_change(self, book: OrderBook, obj: dict[str, Any]) -> None:
        """A line for this change now (--every, --once); with --once, stop when each market had one."""
        ticker = book.market_ticker
        if not self.once or ticker not in self.printed:
            self.sink.book(book, self.depth, self._ts_ms(obj))
        self.printed.add(ticker)
        if self.once and self.printed.issuperset(self.tickers):
            raise StreamDone

    def write_changed(self) -> None:
        """A line per market changed since the last call (in the order they first changed): its book now.

        That is the state after the burst, a true one; a book that went stale later in the burst
        is not printed (its next line comes after a fresh snapshot).
        """
        if not self._changed:
            return
        changed, self._changed = self._changed, {}
        try:
            for ticker, obj in changed.items():
                book = self.books.book(ticker)
                if book is not None and book.state is _LIVE:
                    self.sink.book(book, self.depth, self._ts_ms(obj))
        except OutputClosed:
            pass  # the sink stays closed: the next burst ends the stream

    def _ts_ms(self, obj: dict[str, Any]) -> int:
        """A book line's time: the frame's ``ts_ms``, else its ``sending_ts_ms``, else now."""
        msg = obj.get("msg")
        ts = (isinstance(msg, dict) and msg.get("ts_ms")) or obj.get("sending_ts_ms")
        return ts if isinstance(ts, int) else int(self.clock() * 1000)

    # --- recovery ---------------------------------------------------------------------------

    def _recover(self, sub: Subscription, tickers: list[str]) -> None:
        now = time.monotonic()
        fresh = [t for t in tickers if t not in self._stale_since]
        for t in fresh:
            self._stale_since[t] = (now, 0)
        if fresh:
            self.session.request_snapshot(sub, fresh)

    def check_health(self) -> None:
        """Called about once a second: escalate recovery and catch markets that never answer."""
        now = time.monotonic()
        sub = self._book_sub
        for ticker, (since, step) in list(self._stale_since.items()):
            if now - since < self.escalate_after or sub is None:
                continue
            if step == 0:
                self.session.reporter.warn(f"{ticker}: no fresh snapshot yet; resubscribing")
                self._stale_since = {t: (now, 1) for t in self._stale_since}
                self.session.resubscribe(sub, "resync")
                return
            if step == 1:
                self._stale_since = {t: (now, 2) for t in self._stale_since}
                self.session.reconnect(f"{ticker}: still no fresh snapshot")
                return
        if now - self.started > self.snapshot_timeout:
            missing = [
                t
                for t in self.tickers
                if (b := self.books.book(t)) is None or (b.state is BookState.AWAITING_SNAPSHOT and b.clock is None)
            ]
            session = getattr(self, "session", None)
            if missing and session is not None and session.state is SessionState.STREAMING:
                raise UsageError(
                    f"no order book for {', '.join(missing)} after {self.snapshot_timeout:.0f}s: check the "
                    "ticker (the market may not exist, or may be closed)"
                )

    def set_own_orders(self, marks: Marks) -> None:
        self.own_orders = marks

    def all_live(self) -> bool:
        return all((b := self.books.book(t)) is not None and b.is_live for t in self.tickers)

    def close(self) -> None:
        try:
            self.write_changed()
        finally:
            self.sink.flush()


def _subscriptions(tickers: list[str], *, view: bool, extra: dict[str, Any]) -> list[Subscription]:
    subs = [Subscription(ORDERBOOK_DELTA, {"market_tickers": list(tickers), **extra})]
    if view:  # the view also shows last trade, volume and open interest
        subs.append(Subscription(TICKER, {"market_tickers": list(tickers), "send_initial_snapshot": True}))
        subs.append(Subscription(TRADE, {"market_tickers": list(tickers)}))
    return subs


def run(settings: BookSettings, env: Environment) -> None:
    """Watch ``settings.tickers`` (the simulator's first three with ``--sim``) until stopped."""
    if settings.source or settings.durable or settings.since:  # --from: a bus stream, not Kalshi
        from kalshi_cli.bus.reading import run_book

        return run_book(settings, env, BookHandler)
    conn = settings.conn
    chosen = list(dict.fromkeys(settings.tickers))
    if not chosen and not conn.sim and not conn.replay:
        raise UsageError("name at least one market: kalshi book TICKER [TICKER...] (or try --sim)")
    check_tickers(chosen)
    kind = choose(settings.json_out, env, OutputKind.VIEW)
    if settings.continuity and kind is not OutputKind.NDJSON:
        raise UsageError("--continuity adds lines to NDJSON output: add --json")
    extra = {"use_yes_price": True} if settings.use_yes_price else {}

    async def main() -> None:
        async with open_context(conn, env=env) as ctx:
            resolved = await resolve_names(ctx, chosen, all_in_series=settings.all_in_series)
            markets = resolved.tickers or list(ctx.sim.tickers[:3])
            view_mode = kind is OutputKind.VIEW
            handler = BookHandler(
                markets,
                open_sink(kind, env),
                depth=settings.depth,  # None: the view fits the height, JSON has every level
                once=settings.once,
                every=settings.every,
                snapshot_timeout=settings.wait,
                clock=env.clock,
                continuity=settings.continuity,
                stats=FrameAges() if settings.stats else None,
            )
            ticks: list[Tick] = [(1.0, handler.check_health)]
            view = None
            if view_mode:
                from kalshi_cli.render.board_live import pick_view

                view = pick_view(
                    handler,
                    markets,
                    info=resolved.markets,
                    events=resolved.events,
                    once=settings.once,
                    dollars=settings.dollars,
                    layout=settings.layout,
                    console=view_console(conn.color, env),
                )
                handler.spawn(finish_on_quit(view, handler))
                if ctx.credentials is not None:
                    handler.spawn(follow_own_orders(ctx, markets, handler.set_own_orders))
                if settings.once:
                    ticks.append((1.0, lambda: handler.finish() if handler.all_live() else None))
            subs = _subscriptions(markets, view=view_mode, extra=extra)
            try:
                await run_feed(
                    ctx,
                    subs,
                    handler,
                    stale_after=conn.stale_after,
                    connect_tries=conn.tries(),
                    ticks=ticks,
                    view=view,
                    redundant=settings.redundant,
                )
            finally:  # however the run ends: --once, Ctrl-C, SIGTERM, the end of a replay, an error
                if handler.stats is not None:
                    write_report(handler.stats, env.stderr)

    run_main(main)
