"""The simulator's public REST routes: one market, the exchange status and the public trades
(REST.md §5.4-§5.6, docs/REST_FACTS.md), from the same ``Exchange`` the channels stream.

``GET /markets/trades`` serves the very ``trade`` msgs the ``trade`` channel sent, in REST
shape, so a client that lost frames while disconnected can backfill them and deduplicate
by ``trade_id``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kalshi_cli.fixed import ONE_DOLLAR, format_price, parse_price

from .market import Exchange
from .rest_query import Query, error, in_window, newest_first, one, time_window
from .times import rfc3339_ms

__all__ = ["exchange_status", "market", "rest_trade", "trades"]


def trades(exchange: Exchange, q: Query) -> dict[str, Any]:
    """``GET /markets/trades``: newest first; ``ticker``, ``min_ts``/``max_ts`` (Unix s, inclusive), pages."""
    ticker = one(q, "ticker")
    window = time_window(q)
    found = (
        (t["ts_ms"], t)
        for t in exchange.trades
        if (ticker is None or t["market_ticker"] == ticker) and in_window(t["ts_ms"] // 1000, window)
    )
    return newest_first(q, "trades", found, rest_trade)


def rest_trade(msg: dict[str, Any]) -> dict[str, Any]:
    """A WS ``trade`` msg as the REST Trade: ``ticker`` for ``market_ticker``, ``created_time`` for ``ts_ms``."""
    return {
        "trade_id": msg["trade_id"],
        "ticker": msg["market_ticker"],
        "taker_side": msg["taker_side"],
        "yes_price_dollars": msg["yes_price_dollars"],
        "no_price_dollars": msg["no_price_dollars"],
        "count_fp": msg["count_fp"],
        "created_time": rfc3339_ms(msg["ts_ms"]),
    }


def market(exchange: Exchange, ticker: str) -> dict[str, Any]:
    """``GET /markets/{ticker}``; 404 with Kalshi's nested body for an unknown ticker."""
    m = exchange.markets.get(ticker)
    if m is None or "/" in ticker:
        raise error(404, "not_found", "market_not_found")
    state = exchange.ticker_msg(ticker)
    yes_bid, yes_ask = parse_price(state["yes_bid_dollars"]), parse_price(state["yes_ask_dollars"])
    close = _rfc3339_s(m.close_ts)
    open_time = rfc3339_ms(exchange.now_ms() - 86_400_000)
    return {
        "market": {
            "ticker": ticker,
            "event_ticker": m.spec.event_ticker,
            "market_type": "binary",
            "title": m.spec.title,
            "subtitle": m.spec.subtitle,
            "yes_sub_title": m.spec.subtitle,
            "no_sub_title": m.spec.subtitle,
            "created_time": open_time,
            "updated_time": open_time,
            "open_time": open_time,
            "close_time": close,
            "latest_expiration_time": close,
            "settlement_timer_seconds": 3600,
            "status": "active" if m.active else "inactive",
            "yes_bid_dollars": state["yes_bid_dollars"],
            "yes_bid_size_fp": state["yes_bid_size_fp"],
            "yes_ask_dollars": state["yes_ask_dollars"],
            "yes_ask_size_fp": state["yes_ask_size_fp"],
            "no_bid_dollars": format_price(ONE_DOLLAR - yes_ask) if yes_ask else format_price(0),
            "no_ask_dollars": format_price(ONE_DOLLAR - yes_bid),
            "last_price_dollars": state["price_dollars"],
            "volume_fp": state["volume_fp"],
            "volume_24h_fp": state["volume_fp"],
            "result": "",
            "can_close_early": False,
            "open_interest_fp": state["open_interest_fp"],
            "notional_value_dollars": "1.0000",
            "previous_yes_bid_dollars": state["yes_bid_dollars"],
            "previous_yes_ask_dollars": state["yes_ask_dollars"],
            "previous_price_dollars": state["price_dollars"],
            "settlement_bounds_type": "default",
            "expiration_value": "",
            "occurrence_datetime": None,
            "rules_primary": f"If {m.spec.title.rstrip('?')}, then the market resolves to Yes.",
            "rules_secondary": "",
            "price_level_structure": "linear_cent",
            "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
            "exchange_index": 0,
        }
    }


def exchange_status(exchange: Exchange, q: Query) -> dict[str, Any]:
    return {
        "exchange_active": True,
        "trading_active": True,
        "intra_exchange_transfers_active": True,
        "exchange_estimated_resume_time": None,
        "exchange_index_statuses": [
            {
                "exchange_index": 0,
                "description": "Simulated exchange",
                "exchange_active": True,
                "trading_active": True,
                "intra_exchange_transfers_active": True,
            }
        ],
    }


def _rfc3339_s(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
