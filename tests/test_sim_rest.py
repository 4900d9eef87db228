"""The simulator's REST layer through the real client: same data as the stream, signatures checked."""

from __future__ import annotations

import pytest

from kalshi_cli.auth import auth_headers
from kalshi_cli.rest import RestAuthError, RestClient, RestError
from tests.test_cli_private import account, step_until_fills


def rest_for(sim, keys, rsa_key, *, signed: bool = True, **kw) -> RestClient:
    base = sim.url.replace("ws://", "http://").replace("/trade-api/ws/v2", "/trade-api/v2")
    signer = (lambda m, p: auth_headers(keys.key_id, rsa_key, method=m, path=p)) if signed else None
    return RestClient(base, signer, backoff_base=0.01, **kw)


async def test_fills_newest_first_with_filters_and_pages(keys, sim_factory, rsa_key):
    sim = sim_factory(rate=0, markets=3)
    step_until_fills(sim, 6)
    truth = list(account(sim).fills)
    rest = rest_for(sim, keys, rsa_key)
    rows = await rest.paginate("/portfolio/fills", "fills", limit=2)
    assert [r["trade_id"] for r in rows] == [f["trade_id"] for f in reversed(truth)]
    assert all(r["fill_id"] == r["trade_id"] and r["created_time"].endswith("Z") for r in rows)
    pages = [r for r in sim.rest_requests() if r["path"].endswith("/portfolio/fills")]
    assert len(pages) == -(-len(truth) // 2)  # limit 2: the last page has an empty cursor
    ticker = truth[0]["market_ticker"]
    only = await rest.paginate("/portfolio/fills", "fills", {"ticker": f"{ticker},NOPE"})
    assert {r["ticker"] for r in only} == {ticker}
    late = await rest.paginate("/portfolio/fills", "fills", {"min_ts": truth[-1]["ts"] + 1})
    assert late == []


async def test_positions_orders_and_markets(keys, sim_factory, rsa_key):
    sim = sim_factory(rate=0, markets=3)
    step_until_fills(sim, 3)
    rest = rest_for(sim, keys, rsa_key)
    body = await rest.get("/portfolio/positions")
    exchange = sim.call("exchange")
    assert {p["ticker"]: p["position_fp"] for p in body["market_positions"]} == {
        p["market_ticker"]: p["position_fp"] for p in exchange.positions()
    }
    assert body["event_positions"] and body["cursor"] == ""
    resting = await rest.paginate("/portfolio/orders", "orders", {"status": "resting"})
    assert {o["order_id"] for o in resting} == {o["order_id"] for o in exchange.orders() if o["status"] == "resting"}
    market = (await rest.get(f"/markets/{sim.tickers[0]}"))["market"]
    assert market["ticker"] == sim.tickers[0] and market["price_ranges"]
    with pytest.raises(RestError, match="HTTP 404.*market_not_found"):
        await rest.get("/markets/NOPE-26")
    assert (await rest_for(sim, keys, rsa_key, signed=False).get("/exchange/status"))["exchange_active"] is True


async def test_private_routes_check_signatures(keys, sim_factory, rsa_key):
    sim = sim_factory(rate=0)
    with pytest.raises(RestAuthError, match="needs an API key"):
        await rest_for(sim, keys, rsa_key, signed=False).get("/portfolio/fills")
    base = sim.url.replace("ws://", "http://").replace("/trade-api/ws/v2", "/trade-api/v2")
    wrong_path = RestClient(
        base, lambda m, p: auth_headers(keys.key_id, rsa_key, method=m, path=p.removeprefix("/trade-api/v2"))
    )
    with pytest.raises(RestAuthError, match="INCORRECT_API_KEY_SIGNATURE"):
        await wrong_path.get("/portfolio/fills")


async def test_fault_knob_fails_the_next_requests(keys, sim_factory, rsa_key):
    sim = sim_factory(rate=0)
    sim.fail_rest(429, 1, {"Retry-After": "0"})
    sim.fail_rest(500, 1)
    rest = rest_for(sim, keys, rsa_key)
    assert (await rest.get("/portfolio/orders"))["orders"] is not None
    assert [r["status"] for r in sim.rest_requests()] == [429, 500, 200]


def step_until_trades(sim, n: int) -> list[dict]:
    """Drive the market until it has traded ``n`` times; return the ``trade`` msgs it published."""
    published: list[dict] = []
    for _ in range(2000):
        published += [e.msg for e in sim.step(20) if e.type == "trade"]
        if len(published) >= n:
            return published
    raise AssertionError(f"fewer than {n} trades")


REST_TRADE_KEYS = {
    "trade_id",
    "ticker",
    "taker_side",
    "yes_price_dollars",
    "no_price_dollars",
    "count_fp",
    "created_time",
}


async def test_public_trades_are_the_trade_channels_msgs_newest_first_in_pages(keys, sim_factory, rsa_key):
    sim = sim_factory(rate=0, markets=3)
    published = step_until_trades(sim, 7)
    rest = rest_for(sim, keys, rsa_key, signed=False)  # a public endpoint: no key needed
    rows = await rest.paginate("/markets/trades", "trades", limit=3)
    assert [r["trade_id"] for r in rows] == [t["trade_id"] for t in reversed(published)]
    by_id = {t["trade_id"]: t for t in published}
    for row in rows:
        assert set(row) == REST_TRADE_KEYS
        ws = by_id[row["trade_id"]]
        assert row["ticker"] == ws["market_ticker"] and row["taker_side"] == ws["taker_side"]
        assert (row["yes_price_dollars"], row["no_price_dollars"], row["count_fp"]) == (
            ws["yes_price_dollars"],
            ws["no_price_dollars"],
            ws["count_fp"],
        )
        assert row["created_time"].endswith("Z") and row["created_time"][:19] == _iso(ws["ts_ms"])
    pages = [r for r in sim.rest_requests() if r["path"] == "/trade-api/v2/markets/trades"]
    assert len(pages) == -(-len(published) // 3)


async def test_public_trades_filter_by_ticker_and_time_in_seconds(keys, sim_factory, rsa_key):
    sim = sim_factory(rate=0, markets=3)
    published = step_until_trades(sim, 6)
    rest = rest_for(sim, keys, rsa_key, signed=False)
    ticker = published[0]["market_ticker"]
    only = await rest.paginate("/markets/trades", "trades", {"ticker": ticker})
    assert [r["trade_id"] for r in only] == [t["trade_id"] for t in reversed(published) if t["market_ticker"] == ticker]
    middle = published[len(published) // 2]["ts"]  # Unix seconds, both ends included
    since = await rest.paginate("/markets/trades", "trades", {"min_ts": middle})
    assert {r["trade_id"] for r in since} == {t["trade_id"] for t in published if t["ts"] >= middle}
    until = await rest.paginate("/markets/trades", "trades", {"max_ts": middle})
    assert {r["trade_id"] for r in until} == {t["trade_id"] for t in published if t["ts"] <= middle}
    assert await rest.paginate("/markets/trades", "trades", {"ticker": "NOPE-26"}) == []


async def test_public_trades_refuse_bad_parameters(keys, sim_factory, rsa_key):
    sim = sim_factory(rate=0)
    rest = rest_for(sim, keys, rsa_key, signed=False)
    with pytest.raises(RestError, match="HTTP 400.*limit out of range"):
        await rest.get("/markets/trades", {"limit": "1001"})
    with pytest.raises(RestError, match="HTTP 400.*min_ts must be an integer"):
        await rest.get("/markets/trades", {"min_ts": "yesterday"})
    assert (await rest.get("/markets/trades", {"limit": "1000"})) == {"trades": [], "cursor": ""}


def _iso(ts_ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
