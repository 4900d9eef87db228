"""``redundant_heads.merge_loads`` against ``orjson.loads``: on any bytes (valid frames, odd
types, non-ASCII, broken JSON and UTF-8) it fails exactly when orjson fails, and what it returns
holds the very values orjson reads for every field the merge looks at; anything but a book or
trade frame is orjson's parse, whole. Without msgspec it is ``orjson.loads`` itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli import redundant_heads
from kalshi_cli.redundant_heads import merge_loads

ROOT = Path(__file__).resolve().parent.parent
HEAD_FIELDS = ("type", "sid", "seq")
MSG_FIELDS = ("market_ticker", "clock", "trade_id")

odd = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=2),
)
counts = st.one_of(st.integers(0, 10**6), odd)
words = st.one_of(st.sampled_from(["KX-A", "t-1", "é-ü", "\u2028"]), st.text(max_size=6), odd)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    good = draw(st.booleans())  # half the frames have a head the merge reads in part, to break
    kinds = ["orderbook_delta", "orderbook_snapshot", "trade"]
    kind = draw(st.sampled_from(kinds if good else [*kinds, "ticker", "subscribed", 7]))
    msg: dict[str, Any] = {}
    for name, values in (("market_ticker", words), ("clock", counts), ("trade_id", words), ("price", odd)):
        if draw(st.integers(0, 3)):
            msg[name] = draw(st.one_of(st.text(max_size=6), values) if good else values)
    frame: dict[str, Any] = {"type": kind}
    for name in ("sending_ts_ms", "sid", "seq"):
        if good or draw(st.integers(0, 4)):
            frame[name] = draw(st.integers(0, 10**6) if good and draw(st.integers(0, 3)) else counts)
    frame["msg"] = draw(st.one_of(st.just(msg), odd)) if draw(st.integers(0, 6)) == 0 else msg
    raw = json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode()  # big ints too
    how = draw(st.integers(0, 5))
    if how == 0:  # broken: cut short, or bytes that are not UTF-8 in a string the merge skips
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif how == 1:
        bad = draw(st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\xe2\x82"]))
        raw = raw[:-1] + b',"x":"a' + bad + b'"}'
    elif how == 2:
        raw = raw[:-1] + b',"extra":[1,{"y":null}],"z":"\xc3\xa9"}'  # valid UTF-8, skipped
    return raw


def typed(value: Any) -> tuple[type, Any]:
    return type(value), value


@settings(max_examples=500, deadline=None)
@given(frames())
def test_merge_loads_fails_with_orjson_and_reads_what_orjson_reads(raw: bytes) -> None:
    try:
        want = orjson.loads(raw)
    except ValueError:
        with pytest.raises(ValueError):
            merge_loads(raw)
        return
    got = merge_loads(raw)
    if got == want and type(got) is type(want):
        return
    assert type(want) is dict and type(got) is dict, (raw, got)
    assert got["type"] in ("orderbook_delta", "orderbook_snapshot", "trade"), raw  # only these in part
    for name in HEAD_FIELDS:
        assert typed(got.get(name)) == typed(want.get(name)), (name, raw, got)
    if type(want.get("msg")) is dict:
        for name in MSG_FIELDS:
            assert typed(got["msg"].get(name)) == typed(want["msg"].get(name)), (name, raw, got)
    else:
        assert "msg" not in got, raw


def test_a_book_frame_is_read_in_part_and_a_ticker_whole() -> None:
    delta = b'{"type":"orderbook_delta","sid":1,"seq":5,"msg":{"market_ticker":"M","clock":9,"price_dollars":"0.4"}}'
    ticker = b'{"type":"ticker","sid":2,"msg":{"market_ticker":"M","price_dollars":"0.4"}}'
    if redundant_heads.FAST:
        assert merge_loads(delta) == {
            "type": "orderbook_delta",
            "sid": 1,
            "seq": 5,
            "msg": {"market_ticker": "M", "clock": 9},
        }
    else:
        assert merge_loads(delta) == orjson.loads(delta)
    assert merge_loads(ticker) == orjson.loads(ticker)


def block_msgspec(tmp_path: Path) -> tuple[Path, Path]:
    """A directory to put first on PYTHONPATH in which ``import msgspec`` fails (and says it was tried)."""
    stub = tmp_path / "no_msgspec"
    (stub / "msgspec").mkdir(parents=True)
    marker = tmp_path / "msgspec_tried"
    (stub / "msgspec" / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nraise ImportError('msgspec blocked by the test')\n"
    )
    return stub, marker


def test_without_msgspec_merge_loads_is_orjson(tmp_path: Path) -> None:
    stub, marker = block_msgspec(tmp_path)
    code = (
        "import orjson\nfrom kalshi_cli import redundant_heads as h\n"
        "assert not h.FAST and h.merge_loads is orjson.loads\nprint('orjson')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": f"{stub}:{ROOT}"}, capture_output=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b"orjson\n" and marker.exists()
