"""``kalshi markets`` as a user runs it: real subprocesses against the simulator's REST catalogue."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from kalshi_cli.catalogue import Catalogue, catalogue_path, env_name_for, load_catalogue, tickers_path
from kalshi_cli.catalogue_save import save_catalogue
from kalshi_cli.market_query import close_ts, spread
from tests.conftest import assert_clean_error, cli_env, run_cli, signed_args


def cache_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return cli_env(XDG_CACHE_HOME=str(tmp_path / "cache"), **extra)


def lines_of(proc) -> list[dict]:
    assert proc.returncode == 0, proc.stderr.decode()
    return [orjson.loads(line) for line in proc.stdout.splitlines()]


def listed(sim, tmp_path: Path, *args: str) -> list[dict]:
    return lines_of(run_cli(["markets", "--url", sim.url, *args], env=cache_env(tmp_path)))


def market_pages(sim) -> list[dict]:
    return [r for r in sim.rest_requests() if r["path"].endswith("/trade-api/v2/markets")]


def test_pages_through_every_market_in_pages_of_1000(sim_factory, tmp_path: Path) -> None:
    sim = sim_factory(rate=0, markets=2500)
    rows = listed(sim, tmp_path, "--status", "all")
    assert [m["ticker"] for m in rows] == sim.tickers  # each once, in the API's order, nothing lost
    pages = market_pages(sim)
    assert [p["query"]["limit"] for p in pages] == [["1000"]] * 3
    assert "cursor" not in pages[0]["query"] and all(p["query"]["cursor"] for p in pages[1:])
    assert all("status" not in p["query"] for p in pages)  # --status all: no filter sent
    first = 1500
    some = listed(sim, tmp_path, "--status", "all", "--limit", str(first))
    assert [m["ticker"] for m in some] == sim.tickers[:first]
    assert [p["query"]["limit"] for p in market_pages(sim)[3:]] == [["1000"], ["500"]]  # stops when it has enough


def test_filters_go_to_the_server_and_each_line_is_the_apis_object(sim_factory, tmp_path: Path) -> None:
    sim = sim_factory(rate=0, markets=600)
    everything = listed(sim, tmp_path, "--status", "all")
    assert {m["status"] for m in everything} >= {"active", "closed", "finalized", "initialized"}
    open_ones = listed(sim, tmp_path)  # the default: open markets
    assert [m["ticker"] for m in open_ones] == [m["ticker"] for m in everything if m["status"] == "active"]
    settled = listed(sim, tmp_path, "--status", "settled")
    assert [m["ticker"] for m in settled] == [m["ticker"] for m in everything if m["status"] == "finalized"]
    several = listed(sim, tmp_path, "--status", "closed,unopened")
    wanted = {"closed", "determined", "initialized"}
    assert [m["ticker"] for m in several] == [m["ticker"] for m in everything if m["status"] in wanted]
    event = max({m["event_ticker"] for m in everything}, key=lambda e: sum(m["event_ticker"] == e for m in everything))
    of_event = listed(sim, tmp_path, "--event", event.lower(), "--status", "all")  # case is the user's
    assert [m["ticker"] for m in of_event] == [m["ticker"] for m in everything if m["event_ticker"] == event]
    assert len(of_event) > 1
    series = event.split("-")[0]
    of_series = listed(sim, tmp_path, "--series", series, "--status", "all")
    assert {m["ticker"] for m in of_series} == {m["ticker"] for m in everything if m["ticker"].startswith(series + "-")}
    assert market_pages(sim)[-1]["query"]["series_ticker"] == [series]
    assert all("rules_primary" in m and "price_ranges" in m for m in everything)  # the whole object


def test_query_words_match_ticker_title_and_strike_in_any_case(sim_factory, tmp_path: Path) -> None:
    sim = sim_factory(rate=0, markets=300)
    everything = listed(sim, tmp_path)
    bitcoin = listed(sim, tmp_path, "BITCOIN", "5pm")
    assert bitcoin and {m["ticker"] for m in bitcoin} == {
        m["ticker"] for m in everything if "bitcoin" in m["title"].lower() and "5pm" in m["title"].lower()
    }
    by_strike = listed(sim, tmp_path, "or", "above", "kxethd")  # strike words and a ticker piece
    assert by_strike and all(m["ticker"].startswith("KXETHD-") for m in by_strike)
    assert len(listed(sim, tmp_path, "kxbtcd", "--limit", "3")) == 3


def test_sorts(sim_factory, tmp_path: Path) -> None:
    sim = sim_factory(rate=0, markets=300)
    by_volume = listed(sim, tmp_path, "--sort", "volume")
    volumes = [Decimal(m["volume_fp"]) for m in by_volume]
    assert volumes == sorted(volumes, reverse=True) and len(set(volumes)) > 1
    by_oi = listed(sim, tmp_path, "--sort", "open_interest", "--limit", "10")
    everything = listed(sim, tmp_path)
    top = sorted(everything, key=lambda m: (-Decimal(m["open_interest_fp"]), m["ticker"]))[:10]
    assert [m["ticker"] for m in by_oi] == [m["ticker"] for m in top]  # the top 10 of all, not of a page
    closes = [close_ts(m) for m in listed(sim, tmp_path, "--sort", "close")]
    assert closes == sorted(closes)
    spreads = [spread(m) for m in listed(sim, tmp_path, "--sort", "spread")]
    quoted = [s for s in spreads if s is not None]
    assert quoted == sorted(quoted) and spreads[: len(quoted)] == quoted  # unquoted markets last


def test_no_match_is_a_note_and_exit_0(sim_factory, tmp_path: Path) -> None:
    sim = sim_factory(rate=0)
    proc = run_cli(["markets", "--url", sim.url, "no-such-words-anywhere"], env=cache_env(tmp_path))
    assert proc.returncode == 0 and proc.stdout == b""
    assert "no market matches" in proc.stderr.decode() and "Traceback" not in proc.stderr.decode()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--status", "sideways"], "--status expects one of open, closed"),
        (["--sort", "price"], "--sort expects one of volume"),
        (["--env", "staging"], "staging"),
        (["--limit", "0"], "--limit"),
        (["--replay", "x.ndjson"], "--replay"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str, tmp_path: Path) -> None:
    proc = run_cli(["markets", *args], env=cache_env(tmp_path))
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.decode()
    assert needle in err and "Traceback" not in err and proc.stdout == b""


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers every GET the way the test asks: a status and a body."""

    reply: tuple[int, bytes] = (500, b"{}")
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).hits += 1
        status, body = self.reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile() -> Iterator[tuple[str, type[_Hostile]]]:
    handler = type("Handler", (_Hostile,), {"hits": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.server_address[1]}/trade-api/ws/v2", handler
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        ((500, b'{"error": {"code": "internal", "message": "boom"}}'), "HTTP 500"),
        ((429, b'{"error": "too many requests"}'), "HTTP 429"),
        ((200, b"<html>not json</html>"), "GET /trade-api/v2/markets"),
        ((200, b'{"markets": "nope", "cursor": ""}'), "not a list"),
        ((404, b"Not Found"), "HTTP 404"),
    ],
)
def test_a_failing_rest_server_is_one_line_and_exit_4(hostile, reply, needle: str, tmp_path: Path) -> None:
    url, handler = hostile
    handler.reply = reply
    proc = run_cli(["markets", "--url", url], env=cache_env(tmp_path))
    assert_clean_error(proc, 4, needle)
    assert handler.hits >= 1


def test_every_run_remembers_what_it_read_and_refresh_reloads(sim_factory, tmp_path: Path) -> None:
    sim = sim_factory(rate=0, markets=400)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    name = env_name_for("custom", sim.url)
    assert load_catalogue(name, environ=env) is None
    few = listed(sim, tmp_path, "--limit", "5")
    cat = load_catalogue(name, environ=env)
    assert cat is not None and cat.tickers() == sorted(m["ticker"] for m in few)  # a hit, right after
    settled = listed(sim, tmp_path, "--status", "settled")
    cat = load_catalogue(name, environ=env)
    assert set(cat.tickers()) == {m["ticker"] for m in few + settled}  # merged, not replaced
    head, _, entries = catalogue_path(name, env).read_text().partition("\n")
    old = {**json.loads(head), "fetched_at": time.time() - 7200}
    gone = json.dumps({"ticker": "KXGONE-26-T1", "event_ticker": "KXGONE-26"})
    line = f"M\tKXGONE-26-T1\tKXGONE-26\t{int(time.time()) - 7200}\t{gone}\n"
    catalogue_path(name, env).write_text(f"{json.dumps(old)}\n{entries}{line}")
    assert load_catalogue(name, environ=env) is None  # expired for the default TTL
    assert "KXGONE-26-T1" in load_catalogue(name, environ=env, max_age=None).markets
    listed(sim, tmp_path, "--refresh", "--series", "KXBTCD")
    cat = load_catalogue(name, environ=env)
    assert cat is not None and "KXGONE-26-T1" not in cat.markets  # a full reload replaces the cache
    everything = listed(sim, tmp_path, "--status", "all")
    open_now = {m["ticker"] for m in everything if m["status"] == "active"}
    assert open_now <= set(cat.markets) and cat.events
    assert set(cat.events) == {m["event_ticker"] for m in everything if m["ticker"] in open_now}
    text = tickers_path(name, env).read_text()
    assert all(f"{t}\t" in text for t in open_now)
    reloaded = listed(sim, tmp_path, "--refresh")  # the default listing answered from the reload itself
    assert {m["ticker"] for m in reloaded} == open_now
    assert [r["query"].get("status") for r in market_pages(sim)[-1:]] == [["open"]]


def test_an_unwritable_cache_is_a_warning_not_a_failure(sim_factory, tmp_path: Path) -> None:
    sim = sim_factory(rate=0)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli(["markets", "--url", sim.url], env=cli_env(XDG_CACHE_HOME=str(blocker)))
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == len(sim.tickers)
    assert "warning: could not save the market cache" in proc.stderr.decode()


@pytest.mark.parametrize(("width", "height"), [(80, 24), (60, 15)])
def test_the_table_on_a_terminal(sim_factory, tmp_path: Path, width: int, height: int) -> None:
    from tests.test_views_cli import run_on_pty

    sim = sim_factory(rate=0, markets=300)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    status, term, _ = run_on_pty(
        ["markets", "--url", sim.url, "--sort", "volume", "--limit", "8"], width, height, until=lambda t: False, env=env
    )
    assert status == 0
    term.fits()  # nothing past the edge, no number cut
    rows = [line for line in term.lines() if line.startswith("KX")]
    assert term.lines()[0].split()[:2] == ["ticker", "market"]
    top = lines_of(run_cli(["markets", "--url", sim.url, "--sort", "volume", "--limit", "8"], env=cache_env(tmp_path)))
    assert [r.split()[0] for r in rows] == [m["ticker"] for m in top]  # whole tickers, best first
    for row, m in zip(rows, top, strict=True):
        bid = Decimal(m["yes_bid_dollars"]) * 100
        assert f"{bid:f}".rstrip("0").rstrip(".") + "¢" in row or bid == 0
    header = term.lines()[0].split()
    assert {"bid", "ask"} <= set(header)
    if width >= 80:
        assert {"last", "volume", "closes"} <= set(header)
    else:
        assert len(header) < 7  # columns dropped whole, least useful first


def test_a_terminal_gets_50_rows_unless_told(sim_factory, tmp_path: Path) -> None:
    from tests.test_views_cli import run_on_pty

    sim = sim_factory(rate=0, markets=300)
    status, term, _ = run_on_pty(
        ["markets", "--url", sim.url],
        100,
        60,
        until=lambda t: False,
        stderr="pty",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert status == 0
    assert sum(line.startswith("KX") for line in term.lines()) == 50
    assert "showing 50 markets; --limit N shows more" in term.text()


def test_sim_on_other_commands_says_its_size_and_where_the_list_is(tmp_path: Path) -> None:
    import re

    book = run_cli(["book", "--sim", "--once", "--json"], env=cache_env(tmp_path))
    assert book.returncode == 0, book.stderr
    line = next(x for x in book.stderr.decode().splitlines() if "simulated exchange at" in x)
    found = re.search(r": (\d+) markets in (\d+) events \(kalshi markets --sim lists them\)$", line)
    assert found is not None, line
    listed = lines_of(run_cli(["markets", "--sim", "--json"], env=cache_env(tmp_path)))
    assert not any(m["ticker"] in line for m in listed), line  # a count, not the list: it stays one short line
    assert int(found[1]) == len(listed)
    assert int(found[2]) == len({m["event_ticker"] for m in listed})


# --- a whole listing of one event stands for it -------------------------------------------------


def catalogue_requests(sim) -> list[dict]:
    return [r for r in sim.rest_requests() if "/portfolio/" not in r["path"]]


def test_a_whole_listing_of_an_event_stands_for_it_in_the_resolver(keys, sim_factory, tmp_path: Path) -> None:
    """`kalshi markets --event E` read to its end records E as known whole (its paused markets
    asked for too: --status open lists only trading ones), so `book E` asks REST nothing."""
    sim = sim_factory(rate=0, markets=40)
    everything = lines_of(run_cli(["markets", "--url", sim.url, "--status", "all"], env=cache_env(tmp_path / "other")))
    event = max({m["event_ticker"] for m in everything}, key=lambda e: sum(m["event_ticker"] == e for m in everything))
    open_ones = sorted(m["ticker"] for m in everything if m["event_ticker"] == event and m["status"] == "active")
    assert len(open_ones) >= 2
    assert sorted(m["ticker"] for m in listed(sim, tmp_path, "--event", event.lower())) == open_ones
    paused = [r["query"] for r in catalogue_requests(sim) if r["query"].get("status") == ["paused"]]
    assert paused == [{"event_ticker": [event], "status": ["paused"], "limit": ["1000"]}]
    name = env_name_for("custom", sim.url)
    cat = load_catalogue(name, environ={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert cat is not None and cat.events == {event: {"event_ticker": event}}
    before = len(catalogue_requests(sim))
    proc = run_cli(["book", event, "--once", "--json", *signed_args(keys, sim.url)], env=cache_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert catalogue_requests(sim)[before:] == []  # answered from the cache
    assert sorted(orjson.loads(line)["market_ticker"] for line in proc.stdout.splitlines()) == open_ones
    assert f"{event}: an event, {len(open_ones)} open markets" in proc.stderr.decode()


@pytest.mark.parametrize("args", [["--limit", "1"], ["--status", "closed"], ["--series", "KXNONE"]])
def test_a_listing_that_may_miss_open_markets_does_not_stand_for_the_event(sim_factory, tmp_path: Path, args) -> None:
    sim = sim_factory(rate=0, markets=40)
    everything = lines_of(run_cli(["markets", "--url", sim.url], env=cache_env(tmp_path / "other")))
    event = max({m["event_ticker"] for m in everything}, key=lambda e: sum(m["event_ticker"] == e for m in everything))
    listed(sim, tmp_path, "--event", event, *args)
    cat = load_catalogue(env_name_for("custom", sim.url), environ={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert cat is None or event not in cat.events


class _Paging(http.server.BaseHTTPRequestHandler):
    """A catalogue with one event: two trading markets, one paused (what --status asks for)."""

    markets = [
        {"ticker": "KXE-26-A", "event_ticker": "KXE-26", "status": "active", "title": "A"},
        {"ticker": "KXE-26-B", "event_ticker": "KXE-26", "status": "active", "title": "B"},
        {"ticker": "KXE-26-P", "event_ticker": "KXE-26", "status": "inactive", "title": "P"},
    ]
    words = {"open": "active", "paused": "inactive"}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        wanted = {self.words[w] for w in query.get("status", ["open,paused"])[0].split(",")}
        rows = [m for m in self.markets if m["status"] in wanted and m["event_ticker"] in query["event_ticker"]]
        body = json.dumps({"markets": rows, "cursor": ""}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_events_paused_markets_are_remembered_not_printed_and_its_cached_object_kept(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Paging)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"ws://127.0.0.1:{server.server_address[1]}/trade-api/ws/v2"
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    name = env_name_for("custom", url)
    try:
        cached = Catalogue()
        cached.remember_events([{"event_ticker": "KXE-26", "series_ticker": "KXE", "title": "The event"}])
        save_catalogue(name, cached, environ=env)
        proc = run_cli(["markets", "--event", "KXE-26", "--url", url], env=cache_env(tmp_path))
    finally:
        server.shutdown()
        server.server_close()
    assert [m["ticker"] for m in lines_of(proc)] == ["KXE-26-A", "KXE-26-B"]  # --status open, as asked
    cat = load_catalogue(name, environ=env)
    assert cat is not None and sorted(cat.markets) == ["KXE-26-A", "KXE-26-B", "KXE-26-P"]
    assert cat.events == {"KXE-26": {"event_ticker": "KXE-26", "series_ticker": "KXE", "title": "The event"}}
    assert cat.age("E", "KXE-26") < 60  # fetched again now: it ages from this listing
