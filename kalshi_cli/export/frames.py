"""Rows of the frame tables (trades, tickers, lifecycle, fills, orders, positions): one per frame.

Each function takes a parsed frame, its ``msg``, its time ``ts`` (exchange time, see
``run``) and ``recv`` (recv_ts_ms or None) and adds a row. Decimal fields stay exact
(``values.scaled``); a field a frame lacks is an empty cell. Trades are written once per
``trade_id``: a backfilled trade the live stream also carried (or two overlapping recordings)
is kept once; ids are remembered for ``TRADE_WINDOW_MS`` of exchange time (a backfill reaches
5 s back), at most ``TRADE_IDS_KEPT``, so memory stays flat.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from kalshi_cli.export.tables import TableBuffer
from kalshi_cli.export.values import flag, scaled, text

__all__ = ["FrameRows", "TRADE_IDS_KEPT", "TRADE_WINDOW_MS"]

TRADE_WINDOW_MS = 120_000
TRADE_IDS_KEPT = 200_000

Handler = Callable[[dict[str, Any], dict[str, Any], int, Any], None]


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


class FrameRows:
    """The frame tables' handlers, by message type, for the tables that were asked for."""

    def __init__(self, tables: dict[str, TableBuffer], markets: set[str] | None = None) -> None:
        self.tables = tables
        self.only = markets
        self.trade_ids: OrderedDict[str, int] = OrderedDict()
        self.duplicates = 0

    def handlers(self) -> dict[str, Handler]:
        wanted: dict[str, tuple[str, ...]] = {
            "trades": ("trade",),
            "tickers": ("ticker",),
            "lifecycle": (
                "market_lifecycle_v2",
                "event_lifecycle",
                "event_fee_update",
                "multivariate_market_lifecycle",
            ),
            "fills": ("fill",),
            "orders": ("user_order",),
            "positions": ("market_position",),
        }
        methods: dict[str, Handler] = {
            "trades": self.trade,
            "tickers": self.ticker,
            "lifecycle": self.lifecycle,
            "fills": self.fill,
            "orders": self.order,
            "positions": self.position,
        }
        return {kind: methods[name] for name, kinds in wanted.items() if name in self.tables for kind in kinds}

    def _skip(self, market: Any) -> bool:
        return self.only is not None and market not in self.only

    def trade(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self._skip(market):
            return
        trade_id = text(msg.get("trade_id"))
        if trade_id is not None:
            ids = self.trade_ids
            if trade_id in ids:
                self.duplicates += 1
                return
            ids[trade_id] = ts
            while ids and (len(ids) > TRADE_IDS_KEPT or next(iter(ids.values())) < ts - TRADE_WINDOW_MS):
                ids.popitem(last=False)
        self.tables["trades"].add(
            ts,
            (
                ts,
                recv,
                text(market),
                trade_id,
                text(msg.get("taker_outcome_side") or msg.get("taker_side")),
                text(msg.get("taker_book_side")),
                scaled(msg.get("yes_price_dollars"), 4, "yes_price_dollars"),
                scaled(msg.get("no_price_dollars"), 4, "no_price_dollars"),
                scaled(msg.get("count_fp"), 2, "count_fp"),
                flag(msg.get("is_block_trade")),
                obj.get("backfill") is True,
                _int(obj.get("sid")),
                _int(obj.get("seq")),
            ),
        )

    def ticker(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self._skip(market):
            return
        g = msg.get
        self.tables["tickers"].add(
            ts,
            (
                ts,
                recv,
                text(market),
                scaled(g("price_dollars"), 4, "price_dollars"),
                scaled(g("yes_bid_dollars"), 4, "yes_bid_dollars"),
                scaled(g("yes_ask_dollars"), 4, "yes_ask_dollars"),
                scaled(g("yes_bid_size_fp"), 2, "yes_bid_size_fp"),
                scaled(g("yes_ask_size_fp"), 2, "yes_ask_size_fp"),
                scaled(g("last_trade_size_fp"), 2, "last_trade_size_fp"),
                scaled(g("volume_fp"), 2, "volume_fp"),
                scaled(g("open_interest_fp"), 2, "open_interest_fp"),
                _int(g("dollar_volume")),
                _int(g("dollar_open_interest")),
            ),
        )

    def lifecycle(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self.only is not None and market is not None and market not in self.only:
            return  # event-level frames (no market) are kept: they may concern any market
        self.tables["lifecycle"].add(
            ts,
            (
                ts,
                recv,
                text(obj.get("type")),
                text(market),
                text(msg.get("event_ticker")),
                text(msg.get("event_type")),
                text(msg.get("result")),
                scaled(msg.get("settlement_value"), 4, "settlement_value"),
                orjson.dumps(msg).decode(),
            ),
        )

    def fill(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self._skip(market):
            return
        g = msg.get
        self.tables["fills"].add(
            ts,
            (
                ts,
                recv,
                text(market),
                text(g("trade_id")),
                text(g("order_id")),
                text(g("client_order_id")),
                text(g("outcome_side") or g("side")),
                text(g("book_side")),
                text(g("action")),
                flag(g("is_taker")),
                scaled(g("yes_price_dollars"), 4, "yes_price_dollars"),
                scaled(g("count_fp"), 2, "count_fp"),
                scaled(g("fee_cost"), 6, "fee_cost"),
                scaled(g("post_position_fp"), 2, "post_position_fp"),
                obj.get("backfill") is True,
            ),
        )

    def order(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("ticker") or msg.get("market_ticker")
        if self._skip(market):
            return
        g = msg.get
        self.tables["orders"].add(
            ts,
            (
                ts,
                recv,
                text(market),
                text(g("order_id")),
                text(g("client_order_id")),
                text(g("status")),
                text(g("outcome_side") or g("side")),
                text(g("book_side")),
                scaled(g("yes_price_dollars"), 4, "yes_price_dollars"),
                scaled(g("initial_count_fp"), 2, "initial_count_fp"),
                scaled(g("fill_count_fp"), 2, "fill_count_fp"),
                scaled(g("remaining_count_fp"), 2, "remaining_count_fp"),
                scaled(g("taker_fill_cost_dollars"), 6, "taker_fill_cost_dollars"),
                scaled(g("maker_fill_cost_dollars"), 6, "maker_fill_cost_dollars"),
                scaled(g("taker_fees_dollars"), 6, "taker_fees_dollars"),
                scaled(g("maker_fees_dollars"), 6, "maker_fees_dollars"),
                text(g("last_update_reason")),
            ),
        )

    def position(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self._skip(market):
            return
        g = msg.get
        self.tables["positions"].add(
            ts,
            (
                ts,
                recv,
                text(market),
                scaled(g("position_fp"), 2, "position_fp"),
                scaled(g("position_cost_dollars"), 6, "position_cost_dollars"),
                scaled(g("realized_pnl_dollars"), 6, "realized_pnl_dollars"),
                scaled(g("fees_paid_dollars"), 6, "fees_paid_dollars"),
                scaled(g("position_fee_cost_dollars"), 6, "position_fee_cost_dollars"),
                scaled(g("volume_fp"), 2, "volume_fp"),
            ),
        )
