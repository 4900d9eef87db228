"""What a user typed where a market is wanted, read as a name: a ticker or a kalshi.com page.

Pure: no I/O. ``parse_name`` turns ``kxhighny-26nov25``, ``KXHIGHNY-26NOV25-B52.5`` or
``https://kalshi.com/markets/kxhighny/highest-temperature-in-nyc/kxhighny-26nov25`` into an
upper-case ticker (Kalshi's tickers are upper case; its web pages spell them in lower case)
and refuses, in one sentence, what cannot be one (another site's URL, a path, a query).
Whether the ticker names a market, an event or a series is for the REST API (or the local
catalogue) to say: ``feeds.markets`` asks. ``closest`` finds the known tickers nearest to an
unknown one, for the suggestion in the error.

kalshi.com page shapes (seen on Kalshi's own docs and in public code; docs/REST_FACTS.md):
``/markets/{series}``, ``/markets/{series}/{slug}``, ``/markets/{series}/{slug}/{event}``,
``/markets/{series}/{event}``, ``/markets/{series}/{slug}#{event}`` and
``/markets/{series}/{slug}/{market}``; the series and event parts are lower case there.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from kalshi_cli.errors import UsageError

__all__ = ["KALSHI_WEB_HOSTS", "Name", "closest", "edit_distance", "guess_kind", "parse_name", "parse_url"]

#: Hosts of Kalshi's web pages (the exchange and its demo); a URL on any other host is refused.
KALSHI_WEB_HOSTS = frozenset({"kalshi.com", "www.kalshi.com", "demo.kalshi.co", "www.demo.kalshi.co"})
#: Kalshi tickers: letters, digits, '-', '.', '_' (KXHIGHNY-26NOV25-B52.5, KXBTCD-26NOV2517-T97999.99).
TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,149}")
_URL_START = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|(?:www\.)?kalshi\.com/|(?:www\.)?demo\.kalshi\.co/)", re.I)
_SHOWN = 80  # the most characters of a refused name shown back


@dataclass(frozen=True, slots=True)
class Name:
    """One name as understood: ``ticker`` (upper case), what was ``given``, and where it came from.

    ``series_page`` is true for a kalshi.com series page (``/markets/kxhighny/...`` with no
    event in it): the ticker is then the series, whatever the REST API later says.
    """

    ticker: str
    given: str
    from_url: bool = False
    series_page: bool = False


def _shown(text: str) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…")


def parse_name(given: str) -> Name:
    """A ticker (any case) or a kalshi.com URL as a ``Name``; anything else is a ``UsageError``."""
    text = given.strip()
    if _URL_START.match(text):
        return parse_url(text, given)
    if not TICKER.fullmatch(text):
        raise UsageError(
            f"not a Kalshi market ticker or kalshi.com URL: {_shown(given)} (tickers are letters, digits, '-', '.' "
            "and '_', e.g. KXHIGHNY-26NOV25-B52.5)"
        )
    return Name(text.upper(), given)


def parse_url(url: str, given: str | None = None) -> Name:
    """The ticker a kalshi.com market, event or series page names (see the module docstring).

    The event (or market) is the last part of the path, or the ``#fragment``, that starts with
    the series ticker and a dash; a page naming none is the series itself.
    """
    given = url if given is None else given
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        host, parts = "", None
    if parts is None or parts.scheme.lower() not in ("http", "https") or host not in KALSHI_WEB_HOSTS:
        raise UsageError(
            f"not a kalshi.com URL: {_shown(given)} (give a market, event or series ticker, or the address of "
            "its page on kalshi.com)"
        )
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if segments and segments[0].lower() in ("markets", "events", "market", "event"):
        segments = segments[1:]
    if not segments or not TICKER.fullmatch(segments[0]):
        raise UsageError(
            f"this kalshi.com URL names no market: {_shown(given)} (expected a page under "
            "https://kalshi.com/markets/...)"
        )
    first = segments[0].upper()
    if "-" in first:  # /markets/KXHIGHNY-26NOV25-B52.5: the ticker itself
        return Name(first, given, from_url=True)
    candidates = [unquote(parts.fragment)] + segments[:0:-1]
    for candidate in candidates:
        upper = candidate.upper()
        if TICKER.fullmatch(candidate) and upper.startswith(first + "-") and len(upper) > len(first) + 1:
            return Name(upper, given, from_url=True)
    return Name(first, given, from_url=True, series_page=True)


def guess_kind(ticker: str) -> str:
    """``market``, ``event`` or ``series`` by Kalshi's usual shape (``S``, ``S-E``, ``S-E-M``).

    Only the order of REST questions follows it (the likely one first); Kalshi warns that
    tickers have exceptions, so the answer decides, never this guess.
    """
    dashes = ticker.count("-")
    return "series" if dashes == 0 else "event" if dashes == 1 else "market"


def edit_distance(a: str, b: str, limit: int) -> int:
    """Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        best = i
        for j, cb in enumerate(b, 1):
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            current.append(value)
            best = min(best, value)
        if best > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def closest(name: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` known tickers nearest ``name``: those it begins (or that begin it), then
    those a few edits away, nearest first, the longest shared beginning breaking ties.

    Narrowed a dash-part at a time (series, then event): the tickers under the same or a nearly
    spelled series are compared, not every ticker known, so it stays fast over a big catalogue.
    """
    target = name.upper()
    pool = list(dict.fromkeys(known))
    depth = 1
    while len(pool) > _SCAN and depth < target.count("-") + 1:
        groups: dict[str, list[str]] = {}
        for k in pool:
            groups.setdefault("-".join(k.split("-", depth)[:depth]), []).append(k)
        head = "-".join(target.split("-", depth)[:depth])
        if head in groups:
            pool = groups[head]
        else:
            cutoff = max(1, len(head) // 4)
            distances = {g: edit_distance(head, g, cutoff) for g in groups}
            best = min(distances.values())
            if best > cutoff:
                return _nearest(target, list(groups), limit)  # suggest the nearest series or events
            pool = [k for g, d in distances.items() if d == best for k in groups[g]]
        depth += 1
    if len(pool) > _SCAN:  # one huge event: its tickers nearest in sort order share the longest beginnings
        pool.sort()
        at = bisect.bisect_left(pool, target)
        pool = pool[max(0, at - _SCAN // 2) : at + _SCAN // 2]
    return _nearest(target, pool, limit)


#: pools up to this size are compared ticker by ticker
_SCAN = 400


def _nearest(target: str, pool: list[str], limit: int) -> list[str]:
    cutoff = max(2, len(target) // 4)
    scored: list[tuple[float, int, int, str]] = []
    for k in pool:
        if k == target:
            continue
        if k.startswith(target):  # what was typed is its beginning
            score = 0.5
        elif target.startswith(k):  # its event or series: right, but less than a near market
            score = float(cutoff)
        else:
            distance = edit_distance(target, k, cutoff)
            if distance > cutoff:
                continue
            score = float(distance)
        scored.append((score, -_common_prefix(target, k), abs(len(k) - len(target)), k))
    scored.sort()
    return [k for *_, k in scored[:limit]]
