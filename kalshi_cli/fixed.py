"""Kalshi's fixed-point strings as exact integers, and back (KALSHI_WS.md §4.3).

The one owner of money arithmetic for the client, the book, the simulator and the replay.
Money never touches a float: prices are integers in units of $0.0001 (``"0.4400"`` -> 4400),
sizes in 1/100 contract (``"95.50"`` -> 9550), money in microdollars (price x size lands there
exactly). A string finer than its unit is refused (``FixedPointError``), never rounded: a
rounded book is a wrong book.
"""

from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = [
    "CENT",
    "MICRO",
    "ONE_CONTRACT",
    "ONE_DOLLAR",
    "PRICE_PLACES",
    "SIZE_PLACES",
    "PRICE_CACHE",
    "SIZE_CACHE",
    "FixedPointError",
    "format_fixed",
    "format_micro",
    "format_micro4",
    "format_price",
    "format_price_cached",
    "format_size",
    "format_size_cached",
    "parse_bid_price",
    "parse_cents_price",
    "parse_fixed",
    "parse_legacy_int",
    "parse_price",
    "parse_size",
    "parse_size_cached",
]

PRICE_PLACES = 4
SIZE_PLACES = 2
#: $1.00 in price units: a contract's payout, and the sum of a YES price and its NO price.
ONE_DOLLAR: int = 10**PRICE_PLACES
CENT = ONE_DOLLAR // 100
ONE_CONTRACT: int = 10**SIZE_PLACES
#: $1.00 in microdollars (fees, costs: price units x size units).
MICRO = 1_000_000

#: ASCII digits only (``\d`` would take "٤٤" too); a whole part that long is no Kalshi value and
#: would not even convert (Python refuses int() of over 4300 digits).
_FIXED = re.compile(r"([+-]?)([0-9]{1,30})(?:\.([0-9]+))?")


class FixedPointError(ValueError):
    """A value that is not a plain decimal string, or that would need rounding."""


def parse_fixed(text: Any, places: int, what: str, *, signed: bool) -> int:
    """Parse a decimal string into an integer count of 10**-places, refusing any rounding."""
    if type(text) is not str:
        raise FixedPointError(f"{what} must be a decimal string, got {text!r}")
    m = _FIXED.fullmatch(text)
    if m is None:
        raise FixedPointError(f"{what} is not a plain decimal: {_shown(text)}")
    sign, whole, frac = m.groups()
    if sign and not signed:
        raise FixedPointError(f"{what} must not carry a sign: {text!r}")
    frac = frac or ""
    if len(frac) > places:
        # Extra zeros are exact; anything else would need rounding, which we never do.
        if frac[places:].strip("0"):
            raise FixedPointError(f"{what} {_shown(text)} has more than {places} decimals")
        frac = frac[:places]
    value = int(whole + frac.ljust(places, "0"))
    return -value if sign == "-" else value


def _shown(text: str) -> str:
    """A refused string for an error line: whole when short, cut when a frame carried a novel."""
    return repr(text) if len(text) <= 40 else f"{text[:40]!r}... ({len(text)} characters)"


def parse_price(text: Any) -> int:
    """``"0.4400"`` -> 4400 (units of $0.0001); 3-dp legacy strings work too."""
    return parse_fixed(text, PRICE_PLACES, "price", signed=False)


def parse_size(text: Any) -> int:
    """``"95.50"`` -> 9550, ``"-42.00"`` -> -4200 (units of 1/100 contract)."""
    return parse_fixed(text, SIZE_PLACES, "size", signed=True)


# Hot path: a stream repeats the same few price and size strings over and over, so a dict lookup
# replaces the parse. The caches hold only values that parsed cleanly (a bid price also passed
# its range check); they are bounded by being emptied when they grow large (a cheap, rare reset).
# The book reads them directly (``PRICE_CACHE[text]``) before calling the functions below.
_CACHE_LIMIT = 1 << 16
PRICE_CACHE: dict[str, int] = {}
SIZE_CACHE: dict[str, int] = {}


def parse_bid_price(text: Any) -> int:
    """A resting bid's price (``"0.4400"`` -> 4400), which must lie strictly between $0 and $1."""
    try:
        return PRICE_CACHE[text]
    except (KeyError, TypeError):
        pass
    value = parse_price(text)
    if not 0 < value < ONE_DOLLAR:
        raise FixedPointError(f"price {text!r} is outside (0, 1)")
    return _remember(PRICE_CACHE, text, value)


def parse_size_cached(text: Any) -> int:
    """``parse_size`` through ``SIZE_CACHE``."""
    try:
        return SIZE_CACHE[text]
    except (KeyError, TypeError):
        pass
    return _remember(SIZE_CACHE, text, parse_size(text))


def _remember(cache: dict[str, int], text: str, value: int) -> int:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[text] = value
    return value


def parse_legacy_int(value: Any, what: str) -> int:
    """A pre-2026 integer field (cents, contract counts): a JSON integer, never a bool or float."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FixedPointError(f"legacy {what} must be an integer, got {value!r}")
    return value


def parse_cents_price(value: Any) -> int:
    """A legacy integer-cents bid price (44 -> 4400), strictly between 0 and 100 cents."""
    price = parse_legacy_int(value, "price") * CENT
    if not 0 < price < ONE_DOLLAR:
        raise FixedPointError(f"legacy price {value!r} cents is outside (0, 100)")
    return price


def format_fixed(value: int, places: int) -> str:
    """``value`` units of 10**-places as a decimal string with exactly ``places`` decimals."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def format_price(value: int) -> str:
    """4400 -> ``"0.4400"`` (Kalshi's 4-dp form; negative values get a ``-``)."""
    return format_fixed(value, PRICE_PLACES)


def format_size(value: int) -> str:
    """9550 -> ``"95.50"``, -4200 -> ``"-42.00"``."""
    return format_fixed(value, SIZE_PLACES)


#: Memoised formatters for hot paths: a stream repeats the same few prices and sizes.
format_price_cached = functools.lru_cache(maxsize=1 << 16)(format_price)
format_size_cached = functools.lru_cache(maxsize=1 << 16)(format_size)


def format_micro(value: int) -> str:
    """Microdollars -> ``"0.181104"`` (6 dp, as Kalshi prints fees and order costs)."""
    return format_fixed(value, 6)


def format_micro4(value: int) -> str:
    """Microdollars rounded half-up to 4 dp, as Kalshi prints ``market_position`` money."""
    return str((Decimal(value) / MICRO).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))
