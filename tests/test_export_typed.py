"""The export's typed reading (msgspec, ``export/typed.py``) is a shortcut, never another meaning:
every table and every warning is the same as the dict reading's (orjson alone, as without
msgspec), on good recordings and on lines built to fall between the two (a bool where an int
belongs, an int past 64 bits, a number where a decimal string belongs, two objects on one line,
a torn line, a frame without a time...), wherever they fall among the chunks read at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kalshi_cli.export import source, stream, typed
from kalshi_cli.sim.market import Exchange
from tests.inprocess import run_inprocess
from tests.test_export_input import T0, recording_lines, write

BOOK = "book_top,book_snapshots,continuity"
BOOK_AND_DELTAS = f"{BOOK},deltas"  # (one pass that rebuilds the books and writes the deltas)
FRAMES = "trades,deltas,tickers,lifecycle,fills,orders,positions"  # (deltas without books: no book pass)
MARKET = Exchange(seed=3, n_markets=3).tickers[0]  # a market of recording_lines': its book is live
_DELTA = {"market_ticker": MARKET, "price_dollars": "0.0100", "delta_fp": "5.00", "side": "yes", "clock": 10**9}


def _frame(kind: str, msg: object, **top: object) -> bytes:
    return orjson.dumps({"type": kind, "sid": top.pop("sid", 1), **top, "msg": msg, "recv_ts_ms": T0 + 9})


#: lines the typed reading must hand to the dict reading, or read to the same cells
HOSTILE = [
    _frame("orderbook_delta", _DELTA, seq=True),
    _frame("orderbook_delta", _DELTA, sid="1", seq=3),
    _frame("orderbook_delta", {**_DELTA, "ts_ms": 1.5}, seq=4),
    _frame("orderbook_delta", {**_DELTA, "ts_ms": "BIG"}, seq=5).replace(b'"BIG"', b"%d" % (2**64 + 1)),
    _frame("orderbook_delta", {**_DELTA, "clock": "BIG"}, seq=6).replace(b'"BIG"', b"%d" % 2**63),
    _frame("orderbook_delta", {**_DELTA, "price_dollars": 0.5}, seq=7),
    _frame("orderbook_delta", {**_DELTA, "side": ["yes"]}, seq=8),
    _frame("orderbook_delta", {"market_ticker": MARKET, "price": 1, "delta": 3, "side": "yes", "clock": 10**9}, seq=9),
    _frame("orderbook_delta", {**_DELTA, "delta_fp": "-5.00", "clock": 10**9 + 1}, seq=15),
    _frame("orderbook_delta", None, seq=10),
    _frame("orderbook_delta", [1, 2], seq=11),
    orjson.dumps({"type": "orderbook_delta", "sid": 1, "seq": 12, "msg": _DELTA}),  # no time at all: the last seen
    _frame("orderbook_delta", {**_DELTA, "market_ticker": None}, seq=13),
    _frame("orderbook_delta", {**_DELTA, "market_ticker": "KXNEW-1"}, sid=9, seq=1),
    _frame("ticker", {"market_ticker": "KXA-1", "price_dollars": "0.5000", "dollar_volume": "x"}, sid=3),
    _frame("ticker", {"market_ticker": "KXA-1", "volume_fp": 12.5, "ts_ms": T0}, sid=3),
    _frame("trade", {"trade_id": "h1", "market_ticker": "KXA-1", "count_fp": "1.00"}, sid=2, seq=90, backfill="yes"),
    _frame("trade", {"trade_id": "h1", "market_ticker": "KXA-1", "count_fp": "2.00"}, sid=2, seq=91),
    _frame("trade", {"trade_id": 5, "market_ticker": "KXA-1", "is_block_trade": 1}, sid=2, seq=92),
    _frame("trade", {"trade_id": "h2", "market_ticker": "KXA-1", "taker_side": "no", "taker_outcome_side": ""}, sid=2),
    _frame("ticker", {"market_ticker": "KXA-1"}, sid=3) + b"," + _frame("ticker", {"market_ticker": "KXB-1"}, sid=3),
    b"[1]",
    b"",
    b'{"type": "trade", "sid": 2, "seq": 93, "msg": {"trade_id": "h3", "market_ticker": "KXA-1"}}',
    b'{"type":"trade","type":"ticker","sid":3,"msg":{"market_ticker":"KXA-1"}}',
    b'{"type":"ticker","sid":3,"msg":{"market_ticker":"KXA-1","price_dollars":"0.1',  # torn mid-file
    b'{"type":"orderbook_delta","sid":1,"seq":14,"msg":{"market_ticker":"%s"}}   ' % MARKET.encode(),
]


def _tables(out: Path) -> dict[str, list[tuple]]:
    got = {}
    for table in sorted(p.name for p in out.iterdir()):
        got[table] = duckdb.sql(
            f"SELECT * EXCLUDE (filename, file_row_number) FROM read_parquet('{out}/{table}/*/*.parquet', "
            "hive_partitioning=true, filename=true, file_row_number=true) ORDER BY filename, file_row_number"
        ).fetchall()
    return got


def _export(rec: Path, out: Path, tables: str) -> tuple[dict[str, list[tuple]], list[str]]:
    done = run_inprocess(["export", str(rec), "-o", str(out), "--tables", tables])
    assert done.returncode == 0, done.stderr
    warnings = [line.replace(str(out), "OUT") for line in done.stderr.decode().splitlines() if "exported" not in line]
    return _tables(out), warnings


def _both_ways(rec: Path, tmp: Path, monkeypatch: pytest.MonkeyPatch, tables: str) -> None:
    """The same tables and warnings with the typed reading and without it (one pass in-process)."""
    with_typed = _export(rec, tmp / "typed", tables)
    with monkeypatch.context() as patch:
        patch.setattr(stream, "decoder", lambda kinds: None)
        without = _export(rec, tmp / "dicts", tables)
    assert with_typed == without
    assert any(with_typed[0].values())


@pytest.mark.parametrize("tables", [BOOK, BOOK_AND_DELTAS, FRAMES])
def test_every_table_is_the_same_with_and_without_the_typed_reading(tmp_path, monkeypatch, tables):
    lines = recording_lines(400)
    rec = write(tmp_path / "rec.ndjson", [*lines[:200], *HOSTILE, *lines[200:]])
    _both_ways(rec, tmp_path, monkeypatch, tables)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    places=st.lists(st.tuples(st.integers(1, 400), st.sampled_from(HOSTILE)), max_size=6),
    chunk=st.integers(1, 64),
    tables=st.sampled_from([BOOK, BOOK_AND_DELTAS, FRAMES]),
)
def test_hostile_lines_anywhere_among_any_chunks_read_alike(tmp_path_factory, monkeypatch, places, chunk, tables):
    lines = recording_lines(120)
    for at, line in sorted(places, key=lambda p: -p[0]):
        lines.insert(min(at, len(lines)), line)
    tmp = tmp_path_factory.mktemp("typed")
    rec = write(tmp / "rec.ndjson", lines)
    with monkeypatch.context() as patch:
        patch.setattr(source, "CHUNK", chunk)
        _both_ways(rec, tmp, monkeypatch, tables)


def test_without_msgspec_the_export_runs_on_orjson_alone(tmp_path, monkeypatch):
    rec = write(tmp_path / "rec.ndjson", recording_lines(200))
    with_typed = _export(rec, tmp_path / "typed", FRAMES)
    monkeypatch.setitem(sys.modules, "msgspec", None)  # import msgspec now raises ImportError
    monkeypatch.setattr(typed, "_CLASSES", None)
    assert typed.decoder(["delta"]) is None
    assert _export(rec, tmp_path / "plain", FRAMES) == with_typed


def test_a_pass_reads_typed_only_the_frames_its_tables_take_from_them():
    classes = typed.frame_classes()
    assert classes is not None
    decode, error, prefixes = typed.decoder(["delta", "trade_seq"])
    assert prefixes == (b'{"type":"orderbook_delta"', b'{"type":"trade"')
    seq_only = decode(_frame("trade", {"trade_id": "x", "ts_ms": T0}, sid=2, seq=7))
    assert type(seq_only) is classes["trade_seq"] and (seq_only.sid, seq_only.seq, seq_only.msg.ts_ms) == (2, 7, T0)
    for line in (_frame("ticker", {}), HOSTILE[4], b"{}"):
        with pytest.raises(error):
            decode(line)


@example("12345678901234567.00")  # 19 digits: no decimal(18, 2) holds it, refused
@example("9999999999999999.99")
@example("007.50")
@given(
    st.one_of(
        st.none(),
        st.from_regex(r"-?[0-9]{1,20}\.[0-9]{0,3}", fullmatch=True),
        st.text(alphabet="0123456789.-+ _e١²", max_size=22),
    )
)
def test_a_volume_read_without_the_cache_is_what_the_cache_reads(text):
    from kalshi_cli.export.values import Exact, total

    assert total(text) == Exact(2, "size")[text]
