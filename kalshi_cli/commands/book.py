"""``kalshi book``: exact live order books that heal themselves, drawn or as NDJSON."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Annotated, Any

import orjson
import typer

from kalshi_cli.book import BookState, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.commands.common import ConnectionArgs, StreamContext, connection_options, open_context
from kalshi_cli.commands.runner import run_main, run_stream
from kalshi_cli.encoders import book_json_bytes
from kalshi_cli.errors import UsageError
from kalshi_cli.output import LineWriter, OutputClosed
from kalshi_cli.protocol import Head, parse_frame
from kalshi_cli.session import SessionState, StreamDone, StreamHandler, Subscription

__all__ = ["BookHandler", "book"]

_loads = orjson.loads
_LIVE = BookState.LIVE
#: Up to this many tickers are checked against REST before connecting (see check_markets_exist).
REST_CHECK_LIMIT = 10


class BookHandler(StreamHandler):
    """Keeps a ``BookSet`` exact: applies frames, and on any doubt asks for fresh snapshots.

    Recovery ladder for a stale book: ``get_snapshot`` on its sid; if the book is still stale
    ``escalate_after`` seconds later, resubscribe; if still stale after that, reconnect.
    """

    def __init__(
        self,
        tickers: list[str],
        *,
        as_json: bool,
        depth: int | None,
        once: bool,
        every: bool = False,
        escalate_after: float = 5.0,
        snapshot_timeout: float = 10.0,
    ) -> None:
        self.tickers = tickers
        self.books = BookSet()
        self.as_json = as_json
        self.depth = depth
        self.once = once
        self.writer = LineWriter() if as_json else None
        self.printed: set[str] = set()  # --once: markets that had their line
        # JSON lines are written once per burst (when the event loop goes idle), one per market
        # that changed, unless `every`: then after each applied frame.
        self.every = every or once
        self._changed: dict[str, dict[str, Any]] = {}  # ticker -> its latest applied frame, this burst
        self._in_burst = False
        self.escalate_after = escalate_after
        self.snapshot_timeout = snapshot_timeout
        self.markets: dict[str, Any] = {}
        self.frames = 0
        self.last_frame_at: float | None = None
        self.started = time.monotonic()
        self._stale_since: dict[str, tuple[float, int]] = {}  # ticker -> (since, recovery step)
        self._book_sub: Subscription | None = None

    # --- session callbacks ----------------------------------------------------------------

    def on_connected(self, url: str) -> None:
        self.books.mark_all_stale("reconnecting")
        self._stale_since.clear()

    def on_subscribed(self, sub: Subscription) -> None:
        if sub.channel == "orderbook_delta" and sub.sid is not None:
            self._book_sub = sub
            self.books.set_use_yes_price(sub.sid, bool(sub.params.get("use_yes_price")))
            self.books.watch(sub.sid, sub.markets)

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        if sub.channel != "orderbook_delta" or sub.sid is None:
            return
        self.session.reporter.warn(f"seq gap on {sub.label()}: {missing} frame(s) missing; re-snapshotting")
        self.books.mark_sid_stale(sub.sid, f"seq gap ({missing} missing)")
        self._recover(sub, self.books.stale_markets(sub.sid))

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        if sub.channel == "orderbook_delta" and sub.sid is not None:
            self.books.mark_sid_stale(sub.sid, "subscription lost")

    def on_disconnected(self, reason: str) -> None:
        self.books.mark_all_stale(reason)

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        self.frames += 1
        if not self._in_burst:
            self._start_burst()
        obj = head.obj
        if obj is None:
            try:
                obj = _loads(raw)
            except ValueError:
                pass
            if type(obj) is not dict:
                obj = parse_frame(raw)  # raises FrameError, naming what is wrong
        kind = head.type
        if kind == "orderbook_delta" or kind == "orderbook_snapshot":
            book = self.books.apply(obj)
            if book is None:
                self._not_applied(obj, sub)
                return
            if kind == "orderbook_snapshot":
                self._stale_since.pop(book.market_ticker, None)  # only a snapshot makes a book live again
            if not self.every:
                self._changed[book.market_ticker] = obj  # written when the burst ends
            elif self.writer is not None or self.once:
                self._on_change(book, obj)
        elif kind == "trade" or kind == "ticker":
            msg = obj.get("msg")
            if isinstance(msg, dict):
                ticker = msg.get("market_ticker")
                stats = self.markets.get(ticker)
                if stats is None:
                    from kalshi_cli.market_stats import MarketStats

                    stats = self.markets[ticker] = MarketStats(ticker)
                if kind == "trade":
                    stats.update_from_trade(msg)
                else:
                    stats.update_from_ticker(msg)

    def _start_burst(self) -> None:
        """The first frame since the loop was last idle: note the time, and act when the burst ends.

        The session hands over every frame of a read before it yields, so a ``call_soon`` made now
        runs once they are all applied. ``last_frame_at`` is the time the latest burst began (a
        burst's frames arrived together; the view shows its age).
        """
        if self.writer is not None and self.writer.closed:
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
        if book is not None and book.state is not _LIVE and ticker not in self._stale_since:
            self.session.reporter.warn(f"{ticker}: book out of sync ({book.stale_reason or 'stale'}); re-snapshotting")
            self._recover(sub, [ticker])  # type: ignore[list-item]

    def _on_change(self, book: OrderBook, obj: dict[str, Any]) -> None:
        """A line for this change now (--every, --once); with --once, stop when each market had one."""
        ticker = book.market_ticker
        if self.writer is not None and (not self.once or ticker not in self.printed):
            self.writer.write_line(book_json_bytes(book, self.depth, _ts_ms(obj)))
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
        if self.writer is None:
            return
        try:
            for ticker, obj in changed.items():
                book = self.books.book(ticker)
                if book is not None and book.state is _LIVE:
                    self.writer.write_line(book_json_bytes(book, self.depth, _ts_ms(obj)))
        except OutputClosed:
            pass  # the writer stays closed: the next burst ends the stream

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

    def close(self) -> None:
        if self.writer is not None:
            try:
                self.write_changed()
            finally:
                self.writer.flush()


def _ts_ms(obj: dict[str, Any]) -> int:
    """A book line's time: the frame's ``ts_ms``, else its ``sending_ts_ms``, else now."""
    msg = obj.get("msg")
    return (isinstance(msg, dict) and msg.get("ts_ms")) or obj.get("sending_ts_ms") or int(time.time() * 1000)


def _subscriptions(tickers: list[str], *, as_json: bool, extra: dict[str, Any]) -> list[Subscription]:
    subs = [Subscription("orderbook_delta", {"market_tickers": list(tickers), **extra})]
    if not as_json:  # the view also shows last trade, volume and open interest
        subs.append(Subscription("ticker", {"market_tickers": list(tickers), "send_initial_snapshot": True}))
        subs.append(Subscription("trade", {"market_tickers": list(tickers)}))
    return subs


@connection_options
def book(
    tickers: Annotated[
        list[str] | None, typer.Argument(metavar="TICKER...", help="Market tickers.", show_default=False)
    ] = None,
    depth: Annotated[
        int | None, typer.Option("--depth", "-d", min=1, help="Levels per side (view default 10; JSON default all).")
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="NDJSON: a line per market with its book after each "
            "change or burst of changes (the default when stdout is not a "
            "terminal).",
        ),
    ] = False,
    every: Annotated[
        bool,
        typer.Option(
            "--every",
            help="With --json: a line after every applied frame, "
            "even in a burst (slower; for when each intermediate state "
            "matters).",
        ),
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="Print each market's first complete book and exit.")] = False,
    yes_price: Annotated[
        bool,
        typer.Option(
            "--use-yes-price", help="Subscribe with use_yes_price (NO side quoted in yes-leg prices on the wire)."
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", metavar="SECONDS", min=1, help="Give up when a market has no book after this long."),
    ] = 10.0,
    *,
    conn: ConnectionArgs,
) -> None:
    """Watch live order books: exact, self-healing, several markets at once.

    The book is rebuilt from Kalshi's snapshot and deltas with exact arithmetic. Any doubt (a
    seq gap, a level below zero, a crossed book, a clock going back, a reconnect) marks the
    book STALE and it is re-snapshotted; a stale book is never shown or printed as current.
    On a terminal: a ladder per market, redrawn 12 times a second; q or Ctrl-C quits.

    Examples:

      kalshi book --sim

      kalshi book KXHIGHNY-26NOV25-B52.5 KXHIGHNY-26NOV25-B54.5 --depth 5

      kalshi book KXBTCD-26NOV2517-T97999.99 --json | jq -c '[.best_yes_bid, .best_yes_ask]'

      kalshi book KXBTCD-26NOV2517-T97999.99 --once --json > snapshot.json
    """
    as_json = json_out or not sys.stdout.isatty()
    chosen = list(dict.fromkeys(tickers or []))
    if not chosen and not conn.sim and not conn.replay:
        raise UsageError("name at least one market: kalshi book TICKER [TICKER...] (or try --sim)")
    extra = {"use_yes_price": True} if yes_price else {}

    async def main() -> None:
        async with open_context(conn) as ctx:
            markets = chosen or list(ctx.sim.tickers[:3])
            await check_markets_exist(ctx, markets)
            view_depth = depth or (None if as_json else 10)
            handler = BookHandler(
                markets, as_json=as_json, depth=view_depth, once=once, every=every, snapshot_timeout=wait
            )
            try:
                if as_json:
                    await _stream_with_health(ctx, markets, handler, conn, extra)
                else:
                    await _stream_with_view(ctx, markets, handler, conn, extra)
            finally:
                handler.close()

    run_main(main)


async def check_markets_exist(ctx: StreamContext, markets: list[str]) -> None:
    """Ask REST about each market first: an unknown ticker is a clear error now, not an empty book.

    Advisory only: a server without Kalshi's REST API (or any failure other than Kalshi's own
    404 body), or more than ``REST_CHECK_LIMIT`` tickers, leaves the decision to the stream and
    ``--wait``.
    """
    from kalshi_cli.rest import RestClient, RestError

    if len(markets) > REST_CHECK_LIMIT:
        return  # one GET per ticker would eat the REST rate limit (20 reads/s on the basic tier)
    client = RestClient(ctx.endpoint.rest_url, None, tries=1, timeout=5.0)

    async def exists(ticker: str) -> bool:
        try:
            await client.get(f"/markets/{ticker}")
        except RestError as exc:
            return not (exc.http_status == 404 and exc.code is not None)
        except Exception:  # unreachable REST, odd bodies: not our call to make
            return True
        return True

    found = await asyncio.gather(*(exists(t) for t in markets))
    unknown = [t for t, ok in zip(markets, found, strict=True) if not ok]
    if unknown:
        raise UsageError(
            f"unknown market{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            "(Kalshi's REST API has no such ticker; check the spelling)"
        )


async def _stream_with_health(
    ctx: StreamContext, markets: list[str], handler: BookHandler, conn: ConnectionArgs, extra: dict[str, Any]
) -> None:
    subs = _subscriptions(markets, as_json=True, extra=extra)
    stream = asyncio.ensure_future(run_stream(ctx, subs, handler, stale_after=conn.stale_after))
    try:
        while not stream.done():
            await asyncio.wait([stream], timeout=1.0)
            if not stream.done():
                handler.check_health()
        stream.result()
    finally:
        stream.cancel()


async def _stream_with_view(
    ctx: StreamContext, markets: list[str], handler: BookHandler, conn: ConnectionArgs, extra: dict[str, Any]
) -> None:
    from kalshi_cli.render.live import BookLiveView

    subs = _subscriptions(markets, as_json=False, extra=extra)
    stream = asyncio.ensure_future(run_stream(ctx, subs, handler, stale_after=conn.stale_after))
    async with BookLiveView(handler, markets, once=handler.once) as view:
        quit_wait = asyncio.ensure_future(view.quit_event.wait())
        try:
            while not stream.done() and not view.quit_requested:
                await asyncio.wait([stream, quit_wait], timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
                if not stream.done():
                    handler.check_health()
                    if handler.once and all((b := handler.books.book(t)) is not None and b.is_live for t in markets):
                        break
            if stream.done():
                stream.result()
        finally:
            quit_wait.cancel()
            stream.cancel()
