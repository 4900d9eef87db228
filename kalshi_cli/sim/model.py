"""The simulator's values: the ``Event`` an exchange publishes, one ``Market``'s state, and the
payload builders that do not need the exchange (trades and lifecycle news).

Kept apart from ``market.Exchange`` so the replay, which publishes recorded events, shares
the event type without importing the simulated market.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.fixed import ONE_DOLLAR, format_price, format_size

from .book import Book
from .catalog import MarketSpec

__all__ = ["Event", "Market", "lifecycle_event", "trade_msg"]


@dataclass(frozen=True, slots=True)
class Event:
    """One message the exchange publishes: its ``type``, the market it concerns, its ``msg``.

    ``msg`` is shared by every connection and must not be mutated.
    """

    type: str
    ticker: str | None
    msg: dict[str, Any]


@dataclass(slots=True)
class Market:
    spec: MarketSpec
    market_id: str
    book: Book = field(default_factory=Book)
    clock: int = 0
    active: bool = True
    close_ts: int = 0
    last_price: int = 0
    last_size: int = 0
    volume: int = 0
    open_interest: int = 0
    notional: int = 0  # microdollars traded


def trade_msg(ticker: str, trade_id: str, hit: str, price: int, size: int, ts_ms: int) -> dict[str, Any]:
    """The ``trade`` msg (§6.4) of a taker selling ``size`` into the ``hit`` side's bid at ``price``."""
    yes_price = price if hit == "yes" else ONE_DOLLAR - price
    taker = "no" if hit == "yes" else "yes"
    return {
        "trade_id": trade_id,
        "market_ticker": ticker,
        "yes_price_dollars": format_price(yes_price),
        "no_price_dollars": format_price(ONE_DOLLAR - yes_price),
        "count_fp": format_size(size),
        "taker_side": taker,
        "taker_outcome_side": taker,
        "taker_book_side": "bid" if taker == "yes" else "ask",
        "is_block_trade": False,
        "ts": ts_ms // 1000,
        "ts_ms": ts_ms,
    }


def lifecycle_event(rng: random.Random, m: Market) -> Event:
    """One piece of market or event news about ``m``: (de)activation, a new close time, event metadata, fees."""
    roll = rng.random()
    ticker = m.spec.ticker
    if not m.active or roll < 0.3:
        m.active = not m.active
        kind = "activated" if m.active else "deactivated"
        return Event(
            "market_lifecycle_v2",
            ticker,
            {"market_ticker": ticker, "event_type": kind, "is_deactivated": not m.active},
        )
    if roll < 0.6:
        m.close_ts += 900 * rng.randint(1, 8)
        return Event(
            "market_lifecycle_v2",
            ticker,
            {"market_ticker": ticker, "event_type": "close_date_updated", "close_ts": m.close_ts},
        )
    if roll < 0.85:
        return Event(
            "event_lifecycle",
            None,
            {
                "event_ticker": m.spec.event_ticker,
                "exchange_index": 0,
                "title": m.spec.title,
                "subtitle": m.spec.subtitle,
                "collateral_return_type": "MECNET",
                "series_ticker": m.spec.series_ticker,
                "strike_date": m.close_ts,
            },
        )
    return Event(
        "event_fee_update",
        None,
        {
            "event_ticker": m.spec.event_ticker,
            "fee_type_override": "quadratic",
            "fee_multiplier_override": rng.choice((0.5, 0.75, None)),
        },
    )
