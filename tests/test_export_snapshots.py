"""book_snapshots' times: ``ts`` the instant on the --every grid (exchange time), ``recv_ts`` the
receive time of the frame that reached it (when the recording knew the instant was past: null in
a ``tail --json`` capture), ``updated_ts`` the book's last change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import orjson

from tests.inprocess import run_inprocess
from tests.test_export_input import T0, write

MARKET = "KXA-1"


def _frame(kind: str, seq: int, t: int, recv: int | None, **msg: Any) -> bytes:
    frame: dict[str, Any] = {
        "type": kind,
        "sid": 1,
        "seq": seq,
        "msg": {"market_ticker": MARKET, "ts_ms": T0 + t, **msg},
    }
    if recv is not None:
        frame["recv_ts_ms"] = T0 + recv
    return orjson.dumps(frame)


def _snapshots(tmp_path, recorded: bool) -> list[tuple]:
    snap = {"yes_dollars_fp": [["0.4000", "10.00"]], "no_dollars_fp": [["0.5000", "7.00"]], "clock": 1}
    lines = [
        _frame("orderbook_snapshot", 1, 0, 5 if recorded else None, **snap),
        _frame(
            "orderbook_delta",
            2,
            400,
            407 if recorded else None,
            price_dollars="0.4100",
            delta_fp="2.00",
            side="yes",
            clock=2,
        ),
        _frame(
            "orderbook_delta",
            3,
            1200,
            1209 if recorded else None,
            price_dollars="0.4100",
            delta_fp="-2.00",
            side="yes",
            clock=3,
        ),
    ]
    rec = write(tmp_path / "rec.ndjson", lines)
    out = tmp_path / "out"
    done = run_inprocess(["export", str(rec), "-o", str(out), "--tables", "book_snapshots"])
    assert done.returncode == 0, done.stderr
    return duckdb.sql(
        f"SELECT epoch_ms(ts) - {T0}, epoch_ms(recv_ts) - {T0}, epoch_ms(updated_ts) - {T0}, side, level, price "
        f"FROM read_parquet('{out}/book_snapshots/*/*.parquet') ORDER BY ts, side DESC, level"
    ).fetchall()


def test_recv_ts_is_when_the_recording_knew_the_instant_was_past(tmp_path):
    rows = _snapshots(tmp_path, recorded=True)
    # at T0+1000 the book is the one after the delta at +400 (the frame at +1200 comes after the instant)
    assert rows == [
        (1000, 1209, 400, "bid", 1, Decimal("0.4100")),
        (1000, 1209, 400, "bid", 2, Decimal("0.4000")),
        (1000, 1209, 400, "ask", 1, Decimal("0.5000")),
    ]


def test_a_tail_capture_has_no_recv_ts(tmp_path):
    rows = _snapshots(tmp_path, recorded=False)
    assert rows and all(r[1] is None for r in rows) and rows[0][0] == 1000
