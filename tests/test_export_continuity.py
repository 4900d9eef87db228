"""The continuity table is in the order of ``ts`` although its rows settle later (a gap's row is
whole only when its markets are fresh again): fed by hand, by hypothesis, and through the CLI."""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.continuity import CONNECT, GAP
from kalshi_cli.export import continuity as table_rows
from kalshi_cli.export.continuity import Continuity
from tests.inprocess import run_inprocess
from tests.test_export_input import T0, write


class Collected:
    """What a TableBuffer is to Continuity: ``put`` and the --from/--to bounds."""

    lo, hi = -(2**62), 2**62

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []

    def put(self, ts: int, row: tuple[Any, ...]) -> None:
        self.rows.append(row)


def test_a_gap_waiting_for_its_snapshot_is_written_before_what_settled_meanwhile():
    out = Collected()
    c = Continuity(out)  # type: ignore[arg-type]
    c.event(T0 + 1, GAP, books=["KXA-1"], channel="orderbook_delta", sid=1, missing=2)  # waits for KXA-1
    c.event(T0 + 2, GAP, markets=["KXA-1"], channel="trade", sid=2, missing=1)  # whole at once
    c.fresh(T0 + 3, "KXA-1")
    c.close()
    assert [(r[0], r[3], r[2]) for r in out.rows] == [
        (T0 + 1, GAP, T0 + 3),
        (T0 + 2, GAP, T0 + 2),
        (T0 + 3, "fresh", T0 + 3),
    ]


events = st.lists(
    st.tuples(st.sampled_from(["stale", "gap", "fresh"]), st.sampled_from(["KXA-1", "KXB-1", "KXC-1"])), max_size=40
)


@given(events)
def test_rows_come_out_in_the_order_of_their_time_whatever_settles_when(story):
    out = Collected()
    c = Continuity(out)  # type: ignore[arg-type]
    for t, (what, market) in enumerate(story):
        if what == "stale":
            c.event(T0 + t, "stale", books=[market], sid=1, source="data")
        elif what == "gap":
            c.event(T0 + t, GAP, markets=[market], channel="trade", sid=2)
        else:
            c.fresh(T0 + t, market)
    c.close()
    times = [r[0] for r in out.rows]
    assert times == sorted(times)
    assert len([r for r in out.rows if r[3] != "fresh"]) == len([1 for what, _ in story if what != "fresh"])


def test_past_the_cap_the_oldest_settled_rows_go_first(monkeypatch):
    monkeypatch.setattr(table_rows, "HELD", 3)
    out = Collected()
    c = Continuity(out)  # type: ignore[arg-type]
    c.event(T0, "stale", books=["KXA-1"], sid=1, source="data")  # never fresh: waits to the end
    for t in range(1, 7):
        c.event(T0 + t, GAP, markets=["KXB-1"], channel="trade", sid=2)
    assert [r[0] for r in out.rows] == [T0 + 1, T0 + 2, T0 + 3]  # (memory stays flat)
    c.close()
    assert [r[0] for r in out.rows] == [T0 + 1, T0 + 2, T0 + 3, T0, T0 + 4, T0 + 5, T0 + 6]


def test_the_exported_continuity_table_is_in_time_order(tmp_path):
    market = "KXA-1"

    def frame(kind: str, seq: int, t: int, sid: int = 1, **msg: Any) -> bytes:
        return orjson.dumps(
            {"type": kind, "sid": sid, "seq": seq, "msg": {"market_ticker": market, **msg}, "recv_ts_ms": T0 + t}
        )

    snap = {"yes_dollars_fp": [["0.4000", "10.00"]], "no_dollars_fp": [["0.5000", "10.00"]]}
    delta = {"price_dollars": "0.4000", "delta_fp": "1.00", "side": "yes"}
    lines = [
        orjson.dumps({"type": "kalshi_cli.meta", "event": CONNECT, "connection": 1, "recv_ts_ms": T0}),
        frame("orderbook_snapshot", 1, 1, clock=1, **snap),
        frame("orderbook_delta", 2, 2, clock=2, **delta),
        frame("orderbook_delta", 5, 3, clock=3, **delta),  # a book gap: KXA-1 stale until the snapshot
        frame("trade", 1, 4, sid=2, trade_id="t1", count_fp="1.00"),
        frame("trade", 4, 5, sid=2, trade_id="t2", count_fp="1.00"),  # a trade gap: whole at once
        frame("orderbook_snapshot", 6, 6, clock=6, **snap),
    ]
    rec = write(tmp_path / "rec.ndjson", lines)
    out = tmp_path / "out"
    done = run_inprocess(["export", str(rec), "-o", str(out), "--tables", "continuity"])
    assert done.returncode == 0, done.stderr
    rows = duckdb.sql(
        f"SELECT event, channel, epoch_ms(ts) - {T0} FROM read_parquet('{out}/continuity/*/*.parquet', "
        "file_row_number=true) ORDER BY file_row_number"
    ).fetchall()
    assert rows == [
        ("connect", None, 0),
        ("gap", "orderbook_delta", 3),
        ("gap", "trade", 5),
        ("fresh", "orderbook_delta", 6),
    ]
