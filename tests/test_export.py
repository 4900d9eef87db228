"""`kalshi export` of recordings made against the simulator through a seq gap and a dropped
connection, checked row by row against the simulator's own truth, read back with DuckDB.

The truth is what the exchange did: every event ``sim.step`` returned (delivered or not),
books rebuilt here from the first true books with plain Decimal dicts (not the tool's book).
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import duckdb
import orjson
import pytest

from kalshi_cli import continuity as live
from tests.conftest import run_cli, signed_args, spawn_cli
from tests.test_cli_record_replay import equal_lengths, markets, on_disk, recorded_lines
from tests.test_cli_tail import data_frames, lines_of, live_and_wanted, stop, subscribed, wait_for

pytestmark = pytest.mark.slow

Top = tuple[Decimal | None, Decimal | None, Decimal | None, Decimal | None]


class Truth:
    """The exchange's books and trades, from its first true books and every event it published."""

    def __init__(self, sim) -> None:
        self.books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
        self.tops: dict[tuple[str, int], Top] = {}  # (market, clock) -> the top once that action was done
        self.trades: dict[str, dict] = {}
        for ticker in sim.tickers:
            msg = sim.true_book(ticker)
            self.books[ticker] = {
                side: {Decimal(p): Decimal(s) for p, s in msg.get(f"{side}_dollars_fp", [])} for side in ("yes", "no")
            }
            self.tops[(ticker, msg["clock"])] = self.top(ticker)

    def top(self, ticker: str) -> Top:
        yes, no = self.books[ticker]["yes"], self.books[ticker]["no"]
        bid = max(yes) if yes else None
        best_no = max(no) if no else None
        return (
            bid,
            yes[bid] if bid is not None else None,
            Decimal(1) - best_no if best_no is not None else None,
            no[best_no] if best_no is not None else None,
        )

    def step(self, sim, n: int, pause: float = 0.0) -> None:
        """``n`` exchange actions, ``pause`` seconds apart (the exchange's clock is the wall clock)."""
        for _ in range(n):
            self._apply(sim.step(1))
            time.sleep(pause)

    def _apply(self, events) -> None:
        for ev in events:
            if ev.type == "orderbook_delta":
                m = ev.msg
                ladder = self.books[m["market_ticker"]][m["side"]]
                price = Decimal(m["price_dollars"])
                ladder[price] = ladder.get(price, Decimal(0)) + Decimal(m["delta_fp"])
                if ladder[price] == 0:
                    del ladder[price]
                self.tops[(m["market_ticker"], m["clock"])] = self.top(m["market_ticker"])
            elif ev.type == "trade":
                self.trades[ev.msg["trade_id"]] = ev.msg


def query(sql: str) -> list[tuple]:
    return duckdb.sql(sql).fetchall()


def table(out: Path, name: str) -> str:
    return f"read_parquet('{out}/{name}/*/*.parquet', hive_partitioning=true)"


def record_through_faults(keys, sim, rec: Path) -> Truth:
    """Record book, trade and ticker through a book seq gap and a dropped connection."""
    truth = Truth(sim)
    proc = spawn_cli(
        ["record", "orderbook_delta", "trade", "ticker", *markets(sim), "-o", str(rec), *signed_args(keys, sim.url)]
    )
    try:
        wait_for(lambda: subscribed(sim) >= 3, what="subscriptions")
        truth.step(sim, 40, 0.01)
        sim.skip_seq("orderbook_delta", 3)
        truth.step(sim, 40, 0.01)
        wait_for(
            lambda: rec.exists() and any(b'"id"' in f and b"orderbook_snapshot" in f for f in on_disk(rec)),
            what="the re-requested snapshots on disk",
        )
        sim.drop_connections()
        truth.step(sim, 25)  # while nobody is connected: only fresh snapshots bring these in
        wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 3, what="reconnect")
        truth.step(sim, 40, 0.01)
        sent = data_frames(sim.sent_frames(0)) + data_frames(sim.sent_frames(1))
        wait_for(lambda: equal_lengths(*live_and_wanted(on_disk(rec), sent)), what="every frame on disk")
    finally:
        code, err = stop(proc)
    assert code == 0, err
    return truth


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, rsa_key):
    """One recording through the faults, its truth, and its export (shared by the tests below)."""
    from cryptography.hazmat.primitives import serialization

    from kalshi_cli.sim import ThreadedSim
    from tests.conftest import KeyFiles, pem_private, pem_public

    tmp = tmp_path_factory.mktemp("export")
    private = tmp / "kalshi.key"
    private.write_bytes(pem_private(rsa_key, serialization.PrivateFormat.TraditionalOpenSSL))
    private.chmod(0o600)
    keys = KeyFiles("a952bcbe-ec3b-4b5b-b8f9-11dae589608c", private, tmp / "pub", pem_public(rsa_key))
    with ThreadedSim(rate=0, markets=3, public_key_pem=keys.public_pem) as sim:
        rec = tmp / "rec"
        truth = record_through_faults(keys, sim, rec)
        tickers = sim.tickers
    out = tmp / "out"
    done = run_cli(["export", str(rec), "-o", str(out), "--every", "100ms", "--depth", "3"])
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr and done.stdout == b""
    return rec, out, truth, tickers


def test_trades_exactly_once_and_exact(recorded):
    rec, out, truth, _ = recorded
    rows = query(f"SELECT trade_id, market, yes_price, no_price, count, taker_side FROM {table(out, 'trades')}")
    assert len(rows) == len({r[0] for r in rows}) == len(truth.trades)
    for trade_id, market, yes, no, count, side in rows:
        want = truth.trades[trade_id]
        assert (market, yes, no, count) == (
            want["market_ticker"],
            Decimal(want["yes_price_dollars"]),
            Decimal(want["no_price_dollars"]),
            Decimal(want["count_fp"]),
        )
        assert side == want.get("taker_outcome_side", want.get("taker_side"))
    assert all(isinstance(r[2], Decimal) for r in rows)  # decimals, never floats


def test_book_top_rows_are_true_books_at_their_clocks(recorded):
    rec, out, truth, tickers = recorded
    rows = query(f"SELECT market, clock, bid, bid_size, ask, ask_size, spread FROM {table(out, 'book_top')}")
    assert {r[0] for r in rows} == set(tickers)
    for market, clock, bid, bid_size, ask, ask_size, spread in rows:
        assert (market, clock) in truth.tops, (market, clock)  # a state the exchange was in after an action
        assert (bid, bid_size, ask, ask_size) == truth.tops[(market, clock)], (market, clock)
        assert spread == (ask - bid if bid is not None and ask is not None else None)
    # every change of the top while the book was trusted: consecutive rows of a market always differ
    per_market: dict[str, list[tuple]] = {}
    ordered = f"SELECT market, bid, bid_size, ask, ask_size FROM {table(out, 'book_top')} ORDER BY recv_ts, clock"
    for market, *top in query(ordered):
        per_market.setdefault(market, []).append(tuple(top))
    for seen in per_market.values():
        assert all(a != b for a, b in zip(seen, seen[1:], strict=False))


def test_continuity_rows_at_the_injected_faults(recorded):
    rec, out, _, tickers = recorded
    rows = query(
        f"SELECT event, channel, markets, from_ts, ts, until_ts, source FROM {table(out, 'continuity')} ORDER BY ts"
    )
    events = [r[0] for r in rows]
    # the live output's vocabulary (--continuity), no names of the export's own
    live_names = {live.CONNECT, live.DISCONNECT, live.GAP, live.RESUBSCRIBE, live.RECONNECT, live.STALE, live.FRESH}
    assert set(events) <= live_names
    assert events.count("connect") == 2
    gaps = [r for r in rows if r[0] == "gap"]
    assert len(gaps) == 1 and gaps[0][1] == "orderbook_delta" and gaps[0][6] == "recorder"
    assert sorted(gaps[0][2]) == sorted(tickers) and gaps[0][5] is not None  # healed by the requested snapshots
    drops = [r for r in rows if r[0] == "disconnect"]
    assert len(drops) == 1 and sorted(drops[0][2]) == sorted(tickers) and drops[0][5] is not None
    assert drops[0][3] <= drops[0][4] <= drops[0][5]
    assert {m for r in rows if r[0] == "fresh" for m in r[2]} == set(tickers)
    # a market's fresh row spans its doubt (from the fault to its fresh snapshot): no book_top row inside
    spans = [(r[3], r[5], r[2][0]) for r in rows if r[0] == "fresh"]
    assert all(start is not None and start <= end for start, end, _ in spans)
    for market, recv in query(f"SELECT market, recv_ts FROM {table(out, 'book_top')}"):
        assert not any(start < recv < end and market == name for start, end, name in spans), (market, recv)


def test_last_book_top_equals_what_book_json_prints_at_the_end(recorded, tmp_path):
    rec, out, _, tickers = recorded
    replayed = run_cli(["book", *tickers, "--json", "--replay", str(rec), "--replay-speed", "max"])
    assert replayed.returncode == 0, replayed.stderr
    last: dict[str, dict] = {}
    for line in replayed.stdout.splitlines():
        obj = orjson.loads(line)
        last[obj["market_ticker"]] = obj
    rows = query(  # (arg_max would skip a NULL: an empty side is a state too)
        f"SELECT market, bid, bid_size, ask, ask_size FROM {table(out, 'book_top')} "
        "QUALIFY row_number() OVER (PARTITION BY market ORDER BY recv_ts DESC, clock DESC) = 1"
    )
    for market, bid, bid_size, ask, ask_size in rows:
        book = last[market]
        yes, no = book["yes_dollars_fp"], book["no_dollars_fp"]
        assert (bid, bid_size) == ((Decimal(yes[-1][0]), Decimal(yes[-1][1])) if yes else (None, None))
        assert bid == (Decimal(book["best_yes_bid"]) if book["best_yes_bid"] else None)
        assert (ask, ask_size) == ((1 - Decimal(no[-1][0]), Decimal(no[-1][1])) if no else (None, None))
        assert ask == (Decimal(book["best_yes_ask"]) if book["best_yes_ask"] else None)
    assert {r[0] for r in rows} == set(last) == set(tickers)


def test_deltas_are_every_recorded_book_frame(recorded):
    rec, out, _, _ = recorded
    frames = [orjson.loads(line) for line in recorded_lines(rec)]
    deltas = [f for f in frames if f.get("type") == "orderbook_delta"]
    got = query(
        f"SELECT market, sid, seq, clock, side, price, size FROM {table(out, 'deltas')} WHERE type = 'delta' "
        "ORDER BY recv_ts, sid, seq"
    )
    want = [
        (
            f["msg"]["market_ticker"],
            f["sid"],
            f["seq"],
            f["msg"]["clock"],
            f["msg"]["side"],
            Decimal(f["msg"]["price_dollars"]),
            Decimal(f["msg"]["delta_fp"]),
        )
        for f in sorted(deltas, key=lambda f: (f["recv_ts_ms"], f["sid"], f["seq"]))
    ]
    assert got == want


def test_book_snapshots_are_live_books_on_the_grid(recorded):
    rec, out, truth, _ = recorded
    rows = query(
        f"SELECT ts, market, clock, side, level, price, size FROM {table(out, 'book_snapshots')} ORDER BY ts, market"
    )
    assert rows
    assert all(round(ts.timestamp() * 1000) % 100 == 0 for ts, *_ in rows)  # multiples of --every
    books: dict[tuple, dict[str, list]] = {}
    for ts, market, clock, side, level, price, size in rows:
        books.setdefault((ts, market, clock), {"bid": [], "ask": []})[side].append((level, price, size))
    for (_, market, clock), sides in books.items():
        bid, bid_size, ask, ask_size = truth.tops[(market, clock)]
        if sides["bid"]:
            assert sides["bid"][0] == (1, bid, bid_size)
        if sides["ask"]:
            assert sides["ask"][0] == (1, ask, ask_size)
        prices = [p for _, p, _ in sides["bid"]]
        assert prices == sorted(prices, reverse=True) and len(prices) <= 3  # --depth


def test_tail_capture_exports_with_reconnects_seen_in_the_seqs(keys, sim_factory, tmp_path):
    """A 'tail --json' capture has no meta lines and no recv_ts_ms: a drop shows as seqs starting again."""
    sim = sim_factory(rate=0, markets=2)
    truth = Truth(sim)
    capture = tmp_path / "capture.ndjson"
    with capture.open("wb") as fh:
        proc = spawn_cli(["tail", "orderbook_delta", *markets(sim), "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="subscription")
            truth.step(sim, 30)
            wait_for(lambda: len(lines_of(capture)) >= 30, what="frames")
            sim.drop_connections()
            truth.step(sim, 10)
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 1, what="reconnect")
            truth.step(sim, 30)
            sent = sum(1 for f in sim.sent_frames(-1) if '"orderbook_' in f)
            wait_for(lambda: sum(b'"seq":1,' in line for line in lines_of(capture)) >= 2, what="second connection")
            wait_for(lambda: len(lines_of(capture)) >= sent, what="all frames")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    out = tmp_path / "out"
    done = run_cli(["export", str(capture), "-o", str(out), "--tables", "book_top,continuity"])
    assert done.returncode == 0, done.stderr
    rows = query(f"SELECT market, clock, bid, bid_size, ask, ask_size, recv_ts FROM {table(out, 'book_top')}")
    assert rows and all(r[6] is None for r in rows)  # no receive time in a capture
    for market, clock, *top, _ in rows:
        assert tuple(top) == truth.tops[(market, clock)]
    events = query(f"SELECT event, source, markets, until_ts FROM {table(out, 'continuity')}")
    reconnects = [e for e in events if e[0] == "reconnect"]
    assert len(reconnects) == 1 and reconnects[0][1] == "data"
    assert sorted(reconnects[0][2]) == sorted(sim.tickers) and reconnects[0][3] is not None
