"""Exact values for table cells: Kalshi's decimal strings as scaled integers, read once each.

``PRICES["0.4400"]`` is 4400, ``SIZES["95.50"]`` 9550, ``MICROS["0.010000"]`` 10000
(``fixed.parse_fixed``: exact or refused, never rounded). A stream repeats a few hundred
strings, so each is parsed once and remembered: a hit is one dict lookup in C, a miss parses
(``Exact.__missing__``); the caches are emptied when they grow large. A value that is not an
exact decimal string (or is absent: ``None``), or has more than the 18 digits a table's decimal
column holds, reads as None, an empty cell, and a refused string is counted in ``REFUSED`` for
one warning at the end. An unhashable value (a list where
a string belongs) raises TypeError: hot callers catch it and retry through ``sanitized``.
"""

from __future__ import annotations

from typing import Any

from kalshi_cli.fixed import FixedPointError, parse_fixed

__all__ = ["MICROS", "PRICES", "REFUSED", "SIZES", "TOTALS", "Exact", "reset", "sanitized", "scaled", "total"]

_LIMIT = 1 << 16
#: a scaled integer must stay below this to fit the tables' decimal(18, places) columns
DIGITS18 = 10**18
#: kind -> how many distinct values of it could not be read exactly (left empty).
REFUSED: dict[str, int] = {}


def _plain(text: str, places: int) -> int | None:
    """The exchange's usual shape, read without a regex: ASCII digits, a point, exactly ``places``
    digits, perhaps a leading ``-`` (``"3690.00"``, ``"-44.25"``); None for anything else, which
    ``parse_fixed`` then reads or refuses. (``isdigit`` alone would take "²" or "٤": hence ASCII;
    ``int`` alone would take "1_0" or " 1": hence digits only.)"""
    whole, dot, frac = text.partition(".")
    digits = whole[1:] if whole[:1] == "-" else whole
    if len(frac) == places and text.isascii() and 0 < len(digits) <= 30 and digits.isdigit() and frac.isdigit():
        return int(whole + frac)
    return None


class Exact(dict[Any, int | None]):
    """Decimal string -> scaled integer (None when not exact), parsed on first sight."""

    def __init__(self, places: int, what: str) -> None:
        super().__init__()
        self.places = places
        self.what = what

    def __missing__(self, key: Any) -> int | None:
        value: int | None = None
        if type(key) is str:
            value = _plain(key, self.places)
            if value is None:
                try:
                    value = parse_fixed(key, self.places, self.what, signed=True)
                except FixedPointError:
                    REFUSED[self.what] = REFUSED.get(self.what, 0) + 1
            if value is not None and not -DIGITS18 < value < DIGITS18:
                value = None  # more digits than a decimal(18) column holds: refused, never cut
                REFUSED[self.what] = REFUSED.get(self.what, 0) + 1
        elif key is not None:
            REFUSED[self.what] = REFUSED.get(self.what, 0) + 1
        if len(self) >= _LIMIT:
            self.clear()
        self[key] = value
        return value


PRICES = Exact(4, "price")
SIZES = Exact(2, "size")
MICROS = Exact(6, "money")
#: sizes that grow with every frame (a market's volume, open interest): a new string each time, so
#: kept apart, where they cannot crowd the few repeated sizes out of ``SIZES``.
TOTALS = Exact(2, "size")
_BY_PLACES = {4: PRICES, 2: SIZES, 6: MICROS}


def total(text: str | None) -> int | None:
    """``TOTALS[text]`` for a string or None, without remembering the plain shape: a volume or
    open interest is a new string nearly every frame, so a cache of them only costs."""
    if text is not None and (value := _plain(text, 2)) is not None and -DIGITS18 < value < DIGITS18:
        return value
    return TOTALS[text]


def reset() -> None:
    """A new export: nothing refused yet, and nothing remembered (a remembered refusal would not be counted)."""
    REFUSED.clear()
    for cache in (PRICES, SIZES, MICROS, TOTALS):
        cache.clear()


def scaled(value: Any, places: int) -> int | None:
    """``value`` in units of 10**-places through the cache; None when absent or not exact."""
    try:
        return _BY_PLACES[places][value]
    except TypeError:  # unhashable: certainly no decimal string
        REFUSED[_BY_PLACES[places].what] = REFUSED.get(_BY_PLACES[places].what, 0) + 1
        return None


def sanitized(msg: dict[str, Any]) -> dict[str, Any]:
    """``msg`` with every unhashable value (a list or object where a scalar belongs) made None."""
    return {k: (None if isinstance(v, (list, dict)) else v) for k, v in msg.items()}
