"""The simulator's catalogue routes (/markets, /events, /series) through the real REST client."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from kalshi_cli.rest import RestClient, RestError, RestNotFound
from kalshi_cli.sim.market import Exchange
from kalshi_cli.sim.rest_catalogue import ALWAYS_OPEN, STATUS_FILTERS, events, markets


def rest(sim) -> RestClient:
    base = sim.url.replace("ws://", "http://").replace("/trade-api/ws/v2", "/trade-api/v2")
    return RestClient(base, None, backoff_base=0.01)


def market_pages(sim) -> list[dict]:
    return [r for r in sim.rest_requests() if r["path"].endswith("/trade-api/v2/markets")]


async def test_markets_page_through_the_whole_catalogue_with_cursors(sim_factory) -> None:
    sim = sim_factory(rate=0, markets=450)
    rows = await rest(sim).paginate("/markets", "markets", limit=100)
    assert [m["ticker"] for m in rows] == sim.tickers  # every market once, in listing order
    assert len(market_pages(sim)) == 5  # 450 at 100 a page: the fifth has an empty cursor
    statuses = Counter(m["status"] for m in rows)
    assert statuses["active"] > len(rows) // 2  # most trade
    assert {"initialized", "closed", "finalized"} <= set(statuses)  # some do not
    one = rows[0]
    for key in ("yes_bid_dollars", "yes_ask_dollars", "last_price_dollars", "volume_fp", "open_interest_fp"):
        assert isinstance(one[key], str)
    assert one["yes_sub_title"] and one["title"] and one["event_ticker"] == one["ticker"].rsplit("-", 1)[0]
    assert datetime.fromisoformat(one["close_time"]) > datetime.fromisoformat(one["open_time"])


async def test_filters_narrow_before_paging(sim_factory) -> None:
    sim = sim_factory(rate=0, markets=450)
    client = rest(sim)
    everything = await client.paginate("/markets", "markets", limit=1000)
    by_event = Counter(m["event_ticker"] for m in everything)
    event, size = by_event.most_common(1)[0]
    assert size > 1  # an event with several strikes
    of_event = await client.paginate("/markets", "markets", {"event_ticker": event}, limit=2)
    assert [m["ticker"] for m in of_event] == [m["ticker"] for m in everything if m["event_ticker"] == event]
    series = event.split("-")[0]
    of_series = await client.paginate("/markets", "markets", {"series_ticker": series})
    assert {m["ticker"] for m in of_series} == {m["ticker"] for m in everything if m["ticker"].startswith(series + "-")}
    for word, matched in STATUS_FILTERS.items():
        found = await client.paginate("/markets", "markets", {"status": word})
        assert {m["ticker"] for m in found} == {m["ticker"] for m in everything if m["status"] in matched}
    both = await client.paginate("/markets", "markets", {"status": "closed,settled"})
    assert {m["status"] for m in both} <= STATUS_FILTERS["closed"] | STATUS_FILTERS["settled"] and both
    wanted = [everything[3]["ticker"], everything[0]["ticker"], "NOPE-1"]
    picked = await client.paginate("/markets", "markets", {"tickers": ",".join(wanted)})
    assert [m["ticker"] for m in picked] == wanted[:2]


async def test_bad_parameters_get_kalshis_400(sim_factory) -> None:
    sim = sim_factory(rate=0)
    client = rest(sim)
    for params in ({"status": "sideways"}, {"limit": 1001}, {"limit": 0}, {"cursor": "%%%"}):
        with pytest.raises(RestError, match="HTTP 400"):
            await client.get("/markets", params)
    with pytest.raises(RestError, match="HTTP 400"):
        await client.get("/events", {"limit": 201})


async def test_events_series_and_one_market_agree(sim_factory) -> None:
    sim = sim_factory(rate=0, markets=450)
    client = rest(sim)
    listed = await client.paginate("/markets", "markets", limit=1000)
    evs = await client.paginate("/events", "events", {"with_nested_markets": "true"}, limit=200)
    assert sorted(m["ticker"] for e in evs for m in e["markets"]) == sorted(m["ticker"] for m in listed)
    assert all(m["event_ticker"] == e["event_ticker"] for e in evs for m in e["markets"])
    assert len({e["event_ticker"] for e in evs}) == len(evs) == len({m["event_ticker"] for m in listed})
    flat = await client.paginate("/events", "events", limit=200)
    assert all("markets" not in e for e in flat) and flat[0]["title"] and flat[0]["series_ticker"]
    closed = await client.paginate("/events", "events", {"status": "closed"}, limit=200)
    assert closed and all(
        m["status"] in STATUS_FILTERS["closed"]
        for m in listed
        if m["event_ticker"] in {e["event_ticker"] for e in closed}
    )
    target = max(evs, key=lambda e: len(e["markets"]))
    one = await client.get(f"/events/{target['event_ticker']}")
    assert one["event"]["event_ticker"] == target["event_ticker"]
    assert [m["ticker"] for m in one["markets"]] == [m["ticker"] for m in target["markets"]]
    nested = await client.get(f"/events/{target['event_ticker']}", {"with_nested_markets": "true"})
    assert nested["event"]["markets"] == nested["markets"]
    same = (await client.get(f"/markets/{listed[-1]['ticker']}"))["market"]
    assert {k: same[k] for k in ("status", "close_time", "yes_sub_title")} == {
        k: listed[-1][k] for k in ("status", "close_time", "yes_sub_title")
    }
    series = (await client.get("/series"))["series"]
    assert {s["ticker"] for s in series} == {e["series_ticker"] for e in evs}
    assert (await client.get(f"/series/{series[0]['ticker']}"))["series"] == series[0]
    for path in ("/events/NOPE-1", "/series/NOPE", "/markets/NOPE-1"):
        with pytest.raises(RestNotFound):
            await client.get(path)


def test_small_simulators_stay_open_and_seeds_keep_their_tickers() -> None:
    small = Exchange(0, ALWAYS_OPEN)
    body = markets(small, {"limit": ["1000"]})
    assert {m["status"] for m in body["markets"]} <= {"active", "inactive"}
    assert [m["ticker"] for m in body["markets"]] == Exchange(0, ALWAYS_OPEN).tickers  # the seed's story
    big = Exchange(0, 2000)
    seen = events(big, {"limit": ["200"], "status": ["unopened"]})["events"]
    assert seen  # some events are not open yet
    tickers = {m["ticker"] for e in seen for m in markets(big, {"event_ticker": [e["event_ticker"]]})["markets"]}
    statuses = {
        m["status"] for m in markets(big, {"tickers": [",".join(sorted(tickers))], "limit": ["1000"]})["markets"]
    }
    assert statuses == {"initialized"}


def test_ten_thousand_markets() -> None:
    big = Exchange(0, 10_000)
    body = markets(big, {"limit": ["1000"], "status": ["open"]})
    assert len(body["markets"]) == 1000 and body["cursor"]
