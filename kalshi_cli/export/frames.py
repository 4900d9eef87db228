"""Rows of the frame tables (trades, tickers, lifecycle, fills, orders, positions): one per frame.

Each function takes a parsed frame, its ``msg``, its time ``ts`` (exchange time, see
``run``) and ``recv`` (recv_ts_ms or None) and adds a row. Decimal fields stay exact
(``values``: a malformed msg raises TypeError there, and ``run`` retries it sanitized); a
field a frame lacks is an empty cell, and a cell of the wrong type is emptied by the writer. Trades are written once per
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
from kalshi_cli.export.values import MICROS, PRICES, SIZES, TOTALS

__all__ = ["FrameRows", "TRADE_IDS_KEPT", "TRADE_WINDOW_MS"]

TRADE_WINDOW_MS = 120_000
TRADE_IDS_KEPT = 200_000

Handler = Callable[[dict[str, Any], dict[str, Any], int, Any], None]


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

    def trade(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self.only is not None and market not in self.only:
            return
        g = msg.get
        trade_id = g("trade_id")
        row = (  # first: a malformed value raises here (and the frame is read again, sanitized) before its id is noted
            ts,
            recv,
            market,
            trade_id,
            g("taker_outcome_side") or g("taker_side"),
            g("taker_book_side"),
            PRICES[g("yes_price_dollars")],
            PRICES[g("no_price_dollars")],
            SIZES[g("count_fp")],
            g("is_block_trade"),
            obj.get("backfill") is True,
            obj.get("sid"),
            obj.get("seq"),
        )
        self.add_trade(trade_id, ts, row)

    def add_trade(self, trade_id: Any, ts: int, row: tuple[Any, ...]) -> None:
        """``row``, unless its ``trade_id`` was written within the window."""
        if trade_id is not None:
            ids = self.trade_ids
            if trade_id in ids:
                self.duplicates += 1
                return
            ids[trade_id] = ts
            if len(ids) > 1024:
                while ids and (len(ids) > TRADE_IDS_KEPT or next(iter(ids.values())) < ts - TRADE_WINDOW_MS):
                    ids.popitem(last=False)
        self.tables["trades"].append(row)

    def ticker(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self.only is not None and market not in self.only:
            return
        g = msg.get
        self.tables["tickers"].append(
            (
                ts,
                recv,
                market,
                PRICES[g("price_dollars")],
                PRICES[g("yes_bid_dollars")],
                PRICES[g("yes_ask_dollars")],
                SIZES[g("yes_bid_size_fp")],
                SIZES[g("yes_ask_size_fp")],
                SIZES[g("last_trade_size_fp")],
                TOTALS[g("volume_fp")],
                TOTALS[g("open_interest_fp")],
                g("dollar_volume"),
                g("dollar_open_interest"),
            ),
        )

    def lifecycle(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self.only is not None and market is not None and market not in self.only:
            return  # event-level frames (no market) are kept: they may concern any market
        g = msg.get
        self.tables["lifecycle"].append(
            (
                ts,
                recv,
                obj.get("type"),
                market,
                g("event_ticker"),
                g("event_type"),
                g("result"),
                PRICES[g("settlement_value")],
                orjson.dumps(msg).decode(),
            ),
        )

    def fill(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self.only is not None and market not in self.only:
            return
        g = msg.get
        self.tables["fills"].append(
            (
                ts,
                recv,
                market,
                g("trade_id"),
                g("order_id"),
                g("client_order_id"),
                g("outcome_side") or g("side"),
                g("book_side"),
                g("action"),
                g("is_taker"),
                PRICES[g("yes_price_dollars")],
                SIZES[g("count_fp")],
                MICROS[g("fee_cost")],
                SIZES[g("post_position_fp")],
                obj.get("backfill") is True,
            ),
        )

    def order(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("ticker") or msg.get("market_ticker")
        if self.only is not None and market not in self.only:
            return
        g = msg.get
        self.tables["orders"].append(
            (
                ts,
                recv,
                market,
                g("order_id"),
                g("client_order_id"),
                g("status"),
                g("outcome_side") or g("side"),
                g("book_side"),
                PRICES[g("yes_price_dollars")],
                SIZES[g("initial_count_fp")],
                SIZES[g("fill_count_fp")],
                SIZES[g("remaining_count_fp")],
                MICROS[g("taker_fill_cost_dollars")],
                MICROS[g("maker_fill_cost_dollars")],
                MICROS[g("taker_fees_dollars")],
                MICROS[g("maker_fees_dollars")],
                g("last_update_reason"),
            ),
        )

    def position(self, obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any) -> None:
        market = msg.get("market_ticker")
        if self.only is not None and market not in self.only:
            return
        g = msg.get
        self.tables["positions"].append(
            (
                ts,
                recv,
                market,
                SIZES[g("position_fp")],
                MICROS[g("position_cost_dollars")],
                MICROS[g("realized_pnl_dollars")],
                MICROS[g("fees_paid_dollars")],
                MICROS[g("position_fee_cost_dollars")],
                TOTALS[g("volume_fp")],
            ),
        )
