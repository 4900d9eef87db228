"""The market resolver through the real CLI (subprocesses) against the simulator: market, event
and series tickers, kalshi.com URLs, any case, unknown names with suggestions, the local cache
(a warm name costs no REST call), REST errors and a server without REST, in book, tail, fills
and positions. What to expect is read from the simulator's own REST catalogue, not written here."""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from kalshi_cli.config import rest_from_ws
from tests.conftest import assert_clean_error, cli_env, run_cli, signed_args
from tests.hostile import HostileConn, HostileServer

OPEN = {"active", "inactive"}


def rest(sim: Any, path: str, **params: str) -> dict[str, Any]:
    """GET the simulator's REST API, as any client would."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(rest_from_ws(sim.url) + path + query, timeout=10) as reply:
        body: dict[str, Any] = orjson.loads(reply.read())
    return body


def all_markets(sim: Any) -> list[dict[str, Any]]:
    found, cursor = [], ""
    while True:
        page = rest(sim, "/markets", limit="1000", **({"cursor": cursor} if cursor else {}))
        found += page["markets"]
        cursor = page.get("cursor") or ""
        if not cursor:
            return found


def events_of(sim: Any) -> dict[str, list[dict[str, Any]]]:
    events: dict[str, list[dict[str, Any]]] = {}
    for m in all_markets(sim):
        events.setdefault(m["event_ticker"], []).append(m)
    return events


def env_with_cache(tmp_path: Path) -> dict[str, str]:
    return cli_env(XDG_CACHE_HOME=str(tmp_path / "cache"))


def book_once(keys: Any, sim: Any, tmp_path: Path, *names: str) -> Any:
    return run_cli(["book", *names, "--once", "--json", *signed_args(keys, sim.url)], env=env_with_cache(tmp_path))


def printed(proc: Any) -> list[str]:
    return sorted(orjson.loads(line)["market_ticker"] for line in proc.stdout.splitlines())


def catalogue_requests(sim: Any) -> list[str]:
    return [r["path"] for r in sim.rest_requests() if "/portfolio/" not in r["path"]]


# --- what a name stands for ---------------------------------------------------------------------


def test_a_market_ticker_in_any_case_passes(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    ticker = sim.tickers[1]
    proc = book_once(keys, sim, tmp_path, ticker.lower())
    assert proc.returncode == 0, proc.stderr
    assert printed(proc) == [ticker]


def test_an_event_stands_for_its_open_markets_and_says_how_many(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=40)
    event, markets = max(
        ((e, ms) for e, ms in events_of(sim).items() if all(m["status"] in OPEN for m in ms)), key=lambda x: len(x[1])
    )
    assert len(markets) >= 2
    proc = book_once(keys, sim, tmp_path, event)
    assert proc.returncode == 0, proc.stderr
    assert printed(proc) == sorted(m["ticker"] for m in markets)
    assert f"{event}: an event, {len(markets)} open markets of {len(markets)}" in proc.stderr.decode()


def test_an_event_with_no_open_market_is_one_line(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=300)
    event, markets = next((e, ms) for e, ms in events_of(sim).items() if not any(m["status"] in OPEN for m in ms))
    proc = book_once(keys, sim, tmp_path, event)
    line = assert_clean_error(proc, 2, f"event {event} has no open markets", markets[0]["status"])
    assert "name one to watch it anyway" in line
    assert sim.connections == 0


def test_a_series_needs_all_in_series_and_says_how_big_it_is(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    series_markets = [m for m in all_markets(sim) if m["ticker"].startswith("KXBTCD-") and m["status"] in OPEN]
    event = series_markets[0]["event_ticker"]
    proc = book_once(keys, sim, tmp_path, "kxbtcd")
    line = assert_clean_error(proc, 2, "KXBTCD is a series", f"{len(series_markets)} open markets", "--all-in-series")
    assert event in line
    ok = run_cli(
        ["book", "KXBTCD", "--all-in-series", "--once", "--json", *signed_args(keys, sim.url)],
        env=env_with_cache(tmp_path),
    )
    assert ok.returncode == 0, ok.stderr
    assert printed(ok) == sorted(m["ticker"] for m in series_markets)
    assert "KXBTCD: a series" in ok.stderr.decode()


def test_a_series_with_too_many_markets_is_refused(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=4000)
    counts: dict[str, int] = {}
    for m in all_markets(sim):
        if m["status"] in OPEN:
            series = m["ticker"].split("-")[0]
            counts[series] = counts.get(series, 0) + 1
    big = max(counts, key=lambda s: counts[s])
    assert counts[big] > 500
    proc = run_cli(
        ["book", big, "--all-in-series", "--json", *signed_args(keys, sim.url)], env=env_with_cache(tmp_path)
    )
    assert_clean_error(proc, 2, f"series {big} has {counts[big]:,} open markets", "more than the 500", "name events")
    assert sim.connections == 0


def test_a_kalshi_com_event_url_is_understood(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    event, markets = next((e, ms) for e, ms in events_of(sim).items() if len(ms) >= 2)
    series = event.split("-")[0].lower()
    url = f"https://kalshi.com/markets/{series}/some-title/{event.lower()}"
    proc = book_once(keys, sim, tmp_path, url)
    assert proc.returncode == 0, proc.stderr
    assert printed(proc) == sorted(m["ticker"] for m in markets)


def test_a_url_of_another_site_is_one_line_before_connecting(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0)
    proc = book_once(keys, sim, tmp_path, "https://polymarket.com/event/fed-decision-in-december")
    assert_clean_error(proc, 2, "not a kalshi.com URL", "polymarket.com")
    assert sim.connections == 0 and catalogue_requests(sim) == []


def test_an_unknown_name_gets_the_closest_known_tickers(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    ticker = sim.tickers[1]
    typo = ticker[:-1]  # the last digit lost
    proc = book_once(keys, sim, tmp_path, typo)
    line = assert_clean_error(proc, 2, f"unknown market: {typo}", "did you mean", ticker)
    assert line.index(ticker) < line.index("?")
    assert sim.connections == 0


def test_a_misspelt_series_is_corrected_from_a_cold_cache(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    ticker = next(t for t in sim.tickers if t.startswith("KXBTCD-"))
    misspelt = ticker.replace("KXBTCD", "KXBTC", 1)
    line = assert_clean_error(book_once(keys, sim, tmp_path, misspelt), 2, f"unknown market: {misspelt}")
    assert line.split("did you mean ")[1].startswith(ticker)
    line = assert_clean_error(book_once(keys, sim, tmp_path, "kxbtc"), 2, "unknown series: KXBTC")
    assert line.split("did you mean ")[1].startswith("KXBTCD,")


# --- cache and REST -------------------------------------------------------------------------------


def test_a_warm_cache_resolves_with_no_rest_call(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    event = next(e for e, ms in events_of(sim).items() if len(ms) >= 2)
    ticker = sim.tickers[0]
    before = len(catalogue_requests(sim))
    first = book_once(keys, sim, tmp_path, event, ticker)
    assert first.returncode == 0, first.stderr
    asked = catalogue_requests(sim)[before:]
    assert len(asked) == 2, asked  # one call per name
    assert list((tmp_path / "cache" / "kalshi").glob("catalogue-*"))  # what REST said was saved
    second = book_once(keys, sim, tmp_path, event.lower(), ticker)
    assert second.returncode == 0, second.stderr
    assert catalogue_requests(sim)[before + 2 :] == []  # nothing asked: the cache knew both
    assert printed(second) == printed(first)


def test_a_rest_error_for_an_event_is_one_line_exit_4(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    event = next(e for e, ms in events_of(sim).items() if len(ms) >= 2)
    sim.fail_rest(500, 10)
    proc = book_once(keys, sim, tmp_path, event)
    assert_clean_error(proc, 4, f"cannot tell which markets {event} stands for", "HTTP 500")
    assert sim.connections == 0


def test_a_rest_error_for_a_market_ticker_warns_and_goes_on(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    sim.fail_rest(503, 2)  # both tries of the one lookup
    proc = book_once(keys, sim, tmp_path, sim.tickers[0])
    assert proc.returncode == 0, proc.stderr
    assert printed(proc) == [sim.tickers[0]]
    assert f"could not look {sim.tickers[0]} up" in proc.stderr.decode()


def test_without_a_rest_api_names_pass_as_given(keys, tmp_path):
    """A WebSocket-only server (every REST path 404 without Kalshi's body): no lookup, the
    name goes to the subscription upper-cased, as before the resolver."""
    asked: list[str] = []
    subscribed: list[Any] = []

    async def script(conn: HostileConn) -> None:
        request = await conn.read_request()
        if not request.path.startswith("/trade-api/ws/v2"):
            asked.append(request.path)
            await conn.respond(404, {"Content-Type": "text/plain"}, b"404 page not found")
            return
        await conn.accept(request)
        cmd = await conn.recv_json()
        subscribed.append(cmd["params"])
        sids = await conn.ack_subscribe(cmd)
        msg = {"market_ticker": "KXHIGHNY-26NOV25", "price_dollars": "0.5000"}
        await conn.send_text(orjson.dumps({"type": "ticker", "sid": sids["ticker"], "seq": 1, "msg": msg}))
        await conn.idle()

    with HostileServer(script) as server:
        proc = run_cli(
            ["tail", "ticker", "-m", "kxhighny-26nov25", "--count", "1", "--json", *signed_args(keys, server.url)],
            env=env_with_cache(tmp_path),
        )
    assert proc.returncode == 0, proc.stderr
    assert subscribed[0]["market_tickers"] == ["KXHIGHNY-26NOV25"]
    assert len(asked) == 1  # the first 404 says there is no REST API: nothing more is asked
    assert b"warning" not in proc.stderr


# --- every command that takes markets ---------------------------------------------------------


def test_tail_m_event_subscribes_its_markets(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    event, markets = next((e, ms) for e, ms in events_of(sim).items() if len(ms) >= 2)
    proc = run_cli(
        ["tail", "orderbook_delta", "-m", event, "--count", str(len(markets)), "--json", *signed_args(keys, sim.url)],
        env=env_with_cache(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    snapshots = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert all(s["type"] == "orderbook_snapshot" for s in snapshots)
    assert sorted(s["msg"]["market_ticker"] for s in snapshots) == sorted(m["ticker"] for m in markets)


def test_fills_and_positions_resolve_their_markets(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    fills = run_cli(["fills", "-m", "KXBTCD", "--json", *signed_args(keys, sim.url)], env=env_with_cache(tmp_path))
    assert_clean_error(fills, 2, "KXBTCD is a series", "--all-in-series")
    positions = run_cli(
        ["positions", "-m", "KXBTCD", "--once", "--json", *signed_args(keys, sim.url)], env=env_with_cache(tmp_path)
    )
    line = assert_clean_error(positions, 2, "KXBTCD is a series", "name an event")
    assert "--all-in-series" not in line  # positions has no such option
    typo = sim.tickers[0][:-1]
    orders = run_cli(
        ["orders", "-m", typo, "--once", "--json", *signed_args(keys, sim.url)], env=env_with_cache(tmp_path)
    )
    assert_clean_error(orders, 2, f"unknown market: {typo}", sim.tickers[0])


def test_record_m_event_records_its_markets(keys, sim_factory, tmp_path):
    import signal

    from tests.conftest import spawn_cli
    from tests.test_cli_tail import stop, wait_for

    sim = sim_factory(rate=0, markets=5)
    event, markets = next((e, ms) for e, ms in events_of(sim).items() if len(ms) >= 2)
    wanted = sorted(m["ticker"] for m in markets)
    out = tmp_path / "rec"
    proc = spawn_cli(
        ["record", "orderbook_delta", "-m", event, "-o", str(out), *signed_args(keys, sim.url)],
        env=env_with_cache(tmp_path),
    )

    def recorded() -> list[str]:
        found = []
        for path in out.glob("*.ndjson"):
            for line in path.read_bytes().splitlines():
                frame = orjson.loads(line)
                frame = frame.get("frame", frame) if isinstance(frame.get("frame"), dict) else frame
                if frame.get("type") == "orderbook_snapshot":
                    found.append(frame["msg"]["market_ticker"])
        return sorted(found)

    try:
        wait_for(lambda: len(recorded()) >= len(wanted), what="a snapshot of each market recorded")
    finally:
        code, err = stop(proc, signal.SIGTERM)
    assert code == 0, err
    assert recorded() == wanted
    replayed = run_cli(
        ["book", event.lower(), "--json", "--replay", str(out), "--replay-speed", "max"], env=env_with_cache(tmp_path)
    )
    assert replayed.returncode == 0, replayed.stderr
    assert sorted(set(printed(replayed))) == wanted  # the event stands for its recorded markets, no REST


def series_book(keys: Any, sim: Any, tmp_path: Path, series: str) -> Any:
    return run_cli(
        ["book", series, "--all-in-series", "--once", "--json", *signed_args(keys, sim.url)],
        env=env_with_cache(tmp_path),
    )


@pytest.mark.parametrize("listing_args", [["--series", "KXBTCD"], ["--refresh"]])
def test_a_series_listed_whole_resolves_from_the_cache(keys, sim_factory, tmp_path, listing_args):
    sim = sim_factory(rate=0, markets=5)
    series_markets = sorted(
        m["ticker"] for m in all_markets(sim) if m["ticker"].startswith("KXBTCD-") and m["status"] in OPEN
    )
    listing = run_cli(["markets", *listing_args, "--url", sim.url], env=env_with_cache(tmp_path))
    assert listing.returncode == 0, listing.stderr
    before = len(catalogue_requests(sim))
    proc = series_book(keys, sim, tmp_path, "kxbtcd")
    assert proc.returncode == 0, proc.stderr
    assert catalogue_requests(sim)[before:] == []  # kalshi markets --series listed all of its open events
    assert printed(proc) == series_markets
    assert "KXBTCD: a series" in proc.stderr.decode()


def test_the_resolvers_own_series_call_is_remembered(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    before = len(catalogue_requests(sim))
    first = series_book(keys, sim, tmp_path, "KXBTCD")
    assert first.returncode == 0, first.stderr
    asked = catalogue_requests(sim)[before:]
    assert asked, "a cold cache asks REST"
    second = series_book(keys, sim, tmp_path, "KXBTCD")
    assert second.returncode == 0, second.stderr
    assert catalogue_requests(sim)[before + len(asked) :] == []
    assert printed(second) == printed(first)


def test_a_partial_listing_does_not_stand_for_the_series(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=5)
    assert sum(m["ticker"].startswith("KXBTCD-") for m in all_markets(sim)) >= 2
    few = run_cli(["markets", "--series", "KXBTCD", "--limit", "1", "--url", sim.url], env=env_with_cache(tmp_path))
    assert few.returncode == 0, few.stderr
    before = len(catalogue_requests(sim))
    proc = series_book(keys, sim, tmp_path, "KXBTCD")
    assert proc.returncode == 0, proc.stderr
    assert catalogue_requests(sim)[before:], "one market is not the whole series: REST is asked"


def test_an_expired_cache_is_merged_into_not_replaced(keys, sim_factory, tmp_path):
    import time as clock

    from kalshi_cli.catalogue import catalogue_path, env_name_for, load_catalogue, tickers_path

    sim = sim_factory(rate=0, markets=40)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    listing = run_cli(["markets", "--status", "all", "--url", sim.url], env=env_with_cache(tmp_path))
    assert listing.returncode == 0, listing.stderr
    name = env_name_for("custom", sim.url)
    path = catalogue_path(name, env)
    head, _, entries = path.read_bytes().partition(b"\n")
    old = int(clock.time()) - 7200  # two hours ago: past the one-hour TTL
    aged = [line.split(b"\t") for line in entries.splitlines()]
    path.write_bytes(
        orjson.dumps({**orjson.loads(head), "fetched_at": old})
        + b"\n"
        + b"".join(b"\t".join([*f[:3], str(old).encode(), *f[4:]]) + b"\n" for f in aged)
    )
    known = set(load_catalogue(name, environ=env, max_age=None).markets)
    ticker = sim.tickers[0]
    before = len(catalogue_requests(sim))
    proc = book_once(keys, sim, tmp_path, ticker)
    assert proc.returncode == 0, proc.stderr
    assert len(catalogue_requests(sim)[before:]) == 1  # a stale entry does not answer: REST is asked
    after = load_catalogue(name, environ=env, max_age=None)
    assert set(after.markets) == known  # merged: the rest of the old cache is still there
    assert after.age("M", ticker) < 600 and after.age("M", sorted(known - {ticker})[0]) >= 7000
    completions = {line.split("\t")[0] for line in tickers_path(name, env).read_text().splitlines()[1:]}
    assert known <= completions  # and still completes
    young = load_catalogue(name, environ=env)
    assert young is not None and set(young.markets) == {ticker}  # the default TTL keeps only what is young
