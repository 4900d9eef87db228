"""The recording format module, fed files: plain or gzip by content, rotated sets, captures, torn ends."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.errors import UsageError
from kalshi_cli.recording import META, RECV_TS, expand, read_records, record_time, scan, with_recv_ts


def trade(seq: int, **extra: object) -> dict:
    return {"type": "trade", "sid": 2, "seq": seq, "msg": {"market_ticker": "KXA", "count_fp": "1.00"}, **extra}


def ndjson(objs: list[dict]) -> bytes:
    return b"".join(orjson.dumps(o) + b"\n" for o in objs)


def collect(warnings: list[str]):
    return warnings.append


def test_gzip_is_told_by_its_content_not_its_name(tmp_path: Path) -> None:
    frames = [trade(1, recv_ts_ms=10), trade(2, recv_ts_ms=20)]
    disguised = tmp_path / "a.ndjson"  # gzip data under a plain name
    disguised.write_bytes(gzip.compress(ndjson(frames)))
    plain = tmp_path / "b.ndjson.gz"  # plain data under a gzip name
    plain.write_bytes(ndjson(frames))
    assert list(read_records([disguised, plain])) == frames + frames
    rec = scan([disguised, plain])
    assert (rec.frames, rec.first_ms, rec.last_ms, rec.duration_s) == (4, 10, 20, 0.01)


def test_a_gzip_stream_cut_short_yields_what_was_readable_with_a_warning(tmp_path: Path) -> None:
    frames = [trade(i, recv_ts_ms=i) for i in range(1, 400)]
    path = tmp_path / "killed.ndjson.gz"
    path.write_bytes(gzip.compress(ndjson(frames))[:-40])  # the writer died before the trailer
    got = list(read_records([path]))
    assert got and got == frames[: len(got)]
    warnings: list[str] = []
    assert scan([path], collect(warnings)).frames == len(got)
    assert any("compressed data ends early" in w for w in warnings)


def test_a_torn_last_line_is_skipped_and_named(tmp_path: Path) -> None:
    path = tmp_path / "torn.ndjson"
    path.write_bytes(ndjson([trade(1), trade(2)]) + orjson.dumps(trade(3))[:25])
    warnings: list[str] = []
    rec = scan([path], collect(warnings))
    assert rec.frames == 2
    assert warnings == [f"{path}:3: last line is incomplete; skipped"]
    assert [o["seq"] for o in read_records([path])] == [1, 2]


def test_a_bad_line_inside_is_skipped_but_a_bad_first_line_means_not_ndjson(tmp_path: Path) -> None:
    inside = tmp_path / "inside.ndjson"
    inside.write_bytes(ndjson([trade(1)]) + b"{oops\n" + ndjson([trade(2)]))
    warnings: list[str] = []
    assert scan([inside], collect(warnings)).frames == 2
    assert warnings == [f"{inside}:2: not a JSON line; skipped"]
    csv = tmp_path / "prices.ndjson"
    csv.write_bytes(b"time,price\n1,2\n")
    with pytest.raises(UsageError, match="is not NDJSON"):
        scan([csv])


def test_a_directory_is_its_rotated_files_in_name_order(tmp_path: Path) -> None:
    names = ["kalshi-20261125T150000.000Z-0002.ndjson.gz", "kalshi-20261125T140000.000Z-0001.ndjson", "notes.txt"]
    for i, name in enumerate(names):
        data = ndjson([trade(i)])
        (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    (tmp_path / "sub.ndjson").mkdir()  # a directory with a recording's name is not a file of it
    assert [p.name for p in expand([tmp_path])] == sorted(names[:2])
    assert [o["seq"] for o in read_records(expand([tmp_path]))] == [1, 0]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="no .ndjson or .ndjson.gz files in"):
        expand([empty])


def test_the_summary_knows_markets_books_ids_and_meta(tmp_path: Path) -> None:
    lines = [
        {"type": META, "event": "connect", RECV_TS: 5},
        {"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "KXB", "market_id": "id-b"}},
        trade(1),
        {"type": "subscribed", "id": 1, "msg": {"channel": "trade", "sid": 2}},  # a reply, not data
        ["not", "an", "object"],
    ]
    path = tmp_path / "r.ndjson"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    rec = scan([path])
    assert (rec.frames, rec.meta) == (2, 1)
    assert list(rec.tickers) == ["KXB", "KXA"] and list(rec.book_tickers) == ["KXB"]
    assert rec.ids == {"id-b": "KXB"}


@pytest.mark.parametrize(
    "content,needle",
    [(None, "no such file"), (b"", "is empty"), (b'{"market_ticker":"X"}\n', "no Kalshi data frames")],
)
def test_unusable_files_are_one_clear_error(tmp_path: Path, content: bytes | None, needle: str) -> None:
    path = tmp_path / "r.ndjson"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=needle):
        scan([path])


def test_a_tail_capture_is_timed_by_send_time_then_msg_time() -> None:
    assert record_time({RECV_TS: 3, "sending_ts_ms": 2, "msg": {"ts_ms": 1}}) == 3
    assert record_time({"sending_ts_ms": 2, "msg": {"ts_ms": 1}}) == 2
    assert record_time({"msg": {"ts_ms": 1}}) == 1
    assert record_time({"sending_ts_ms": True, "msg": {"ts_ms": "1"}}) is None  # not times


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(
    frame=st.dictionaries(st.text(max_size=6).filter(lambda k: k != RECV_TS), json_values, max_size=5),
    recv=st.integers(0, 2**53),
    pretty=st.booleans(),
)
def test_recv_ts_is_always_the_last_key_and_nothing_else_changes(frame: dict, recv: int, pretty: bool) -> None:
    raw = orjson.dumps(frame, option=orjson.OPT_INDENT_2 if pretty else 0)
    out = with_recv_ts(raw, recv)
    parsed = orjson.loads(out)
    assert list(parsed)[-1] == RECV_TS and parsed[RECV_TS] == recv
    assert {k: v for k, v in parsed.items() if k != RECV_TS} == frame
    if not pretty and frame:
        assert out.startswith(raw[:-1])  # spliced: the received bytes are kept as they were
