"""Exact values for table cells: Kalshi's decimal strings as scaled integers, read once each.

``scaled("0.4400", 4)`` is 4400 (``fixed.parse_fixed``: exact or refused, never rounded). A
stream repeats a few hundred strings, so each is parsed once and remembered (the cache is
emptied when it grows large). A value that is not an exact decimal becomes an empty cell
and is counted in ``REFUSED`` by field, for one warning at the end of the export.
"""

from __future__ import annotations

from typing import Any

from kalshi_cli.fixed import FixedPointError, parse_fixed

__all__ = ["REFUSED", "flag", "scaled", "text"]

_LIMIT = 1 << 16
_CACHES: dict[int, dict[str, int]] = {2: {}, 4: {}, 6: {}}
#: field name -> how many of its values could not be read exactly (left empty).
REFUSED: dict[str, int] = {}


def scaled(value: Any, places: int, what: str = "value") -> int | None:
    """``value`` (a decimal string) in units of 10**-places; None when absent or not exact."""
    if type(value) is not str:
        if value is not None:
            REFUSED[what] = REFUSED.get(what, 0) + 1
        return None
    cache = _CACHES[places]
    got = cache.get(value)
    if got is not None:
        return got
    try:
        got = parse_fixed(value, places, what, signed=True)
    except FixedPointError:
        REFUSED[what] = REFUSED.get(what, 0) + 1
        return None
    if len(cache) >= _LIMIT:
        cache.clear()
    cache[value] = got
    return got


def text(value: Any) -> str | None:
    """A string cell: strings as they are, None for anything else."""
    return value if type(value) is str else None


def flag(value: Any) -> bool | None:
    """A boolean cell: true/false, None for anything else."""
    return value if type(value) is bool else None
