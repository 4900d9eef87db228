"""The ``fills`` feed: your executions, live and gap-free across reconnects.

The ``fill`` channel has no ``seq``: a frame lost while disconnected is invisible. So the
handler subscribes first and buffers, backfills from ``GET /portfolio/fills`` (from ``--since``
on the first connection; after a reconnect or lost subscription from the last fill seen minus
an overlap), writes the REST fills not yet seen oldest first, then flushes the buffer, skipping
what was written. The dedupe key is (``trade_id``, ``order_id``), so each fill appears once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.environment import Environment
from kalshi_cli.feeds.context import ConnectionArgs
from kalshi_cli.feeds.private import PrivateHandler, follow, no_rest_api
from kalshi_cli.portfolio import FillTotals, fill_key, fill_time_ms, rest_fill_frame
from kalshi_cli.protocol import FILL, Head
from kalshi_cli.rest import RestClient, RestError
from kalshi_cli.session import StreamDone, Subscription
from kalshi_cli.sinks import Sink

__all__ = ["FillsHandler", "FillsSettings", "run"]

OVERLAP_MS = 5_000  # re-read this much before the last fill seen (REST lags; min_ts is in seconds)
LOCAL_OVERLAP_MS = 30_000  # when the anchor is our own clock rather than an exchange time
ROWS_KEPT = 500  # fills kept for the live table


@dataclass
class FillsSettings:
    markets: list[str] = field(default_factory=list)
    since_ms: int | None = None
    json_out: bool = False
    count: int | None = None
    all_in_series: bool = False  # a series ticker in -m may expand to all its open events' markets
    conn: ConnectionArgs = field(default_factory=ConnectionArgs)


class FillsHandler(PrivateHandler):
    """Writes each fill exactly once, in order: REST backfill first, then the buffered live frames."""

    channel = FILL

    def __init__(
        self,
        sink: Sink,
        rest: RestClient,
        markets: list[str],
        *,
        since_ms: int | None,
        count: int | None,
        now_ms: int | None = None,
    ) -> None:
        super().__init__(sink, rest, markets)
        self.remaining = count
        self.started_ms = int(time.time() * 1000) if now_ms is None else now_ms
        self.floor_ms = since_ms if since_ms is not None else self.started_ms
        self.window_ms = since_ms  # start of the next backfill; None = nothing to fetch
        self.seen: set[tuple[str, str]] = set()
        self.buffer: list[tuple[bytes, dict[str, Any]]] = []
        self.buffering = True
        self.last_fill_ms: int | None = None
        self.backfills = 0
        self.printed = 0
        self.rows: list[dict[str, Any]] = []  # for the table
        self.totals = FillTotals()
        self._task: asyncio.Task[None] | None = None

    # --- gaps -----------------------------------------------------------------------------------

    def _open_gap(self) -> None:
        """From now on frames may be missing: buffer, and backfill once subscribed again."""
        self.buffering = True
        if self.last_fill_ms is not None:
            anchor = self.last_fill_ms - OVERLAP_MS
        else:
            anchor = self.floor_ms - LOCAL_OVERLAP_MS
        self.window_ms = anchor if self.window_ms is None else min(self.window_ms, anchor)

    def on_connected(self, url: str) -> None:
        self.state = "subscribing"
        if self.session.connects > 1:
            self._open_gap()
        self.buffering = True

    def on_disconnected(self, reason: str) -> None:
        super().on_disconnected(reason)
        self._open_gap()

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        if sub.channel == FILL:
            self._open_gap()

    def on_subscribed(self, sub: Subscription) -> None:
        if sub.channel != FILL:
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()  # its window is still in window_ms; the new backfill covers it
        if self.window_ms is None:
            self._flush_buffer()
            self.state = "live"
            return
        self.state = "fetching missed fills from the REST API"
        self._task = self.spawn(self._backfill(self.window_ms))

    # --- frames ---------------------------------------------------------------------------------

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        if head.type != FILL:
            return
        obj = self.frame_obj(raw, head)
        if self.buffering:
            self.buffer.append((raw, obj))
            return
        self._emit(raw, obj, backfill=False)
        if self.remaining is not None and self.remaining <= 0:
            raise StreamDone

    async def _backfill(self, window_ms: int) -> None:
        try:
            await self._fetch(window_ms)
        except RestError as exc:
            history = "the --since history and " if self.floor_ms != self.started_ms else ""
            if not no_rest_api(exc, self.session.reporter, f"{history}fills made while disconnected may be missing"):
                raise
        self.backfills += 1
        self.window_ms = None
        self._flush_buffer()
        self.state = "live"

    async def _fetch(self, window_ms: int) -> None:
        params: list[tuple[str, Any]] = [("min_ts", max(0, window_ms // 1000))]
        if self.markets:
            params.append(("ticker", ",".join(self.markets)))
        rows = await self.rest.paginate("/portfolio/fills", "fills", params)
        # Oldest first. The server lists newest first; fills in the same millisecond keep its
        # order (reversed) rather than a trade_id tiebreak, which would reorder them arbitrarily.
        frames = [rest_fill_frame(row) for row in reversed(rows)]
        frames.sort(key=lambda f: f["msg"].get("ts_ms") or 0)
        wanted = set(self.markets)
        for frame in frames:
            msg = frame["msg"]
            if wanted and msg.get("market_ticker") not in wanted:
                continue
            if (msg.get("ts_ms") or 0) < self.floor_ms:
                continue  # before --since (min_ts is whole seconds) or before we started
            self._emit(None, frame, backfill=True)
            if self.done.is_set():
                return

    def _flush_buffer(self) -> None:
        buffered, self.buffer = self.buffer, []
        self.buffering = False
        for raw, obj in buffered:
            self._emit(raw, obj, backfill=False)
            if self.done.is_set():
                return

    def _emit(self, raw: bytes | None, obj: dict[str, Any], *, backfill: bool) -> None:
        """Write one fill unless already written; count it toward ``--count``."""
        if self.done.is_set():
            return
        found = obj.get("msg")
        msg: dict[str, Any] = found if isinstance(found, dict) else {}
        key = fill_key(msg)
        if key in self.seen:
            return
        self.seen.add(key)
        ms = fill_time_ms(msg)
        if ms is not None:
            self.last_fill_ms = ms if self.last_fill_ms is None else max(self.last_fill_ms, ms)
        post = self.totals.add(msg)
        self.write(raw, obj)
        self.rows.append({"msg": msg, "ms": ms, "backfill": backfill, "post": post})
        del self.rows[:-ROWS_KEPT]
        self.printed += 1
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.finish()


def run(settings: FillsSettings, env: Environment) -> None:
    """Follow your fills (after ``--since``'s history) until stopped or ``--count`` fills."""

    def make(sink: Sink, rest: RestClient) -> FillsHandler:
        now_ms = int(env.clock() * 1000)
        return FillsHandler(
            sink, rest, settings.markets, since_ms=settings.since_ms, count=settings.count, now_ms=now_ms
        )

    def view(handler: FillsHandler) -> Callable[[int], Any]:
        from kalshi_cli.render.portfolio import fills_view

        def draw(height: int) -> Any:
            return fills_view(handler.rows, handler.totals, f"{handler.state}; {handler.printed} fills", height)

        return draw

    follow(settings.conn, env, settings.json_out, make, view, all_in_series=settings.all_in_series)
