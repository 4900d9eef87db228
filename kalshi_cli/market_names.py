"""What a name stood for, as tickers: the rules, pure (``feeds.markets`` does the asking).

A market passes; an event stands for its open markets (how many is said through ``info``); a
series for its open events' markets, only when the command allows it (``--all-in-series``) and
up to ``SERIES_CAP``; an event with nothing open, a series without the flag or over the cap is
a ``UsageError`` (exit 2) that says what to do instead. The messages for an unknown name and
for a recording's names live here too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.errors import UsageError
from kalshi_cli.resolve import Name, guess_kind

__all__ = ["OPEN_STATUSES", "SERIES_CAP", "Answer", "Resolved", "expand", "from_recording", "tickers_of", "unknown"]

#: Market statuses that count as open: trading (``active``, ``open`` in older replies) or paused.
OPEN_STATUSES = frozenset({"active", "open", "inactive"})
#: The most markets a series may expand to (``--all-in-series``); more is a usage error.
SERIES_CAP = 500
_SHOWN = 4  # events named in a message


@dataclass
class Resolved:
    """What the names stood for: ``tickers`` in order (no repeats), what is known of each market
    (``markets``: REST market objects, possibly none), and the events that were expanded."""

    tickers: list[str] = field(default_factory=list)
    markets: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    @property
    def expanded(self) -> bool:
        return bool(self.events)


@dataclass
class Answer:
    """What REST (or the catalogue) said a name is, with all of its markets whatever their status."""

    kind: str  # "market", "event", "series"
    markets: list[dict[str, Any]]  # the name's markets, all statuses
    events: int = 0  # series: its open events


def _is_open(market: dict[str, Any]) -> bool:
    return str(market.get("status", "active")) in OPEN_STATUSES


def tickers_of(markets: Iterable[dict[str, Any]]) -> list[str]:
    """The markets' tickers, in order (objects without one are skipped)."""
    return [t for m in markets if isinstance(t := m.get("ticker"), str) and t]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def from_recording(parsed: list[Name], recorded: list[str]) -> Resolved:
    """A recorded market passes; an event or series stands for its recorded markets; others pass as given."""
    out = Resolved()
    for name in parsed:
        below = [t for t in recorded if t.startswith(name.ticker + "-")]
        if name.ticker in recorded or not below:
            out.tickers.append(name.ticker)
        else:
            out.tickers.extend(below)
            out.events.append(name.ticker)
    out.tickers = list(dict.fromkeys(out.tickers))
    return out


def unknown(name: Name, hint: list[str]) -> str:
    kind = "series" if name.series_page else guess_kind(name.ticker)
    what = f"{name.ticker} (from {name.given.strip()!r})" if name.from_url else name.ticker
    text = f"unknown {kind}: {what}"
    if hint:
        return text + f" (no market, event or series has that ticker); did you mean {', '.join(hint)}?"
    return text + " (Kalshi's REST API knows no market, event or series by that ticker)"


def expand(name: Name, answer: Answer, out: Resolved, info: Callable[[str], None], all_in_series: bool | None) -> None:
    """Add the markets ``name`` stands for to ``out`` (an event's or series' size goes to ``info``);
    ``all_in_series`` None: the command has no such flag. A ``UsageError`` when there are none."""
    ticker = name.ticker
    if answer.kind != "market" and ticker in tickers_of(answer.markets):  # a one-market event named like its market
        answer = Answer("market", [m for m in answer.markets if m.get("ticker") == ticker])
    if answer.kind == "market":
        out.tickers.append(ticker)
        out.markets[ticker] = answer.markets[0]
        return
    open_markets = [m for m in answer.markets if _is_open(m)]
    if answer.kind == "event":
        if not open_markets:
            statuses = sorted({str(m.get("status")) for m in answer.markets}) or ["none listed"]
            example = tickers_of(answer.markets)[:1]
            raise UsageError(
                f"event {ticker} has no open markets ({_plural(len(answer.markets), 'market')}: "
                f"{', '.join(statuses)})" + (f"; name one to watch it anyway, e.g. {example[0]}" if example else "")
            )
        info(f"{ticker}: an event, {_plural(len(open_markets), 'open market')} of {len(answer.markets)}")
        out.events.append(ticker)
    else:
        _check_series(ticker, open_markets, answer.events, all_in_series)
        info(f"{ticker}: a series, {_plural(len(open_markets), 'open market')} in {_plural(answer.events, 'event')}")
        out.events.extend(dict.fromkeys(str(m.get("event_ticker")) for m in open_markets))
    for m in open_markets:
        out.markets[str(m.get("ticker"))] = m
    out.tickers.extend(tickers_of(open_markets))


def _check_series(ticker: str, markets: list[dict[str, Any]], events: int, all_in_series: bool | None) -> None:
    counts: dict[str, int] = {}
    for m in markets:
        event = str(m.get("event_ticker"))
        counts[event] = counts.get(event, 0) + 1
    shown = ", ".join(f"{e} ({n})" for e, n in list(counts.items())[:_SHOWN])
    more = f" and {len(counts) - _SHOWN} more" if len(counts) > _SHOWN else ""
    size = f"{_plural(len(markets), 'open market')} in {_plural(events, 'open event')}"
    if not markets:
        raise UsageError(f"series {ticker} has no open markets right now; kalshi markets --series {ticker} lists it")
    if not all_in_series:
        flag = "pass --all-in-series to watch them all, or " if all_in_series is not None else ""
        raise UsageError(f"{ticker} is a series: {size}; {flag}name an event: {shown}{more}")
    if len(markets) > SERIES_CAP:
        raise UsageError(
            f"series {ticker} has {size}, more than the {SERIES_CAP} one command watches; name events instead: "
            f"{shown}{more}"
        )
