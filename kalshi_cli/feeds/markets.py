"""The one resolver of market names, for every command that takes markets (book, tail -m, ...).

A name is a market ticker, an event ticker, a series ticker or a kalshi.com page, in any case
(``resolve.parse_name``). A market passes; an event stands for its open markets (how many goes
to stderr); a series for its open events' markets, only with ``--all-in-series`` (it can be
hundreds), else one line says how many it would be; an unknown name is a usage error with the
closest known tickers. The local catalogue (``kalshi_cli.catalogue``) answers first: a name it
knows from the last hour (a market, an event with its markets, a series whose open events were
all listed) costs no REST call; otherwise one call per name, in the order its shape suggests
(``resolve.guess_kind``), and what REST taught is merged into the cache (older entries stay for
completion and suggestions). A server without Kalshi's REST
API (a 404/426 without Kalshi's error body) leaves every name as given, as before.

A ticker goes into REST paths (``/markets/{ticker}``), so every path segment is
percent-encoded, and what cannot be a ticker was refused by ``parse_name`` already.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import StreamContext
from kalshi_cli.market_names import (
    OPEN_STATUSES,
    SERIES_CAP,
    Answer,
    Resolved,
    expand,
    from_recording,
    unknown,
)
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

_CONCURRENT = 8  # REST calls in flight at once (the basic tier reads 20 a second)
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


class _NoRest(Exception):
    """The server has no Kalshi REST API: names pass as given."""


class _Lookup:
    """One run's lookups: the catalogue first, then REST, remembering what REST said."""

    def __init__(self, ctx: StreamContext, catalogue: Catalogue, max_age: float, client: RestClient) -> None:
        from kalshi_cli.catalogue import Catalogue

        self.ctx = ctx
        self.catalogue = catalogue  # everything known: the cache as read, then what REST said
        self.max_age = max_age  # how old a cached entry may be to answer without REST
        self.client = client
        self.learned = Catalogue()  # what REST said, merged into the cache at the end
        self.rest_seen = False  # some REST answer came in Kalshi's shape
        self._by_event: dict[str, list[dict[str, Any]]] | None = None
        self._gate = asyncio.Semaphore(_CONCURRENT)

    # --- the catalogue ---------------------------------------------------------------------------

    def by_event(self) -> dict[str, list[dict[str, Any]]]:
        """Event ticker -> its cached markets, indexed once (one pass, not one per event name)."""
        if self._by_event is None:
            index: defaultdict[Any, list[dict[str, Any]]] = defaultdict(list)
            for m in self.catalogue.markets.values():
                index[m.get("event_ticker")].append(m)
            self._by_event = index
        return self._by_event

    def young(self, kind: str, key: str) -> bool:
        return self.catalogue.age(kind, key) <= self.max_age

    def cached(self, name: Name) -> Answer | None:
        cat, ticker = self.catalogue, name.ticker
        found = None if name.series_page else cat.markets.get(ticker)
        if found is not None and self.young("M", ticker):
            return Answer("market", [found])
        if not name.series_page and ticker in cat.events and self.young("E", ticker):
            markets = self.by_event().get(ticker)
            if markets:
                return Answer("event", sorted(markets, key=lambda m: str(m.get("ticker"))))
        events = cat.series.get(ticker)
        if events is not None and self.young("S", ticker):  # all of its open events, as last listed
            index = self.by_event()
            markets = [m for e in events for m in sorted(index.get(e, ()), key=lambda m: str(m.get("ticker")))]
            return Answer("series", markets, len(events))
        return None

    def remember(
        self, markets: Iterable[dict[str, Any]], events: Iterable[dict[str, Any]] = (), series: str | None = None
    ) -> None:
        from kalshi_cli.catalogue import Catalogue

        part = Catalogue()
        part.remember_events(events)
        part.remember_markets(markets)
        if series is not None:
            part.remember_series(series, part.events)
        self.learned.merge(part)
        self.catalogue.merge(part)
        self._by_event = None

    # --- REST ------------------------------------------------------------------------------------

    async def answer(self, name: Name) -> Answer | None:
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
        if not self.rest_seen:  # only answers not in Kalshi's shape: a server without its catalogue
            raise _NoRest
        return None

    async def _ask(self, kind: str, ticker: str) -> Answer | None:
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
        self.rest_seen = self.rest_seen or found is not None
        return found

    async def _market(self, ticker: str) -> Answer | None:
        body = await self.client.get(market_path(ticker))
        market = body.get("market")
        if not isinstance(market, dict) or market.get("ticker") != ticker:
            return None
        self.remember([market])
        return Answer("market", [market])

    async def _event(self, ticker: str) -> Answer | None:
        body = await self.client.get(f"/events/{quote(ticker, safe='')}", {"with_nested_markets": "true"})
        event = body.get("event")
        if not isinstance(event, dict):
            return None
        nested = body.get("markets") or event.get("markets") or []
        markets = [m for m in nested if isinstance(m, dict)]
        self.remember(markets, [event])
        return Answer("event", sorted(markets, key=lambda m: str(m.get("ticker"))))

    async def _series(self, ticker: str) -> Answer | None:
        events = await self.client.paginate(
            "/events", "events", {"series_ticker": ticker, "status": "open", "with_nested_markets": "true"}, limit=200
        )
        mine = [e for e in events if e.get("series_ticker") in (None, ticker)]
        if not mine:  # an unknown series and one with nothing open both list nothing
            body = await self.client.get(f"/series/{quote(ticker, safe='')}")  # RestNotFound: not a series
            if not isinstance(body.get("series"), dict):
                return None  # a 200 that is not Kalshi's series object says nothing about the name
            return Answer("series", [], 0)
        markets = [m for e in mine for m in (e.get("markets") or []) if isinstance(m, dict)]
        self.remember(markets, mine, series=ticker)  # every open event: the series is known whole
        return Answer("series", markets, len(mine))

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
        return from_recording(parsed, list(ctx.sim.tickers))
    from kalshi_cli.catalogue import DEFAULT_TTL, Catalogue, env_name_for, load_catalogue
    from kalshi_cli.catalogue_save import save_catalogue
    from kalshi_cli.rest import RestClient, RestError

    env_name = env_name_for(ctx.endpoint.env, ctx.endpoint.ws_url)
    loaded = load_catalogue(env_name, max_age=None)  # every entry: each answers while it is young
    client = RestClient(ctx.endpoint.rest_url, None, reporter=reporter, tries=2, timeout=5.0)
    lookup = _Lookup(ctx, loaded or Catalogue(), DEFAULT_TTL, client)

    async def one(name: Name) -> Answer | None | BaseException:
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
                raise UsageError(unknown(name, hint))
            else:
                expand(name, answer, out, reporter.info, all_in_series)
    finally:
        if lookup.learned.markets or lookup.learned.events or lookup.learned.series:
            save_catalogue(env_name, lookup.learned, warn=reporter.warn, merge=True)
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
