"""Your fills, positions and orders: REST rows as WebSocket frames, dedupe keys, running totals.

Pure functions and small state classes (no I/O) behind ``kalshi fills``, ``positions`` and
``orders``. The REST → WS mappings follow REST.md §5.1-5.3: a backfilled fill becomes a WS
``fill`` frame with no ``sid`` and no ``post_position_fp``, tagged ``"backfill": true``; seed
rows for positions and orders become ``market_position`` / ``user_order`` frames tagged
``"seed": true``. Amounts stay strings on the wire and are ``Decimal`` in totals.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from kalshi_cli.errors import UsageError
from kalshi_cli.protocol import FILL, MARKET_POSITION, USER_ORDER

__all__ = [
    "FillTotals",
    "MarketTotals",
    "fill_key",
    "fill_time_ms",
    "parse_since",
    "parse_time_ms",
    "price4",
    "rest_fill_frame",
    "rest_order_frame",
    "rest_position_frame",
    "to_decimal",
]

ZERO = Decimal(0)
_FRACTION = re.compile(r"(\.\d{6})\d+")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h|hr|d|w)", re.I)
_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "sec": 1000,
    "m": 60_000,
    "min": 60_000,
    "h": 3_600_000,
    "hr": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
}


# --- numbers and times -------------------------------------------------------------------------


def to_decimal(value: Any) -> Decimal | None:
    """A fixed-point string (or number) as ``Decimal``; ``None`` for null, empty or junk."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def parse_time_ms(text: Any) -> int | None:
    """RFC 3339 (``Z`` or offset, up to 6 fraction digits kept) -> Unix ms; ``None`` if unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        when = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _unix_ms(value: Any) -> int | None:
    """An integer Unix time in s or ms (decided by magnitude, REST.md §5.1) -> ms."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value > 10**11 else int(value * 1000)


def fill_time_ms(msg: Mapping[str, Any]) -> int | None:
    """When a fill happened, from a WS msg (``ts_ms``/``ts``) or a REST row (``created_time``/``ts``)."""
    if isinstance(msg.get("ts_ms"), int):
        return int(msg["ts_ms"])
    created = parse_time_ms(msg.get("created_time"))
    return created if created is not None else _unix_ms(msg.get("ts"))


#: The latest time ``--since`` accepts (the end of year 9999, as ``datetime`` can hold).
MAX_TIME_MS = 253_402_300_799_999


def parse_since(text: str, now_ms: int | None = None) -> int:
    """``--since``: a duration back from now (``90s``, ``15m``, ``1h``, ``2d``, ``1h30m``), an ISO
    time (an offset or ``Z``, else local time), or a Unix time in ms (or s). Returns Unix ms.

    Raises ``UsageError`` for anything else, empty text included, and for a time before 1970 or
    after year 9999 (a huge number is a mistake, not a time to wait for).
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    try:
        when = _since_ms(text.strip(), now)
    except (ValueError, OverflowError):
        when = None
    if when is None:
        raise UsageError(
            f"--since {text!r}: expected a duration (30m, 1h, 2d), an ISO time (2026-08-28T14:00:00Z) "
            "or Unix milliseconds"
        )
    if not 0 <= when <= MAX_TIME_MS:
        raise UsageError(f"--since {text!r}: that is before 1970 or after the year 9999")
    return when


def _since_ms(value: str, now: int) -> int | None:
    if not value:
        return None
    if value.isdigit():
        number = int(value)
        return number if number > 10**11 else number * 1000
    compact = value.replace(" ", "")
    parts = _DURATION.findall(compact)
    if parts and "".join(n + u for n, u in parts).lower() == compact.lower():
        return now - int(sum(float(n) * _UNITS_MS[u.lower()] for n, u in parts))
    when = datetime.fromisoformat(_FRACTION.sub(r"\1", value))
    if when.tzinfo is None:
        when = when.astimezone()  # a naive time is local time
    return int(when.timestamp() * 1000)


# --- REST rows as WS frames -----------------------------------------------------------------------


def price4(value: Any) -> Any:
    """REST may print prices with more places than WS's 4; trim zeros only when exact."""
    d = to_decimal(value)
    if d is None:
        return value
    q = d.quantize(Decimal("0.0001"))
    return str(q) if q == d else value


def rest_fill_frame(row: Mapping[str, Any], client_order_ids: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A REST Fill as the WS ``fill`` frame (REST.md "Mapping a REST fill onto the WS fill msg").

    No ``sid`` (it came from no subscription) and no ``post_position_fp`` (REST does not have
    it); ``client_order_id`` only when ``client_order_ids`` knows the order. Tagged
    ``"backfill": true`` at the top level.
    """
    ms = fill_time_ms(row)
    trade_id = row.get("trade_id") or row.get("fill_id")
    msg: dict[str, Any] = {"trade_id": trade_id, "order_id": row.get("order_id")}
    coid = (client_order_ids or {}).get(str(row.get("order_id")))
    if coid:
        msg["client_order_id"] = coid
    msg["market_ticker"] = row.get("market_ticker") or row.get("ticker")
    msg["exchange_index"] = row.get("exchange_index", 0)
    msg["is_taker"] = row.get("is_taker")
    if "side" in row:
        msg["side"] = row["side"]
    msg["yes_price_dollars"] = price4(row.get("yes_price_dollars"))
    msg["count_fp"] = row.get("count_fp")
    msg["fee_cost"] = row.get("fee_cost")
    if "action" in row:
        msg["action"] = row["action"]
    if ms is not None:
        msg["ts"] = ms // 1000
        msg["ts_ms"] = ms
    if row.get("outcome_side"):
        msg["purchased_side"] = row["outcome_side"]
        msg["outcome_side"] = row["outcome_side"]
    if row.get("book_side"):
        msg["book_side"] = row["book_side"]
    if row.get("subaccount_number"):
        msg["subaccount"] = row["subaccount_number"]
    return {"type": FILL, "msg": msg, "backfill": True}


def fill_key(msg: Mapping[str, Any]) -> tuple[str, str]:
    """The dedupe key of a fill, WS or REST: (``trade_id``, ``order_id``) (REST.md "Dedupe key")."""
    return str(msg.get("trade_id") or msg.get("fill_id") or ""), str(msg.get("order_id") or "")


def rest_position_frame(row: Mapping[str, Any]) -> dict[str, Any]:
    """A REST MarketPosition as a WS ``market_position`` frame tagged ``"seed": true``.

    ``position_cost_dollars`` is REST's ``market_exposure_dollars``; ``null`` amounts (flat
    positions) become zero. WS-only fields (``user_id``, ``volume_fp``, ...) are left out.
    """

    def amount(name: str, zero: str) -> str:
        value = row.get(name)
        return zero if value is None or value == "" else str(value)

    msg = {
        "market_ticker": row.get("ticker") or row.get("market_ticker"),
        "position_fp": amount("position_fp", "0.00"),
        "position_cost_dollars": amount("market_exposure_dollars", "0.0000"),
        "realized_pnl_dollars": amount("realized_pnl_dollars", "0.0000"),
        "fees_paid_dollars": amount("fees_paid_dollars", "0.0000"),
    }
    return {"type": MARKET_POSITION, "msg": msg, "seed": True}


_ORDER_SAME = (
    "order_id",
    "user_id",
    "ticker",
    "exchange_index",
    "status",
    "side",
    "is_yes",
    "outcome_side",
    "book_side",
    "yes_price_dollars",
    "fill_count_fp",
    "remaining_count_fp",
    "initial_count_fp",
    "taker_fill_cost_dollars",
    "maker_fill_cost_dollars",
    "taker_fees_dollars",
    "maker_fees_dollars",
    "client_order_id",
    "order_group_id",
    "self_trade_prevention_type",
    "created_time",
    "created_ts_ms",
    "last_update_time",
    "last_updated_ts_ms",
    "expiration_time",
    "expiration_ts_ms",
    "subaccount_number",
)

_ORDER_OPTIONAL = ("order_group_id", "self_trade_prevention_type", "last_update_time", "expiration_time")


def rest_order_frame(row: Mapping[str, Any]) -> dict[str, Any]:
    """A REST Order as a WS ``user_order`` frame tagged ``"seed": true`` (REST.md §5.3 mapping)."""
    derived: dict[str, Any] = {
        "is_yes": row.get("side") == "yes" if "side" in row else row.get("outcome_side") == "yes",
        "created_ts_ms": parse_time_ms(row.get("created_time")),
    }
    if row.get("last_update_time"):
        derived["last_updated_ts_ms"] = parse_time_ms(row["last_update_time"])
    if row.get("expiration_time"):
        derived["expiration_ts_ms"] = parse_time_ms(row["expiration_time"])
    msg: dict[str, Any] = {}
    for name in _ORDER_SAME:
        if name in derived:
            msg[name] = derived[name]
        elif name in row and not (row[name] is None and name in _ORDER_OPTIONAL):
            msg[name] = price4(row[name]) if name == "yes_price_dollars" else row[name]
    msg.setdefault("exchange_index", 0)
    return {"type": USER_ORDER, "msg": msg, "seed": True}


# --- running totals -------------------------------------------------------------------------------


@dataclass
class MarketTotals:
    """What your fills in one market add up to since the command started (or ``--since``)."""

    bought: Decimal = ZERO  # contracts bought (action buy)
    sold: Decimal = ZERO  # contracts sold (action sell*)
    contracts: Decimal = ZERO
    yes_notional: Decimal = ZERO  # sum of count x yes price
    fees: Decimal = ZERO
    delta: Decimal = ZERO  # signed change: + YES, - NO
    position: Decimal | None = None  # absolute, once a live fill told us (post_position_fp)
    fills: int = 0

    @property
    def average_yes_price(self) -> Decimal | None:
        return self.yes_notional / self.contracts if self.contracts else None


@dataclass
class FillTotals:
    """Per-market running totals; ``add`` returns the position after the fill when known."""

    markets: dict[str, MarketTotals] = field(default_factory=dict)

    def add(self, msg: Mapping[str, Any]) -> Decimal | None:
        market = str(msg.get("market_ticker") or "?")
        t = self.markets.setdefault(market, MarketTotals())
        count = to_decimal(msg.get("count_fp")) or ZERO
        price = to_decimal(msg.get("yes_price_dollars"))
        action = str(msg.get("action") or "")
        if action == "buy":
            t.bought += count
        elif action.startswith("sell"):
            t.sold += count
        if price is not None:
            t.contracts += count
            t.yes_notional += count * price
        t.fees += to_decimal(msg.get("fee_cost")) or ZERO
        signed = count if fill_outcome(msg) == "yes" else -count
        t.delta += signed
        t.fills += 1
        post = to_decimal(msg.get("post_position_fp"))
        if post is not None:
            t.position = post
        elif t.position is not None:
            t.position += signed
            return None  # derived, not reported: do not show it as the fill's own figure
        return post


def fill_outcome(msg: Mapping[str, Any]) -> str:
    """``yes`` or ``no``: which outcome the fill added (``outcome_side``, else from ``book_side``)."""
    side = msg.get("outcome_side") or msg.get("purchased_side")
    if side in ("yes", "no"):
        return str(side)
    return "yes" if msg.get("book_side") == "bid" else "no"
