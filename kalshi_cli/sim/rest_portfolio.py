"""The simulator's private REST routes (REST.md §5.1-§5.3): the signed-in user's fills,
positions and orders, from the same ``Exchange`` account the private channels stream.
"""

from __future__ import annotations

from typing import Any

from kalshi_cli.fixed import ONE_DOLLAR, format_micro4, format_price, format_size, parse_price, parse_size

from .market import Exchange
from .rest_query import Query, csv, error, in_window, newest_first, one, page, time_window
from .times import rfc3339_ms

__all__ = ["fills", "orders", "positions", "rest_fill", "rest_order"]


def fills(exchange: Exchange, q: Query) -> dict[str, Any]:
    """``GET /portfolio/fills``: newest first; ticker (comma list), order_id, min_ts, max_ts."""
    tickers = csv(q, "ticker")
    order_id = one(q, "order_id")
    window = time_window(q)
    found = (
        (f["ts_ms"], f)
        for f in exchange.account.fills
        if (not tickers or f["market_ticker"] in tickers)
        and (not order_id or f["order_id"] == order_id)
        and in_window(f["ts_ms"] // 1000, window)
    )
    return newest_first(q, "fills", found, rest_fill)


def positions(exchange: Exchange, q: Query) -> dict[str, Any]:
    """``GET /portfolio/positions``: market_positions and event_positions, filters by ticker/event."""
    ticker, event = one(q, "ticker"), one(q, "event_ticker")
    count_filter = set(csv(q, "count_filter"))
    traded: dict[str, int] = {}
    updated: dict[str, int] = {}
    for f in exchange.account.fills:
        t = f["market_ticker"]
        own = parse_price(f["yes_price_dollars"])
        if f["outcome_side"] == "no":
            own = ONE_DOLLAR - own
        traded[t] = traded.get(t, 0) + parse_size(f["count_fp"]) * own
        updated[t] = f["ts_ms"]
    rows = []
    for t, p in exchange.account.positions.items():
        event_ticker = exchange.markets[t].spec.event_ticker
        if (ticker and t != ticker) or (event and event_ticker != event):
            continue
        if "position" in count_filter and p.position == 0:
            continue
        if "total_traded" in count_filter and not traded.get(t):
            continue
        rows.append(
            (
                event_ticker,
                {
                    "ticker": t,
                    "exchange_index": 0,
                    "total_traded_dollars": format_micro4(traded.get(t, 0)),
                    "position_fp": format_size(p.position),
                    "market_exposure_dollars": format_micro4(p.cost),
                    "realized_pnl_dollars": format_micro4(p.realized),
                    "fees_paid_dollars": format_micro4(p.fees),
                    "last_updated_ts": rfc3339_ms(updated.get(t, exchange.now_ms())),
                },
            )
        )
    found, cursor = page(q, rows)
    events: dict[str, dict[str, int]] = {}
    for event_ticker, row in found:
        p = exchange.account.positions[row["ticker"]]
        e = events.setdefault(event_ticker, {"cost": 0, "shares": 0, "exposure": 0, "pnl": 0, "fees": 0})
        e["cost"] += traded.get(row["ticker"], 0)
        e["shares"] += p.volume
        e["exposure"] += p.cost
        e["pnl"] += p.realized
        e["fees"] += p.fees
    return {
        "market_positions": [row for _, row in found],
        "event_positions": [
            {
                "event_ticker": name,
                "total_cost_dollars": format_micro4(e["cost"]),
                "total_cost_shares_fp": format_size(e["shares"]),
                "event_exposure_dollars": format_micro4(e["exposure"]),
                "realized_pnl_dollars": format_micro4(e["pnl"]),
                "fees_paid_dollars": format_micro4(e["fees"]),
            }
            for name, e in events.items()
        ],
        "cursor": cursor,
    }


def orders(exchange: Exchange, q: Query) -> dict[str, Any]:
    """``GET /portfolio/orders``: newest first; status, ticker, event_ticker (comma list), min/max_ts."""
    status, ticker = one(q, "status"), one(q, "ticker")
    events = csv(q, "event_ticker")
    if status and status not in ("resting", "canceled", "executed"):
        raise error(400, "invalid_parameters", f"status must be resting, canceled or executed, not {status!r}")
    window = time_window(q)
    found = (
        (o.created_ms, o)
        for o in exchange.account.orders.values()
        if (not status or o.status == status)
        and (not ticker or o.ticker == ticker)
        and (not events or exchange.markets[o.ticker].spec.event_ticker in events)
        and in_window(o.created_ms // 1000, window)
    )
    return newest_first(q, "orders", found, lambda o: rest_order(exchange.account.order_msg(o)))


def rest_fill(f: dict[str, Any]) -> dict[str, Any]:
    """A WS ``fill`` msg as the REST Fill (REST.md §5.1): ``fill_id == trade_id``, ``created_time``."""
    yes = parse_price(f["yes_price_dollars"])
    return {
        "fill_id": f["trade_id"],
        "trade_id": f["trade_id"],
        "order_id": f["order_id"],
        "ticker": f["market_ticker"],
        "market_ticker": f["market_ticker"],
        "exchange_index": f.get("exchange_index", 0),
        "side": f["side"],
        "action": f["action"],
        "outcome_side": f["outcome_side"],
        "book_side": f["book_side"],
        "count_fp": f["count_fp"],
        "yes_price_dollars": format_price(yes),
        "no_price_dollars": format_price(ONE_DOLLAR - yes),
        "is_taker": f["is_taker"],
        "fee_cost": f["fee_cost"],
        "created_time": rfc3339_ms(f["ts_ms"]),
        "ts": f["ts_ms"] // 1000,
        "subaccount_number": f.get("subaccount", 0),
    }


def rest_order(msg: dict[str, Any]) -> dict[str, Any]:
    """A WS ``user_order`` msg as the REST Order (REST.md §5.3)."""
    yes = parse_price(msg["yes_price_dollars"])
    return {
        "order_id": msg["order_id"],
        "user_id": msg["user_id"],
        "client_order_id": msg["client_order_id"],
        "ticker": msg["ticker"],
        "side": msg["side"],
        "action": "buy",
        "outcome_side": msg["outcome_side"],
        "book_side": msg["book_side"],
        "type": "limit",
        "status": msg["status"],
        "yes_price_dollars": msg["yes_price_dollars"],
        "no_price_dollars": format_price(ONE_DOLLAR - yes),
        "fill_count_fp": msg["fill_count_fp"],
        "remaining_count_fp": msg["remaining_count_fp"],
        "initial_count_fp": msg["initial_count_fp"],
        "taker_fill_cost_dollars": msg["taker_fill_cost_dollars"],
        "maker_fill_cost_dollars": msg["maker_fill_cost_dollars"],
        "taker_fees_dollars": msg["taker_fees_dollars"],
        "maker_fees_dollars": msg["maker_fees_dollars"],
        "expiration_time": None,
        "created_time": msg.get("created_time"),
        "last_update_time": msg.get("last_update_time", msg.get("created_time")),
        "self_trade_prevention_type": None,
        "order_group_id": None,
        "cancel_order_on_pause": False,
        "subaccount_number": msg.get("subaccount_number", 0),
        "exchange_index": 0,
    }
