"""`kalshi book` as a subprocess against the simulator: exact books through gaps and drops."""

from __future__ import annotations

import signal
import time

import orjson

from tests.conftest import assert_clean_error, run_cli, signed_args, spawn_cli
from tests.inprocess import run_inprocess
from tests.test_cli_tail import lines_of, stop, subscribed, wait_for


def last_lines(path) -> dict[str, dict]:
    last: dict[str, dict] = {}
    for line in lines_of(path):
        obj = orjson.loads(line)
        last[obj["market_ticker"]] = obj
    return last


def matches_truth(sim, tickers, path) -> bool:
    last = last_lines(path)
    for t in tickers:
        truth = sim.true_book(t)
        got = last.get(t)
        if got is None:
            return False
        if (got["yes_dollars_fp"], got["no_dollars_fp"], got["clock"]) != (
            truth.get("yes_dollars_fp", []),
            truth.get("no_dollars_fp", []),
            truth["clock"],
        ):
            return False
    return True


def test_book_json_heals_after_gap_and_dropped_connection(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    tickers = sim.tickers
    out = tmp_path / "book.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["book", *tickers, "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: matches_truth(sim, tickers, out), what="first books")
            sim.step(40)
            wait_for(lambda: matches_truth(sim, tickers, out), what="books after deltas")
            sim.skip_seq("orderbook_delta", 3)
            sim.step(40)
            wait_for(lambda: matches_truth(sim, tickers, out), what="books healed after a seq gap")
            sim.drop_connections()
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 1, what="reconnect")
            sim.step(40)
            wait_for(lambda: matches_truth(sim, tickers, out), what="books healed after reconnect")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    assert "seq gap" in err and "reconnecting" in err
    for line in lines_of(out):
        obj = orjson.loads(line)
        assert set(obj) == {
            "market_ticker",
            "market_id",
            "seq",
            "clock",
            "yes_dollars_fp",
            "no_dollars_fp",
            "best_yes_bid",
            "best_yes_ask",
            "ts_ms",
        }


def test_once_prints_each_market_once(keys, sim_factory):
    sim = sim_factory(rate=50, markets=4)
    tickers = sim.tickers[:2]
    proc = run_cli(["book", *tickers, "--once", "--json", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    got = [orjson.loads(x)["market_ticker"] for x in proc.stdout.splitlines()]
    assert sorted(got) == sorted(tickers)


def test_depth_limits_levels(keys, sim_factory):
    sim = sim_factory(rate=0, markets=2)
    proc = run_cli(["book", sim.tickers[0], "--once", "--json", "--depth", "1", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    line = orjson.loads(proc.stdout)
    assert len(line["yes_dollars_fp"]) <= 1 and len(line["no_dollars_fp"]) <= 1
    truth = sim.true_book(sim.tickers[0])
    assert line["yes_dollars_fp"] == truth.get("yes_dollars_fp", [])[-1:]


def test_unknown_market_is_a_clear_error(keys, sim_factory):
    sim = sim_factory(rate=0)
    proc = run_cli(["book", sim.tickers[0], "KXNOSUCH-26DEC31-X1", "--json", *signed_args(keys, sim.url)])
    assert_clean_error(proc, 2, "unknown market: KXNOSUCH-26DEC31-X1")
    assert sim.connections == 0  # told before connecting


def test_unknown_market_without_rest_times_out_clearly(keys, sim_factory):
    sim = sim_factory(rate=0)
    sim.fail_rest(500, 5)  # no usable REST answer: the stream and --wait decide
    proc = run_cli(["book", "KXNOSUCH-26DEC31-X1", "--json", "--wait", "2", *signed_args(keys, sim.url)])
    assert_clean_error(proc, 2, "no order book for KXNOSUCH-26DEC31-X1", "check the ticker")


def test_book_without_a_key_says_how_to_give_one():
    assert_clean_error(run_inprocess(["book", "KXHIGHNY-26NOV25-B52.5"]), 3, "no API key configured", "--private-key")


def test_book_needs_a_ticker():
    assert_clean_error(run_inprocess(["book"]), 2, "name at least one market")


def test_sim_once_works_with_no_account():
    proc = run_inprocess(["book", "--sim", "--once", "--json", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 3


def test_sigterm_leaves_whole_lines(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=400, markets=3)
    out = tmp_path / "book.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["book", *sim.tickers, "--json", *signed_args(keys, sim.url)], stdout=fh)
        wait_for(lambda: len(lines_of(out)) > 20, what="some lines")
        time.sleep(0.3)
        code, err = stop(proc, signal.SIGTERM)
    assert code == 0, err
    data = out.read_bytes()
    assert data.endswith(b"\n")
    for line in data.splitlines():
        orjson.loads(line)


def test_every_prints_a_line_per_applied_frame(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=2)
    tickers = sim.tickers
    out = tmp_path / "book.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["book", *tickers, "--json", "--every", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: matches_truth(sim, tickers, out), what="first books")
            sim.step(60)
            wait_for(lambda: matches_truth(sim, tickers, out), what="books after deltas")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    seqs = [orjson.loads(line)["seq"] for line in lines_of(out)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # one sid: every frame's seq, each once
    assert len(seqs) > 2 * len(tickers)


def test_a_burst_gives_fewer_lines_each_a_state_every_also_printed(keys, sim_factory, tmp_path):
    """Default: after a burst a market gets one line, its book after the burst; --every, on the same
    feed, prints a line per applied frame. Every default line is one of --every's states."""
    sim = sim_factory(rate=0, markets=2)
    tickers = sim.tickers
    outs = {"default": tmp_path / "default.ndjson", "every": tmp_path / "every.ndjson"}
    procs = {}
    with outs["default"].open("wb") as plain, outs["every"].open("wb") as every:
        procs["default"] = spawn_cli(["book", *tickers, "--json", *signed_args(keys, sim.url)], stdout=plain)
        procs["every"] = spawn_cli(["book", *tickers, "--json", "--every", *signed_args(keys, sim.url)], stdout=every)
        try:
            wait_for(lambda: all(matches_truth(sim, tickers, out) for out in outs.values()), what="first books")
            first = {mode: len(lines_of(out)) for mode, out in outs.items()}
            sim.stall(0.5)  # the deltas queue up and then arrive together
            sim.step(300)
            wait_for(lambda: all(matches_truth(sim, tickers, out) for out in outs.values()), what="books after")
        finally:
            results = {mode: stop(proc) for mode, proc in procs.items()}
    for code, err in results.values():
        assert code == 0, err
    burst = {mode: [orjson.loads(line) for line in lines_of(out)[first[mode] :]] for mode, out in outs.items()}
    states: dict[tuple[str, int], list] = {}
    for obj in burst["every"]:
        states.setdefault((obj["market_ticker"], obj["clock"]), []).append(
            (obj["yes_dollars_fp"], obj["no_dollars_fp"])
        )
    assert burst["default"] and len(burst["default"]) < len(burst["every"])
    for obj in burst["default"]:
        assert (obj["yes_dollars_fp"], obj["no_dollars_fp"]) in states[obj["market_ticker"], obj["clock"]]
