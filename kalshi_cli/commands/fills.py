"""``kalshi fills``: your executions, live and gap-free across reconnects.

The ``fill`` channel has no ``seq``: a frame lost while disconnected is invisible. So the
handler subscribes first and buffers, backfills from ``GET /portfolio/fills`` (from ``--since``
on the first connection; after a reconnect or lost subscription from the last fill seen minus
an overlap), prints the REST fills not yet seen oldest first, then flushes the buffer, skipping
what was printed. The dedupe key is (``trade_id``, ``order_id``), so each fill prints once.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Annotated, Any

import typer

from kalshi_cli.commands.common import ConnectionArgs, connection_options, open_context
from kalshi_cli.commands.private import PrivateHandler, follow, rest_client
from kalshi_cli.commands.runner import run_main
from kalshi_cli.portfolio import FillTotals, fill_key, fill_time_ms, parse_since, rest_fill_frame
from kalshi_cli.protocol import Head
from kalshi_cli.rest import RestClient
from kalshi_cli.session import StreamDone, Subscription

__all__ = ["FillsHandler", "fills"]

OVERLAP_MS = 5_000  # re-read this much before the last fill seen (REST lags; min_ts is in seconds)
LOCAL_OVERLAP_MS = 30_000  # when the anchor is our own clock rather than an exchange time


class FillsHandler(PrivateHandler):
    """Prints each fill exactly once, in order: REST backfill first, then the buffered live frames."""

    def __init__(
        self,
        rest: RestClient,
        markets: list[str],
        *,
        as_json: bool,
        since_ms: int | None,
        count: int | None,
        now_ms: int | None = None,
    ) -> None:
        super().__init__(as_json=as_json)
        self.rest = rest
        self.markets = markets
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
        if sub.channel == "fill":
            self._open_gap()

    def on_subscribed(self, sub: Subscription) -> None:
        if sub.channel != "fill":
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
        if head.type != "fill":
            return
        obj = self.frame_obj(raw, head)
        if self.buffering:
            self.buffer.append((raw, obj))
            return
        self._emit(raw, obj, backfill=False)
        if self.remaining is not None and self.remaining <= 0:
            raise StreamDone

    async def _backfill(self, window_ms: int) -> None:
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
        self.backfills += 1
        self.window_ms = None
        self._flush_buffer()
        self.state = "live"

    def _flush_buffer(self) -> None:
        buffered, self.buffer = self.buffer, []
        self.buffering = False
        for raw, obj in buffered:
            self._emit(raw, obj, backfill=False)
            if self.done.is_set():
                return

    def _emit(self, raw: bytes | None, obj: dict[str, Any], *, backfill: bool) -> None:
        """Print one fill unless already printed; count it toward ``--count``."""
        if self.done.is_set():
            return
        msg = obj.get("msg") if isinstance(obj.get("msg"), dict) else {}
        key = fill_key(msg)
        if key in self.seen:
            return
        self.seen.add(key)
        ms = fill_time_ms(msg)
        if ms is not None:
            self.last_fill_ms = ms if self.last_fill_ms is None else max(self.last_fill_ms, ms)
        post = self.totals.add(msg)
        if self.writer is not None:
            self.write(raw if raw is not None else obj)
        else:
            self.rows.append({"msg": msg, "ms": ms, "backfill": backfill, "post": post})
            del self.rows[:-500]
        self.printed += 1
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.done.set()


@connection_options
def fills(
    market: Annotated[
        list[str] | None,
        typer.Option("--market", "-m", metavar="TICKER", help="Only these markets (repeat for several)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Print fills from this time first: 1h, 30m, 2d, an ISO time "
            "(2026-08-28T14:00:00Z; no offset = local time) or Unix ms.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="NDJSON, one fill per line (the default when stdout is not a terminal).")
    ] = False,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Exit after this many fills.")] = None,
    *,
    conn: ConnectionArgs,
) -> None:
    """Your fills as they happen, each exactly once, even across reconnects.

    On a terminal: a live table (time, market, outcome side, buy/sell, yes price, size, fee,
    maker/taker, position after) and running totals per market (bought, sold, average yes
    price, fees, net position). With --json (or into a pipe): one line per fill, the WebSocket
    `fill` frame exactly as received; a fill fetched from the REST API (from --since, or made
    while the connection was down) has the same shape, no `sid`, no `post_position_fp`, and
    `"backfill": true` at the top level. Needs an API key.

    Examples:

      kalshi fills --sim

      kalshi fills --since 1h -m KXHIGHNY-26AUG28-B84.5

      kalshi fills --since 2026-08-28T00:00:00Z --json | jq -c '.msg | [.market_ticker, .count_fp, .yes_price_dollars]'
    """
    markets = list(market or [])
    since_ms = parse_since(since) if since else None
    as_json = json_out or not sys.stdout.isatty()

    async def main() -> None:
        async with open_context(conn, need_key=True) as ctx:
            handler = FillsHandler(rest_client(ctx), markets, as_json=as_json, since_ms=since_ms, count=count)
            params = {"market_tickers": markets} if markets else {}
            subs = [Subscription("fill", params)]
            view = None
            if not as_json:
                from kalshi_cli.render.portfolio import fills_view

                def view(height: int) -> Any:
                    return fills_view(handler.rows, handler.totals, f"{handler.state}; {handler.printed} fills", height)

            await follow(ctx, subs, handler, stale_after=conn.stale_after, view=view)

    run_main(main)
