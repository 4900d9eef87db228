"""``--redundant 2`` as a user runs it: the CLI as a subprocess, two connections to the simulator.

The simulator is driven by hand (``rate=0``, ``step``), so the exchange's true events are known:
the trades and book deltas each step published, in order. One connection at a time is aborted
(``drop_one``: what it had queued is lost, as on a network failure) while the other carries the
feed; the CLI's stdout must be the exchange's stream as one clean connection would show it.
"""

from __future__ import annotations

import os

import orjson
import pytest

from tests.conftest import cli_env, signed_args, spawn_cli
from tests.test_cli_book import matches_truth
from tests.test_cli_tail import lines_of, stop, wait_for
from tests.test_redundant_heads import block_msgspec

ROUNDS = 4  # connection drops (alternating between the two)


def live_subscribed(sim, subs: int) -> int:
    """How many open connections have all ``subs`` subscriptions confirmed."""
    return sum(sum('"type":"subscribed"' in f for f in list(c.log)) >= subs for c in list(sim.server._live))


def frames(path) -> list[dict]:
    return [orjson.loads(line) for line in lines_of(path)]


def private_of(events) -> tuple[list[tuple], list[tuple]]:
    """The fills and order updates the exchange published, in order."""
    fills = [(e.msg["trade_id"], e.msg["order_id"]) for e in events if e.type == "fill"]
    orders = [(e.msg["order_id"], e.msg["status"], e.msg["fill_count_fp"]) for e in events if e.type == "user_order"]
    return fills, orders


def truth_of(events) -> tuple[list[str], dict[str, list[tuple]]]:
    """The trade ids, and per market the book deltas, the exchange published, in order."""
    trades = [e.msg["trade_id"] for e in events if e.type == "trade"]
    deltas: dict[str, list[tuple]] = {}
    for e in events:
        if e.type == "orderbook_delta":
            m = e.msg
            deltas.setdefault(m["market_ticker"], []).append((m["clock"], m["side"], m["price_dollars"], m["delta_fp"]))
    return trades, deltas


def run_with_drops(sim, proc, out, *, subs: int, rounds: int = ROUNDS, caught_up=None, lose: bool = False) -> list:
    """Step the exchange, drop one connection, step while it is away, wait for it to be back
    and in line; alternate which one drops. With ``lose``, the one to drop stalls first and
    loses what the exchange sent it since (only the other has those frames). Returns every
    event the exchange published."""
    wait_for(lambda: live_subscribed(sim, subs) == 2, what="both connections subscribed")
    events = list(sim.step(30))
    for i in range(rounds):
        wait_for(lambda seen=events: caught_up(seen), what="the stream caught up")
        if lose:
            sim.server._live[0].stalled = True  # its writer sends nothing more
            events += sim.step(30)
        assert sim.drop_one(0), "no connection to drop"  # the oldest: each in turn
        events += sim.step(30)  # only the other connection carries these
        wait_for(lambda: live_subscribed(sim, subs) == 2, what=f"reconnect {i + 1}")
        events += sim.step(30)  # both again: the one back lines up
    wait_for(lambda: caught_up(events), what="the stream caught up")
    return events


@pytest.mark.parametrize("msgspec", ["installed", "blocked"])  # frames read in part (redundant_heads), or whole
def test_tail_json_with_one_connection_dropped_in_turn_is_the_exchange_stream(keys, sim_factory, tmp_path, msgspec):
    sim = sim_factory(rate=0, markets=3)
    env = None
    if msgspec == "blocked":
        stub, marker = block_msgspec(tmp_path)
        env = cli_env(PYTHONPATH=os.pathsep.join([str(stub), *filter(None, [os.environ.get("PYTHONPATH")])]))
    out = tmp_path / "out.ndjson"
    markets = sum((["-m", t] for t in sim.tickers), [])
    channels = ["trade", "orderbook_delta", "fill", "user_orders", "ticker"]
    args = ["tail", *channels, *markets, "--json", "--redundant", "2", *signed_args(keys, sim.url)]
    counted = ("trade", "fill", "user_order", "ticker")

    def caught_up(events) -> bool:
        wanted = sum(e.type in counted for e in events)
        return sum(f["type"] in counted for f in frames(out)) >= wanted

    with out.open("wb") as fh:
        proc = spawn_cli(args, stdout=fh, env=env)
        try:
            events = run_with_drops(sim, proc, out, subs=5, caught_up=caught_up, lose=True)
        finally:
            code, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    got = frames(out)
    trades, deltas = truth_of(events)
    assert [f["msg"]["trade_id"] for f in got if f["type"] == "trade"] == trades  # each once, in order
    fills, orders = private_of(events)
    assert [(f["msg"]["trade_id"], f["msg"]["order_id"]) for f in got if f["type"] == "fill"] == fills
    mine = [
        (f["msg"]["order_id"], f["msg"]["status"], f["msg"]["fill_count_fp"]) for f in got if f["type"] == "user_order"
    ]
    assert mine == orders
    tickers = [e.msg for e in events if e.type == "ticker"]  # no exchange key: merged by content
    assert tickers and [f["msg"] for f in got if f["type"] == "ticker"] == tickers  # each once, in order
    for ticker, true in deltas.items():
        mine = [f["msg"] for f in got if f["type"] == "orderbook_delta" and f["msg"]["market_ticker"] == ticker]
        assert [(m["clock"], m["side"], m["price_dollars"], m["delta_fp"]) for m in mine] == true, ticker
    assert sorted(f["msg"]["market_ticker"] for f in got if f["type"] == "orderbook_snapshot") == sorted(sim.tickers)
    for sid in {f["sid"] for f in got if "seq" in f}:  # the merged stream numbers its own frames, densely
        seqs = [f["seq"] for f in got if f["sid"] == sid]
        assert seqs == list(range(1, len(seqs) + 1)), sid
    assert "connection 1 down" in err and "connection 2 down" in err
    assert "connection 1 back" in err and "connection 2 back" in err
    assert "seq gap" not in err and "all 2 connections down" not in err and "backfill" not in err, err
    assert msgspec == "installed" or marker.exists()  # the run without msgspec had none


def test_book_json_with_one_connection_dropped_in_turn_ends_on_the_true_books(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    tickers = sim.tickers
    out = tmp_path / "book.ndjson"
    args = ["book", *tickers, "--json", "--every", "--redundant", "2", *signed_args(keys, sim.url)]
    with out.open("wb") as fh:
        proc = spawn_cli(args, stdout=fh)
        try:
            run_with_drops(sim, proc, out, subs=1, caught_up=lambda _: matches_truth(sim, tickers, out))
        finally:
            code, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    assert "connection 1 down" in err and "connection 2 down" in err
    assert "re-snapshotting" not in err and "out of sync" not in err and "seq gap" not in err, err
    clocks: dict[str, int] = {}
    for line in frames(out):  # every line a true state: a market's clock only moves forward
        assert line["clock"] >= clocks.get(line["market_ticker"], 0)
        clocks[line["market_ticker"]] = line["clock"]


@pytest.mark.parametrize("channel", ["trade", "orderbook_delta"])
def test_a_seq_gap_on_one_connection_is_covered_by_the_other(keys, sim_factory, tmp_path, channel):
    sim = sim_factory(rate=0, markets=2)
    out = tmp_path / "out.ndjson"
    markets = sum((["-m", t] for t in sim.tickers), [])
    args = ["tail", channel, *markets, "--json", "--redundant", "2", *signed_args(keys, sim.url)]
    with out.open("wb") as fh:
        proc = spawn_cli(args, stdout=fh)
        try:
            wait_for(lambda: live_subscribed(sim, 1) == 2, what="both connections subscribed")
            snapshots = 2 if channel == "orderbook_delta" else 0
            events = list(sim.step(20))
            first = snapshots + sum(e.type == channel for e in events)
            wait_for(lambda: len(lines_of(out)) >= first, what="first frames")
            sim.skip_seq(channel, 3, only=0)
            events += sim.step(20)
            expected = snapshots + sum(e.type == channel for e in events)
            wait_for(lambda: len(lines_of(out)) >= expected, what="the frames after the gap")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    got = frames(out)
    if channel == "trade":
        assert [f["msg"]["trade_id"] for f in got] == truth_of(events)[0]
    else:
        for ticker, true in truth_of(events)[1].items():
            mine = [f["msg"] for f in got if f["type"] == "orderbook_delta" and f["msg"]["market_ticker"] == ticker]
            assert [(m["clock"], m["side"], m["price_dollars"], m["delta_fp"]) for m in mine] == true
    assert "connection 1: seq gap" in err or "connection 2: seq gap" in err, err
    assert "kalshi: warning: seq gap" not in err, err  # the stream itself saw none


def test_the_same_gap_on_both_connections_is_the_normal_gap_and_resync(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=2)
    tickers = sim.tickers
    out = tmp_path / "book.ndjson"
    args = ["book", *tickers, "--json", "--every", "--redundant", "2", *signed_args(keys, sim.url)]
    with out.open("wb") as fh:
        proc = spawn_cli(args, stdout=fh)
        try:
            wait_for(lambda: live_subscribed(sim, 1) == 2, what="both connections subscribed")
            sim.step(20)
            wait_for(lambda: matches_truth(sim, tickers, out), what="first books")
            sim.skip_seq("orderbook_delta", 2)  # on both: nobody has those frames
            sim.step(20)
            wait_for(lambda: matches_truth(sim, tickers, out), what="books after the resync")
            sim.drop_connections()  # both down: the stream is down, and heals as one connection would
            wait_for(lambda: live_subscribed(sim, 1) == 2, what="both back")
            sim.step(20)
            wait_for(lambda: matches_truth(sim, tickers, out), what="books after both reconnected")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    assert "re-snapshotting" in err, err  # the book feed's own recovery ran
    assert "connection 1 down" in err and "connection 2 down" in err, err
    assert "1 of 2 still streaming" in err and "0 of 2 still streaming" in err, err  # then both were down


def test_redundant_refuses_a_replay_and_too_many_connections(tmp_path):
    from tests.conftest import assert_clean_error
    from tests.inprocess import run_inprocess

    rec = tmp_path / "rec.ndjson"
    rec.write_bytes(b'{"type":"trade","sid":1,"seq":1,"msg":{"trade_id":"a","market_ticker":"M"},"recv_ts_ms":1}\n')
    assert_clean_error(run_inprocess(["tail", "trade", "--replay", str(rec), "--redundant", "2"]), 2, "--redundant")
    assert_clean_error(run_inprocess(["tail", "trade", "--sim", "--redundant", "65"]), 2, "--redundant takes 1 to 64")


def test_record_with_one_connection_dropped_in_turn_records_each_event_once(keys, sim_factory, tmp_path):
    from tests.test_cli_record_replay import meta_events, on_disk

    sim = sim_factory(rate=0, markets=3)
    rec = tmp_path / "rec"
    markets = sum((["-m", t] for t in sim.tickers), [])
    args = [
        "record",
        "trade",
        "orderbook_delta",
        *markets,
        "-o",
        str(rec),
        "--redundant",
        "2",
        *signed_args(keys, sim.url),
    ]

    def recorded() -> list[dict]:
        return [orjson.loads(line) for line in on_disk(rec)]

    def caught_up(events) -> bool:
        return sum(f["type"] == "trade" for f in recorded()) >= len(truth_of(events)[0])

    proc = spawn_cli(args)
    try:
        events = run_with_drops(sim, proc, rec, subs=2, caught_up=caught_up)
        truth_books = {t: sim.true_book(t) for t in sim.tickers}
    finally:
        code, err = stop(proc)
    assert code == 0, err
    got = recorded()
    trades, deltas = truth_of(events)
    assert [f["msg"]["trade_id"] for f in got if f["type"] == "trade"] == trades
    for ticker, true in deltas.items():
        mine = [f["msg"] for f in got if f["type"] == "orderbook_delta" and f["msg"]["market_ticker"] == ticker]
        assert [(m["clock"], m["side"], m["price_dollars"], m["delta_fp"]) for m in mine] == true, ticker
    meta = meta_events(rec)
    assert meta.count("connect") == 1 and "gap" not in meta and "disconnect" not in meta, meta  # one stream
    from kalshi_cli.book import OrderBook
    from kalshi_cli.encoders import book_json_bytes

    for ticker in sim.tickers:  # the recording rebuilds the true books
        book = OrderBook(ticker)
        for f in got:
            if f["msg"].get("market_ticker") != ticker:
                continue
            if f["type"] == "orderbook_snapshot":
                book.apply_snapshot(f["msg"])
            elif f["type"] == "orderbook_delta":
                book.apply_delta(f["msg"])
        line = orjson.loads(book_json_bytes(book, None, 0))
        truth = truth_books[ticker]
        assert (line["yes_dollars_fp"], line["no_dollars_fp"], line["clock"]) == (
            truth.get("yes_dollars_fp", []),
            truth.get("no_dollars_fp", []),
            truth["clock"],
        )
