"""What ``kalshi markets`` does to the markets the API returned: match words, sort, cut.

Pure functions over the API's market objects (REST.md §5.4): Kalshi's ``GET /markets`` has
no free-text search, so QUERY is matched here, over what the filters returned. Every word
of the query must occur, case-insensitively, somewhere in the ticker, title, subtitle or YES/NO
labels (``btc 5pm`` finds ``KXBTCD-26DEC2517-T106249.99``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

__all__ = [
    "SORTS",
    "STATUS_WORDS",
    "close_ts",
    "matcher",
    "parse_status",
    "sort_markets",
    "spread",
    "to_decimal",
]

#: ``--status`` words (the API's filter words) and ``all`` (no filter).
STATUS_WORDS = ("open", "closed", "settled", "unopened", "paused", "all")
#: ``--sort`` keys: the biggest volume / open interest first, the soonest close, the tightest spread.
SORTS = ("volume", "open_interest", "close", "spread")
_TEXT_FIELDS = ("ticker", "title", "subtitle", "yes_sub_title", "no_sub_title", "event_ticker")
_SPLIT = re.compile(r"\s+")

Market = Mapping[str, Any]
M = TypeVar("M", bound=Mapping[str, Any])


def parse_status(text: str) -> str | None:
    """The API's ``status`` parameter for ``--status`` (comma-separated words); None for ``all``.

    Raises ValueError naming the word that is not one of ``STATUS_WORDS``.
    """
    words = [w.strip().lower() for w in text.split(",") if w.strip()]
    if not words:
        raise ValueError("--status needs a word")
    for word in words:
        if word not in STATUS_WORDS:
            raise ValueError(f"--status expects one of {', '.join(STATUS_WORDS)} (comma-separated); got {word!r}")
    if "all" in words:
        return None
    return ",".join(dict.fromkeys(words))


def matcher(query: Sequence[str]) -> Callable[[Market], bool]:
    """A test of one market against the query words (all must occur; no words: everything)."""
    words = [w.lower() for part in query for w in _SPLIT.split(part) if w]
    if not words:
        return lambda _m: True

    def matches(market: Market) -> bool:
        text = " ".join(str(market.get(k) or "") for k in _TEXT_FIELDS).lower()
        return all(w in text for w in words)

    return matches


def to_decimal(value: Any) -> Decimal | None:
    """A fixed-point string (``"0.4200"``, ``"1250.00"``) as a Decimal; None when absent or not a number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() else None


def close_ts(market: Market) -> float | None:
    """``close_time`` (RFC 3339) as Unix seconds; None when absent or unreadable."""
    text = market.get("close_time")
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def spread(market: Market) -> Decimal | None:
    """YES ask minus YES bid, when both sides are quoted (a zero bid or a 1.00 ask is no quote)."""
    bid, ask = to_decimal(market.get("yes_bid_dollars")), to_decimal(market.get("yes_ask_dollars"))
    if bid is None or ask is None or bid <= 0 or ask >= 1 or ask < bid:
        return None
    return ask - bid


def _key(sort: str) -> Callable[[Market], tuple[int, Decimal | float, str]]:
    """Markets without the value sort last; ties by ticker, so the order is stable across runs."""

    def key(m: Market) -> tuple[int, Decimal | float, str]:
        ticker = str(m.get("ticker") or "")
        value: Decimal | float | None
        if sort == "volume":
            v = to_decimal(m.get("volume_fp"))
            value = -v if v is not None else None
        elif sort == "open_interest":
            v = to_decimal(m.get("open_interest_fp"))
            value = -v if v is not None else None
        elif sort == "close":
            value = close_ts(m)
        else:
            value = spread(m)
        return (1, 0, ticker) if value is None else (0, value, ticker)

    return key


def sort_markets(markets: Iterable[M], sort: str) -> list[M]:
    """``markets`` ordered by ``sort`` (one of ``SORTS``)."""
    if sort not in SORTS:
        raise ValueError(f"--sort expects one of {', '.join(SORTS)}; got {sort!r}")
    return sorted(markets, key=_key(sort))
