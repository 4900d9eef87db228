"""The simulator's catalogue routes: ``GET /markets``, ``/events``, ``/events/{event_ticker}``,
``/series`` and ``/series/{series_ticker}`` (docs/REST_FACTS.md), over the exchange's markets.

Kalshi lists markets in every lifecycle state, so the catalogue gives each event one
(``statuses``, which the exchange's WebSocket side follows too): most trade (``active``, or
``inactive`` while the exchange has them paused), some are not open yet (``initialized``),
closed (``closed``, ``determined``) or settled (``finalized``). Times are anchored to the
exchange's clock when the catalogue is first read. Filters are applied before a market is
shaped, so a page costs what it returns.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .catalog import MarketSpec, event_title, series_info, strike_label
from .market import VIRTUAL_EPOCH_MS, Exchange
from .rest_markets import market as live_market
from .rest_query import Query, csv, error, int_param, one, page
from .statuses import ALWAYS_OPEN, LIVE, event_hash

__all__ = [
    "ALWAYS_OPEN",
    "EVENTS_MAX_LIMIT",
    "STATUS_FILTERS",
    "event_route",
    "events",
    "market_route",
    "markets",
    "series_list",
    "series_route",
]

#: ``GET /events`` pages hold at most 200 events.
EVENTS_MAX_LIMIT = 200
#: A ``status`` filter word -> the market statuses it matches (Kalshi's market lifecycle page).
STATUS_FILTERS: dict[str, frozenset[str]] = {
    "unopened": frozenset({"initialized"}),
    "open": frozenset({"active"}),
    "paused": frozenset({"inactive"}),
    "closed": frozenset({"closed", "determined", "disputed", "amended"}),
    "settled": frozenset({"finalized"}),
}
_LIVE = LIVE  # trades: active or inactive as the exchange says
_HOUR = 3600
# the close_ts every market starts with (market.Exchange._list); lifecycle news moves it
_FIRST_CLOSE = VIRTUAL_EPOCH_MS // 1000 + 86_400


@dataclass(slots=True)
class _Listing:
    """The catalogue's fixed facts about one exchange, built once."""

    anchor: int  # Unix seconds of the first read
    state: dict[str, str] = field(default_factory=dict)  # event -> _LIVE or a fixed status
    events: dict[str, list[str]] = field(default_factory=dict)  # event -> its tickers, listed order
    series: dict[str, list[str]] = field(default_factory=dict)  # series -> its events


_LISTINGS: weakref.WeakKeyDictionary[Exchange, _Listing] = weakref.WeakKeyDictionary()


_hash = event_hash


def _listing(exchange: Exchange) -> _Listing:
    found = _LISTINGS.get(exchange)
    if found is not None:
        return found
    listing = _Listing(anchor=exchange.now_ms() // 1000)
    for m in exchange.markets.values():
        spec = m.spec
        if spec.event_ticker not in listing.events:
            listing.events[spec.event_ticker] = []
            listing.series.setdefault(spec.series_ticker, []).append(spec.event_ticker)
        listing.events[spec.event_ticker].append(spec.ticker)
    listing.state.update(exchange.event_states)
    _LISTINGS[exchange] = listing
    return listing


def _status(exchange: Exchange, listing: _Listing, ticker: str) -> str:
    m = exchange.markets[ticker]
    state = listing.state[m.spec.event_ticker]
    if state != _LIVE:
        return state
    return "active" if m.active else "inactive"


def _rfc3339(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shape(exchange: Exchange, listing: _Listing, ticker: str) -> dict[str, Any]:
    """The REST market: the live one (book, last, volume) with the catalogue's status, times, labels."""
    body: dict[str, Any] = live_market(exchange, ticker)["market"]
    m = exchange.markets[ticker]
    spec = m.spec
    status = _status(exchange, listing, ticker)
    h = _hash(spec.event_ticker)
    label = strike_label(spec)
    body["yes_sub_title"] = label
    body["no_sub_title"] = label
    body["status"] = status
    if status in ("active", "inactive"):
        close = listing.anchor + _HOUR * (2 + h % 240) + (m.close_ts - _FIRST_CLOSE)
        opened = listing.anchor - _HOUR * (24 + h % 72)
    elif status == "initialized":
        opened = listing.anchor + _HOUR * (1 + h % 48)
        close = opened + _HOUR * 24 * (1 + h % 5)
    else:
        close = listing.anchor - _HOUR * (1 + h % 36) - (_HOUR * 24 * (1 + h % 10) if status == "finalized" else 0)
        opened = close - _HOUR * 24 * (1 + h % 5)
    body["open_time"] = _rfc3339(opened)
    body["close_time"] = body["latest_expiration_time"] = _rfc3339(close)
    body["expected_expiration_time"] = _rfc3339(close + _HOUR)
    if status not in ("active", "inactive"):
        _not_trading(body, spec, status)
    return body


def _not_trading(body: dict[str, Any], spec: MarketSpec, status: str) -> None:
    """A market that is not open has no quotes; an unopened one never traded; a settled one has its result."""
    for key in ("yes_bid_dollars", "yes_ask_dollars", "no_bid_dollars", "no_ask_dollars"):
        body[key] = "0.0000"
    body["yes_bid_size_fp"] = body["yes_ask_size_fp"] = "0.00"
    if status == "initialized":
        for key in ("last_price_dollars", "previous_price_dollars"):
            body[key] = "0.0000"
        body["volume_fp"] = body["volume_24h_fp"] = body["open_interest_fp"] = "0.00"
    if status in ("determined", "finalized"):
        result = "yes" if _hash(spec.ticker) % 2 else "no"
        body["result"] = result
        body["settlement_value_dollars"] = "1.0000" if result == "yes" else "0.0000"
        if status == "finalized":
            body["settlement_ts"] = body["expected_expiration_time"]


def _statuses(q: Query) -> frozenset[str] | None:
    """The market statuses a comma-separated ``status`` filter matches; 400 for an unknown word."""
    words = csv(q, "status")
    if not words:
        return None
    wanted: set[str] = set()
    for word in words:
        matched = STATUS_FILTERS.get(word)
        if matched is None:
            raise error(400, "invalid_parameters", f"invalid status {word!r}")
        wanted |= matched
    return frozenset(wanted)


# --- markets ---------------------------------------------------------------------------------------


def markets(exchange: Exchange, q: Query) -> dict[str, Any]:
    """``GET /markets``: ``tickers``, ``event_ticker``, ``series_ticker``, ``status``, close window; pages."""
    listing = _listing(exchange)
    rows = _filtered(exchange, listing, q)
    found, cursor = page(q, rows)
    return {"markets": [_shape(exchange, listing, t) for t in found], "cursor": cursor}


def _filtered(exchange: Exchange, listing: _Listing, q: Query) -> list[str]:
    tickers, events_wanted = csv(q, "tickers"), csv(q, "event_ticker")
    series = one(q, "series_ticker")
    statuses = _statuses(q)
    min_close, max_close = int_param(q, "min_close_ts"), int_param(q, "max_close_ts")
    if tickers:
        candidates: Iterable[str] = [t for t in dict.fromkeys(tickers) if t in exchange.markets]
    elif events_wanted:
        candidates = [t for e in dict.fromkeys(events_wanted) for t in listing.events.get(e, [])]
    elif series is not None:
        candidates = [t for e in listing.series.get(series, []) for t in listing.events[e]]
    else:
        candidates = exchange.markets
    rows = []
    for ticker in candidates:
        spec = exchange.markets[ticker].spec
        if events_wanted and spec.event_ticker not in events_wanted:
            continue
        if series is not None and spec.series_ticker != series:
            continue
        if statuses is not None and _status(exchange, listing, ticker) not in statuses:
            continue
        rows.append(ticker)
    if min_close is not None or max_close is not None:
        rows = [t for t in rows if _closes_within(exchange, listing, t, min_close, max_close)]
    return rows


def _closes_within(exchange: Exchange, listing: _Listing, ticker: str, lo: int | None, hi: int | None) -> bool:
    close = datetime.fromisoformat(_shape(exchange, listing, ticker)["close_time"]).timestamp()
    return (lo is None or close >= lo) and (hi is None or close <= hi)


def market_route(exchange: Exchange, ticker: str) -> dict[str, Any]:
    """``GET /markets/{ticker}``: the same object ``GET /markets`` lists; 404 for an unknown ticker."""
    if ticker not in exchange.markets or "/" in ticker:
        raise error(404, "not_found", "market_not_found")
    return {"market": _shape(exchange, _listing(exchange), ticker)}


# --- events ----------------------------------------------------------------------------------------


def _event(exchange: Exchange, listing: _Listing, event_ticker: str, *, nested: bool) -> dict[str, Any]:
    tickers = listing.events[event_ticker]
    spec = exchange.markets[tickers[0]].spec
    info = series_info(spec.series_ticker)
    body: dict[str, Any] = {
        "event_ticker": event_ticker,
        "series_ticker": spec.series_ticker,
        "title": event_title(spec),
        "sub_title": spec.subtitle,
        "collateral_return_type": "MECNET" if info.mutually_exclusive else "",
        "mutually_exclusive": info.mutually_exclusive,
        "category": info.category,
        "strike_date": None,
        "available_on_brokers": True,
        "product_metadata": {},
    }
    if nested:
        body["markets"] = [_shape(exchange, listing, t) for t in tickers]
    return body


def _event_status(exchange: Exchange, listing: _Listing, event_ticker: str) -> str:
    """The event's filter word: ``open`` while any of its markets trades (paused counts), else its state's."""
    state = listing.state[event_ticker]
    if state == _LIVE:
        return "open"
    return next(word for word, matched in STATUS_FILTERS.items() if state in matched)


def events(exchange: Exchange, q: Query) -> dict[str, Any]:
    """``GET /events``: ``series_ticker``, ``status`` (unopened, open, closed, settled), nested markets; 200 a page."""
    listing = _listing(exchange)
    series = one(q, "series_ticker")
    words = csv(q, "status")
    for word in words:
        if word not in STATUS_FILTERS or word == "paused":
            raise error(400, "invalid_parameters", f"invalid status {word!r}")
    rows = listing.series.get(series, []) if series is not None else list(listing.events)
    if words:
        rows = [e for e in rows if _event_status(exchange, listing, e) in words]
    found, cursor = page(q, rows, max_limit=EVENTS_MAX_LIMIT)
    nested = one(q, "with_nested_markets") == "true"
    return {"events": [_event(exchange, listing, e, nested=nested) for e in found], "cursor": cursor}


def event_route(exchange: Exchange, event_ticker: str, q: Query) -> dict[str, Any]:
    """``GET /events/{event_ticker}``: the event and its markets (top-level ``markets``, and nested on request)."""
    listing = _listing(exchange)
    if event_ticker not in listing.events:
        raise error(404, "not_found", "event_not_found")
    nested = one(q, "with_nested_markets") == "true"
    body = _event(exchange, listing, event_ticker, nested=nested)
    shaped = body["markets"] if nested else [_shape(exchange, listing, t) for t in listing.events[event_ticker]]
    return {"event": body, "markets": shaped}


# --- series ----------------------------------------------------------------------------------------


def _series(series_ticker: str) -> dict[str, Any]:
    info = series_info(series_ticker)
    return {
        "ticker": series_ticker,
        "frequency": info.frequency,
        "title": info.title,
        "category": info.category,
        "tags": [],
        "settlement_sources": [{"name": "Simulated source", "url": "https://example.invalid/"}],
        "contract_url": "",
        "contract_terms_url": "",
        "fee_type": "quadratic",
        "fee_multiplier": 1,
        "additional_prohibitions": [],
    }


def series_list(exchange: Exchange, q: Query) -> dict[str, Any]:
    """``GET /series``: every series with a listed event (``category`` filters)."""
    category = one(q, "category")
    found = [_series(s) for s in _listing(exchange).series]
    return {"series": [s for s in found if category is None or s["category"] == category]}


def series_route(exchange: Exchange, series_ticker: str) -> dict[str, Any]:
    """``GET /series/{series_ticker}``; 404 for a series with no listed event."""
    if series_ticker not in _listing(exchange).series:
        raise error(404, "not_found", "series_not_found")
    return {"series": _series(series_ticker)}
