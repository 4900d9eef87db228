"""The local catalogue cache (kalshi_cli.catalogue): round trip, expiry, bad files, where it lives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.catalogue import (
    KEPT_FIELDS,
    Catalogue,
    cache_dir,
    catalogue_path,
    env_name_for,
    load_catalogue,
    tickers_path,
)
from kalshi_cli.catalogue_save import read_cached, save_catalogue


def market(ticker: str, **extra) -> dict:
    return {
        "ticker": ticker,
        "event_ticker": ticker.rsplit("-", 1)[0],
        "title": f"Title of {ticker}",
        "yes_sub_title": "above 40°",
        "status": "active",
        "rules_primary": "long text " * 50,
        **extra,
    }


def test_round_trip_keeps_what_the_cli_reads(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    cat = Catalogue()
    cat.remember_markets([market("KXB-26-T2"), market("KXB-26-T1"), {"no": "ticker"}])
    cat.remember_events([{"event_ticker": "KXB-26", "title": "B?", "markets": [market("KXB-26-T3")]}])
    assert save_catalogue("demo", cat, environ=env) is True
    back = load_catalogue("demo", environ=env)
    assert back is not None
    assert back.tickers() == ["KXB-26-T1", "KXB-26-T2", "KXB-26-T3"]
    assert back.events == {"KXB-26": {"event_ticker": "KXB-26", "title": "B?"}}  # nested markets taken out
    assert [m["ticker"] for m in back.markets_of_event("KXB-26")] == back.tickers()
    assert "rules_primary" not in back.markets["KXB-26-T1"]
    assert set(back.markets["KXB-26-T1"]) <= KEPT_FIELDS and back.markets["KXB-26-T1"]["status"] == "active"
    assert back.fetched_at == pytest.approx(cat.fetched_at)
    lines = tickers_path("demo", env).read_text().splitlines()
    assert lines[0].startswith("#")
    assert lines[1:3] == ["KXB-26\tevent: B?, 3 markets", "KXB-26-T1\tTitle of KXB-26-T1 — above 40°"]
    assert load_catalogue("prod", environ=env) is None  # per environment


def test_expiry_and_bad_files_read_as_no_cache(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    old = Catalogue(fetched_at=time.time() - 7200)
    old.remember_markets([market("KXA-1")])
    save_catalogue("prod", old, environ=env)
    assert load_catalogue("prod", environ=env, max_age=3600) is None
    assert load_catalogue("prod", environ=env, max_age=None) is not None
    future = Catalogue(fetched_at=time.time() + 7200)  # a clock that went back: not trusted either
    save_catalogue("prod", future, environ=env)
    assert load_catalogue("prod", environ=env) is None
    path = catalogue_path("prod", env)
    for junk in (b"", b"{not json", b"[]", b'{"format": 99}', b'{"format": 1, "fetched_at": "x"}'):
        path.write_bytes(junk)
        assert load_catalogue("prod", environ=env, max_age=None) is None


def test_an_unwritable_cache_is_a_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")  # the cache's parent is a file: even root cannot create the folder
    warnings: list[str] = []
    ok = save_catalogue("prod", Catalogue(), environ={"XDG_CACHE_HOME": str(blocker)}, warn=warnings.append)
    assert ok is False and len(warnings) == 1 and "could not save the market cache" in warnings[0]
    assert blocker.read_text() == "x"


def test_where_it_lives(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert cache_dir(home) == tmp_path / ".cache" / "kalshi"
    assert cache_dir({**home, "XDG_CACHE_HOME": "/x"}) == Path("/x/kalshi")
    assert cache_dir({"KALSHI_MARKETS_CACHE": "/c/dir", "XDG_CACHE_HOME": "/x"}) == Path("/c/dir")
    assert cache_dir({"KALSHI_MARKETS_CACHE": "/c/markets.txt"}) == Path("/c")  # the legacy list's folder
    assert env_name_for("prod") == "prod" and env_name_for("sim", "ws://127.0.0.1:1/x") == "sim"
    assert env_name_for("custom", "ws://127.0.0.1:8765/trade-api/ws/v2") == "url-127.0.0.1-8765"
    assert env_name_for("custom", "wss://a/b/../c?x=1") == "url-a"
    assert "/" not in catalogue_path("../../etc", {"XDG_CACHE_HOME": "/x"}).name


tickers = st.sampled_from(["KXA-1-T1", "KXA-1-T2", "KXB-2-B3", "KXB-2-B4"])


@given(st.lists(st.tuples(tickers, st.integers(0, 99)), max_size=30))
def test_remembering_keeps_the_last_object_of_each_ticker(seen: list[tuple[str, int]]) -> None:
    cat = Catalogue()
    for ticker, version in seen:
        cat.remember_markets([market(ticker, volume_fp=str(version))])
    last = {ticker: str(version) for ticker, version in seen}
    assert {t: m["volume_fp"] for t, m in cat.markets.items()} == last
    for event in ("KXA-1", "KXB-2"):
        assert [m["ticker"] for m in cat.markets_of_event(event)] == sorted(t for t in last if t.startswith(event))


def test_a_merging_save_keeps_what_it_does_not_replace(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = Catalogue()
    first.remember_markets([market("KXA-1-T1"), market("KXA-1-T2"), market("KXB-2-T1")])
    first.remember_events([{"event_ticker": "KXB-2", "title": "Bee?"}])
    save_catalogue("prod", first, environ=env)
    later = Catalogue()
    later.remember_markets([market("KXA-1-T2", status="closed"), market("KXC-3-T1")])
    save_catalogue("prod", later, environ=env, merge=True)
    back = load_catalogue("prod", environ=env)
    assert back is not None and back.tickers() == ["KXA-1-T1", "KXA-1-T2", "KXB-2-T1", "KXC-3-T1"]
    assert back.markets["KXA-1-T2"]["status"] == "closed" and back.markets["KXA-1-T1"]["status"] == "active"
    assert back.events == {"KXB-2": {"event_ticker": "KXB-2", "title": "Bee?"}}
    lines = tickers_path("prod", env).read_text().splitlines()[1:]
    assert lines == [
        "KXA-1\tevent: 2 markets",
        "KXA-1-T1\tTitle of KXA-1-T1 — above 40°",
        "KXA-1-T2\tTitle of KXA-1-T2 — above 40°",
        "KXB-2\tevent: Bee?, 1 market",
        "KXB-2-T1\tTitle of KXB-2-T1 — above 40°",
        "KXC-3\tevent: 1 market",
        "KXC-3-T1\tTitle of KXC-3-T1 — above 40°",
    ]
    save_catalogue("prod", later, environ=env)  # not merging: the cache is what was given
    assert load_catalogue("prod", environ=env).tickers() == ["KXA-1-T2", "KXC-3-T1"]


def test_markets_set_by_hand_are_saved_too(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    cat = Catalogue()
    cat.remember_markets([market("KXA-1-T1")])
    cat.markets["KXA-1-T1"] = {**cat.markets["KXA-1-T1"], "status": "finalized"}  # replaced, not remembered
    cat.markets["KXA-1-T9"] = market("KXA-1-T9")
    save_catalogue("prod", cat, environ=env)
    back = load_catalogue("prod", environ=env)
    assert back.markets["KXA-1-T1"]["status"] == "finalized" and "rules_primary" not in back.markets["KXA-1-T9"]


saves = st.lists(
    st.tuples(
        st.lists(st.tuples(tickers, st.sampled_from(["active", "closed", "finalized"])), max_size=6),
        st.lists(st.sampled_from(["KXA-1", "KXB-2", "KXC-3"]), max_size=2),
        st.booleans(),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None)
@given(saves)
def test_merging_and_replacing_saves_agree_with_a_model(tmp_path_factory, runs) -> None:
    """Whatever order of partial (merging) and full (replacing) saves, the cache reads back as the
    model says: each market's last status, events likewise, and a completion line per market."""
    env = {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("cache"))}
    markets: dict[str, str] = {}
    events: set[str] = set()
    for seen, seen_events, merge in runs:
        cat = Catalogue()
        cat.remember_markets([market(t, status=s) for t, s in seen])
        cat.remember_events([{"event_ticker": e, "title": e.lower()} for e in seen_events])
        save_catalogue("prod", cat, environ=env, merge=merge)
        latest = dict(seen)
        markets = {**markets, **latest} if merge else latest
        events = events | set(seen_events) if merge else set(seen_events)
    back = load_catalogue("prod", environ=env)
    assert back is not None
    assert {t: m["status"] for t, m in back.markets.items()} == markets
    assert set(back.events) == events
    listed = [line.split("\t")[0] for line in tickers_path("prod", env).read_text().splitlines()[1:]]
    assert sorted(t for t in listed if t.count("-") == 2) == sorted(markets)
    assert listed == sorted(listed)
    keys = [line.split(b"\t")[:2] for line in catalogue_path("prod", env).read_bytes().splitlines()[1:]]
    assert len(keys) == len({tuple(k) for k in keys})  # each entry once, however often it was merged


def test_each_entry_ages_on_its_own_through_merging_saves(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = Catalogue()
    first.remember_markets([market("KXA-1-T1"), market("KXA-1-T2")])
    first.remember_events([{"event_ticker": "KXA-1", "title": "A?"}])
    first.remember_series("KXA", ["KXA-1"])
    save_catalogue("prod", first, environ=env)
    path = catalogue_path("prod", env)
    old = int(time.time()) - 7200
    head, *entries = path.read_bytes().splitlines()
    path.write_bytes(
        b"\n".join([head, *(b"\t".join([*e.split(b"\t")[:3], b"%d" % old, e.split(b"\t", 4)[4]]) for e in entries)])
        + b"\n"
    )
    later = Catalogue()
    later.remember_markets([market("KXA-1-T2", status="closed")])
    save_catalogue("prod", later, environ=env, merge=True)
    back = load_catalogue("prod", environ=env, max_age=None)
    assert back is not None and back.series == {"KXA": ["KXA-1"]} and set(back.events) == {"KXA-1"}
    assert back.age("M", "KXA-1-T1") >= 7000 and back.age("E", "KXA-1") >= 7000 and back.age("S", "KXA") >= 7000
    assert back.age("M", "KXA-1-T2") < 600 and back.markets["KXA-1-T2"]["status"] == "closed"
    young = load_catalogue("prod", environ=env, max_age=3600)
    assert young is not None and young.tickers() == ["KXA-1-T2"] and not young.events and not young.series


def test_lines_read_early_merge_like_lines_read_at_save(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = Catalogue()
    first.remember_markets([market("KXA-1-T1"), market("KXB-2-T1")])
    first.remember_events([{"event_ticker": "KXB-2", "title": "Bee?"}])
    save_catalogue("prod", first, environ=env)
    early = read_cached("prod", env)
    later = Catalogue()
    later.remember_markets([market("KXB-2-T1", status="closed")])
    later.remember_events([{"event_ticker": "KXB-2", "title": "Bee!"}])
    save_catalogue("prod", later, environ=env, merge=True, cached=early)
    one = (catalogue_path("prod", env).read_bytes(), tickers_path("prod", env).read_text())
    save_catalogue("prod", first, environ=env)
    save_catalogue("prod", later, environ=env, merge=True)
    two = (catalogue_path("prod", env).read_bytes(), tickers_path("prod", env).read_text())
    strip = [b"\t".join(line.split(b"\t")[:3]) for line in one[0].splitlines()[1:]]
    assert strip == [b"\t".join(line.split(b"\t")[:3]) for line in two[0].splitlines()[1:]] and one[1] == two[1]
    assert "KXB-2\tevent: Bee!, 1 market" in one[1]
