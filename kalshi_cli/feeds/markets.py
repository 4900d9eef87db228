"""The one resolver of market names, for every command that takes markets (book, tail -m, ...).

A name is a market ticker, an event ticker, a series ticker or a kalshi.com page, in any case
(``resolve.parse_name``). A market passes; an event stands for its open markets (how many goes
to stderr); a series for its open events' markets, only with ``--all-in-series`` (it can be
hundreds), else one line says how many it would be; an unknown name is a usage error with the
closest known tickers. The local catalogue (``kalshi_cli.catalogue``) answers first: a name it
knows costs no REST call; otherwise one call per name, in the order its shape suggests
(``resolve.guess_kind``), and what REST taught is saved back. A server without Kalshi's REST
API (a 404/426 without Kalshi's error body) leaves every name as given, as before.

A ticker goes into REST paths (``/markets/{ticker}``), so every path segment is
percent-encoded, and what cannot be a ticker was refused by ``parse_name`` already.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import StreamContext
from kalshi_cli.output import Reporter
from kalshi_cli.resolve import Name, closest, guess_kind, parse_name

if TYPE_CHECKING:
    from kalshi_cli.catalogue import Catalogue
    from kalshi_cli.rest import RestClient

__all__ = [
    "OPEN_STATUSES",
    "SERIES_CAP",
    "Resolved",
    "check_names",
    "check_tickers",
    "market_path",
    "resolve_markets",
    "resolve_names",
]

#: Market statuses that count as open: trading (``active``, ``open`` in older replies) or paused.
OPEN_STATUSES = frozenset({"active", "open", "inactive"})
#: The most markets a series may expand to (``--all-in-series``); more is a usage error.
SERIES_CAP = 500
_CONCURRENT = 8  # REST calls in flight at once (the basic tier reads 20 a second)
_SHOWN = 4  # events named in a message
T = TypeVar("T")


def check_names(names: Iterable[str]) -> list[Name]:
    """Every name parsed, before anything connects; the first that cannot be one is a ``UsageError``."""
    return [parse_name(n) for n in names]


def check_tickers(tickers: list[str]) -> None:
    """A ``UsageError`` (exit 2) naming the first argument that cannot be a market name."""
    check_names(tickers)


def market_path(ticker: str) -> str:
    """``/markets/{ticker}`` with the ticker percent-encoded as one path segment."""
    return f"/markets/{quote(ticker, safe='')}"


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


class _NoRest(Exception):
    """The server has no Kalshi REST API: names pass as given."""


@dataclass
class _Answer:
    kind: str  # "market", "event", "series"
    markets: list[dict[str, Any]]  # the name's markets, all statuses
    events: int = 0  # series: its open events


def _is_open(market: dict[str, Any]) -> bool:
    return str(market.get("status", "active")) in OPEN_STATUSES


def _tickers(markets: Iterable[dict[str, Any]]) -> list[str]:
    return [t for m in markets if isinstance(t := m.get("ticker"), str) and t]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class _Lookup:
    """One run's lookups: the catalogue first, then REST, remembering what REST said."""

    def __init__(self, ctx: StreamContext, catalogue: Catalogue, fresh: bool, client: RestClient) -> None:
        self.ctx = ctx
        self.catalogue = catalogue
        self.fresh = fresh  # the catalogue is young enough to answer without REST
        self.client = client
        self.learned = False
        self.rest_seen = False  # some REST answer came in Kalshi's shape
        self._by_event: dict[str, list[dict[str, Any]]] | None = None
        self._gate = asyncio.Semaphore(_CONCURRENT)

    # --- the catalogue ---------------------------------------------------------------------------

    def by_event(self) -> dict[str, list[dict[str, Any]]]:
        if self._by_event is None:
            index: dict[str, list[dict[str, Any]]] = {}
            for m in self.catalogue.markets.values():
                index.setdefault(str(m.get("event_ticker")), []).append(m)
            self._by_event = index
        return self._by_event

    def cached(self, name: Name) -> _Answer | None:
        if not self.fresh or name.series_page:
            return None
        found = self.catalogue.markets.get(name.ticker)
        if found is not None:
            return _Answer("market", [found])
        if name.ticker in self.catalogue.events:
            markets = self.by_event().get(name.ticker)
            if markets:
                return _Answer("event", sorted(markets, key=lambda m: str(m.get("ticker"))))
        return None

    def remember(self, markets: Iterable[dict[str, Any]], events: Iterable[dict[str, Any]] = ()) -> None:
        self.catalogue.remember_events(events)
        self.catalogue.remember_markets(markets)
        self.learned = True
        self._by_event = None

    # --- REST ------------------------------------------------------------------------------------

    async def answer(self, name: Name) -> _Answer | None:
        """The catalogue's answer, else REST's (None: no such name)."""
        found = self.cached(name)
        if found is not None:
            return found
        order = {"market": ("market", "event", "series"), "event": ("event", "market", "series")}
        kinds = ("series",) if name.series_page else order.get(guess_kind(name.ticker), ("series", "market", "event"))
        async with self._gate:
            for kind in kinds:
                found = await self._ask(kind, name.ticker)
                if found is not None:
                    return found
        return None

    async def _ask(self, kind: str, ticker: str) -> _Answer | None:
        from kalshi_cli.rest import RestNotFound

        try:
            if kind == "market":
                found = await self._market(ticker)
            elif kind == "event":
                found = await self._event(ticker)
            else:
                found = await self._series(ticker)
        except RestNotFound as exc:
            if exc.code is None and not self.rest_seen:
                raise _NoRest from None
            self.rest_seen = self.rest_seen or exc.code is not None
            return None
        self.rest_seen = True
        return found

    async def _market(self, ticker: str) -> _Answer | None:
        body = await self.client.get(market_path(ticker))
        market = body.get("market")
        if not isinstance(market, dict) or market.get("ticker") != ticker:
            return None
        self.remember([market])
        return _Answer("market", [market])

    async def _event(self, ticker: str) -> _Answer | None:
        body = await self.client.get(f"/events/{quote(ticker, safe='')}", {"with_nested_markets": "true"})
        event = body.get("event")
        if not isinstance(event, dict):
            return None
        nested = body.get("markets") or event.get("markets") or []
        markets = [m for m in nested if isinstance(m, dict)]
        self.remember(markets, [event])
        return _Answer("event", sorted(markets, key=lambda m: str(m.get("ticker"))))

    async def _series(self, ticker: str) -> _Answer | None:
        events = await self.client.paginate(
            "/events", "events", {"series_ticker": ticker, "status": "open", "with_nested_markets": "true"}, limit=200
        )
        mine = [e for e in events if e.get("series_ticker") in (None, ticker)]
        if not mine:  # an unknown series and one with nothing open both list nothing
            await self.client.get(f"/series/{quote(ticker, safe='')}")  # RestNotFound: not a series
            return _Answer("series", [], 0)
        markets = [m for e in mine for m in (e.get("markets") or []) if isinstance(m, dict)]
        self.remember(markets, mine)
        return _Answer("series", markets, len(mine))

    async def suggestions(self, name: Name) -> list[str]:
        """The known tickers nearest an unknown name. A catalogue that does not know its series
        first asks REST for that series' open events; a misspelt series, for the series list
        (then for the nearest series' events): a few calls, on the way to an error only."""
        series = name.ticker.split("-", 1)[0]
        if self.rest_seen and series not in self.series_known():
            await self._quietly(self._series(series))
        found = closest(name.ticker, self.pool())
        if found or not self.rest_seen or series in self.series_known():
            return found
        listed = await self._quietly(self.client.get("/series"))
        names = [str(s.get("ticker")) for s in (listed or {}).get("series") or [] if isinstance(s, dict)]
        near = closest(series, names, 1)
        if not near:
            return []
        await self._quietly(self._series(near[0]))
        corrected, pool = near[0] + name.ticker[len(series) :], self.pool()
        found = closest(corrected, pool)
        return ([corrected, *found[:2]] if corrected in pool else found) or near

    async def _quietly(self, call: Awaitable[T]) -> T | None:
        """``call``'s answer, or None if REST failed (a suggestion is not worth an error of its own)."""
        from kalshi_cli.rest import RestError

        try:
            return await call
        except RestError:
            return None

    def series_known(self) -> set[str]:
        return {str(e.get("series_ticker")) for e in self.catalogue.events.values()} - {"None"}

    def pool(self) -> list[str]:
        return [*self.catalogue.markets, *self.catalogue.events, *sorted(self.series_known())]


async def resolve_names(
    ctx: StreamContext,
    names: Iterable[str],
    *,
    all_in_series: bool | None = False,
    reporter: Reporter | None = None,
) -> Resolved:
    """The markets ``names`` stand for (see the module docstring), in the order given.

    ``all_in_series`` None: the command has no ``--all-in-series`` (a series is then refused
    with a pointer to its events). Raises ``UsageError`` (exit 2) for an unknown name, an event
    with no open market or a series that needs the flag or has more than ``SERIES_CAP``
    markets; ``RestError`` (exit 4) when REST fails for a name that is not a market's shape.
    """
    parsed = check_names(names)
    reporter = reporter or ctx.reporter
    if not parsed:
        return Resolved()
    if getattr(ctx.sim, "recording", None) is not None:  # a replay: what was recorded, no REST
        return _from_recording(parsed, list(ctx.sim.tickers))
    from kalshi_cli.catalogue import Catalogue, env_name_for, load_catalogue, save_catalogue
    from kalshi_cli.rest import RestClient, RestError

    env_name = env_name_for(ctx.endpoint.env, ctx.endpoint.ws_url)
    loaded = load_catalogue(env_name)
    client = RestClient(ctx.endpoint.rest_url, None, reporter=reporter, tries=2, timeout=5.0)
    lookup = _Lookup(ctx, loaded or Catalogue(), loaded is not None, client)

    async def one(name: Name) -> _Answer | None | BaseException:
        try:
            return await lookup.answer(name)
        except (RestError, _NoRest) as exc:
            return exc

    answers = await asyncio.gather(*(one(n) for n in parsed))
    if any(isinstance(a, _NoRest) for a in answers):
        return Resolved(list(dict.fromkeys(n.ticker for n in parsed)))
    out = Resolved()
    try:
        for name, answer in zip(parsed, answers, strict=True):
            if isinstance(answer, BaseException):
                _rest_failed(name, answer, out, reporter)
            elif answer is None:
                hint = await lookup.suggestions(name)
                raise UsageError(_unknown(name, hint))
            else:
                _expand(name, answer, out, reporter, all_in_series)
    finally:
        if lookup.learned:
            save_catalogue(env_name, lookup.catalogue, warn=reporter.warn)
    out.tickers = list(dict.fromkeys(out.tickers))
    return out


def _from_recording(parsed: list[Name], recorded: list[str]) -> Resolved:
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


async def resolve_markets(
    ctx: StreamContext,
    names: Iterable[str],
    *,
    all_in_series: bool | None = False,
    reporter: Reporter | None = None,
) -> list[str]:
    """``resolve_names``' tickers: what a command that only needs the list calls."""
    return (await resolve_names(ctx, names, all_in_series=all_in_series, reporter=reporter)).tickers


def _rest_failed(name: Name, exc: BaseException, out: Resolved, reporter: Reporter) -> None:
    """A market-shaped name passes with a warning (the stream and --wait decide); others cannot."""
    from kalshi_cli.rest import RestError

    if guess_kind(name.ticker) == "market" and not name.series_page:
        reporter.warn(f"could not look {name.ticker} up ({exc}); using it as a market ticker")
        out.tickers.append(name.ticker)
        return
    raise RestError(f"cannot tell which markets {name.ticker} stands for: {exc}") from None


def _unknown(name: Name, hint: list[str]) -> str:
    kind = "series" if name.series_page else guess_kind(name.ticker)
    what = f"{name.ticker} (from {name.given.strip()!r})" if name.from_url else name.ticker
    text = f"unknown {kind}: {what}"
    if hint:
        return text + f" (no market, event or series has that ticker); did you mean {', '.join(hint)}?"
    return text + " (Kalshi's REST API knows no market, event or series by that ticker)"


def _expand(name: Name, answer: _Answer, out: Resolved, reporter: Reporter, all_in_series: bool | None) -> None:
    ticker = name.ticker
    if answer.kind != "market" and ticker in _tickers(answer.markets):  # a one-market event named like its market
        answer = _Answer("market", [m for m in answer.markets if m.get("ticker") == ticker])
    if answer.kind == "market":
        out.tickers.append(ticker)
        out.markets[ticker] = answer.markets[0]
        return
    open_markets = [m for m in answer.markets if _is_open(m)]
    if answer.kind == "event":
        if not open_markets:
            statuses = sorted({str(m.get("status")) for m in answer.markets}) or ["none listed"]
            example = _tickers(answer.markets)[:1]
            raise UsageError(
                f"event {ticker} has no open markets ({_plural(len(answer.markets), 'market')}: "
                f"{', '.join(statuses)})" + (f"; name one to watch it anyway, e.g. {example[0]}" if example else "")
            )
        reporter.info(f"{ticker}: an event, {_plural(len(open_markets), 'open market')} of {len(answer.markets)}")
        out.events.append(ticker)
    else:
        _check_series(ticker, open_markets, answer.events, all_in_series)
        reporter.info(
            f"{ticker}: a series, {_plural(len(open_markets), 'open market')} in {_plural(answer.events, 'event')}"
        )
        out.events.extend(dict.fromkeys(str(m.get("event_ticker")) for m in open_markets))
    for m in open_markets:
        out.markets[str(m.get("ticker"))] = m
    out.tickers.extend(_tickers(open_markets))


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
