"""Properties of book_top (hypothesis): a row per exchange action that changed the top, never a
state in the middle of an action, never a row from a book a gap made stale.

A model exchange applies random actions (several deltas under one clock), loses some of them
(a seq gap) and heals with a snapshot; the expected rows are computed from the model alone.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inprocess import run_inprocess

T0 = 1_795_615_200_000
TICKER = "KXPROP-26DEC31-T1"
prices = st.integers(1, 99)
change = st.tuples(st.sampled_from(["yes", "no"]), prices, st.integers(-300, 300).filter(bool))
action = st.one_of(
    st.tuples(st.just("deltas"), st.lists(change, min_size=1, max_size=4)),
    st.tuples(st.just("lost"), st.lists(change, min_size=1, max_size=3)),
    st.tuples(st.just("snapshot"), st.just([])),
)


def dollars(cents: int) -> str:
    return f"0.{cents:02d}00"


def top(book: dict[str, dict[int, int]]) -> tuple:
    yes, no = book["yes"], book["no"]
    bid = max(yes) if yes else None
    best_no = max(no) if no else None
    return (
        Decimal(bid) / 100 if bid else None,
        Decimal(yes[bid]) if bid else None,
        Decimal(100 - best_no) / 100 if best_no else None,
        Decimal(no[best_no]) if best_no else None,
    )


def valid(book, side: str, price: int, delta: int) -> int:
    """The delta the model can take: not below zero, not crossing the other side."""
    have = book[side].get(price, 0)
    delta = max(delta, -have)
    other = max(book["no" if side == "yes" else "yes"], default=0)
    if have + delta > 0 and price + other >= 100:
        return 0
    return delta


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(action, min_size=1, max_size=25))
def test_book_top_is_the_book_after_each_whole_action_and_never_stale(tmp_path_factory, actions):
    tmp = tmp_path_factory.mktemp("props")
    book: dict[str, dict[int, int]] = {"yes": {40: 500}, "no": {50: 300}}
    frames: list[dict] = []
    seq, clock, ts = 0, 100, T0

    def snapshot() -> None:
        nonlocal seq
        seq += 1
        msg = {"market_ticker": TICKER, "market_id": "m", "clock": clock}
        for side in ("yes", "no"):
            if book[side]:
                msg[f"{side}_dollars_fp"] = [[dollars(p), f"{s}.00"] for p, s in sorted(book[side].items())]
        frames.append({"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": msg, "recv_ts_ms": ts})

    snapshot()
    expected = [(clock, top(book), "snapshot")]
    live = True
    last_recorded = "snapshot"  # what the last recorded frame belonged to
    added = False  # whether the last recorded action added a row
    doomed = False  # a gap follows the last recorded delta action: it may be cut short, so no row
    for kind, changes in actions:
        clock += 3
        ts += 10
        if kind == "snapshot":
            if doomed and added:
                expected.pop()
            doomed = False
            snapshot()
            live = True
            last_recorded = "snapshot"
        else:
            group = []
            for side, price, delta in changes:
                delta = valid(book, side, price, delta)
                if delta:
                    book[side][price] = book[side].get(price, 0) + delta
                    if not book[side][price]:
                        del book[side][price]
                    group.append((side, price, delta))
            for side, price, delta in group:
                seq += 1
                if kind == "lost":
                    continue  # the recording never got it: the next frame shows a seq gap
                msg = {
                    "market_ticker": TICKER,
                    "market_id": "m",
                    "clock": clock,
                    "price_dollars": dollars(price),
                    "delta_fp": f"{delta}.00",
                    "side": side,
                    "ts_ms": ts,
                }
                frames.append({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": msg, "recv_ts_ms": ts})
            if kind == "lost" and group:
                doomed = doomed or (live and last_recorded == "deltas")
                live = False
            if kind == "deltas" and group:
                if doomed and added:
                    expected.pop()
                doomed = False
                last_recorded = "deltas"
            if not group or kind == "lost":
                continue  # nothing recorded: what was recorded last stays last
            if not live:
                added = False  # recorded, on a stale book: no row
                continue
        now = top(book)
        added = now != expected[-1][1]
        if added:
            expected.append((clock, now, kind))
    # a lost action at the very end shows no gap (no later frame): the book is still trusted then
    rec = tmp / "rec.ndjson"
    rec.write_bytes(b"".join(orjson.dumps(f) + b"\n" for f in frames))
    out = tmp / "out"
    done = run_inprocess(["export", str(rec), "-o", str(out), "--tables", "book_top"])
    assert done.returncode == 0, done.stderr
    rows = duckdb.sql(
        f"SELECT clock, bid, bid_size, ask, ask_size FROM read_parquet('{Path(out)}/book_top/*/*.parquet') "
        "ORDER BY recv_ts, clock"
    ).fetchall()
    assert [(r[0], tuple(r[1:])) for r in rows] == [(c, t) for c, t, _ in expected]


# --- exact values: the export's regex-free reading of the usual decimal shape ---------------------

decimal_like = st.text(alphabet="0123456789.-+_ e²٤", max_size=14) | st.builds(
    lambda sign, whole, frac: f"{sign}{whole}.{frac}",
    st.sampled_from(["", "-", "+"]),
    st.integers(0, 10**20),
    st.text(alphabet="0123456789", min_size=0, max_size=7),
)


@given(decimal_like, st.sampled_from([2, 4, 6]))
def test_the_quick_reading_of_a_decimal_is_parse_fixed_or_nothing(text, places):
    """Whatever ``values`` reads without ``fixed.parse_fixed`` is exactly what parse_fixed reads;
    the rest (refusals included) is left to parse_fixed; beyond 18 digits (a decimal(18) column)
    the cache refuses it."""
    from kalshi_cli.export.values import DIGITS18, Exact, _plain
    from kalshi_cli.fixed import FixedPointError, parse_fixed

    try:
        exact: int | None = parse_fixed(text, places, "x", signed=True)
    except FixedPointError:
        exact = None
    quick = _plain(text, places)
    assert quick is None or quick == exact
    assert Exact(places, "x")[text] == (exact if exact is not None and abs(exact) < DIGITS18 else None)
