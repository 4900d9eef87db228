"""Fixed-point formatting for the simulator (KALSHI_WS.md §4.3).

The exchange keeps every quantity as an integer so books never drift: prices in 1/10000
dollars, counts in 1/100 contracts, money in microdollars (price x count lands there
exactly). These helpers turn them into the wire strings and back.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

ONE = 10_000  # $1.00 in price units
MICRO = 1_000_000  # $1.00 in microdollars


def _signed(value: int, unit: int, dp: int) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // unit}.{value % unit:0{dp}d}"


def price_str(p: int) -> str:
    """Price units -> ``"0.4400"`` (4 dp)."""
    return _signed(p, ONE, 4)


def count_str(c: int) -> str:
    """Centi-contracts -> ``"95.50"`` / ``"-42.00"`` (2 dp, signed)."""
    return _signed(c, 100, 2)


def micro_str(m: int) -> str:
    """Microdollars -> ``"0.181104"`` (6 dp, for fees and order costs)."""
    return _signed(m, MICRO, 6)


def micro_str4(m: int) -> str:
    """Microdollars rounded to 4 dp, as Kalshi prints ``market_position`` money."""
    return str((Decimal(m) / MICRO).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def parse_price(s: str) -> int:
    """``"0.4400"`` -> 4400."""
    return int(Decimal(s) * ONE)


def parse_count(s: str) -> int:
    """``"95.50"`` -> 9550."""
    return int(Decimal(s) * 100)


def rfc3339_ms(ms: int) -> str:
    """Unix ms -> ``"2026-08-28T14:05:12.345Z"`` (the deprecated string timestamps)."""
    base = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ms % 1000:03d}Z"
