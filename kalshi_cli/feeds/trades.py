"""Gap-free public trades: after a reconnect or a ``trade`` seq gap, backfill from REST.

The ``trade`` channel's frames sent while disconnected are lost. ``TradeGapFiller`` holds the
live frames from the moment a gap opens, fetches ``GET /markets/trades?ticker=T&min_ts=S``
(every page) from the last trade written minus an overlap, writes the trades not yet written
(oldest first, in the WS ``trade`` frame shape with ``"backfill": true`` at the top level, like
fills), then the held frames, skipping any trade already written: each ``trade_id`` once. Only
the ids a later backfill could fetch again are remembered, so a long run's memory stays flat.
Any REST failure (a server without Kalshi's REST API answers 404) is one warning; the live
stream goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import orjson

from kalshi_cli.feeds.context import StreamContext
from kalshi_cli.framehead import is_utf8
from kalshi_cli.output import Reporter
from kalshi_cli.portfolio import fill_time_ms, price4
from kalshi_cli.protocol import TRADE
from kalshi_cli.rest import RestClient, RestError
from kalshi_cli.session import Subscription
from kalshi_cli.trade_mark import TRADE_FIRST, TRADE_MARK
from kalshi_cli.tradehead import FAST, TradeKeyError, decode_trade

__all__ = ["FetchTrades", "TradeGapFiller", "rest_trade_frame", "trade_fetcher"]

OVERLAP_MS = 5_000  # re-read this much before the last trade written (min_ts is whole seconds)
SEEN_KEPT = 10_000  # at most this many ids (about 6 s of overlap: far above any market's trade rate)
HOLD_LIMIT = 200_000  # live frames held while a backfill runs; beyond it they go out unheld
_OPTIONAL = ("taker_outcome_side", "taker_book_side", "is_block_trade")

Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]
#: ``fetch(markets, min_ts)`` -> REST Trade rows since ``min_ts`` (Unix s) for those markets (all if empty).
FetchTrades = Callable[[list[str], int], Awaitable[list[dict[str, Any]]]]


def rest_trade_frame(row: Mapping[str, Any]) -> dict[str, Any]:
    """A REST Trade as the WS ``trade`` frame, tagged ``"backfill": true`` (no ``sid``/``seq``)."""
    msg: dict[str, Any] = {
        "trade_id": row.get("trade_id"),
        "market_ticker": row.get("ticker") or row.get("market_ticker"),
    }
    for name in ("yes_price_dollars", "no_price_dollars"):
        msg[name] = price4(row.get(name))
    count = row.get("count_fp")
    if count is None and isinstance(row.get("count"), int):  # legacy integer contracts
        count = f"{row['count']}.00"
    msg["count_fp"] = count
    msg["taker_side"] = row.get("taker_side")
    for name in _OPTIONAL:
        if name in row:
            msg[name] = row[name]
    ms = fill_time_ms(row)
    if ms is not None:
        msg["ts"] = ms // 1000
        msg["ts_ms"] = ms
    return {"type": TRADE, "msg": msg, "backfill": True}


def trade_fetcher(ctx: StreamContext, subs: list[Subscription]) -> FetchTrades | None:
    """The REST fetch for the trade backfill, when ``subs`` has a ``trade`` channel and the server
    is live (a replayed recording is what it is: nothing to fetch). Public data: unsigned."""
    if not any(s.channel == TRADE for s in subs) or getattr(ctx.sim, "ended", None) is not None:
        return None
    # Live frames wait while it runs: a short timeout and one retry, not the minute a full retry takes.
    rest = RestClient(ctx.endpoint.rest_url, None, reporter=ctx.reporter, tries=2, timeout=5.0)

    async def fetch(markets: list[str], min_ts: int) -> list[dict[str, Any]]:
        """Every page, per market (all markets at once when the subscription has no filter)."""
        rows: list[dict[str, Any]] = []
        for only in [[("ticker", t)] for t in markets] or [[]]:
            params: list[tuple[str, Any]] = [("min_ts", min_ts), *only]
            rows += await rest.paginate("/markets/trades", "trades", params, limit=1000)
        return rows

    return fetch


class TradeGapFiller:
    """Every data frame of a run that has a ``trade`` subscription goes through ``live``.

    Args:
        fetch: the REST trades since a time (``trade_fetcher``).
        write_live: writes a frame as received (``stamp`` is the caller's, e.g. a receive time).
        write_backfill: writes a backfilled trade frame.
    """

    def __init__(
        self,
        fetch: FetchTrades,
        reporter: Reporter,
        *,
        write_live: Callable[[bytes, int], None],
        write_backfill: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.fetch = fetch
        self.reporter = reporter
        self.write_live = write_live
        self.write_backfill = write_backfill
        self.started_ms = int(clock() * 1000)
        self.last_trade_ms: int | None = None
        self.holding = False
        self.backfilled = 0
        self._held: list[tuple[bytes, int]] = []
        self._seen: set[str] = set()
        self._order: deque[tuple[int, str]] = deque()  # (trade time ms, id), in the order written
        self._cutoff = -OVERLAP_MS - 1000  # ids of trades before this are forgotten (see _forget)
        self._task: asyncio.Task[None] | None = None

    # --- the stream ---------------------------------------------------------------------------

    def live(self, raw: bytes, stamp: int = 0) -> None:
        """A data frame from the socket: held during a backfill, else written (a trade once).

        Kalshi's trade frame is read with ``tradehead`` (msgspec: type, trade_id, ts_ms, about a
        third of ``orjson.loads``); a frame it declines, or any without msgspec, with orjson
        (``_first_time``), which judges it as it always has."""
        if self.holding:
            self._held.append((raw, stamp))
            if len(self._held) > HOLD_LIMIT:
                self._release()
            return
        # (Kalshi's trade frame begins with its type: one look; any other frame is searched)
        if raw.startswith(TRADE_FIRST) or TRADE_MARK in raw:
            key = None
            if FAST:  # (without msgspec, no reader to try)
                try:
                    key = decode_trade(raw)
                except TradeKeyError:
                    pass
            if key is None or not (raw.isascii() or is_utf8(raw)):
                if not self._first_time(raw):
                    return
            elif key.type == TRADE and not self._add(key.msg.trade_id, key.msg.ts_ms):
                return
        self.write_live(raw, stamp)

    def disconnected(self) -> None:
        """Frames may be missed from now on: hold, and backfill once subscribed again."""
        self._cancel()
        self.holding = True

    def lost(self, sub: Subscription) -> None:
        """The trade subscription broke (the session resubscribes): as for a disconnect."""
        if sub.channel == TRADE:
            self.disconnected()

    def subscribed(self, sub: Subscription, spawn: Spawn) -> None:
        if sub.channel == TRADE and self.holding:
            self._start(sub, spawn)

    def gap(self, sub: Subscription, spawn: Spawn) -> None:
        """A seq gap on the trade channel: backfill now (the subscription is still up)."""
        if sub.channel == TRADE:
            self._cancel()
            self.holding = True
            self._start(sub, spawn)

    # --- backfill -----------------------------------------------------------------------------

    def _start(self, sub: Subscription, spawn: Spawn) -> None:
        self._cancel()
        self._task = spawn(self.fill(list(sub.markets)))

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()  # the window is kept (last_trade_ms): the next backfill covers it
        self._task = None

    async def fill(self, markets: list[str]) -> None:
        """Fetch the trades since the last one written, write the new ones, then the held frames."""
        anchor = (self.last_trade_ms if self.last_trade_ms is not None else self.started_ms) - OVERLAP_MS
        try:
            rows = await self.fetch(markets, max(0, anchor // 1000))
        except RestError as exc:
            what = "no Kalshi REST API" if exc.http_status == 404 else "no backfill"
            self.reporter.warn_once(
                f"trades:{what}", f"{exc}; {what}: public trades made while disconnected may be missing"
            )
            rows = []
        frames = sorted((rest_trade_frame(r) for r in rows), key=lambda f: f["msg"].get("ts_ms") or 0)
        for frame in frames:
            msg = frame["msg"]
            if (msg.get("ts_ms") or 0) < self.started_ms or not self._note(msg):
                continue  # from before this run, or written already
            self.write_backfill(frame)
            self.backfilled += 1
        self._release()

    def _release(self) -> None:
        """Stop holding: write the held frames, skipping trades already written."""
        self.holding = False
        held, self._held = self._held, []
        for raw, stamp in held:
            self.live(raw, stamp)

    # --- dedupe -------------------------------------------------------------------------------

    def _first_time(self, raw: bytes) -> bool:
        """The reference: is this frame new (a trade not written yet, or not a trade at all)?"""
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return True  # not ours to judge
        msg = obj.get("msg") if isinstance(obj, dict) and obj.get("type") == TRADE else None
        return self._note(msg) if isinstance(msg, dict) else True

    def _note(self, msg: Mapping[str, Any]) -> bool:
        """Remember a trade written; False if it was already."""
        trade_id = msg.get("trade_id")
        if not isinstance(trade_id, str) or not trade_id:
            return True
        return self._add(trade_id, fill_time_ms(msg))

    def _add(self, trade_id: str, ms: int | None) -> bool:
        """``_note`` once the id and time are read: one set look-up and, for a new id, one append
        (the cutoff moves only with the last trade's time; the queue is trimmed only past it)."""
        seen = self._seen
        if trade_id in seen:
            return False
        last = self.last_trade_ms
        if ms is not None and (last is None or ms > last):
            self.last_trade_ms = last = ms
            self._cutoff = ms - OVERLAP_MS - 1000
        seen.add(trade_id)
        order = self._order
        order.append((ms if ms is not None else last or 0, trade_id))
        if order[0][0] < self._cutoff or len(order) > SEEN_KEPT:
            self._forget()
        return True

    def _forget(self) -> None:
        """Drop the ids no backfill can bring back: trades older than the next one's ``min_ts``
        (the last trade written less the overlap, floored to the second), and beyond ``SEEN_KEPT``."""
        order, seen, cutoff = self._order, self._seen, self._cutoff
        while order and (order[0][0] < cutoff or len(order) > SEEN_KEPT):
            seen.discard(order.popleft()[1])
