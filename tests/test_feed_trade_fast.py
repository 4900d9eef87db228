"""The trade dedupe's fast reader (``tradehead``, msgspec) and its orjson reference agree.

For any bytes, ``read_trade`` declines or reads what orjson reads; fed any run of hostile and
repeated frames (with backfills in between), a ``TradeGapFiller`` reading with msgspec writes
exactly what one reading with orjson only writes, and remembers the same ids. Without msgspec
(its import blocked, in a subprocess) the trade tests pass on the orjson path. Fed data, no network.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kalshi_cli import tradehead
from kalshi_cli.feeds import trades
from kalshi_cli.feeds.trades import TradeGapFiller
from kalshi_cli.output import Reporter
from kalshi_cli.tradehead import read_trade

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "tests" / "data" / "protocol_examples" / "trade.json").read_bytes()

IDS = st.sampled_from(
    ['"t-1"', '"t-2"', '"t-3"', '"t-1"', '"t-2"', '""', '"t\\u002d1"', "1", "null", "true", '["t-1"]']
)
TIMES = st.one_of(
    st.integers(1_787_925_900_000, 1_787_925_990_000).map(str),
    st.integers(1_787_925_900_000, 1_787_925_990_000).map(str),
    st.sampled_from(["-1", "0", "1.0", "true", "null", '"1787925912345"', str(2**63), str(2**64 + 1), "1e3"]),
)
TYPES = st.sampled_from(['"trade"', '"ticker"', '"tr\\u0061de"', "1", "null"])
OTHER = st.sampled_from(['"KXA-1"', '"trade"', '{"a":[1,{"b":null}]}', '"\\"trade\\""', '"é€"', "[]", "12"])


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """A trade frame with hostile values, repeated and missing keys, any order, perhaps mutated."""
    inner = [('"trade_id"', draw(IDS)), ('"ts_ms"', draw(TIMES)), ('"market_ticker"', draw(OTHER))]
    inner += draw(
        st.lists(st.tuples(st.sampled_from(['"trade_id"', '"ts_ms"', '"ts"', '"x"']), IDS | TIMES), max_size=2)
    )
    inner = [f for f in inner if draw(st.integers(0, 9))]
    rng = random.Random(draw(st.integers(0, 2**16)))
    rng.shuffle(inner)
    msg = "{" + ",".join(f"{k}:{v}" for k, v in inner) + "}"
    outer = [
        ('"type"', draw(TYPES)),
        ('"sid"', "3"),
        ('"seq"', "7"),
        ('"msg"', draw(st.sampled_from([msg, msg, "[]"]))),
    ]
    outer += draw(st.lists(st.tuples(st.sampled_from(['"type"', '"msg"', '"x"']), TYPES | OTHER), max_size=2))
    outer = [f for f in outer if draw(st.integers(0, 12))]
    if draw(st.booleans()):
        rng.shuffle(outer)
    raw = ("{" + ",".join(f"{k}:{v}" for k, v in outer) + "}").encode()
    for _ in range(draw(st.integers(0, 1))):
        at = draw(st.integers(0, len(raw)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b",", b"}", b" "]))
        raw = raw[:at] + junk + raw[at + draw(st.integers(0, 1)) :]
    return raw


@pytest.mark.skipif(not tradehead.FAST, reason="msgspec is not installed: there is no fast reader")
@settings(max_examples=1500, deadline=None)
@given(frames())
@example(b'{"type":"trade","msg":{"trade_id":"a","ts_ms":1},"msg":{"trade_id":"b","ts_ms":2}}')
@example(b'{"type":"trade","msg":{"trade_id":"a","ts_ms":1,"trade_id":"b"}}')
@example(b'{"type":"trade","msg":{"trade_id":"\xc3\x28","ts_ms":1}}')
@example(b'{"type":"trade","msg":{"trade_id":"a","ts_ms":1,"t":"\xff"}}')
@example(b'{"type":"trade","msg":{"trade_id":"a","ts_ms":true}}')
def test_the_fast_key_is_orjsons_or_declined(raw: bytes) -> None:
    key = read_trade(raw)
    if key is None:
        return
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # framehead's one known difference: a number past a double's range
        assert "infinity" in str(exc), (raw, exc)
        return
    assert (key.type, key.msg.trade_id, key.msg.ts_ms) == (obj["type"], obj["msg"]["trade_id"], obj["msg"]["ts_ms"])
    assert type(key.msg.trade_id) is str and key.msg.trade_id and type(key.msg.ts_ms) is int


@pytest.mark.skipif(not tradehead.FAST, reason="msgspec is not installed: there is no fast reader")
def test_kalshis_trade_frame_is_read_not_declined() -> None:
    key = read_trade(orjson.dumps(orjson.loads(EXAMPLE)))
    assert key is not None
    assert (key.type, key.msg.trade_id, key.msg.ts_ms) == (
        "trade",
        "8c7f3a52-1b9e-4d60-a2f4-93e0c6d5b718",
        1787925912345,
    )


async def _no_fetch(markets: list[str], min_ts: int) -> list[dict[str, Any]]:
    return []


def filler() -> tuple[TradeGapFiller, list[bytes]]:
    written: list[bytes] = []
    gaps = TradeGapFiller(
        _no_fetch,
        Reporter(quiet=True),
        write_live=lambda raw, stamp: written.append(raw),
        write_backfill=lambda frame: written.append(orjson.dumps(frame)),
        clock=lambda: 1_787_925_800.0,
    )
    return gaps, written


ROWS = st.lists(
    st.tuples(st.sampled_from(["t-1", "t-2", "t-3", "t-4"]), st.integers(1_787_925_900_000, 1_787_925_990_000)),
    max_size=4,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(frames(), frames(), ROWS, st.just("drop")), max_size=40))
@example(
    [
        b'{"type":"ticker","msg":{"trade_id":"t-1","ts_ms":5,"x":"trade"}}',
        b'{"type":"trade","msg":{"trade_id":"t-1","ts_ms":5}}',
    ]
)
@example([b'{"type":"trade","msg":{"trade_id":"t-1","ts_ms":1787925900001}}', "drop", [("t-1", 1787925900001)]])
@example(
    [b'{"type":"trade","msg":{"trade_id":"t-1","ts_ms":true}}', b'{"type":"trade","msg":{"trade_id":"t-1","ts_ms":1}}']
)
def test_the_fast_reader_changes_no_verdict(steps: list[Any]) -> None:
    """The same run through msgspec's reader and through orjson only: the same lines, the same ids.
    ("drop": a disconnect, frames are held from then on; a list of REST rows: the backfill, then
    the held frames.)"""
    runs = []
    for fast in (tradehead.FAST, False):
        gaps, written = filler()
        saved, trades.FAST = trades.FAST, fast
        try:
            for step in steps:
                if isinstance(step, bytes):
                    gaps.live(step, 0)
                    continue
                gaps.disconnected()
                if step == "drop":
                    continue

                async def fetch(markets: list[str], min_ts: int, rows: Any = step) -> list[dict[str, Any]]:
                    return [{"trade_id": t, "ticker": "KXA-1", "count_fp": "1.00", "ts": ms} for t, ms in rows]

                gaps.fetch = fetch
                coro = gaps.fill([])
                with pytest.raises(StopIteration):
                    coro.send(None)  # (no await suspends: the fetch answers at once)
        finally:
            trades.FAST = saved
        runs.append((written, set(gaps._seen), list(gaps._order), gaps.last_trade_ms))
    assert runs[0] == runs[1]


@pytest.mark.skipif(not tradehead.FAST, reason="msgspec is not installed: there is no fast reader")
def test_kalshis_trade_frame_takes_the_fast_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """A silent fall back to orjson would fail here: the reference reader is not called."""
    gaps, written = filler()

    def refuse(raw: bytes) -> bool:
        raise AssertionError("the common trade frame went to the orjson reference")

    monkeypatch.setattr(gaps, "_first_time", refuse)
    frame = orjson.dumps(orjson.loads(EXAMPLE))
    for _ in range(3):
        gaps.live(frame, 0)
    assert written == [frame] and gaps.last_trade_ms == 1787925912345


def test_without_msgspec_the_trade_tests_pass_on_the_orjson_path() -> None:
    """The [fast] extra is optional: with msgspec's import blocked, the trade backfill's tests
    (each trade once across reconnects, bounded memory) and the verdict test above still pass."""
    code = (
        "import sys; sys.modules['msgspec'] = None\n"  # an import of msgspec now fails, as if not installed
        "from kalshi_cli import tradehead\n"
        "assert not tradehead.FAST and tradehead.read_trade(b'{}') is None\n"
        "import pytest\n"
        "sys.exit(pytest.main(['-q', '-x', '-p', 'no:cacheprovider', 'tests/test_feed_trades.py',\n"
        "    'tests/test_feed_trade_gaps.py', 'tests/test_feed_trade_memory.py',\n"
        "    'tests/test_feed_trade_fast.py::test_the_fast_reader_changes_no_verdict']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-2000:]
    assert b"passed" in proc.stdout and b"skipped" not in proc.stdout
