"""``framehead``: for any bytes, the fast head is what orjson reads, or the reader declines.

Frames are built from Kalshi's envelope with hostile values (floats, bools, strings and huge
integers where integers go, duplicate keys, any key order, escapes), then mutated (truncated,
bytes inserted or replaced, invalid UTF-8 in a string the head skips). Both readers are held to
orjson: msgspec's (the ``[fast]`` extra, used when installed) and the orjson fallback.
"""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kalshi_cli import framehead
from kalshi_cli.framehead import FrameHead, orjson_head, read_head

EXAMPLES = Path(__file__).resolve().parent / "data" / "protocol_examples"

INTS = st.one_of(
    st.integers(-3, 10),
    st.integers(2**63 - 3, 2**63 + 3),
    st.integers(2**64 - 2, 2**64 + 2),
    st.integers(-(2**63) - 2, -(2**63) + 2),
)
VALUES = st.one_of(
    INTS.map(str),
    st.sampled_from(["1.0", "1e0", "true", "false", "null", '"1"', "[]", "{}", '"trade"', "-0", "1E2"]),
)
STRINGS = st.sampled_from(['"trade"', '"orderbook_delta"', '"tr\\u0061de"', '"\\"x"', '""', "1", "null", "[]"])
KEYS = st.sampled_from(['"type"', '"sid"', '"seq"', '"msg"', '"t\\u0079pe"', '"s\\u0069d"', '"other"', '"Seq"'])
MSGS = st.sampled_from(
    [
        '{"market_ticker":"KXA-1","price_dollars":"0.4500","ts_ms":1787925912345}',
        '{"a":[1,2,{"b":null}],"c":"\\u00e9\\ud83d\\ude00"}',
        '{"note":"\\"trade\\"","t":"é€"}',
        "[]",
        '"x"',
        "{}",
    ]
)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """An envelope with hostile values and keys, in any order, perhaps mutated."""
    fields = [('"type"', draw(STRINGS)), ('"sid"', draw(VALUES)), ('"seq"', draw(VALUES)), ('"msg"', draw(MSGS))]
    fields += draw(st.lists(st.tuples(KEYS, st.one_of(VALUES, STRINGS, MSGS)), max_size=3))  # repeats too
    fields = [f for f in fields if draw(st.integers(0, 9))]  # now and then a field left out
    random.Random(draw(st.integers(0, 2**16))).shuffle(fields)
    space = draw(st.sampled_from(["", " ", "\n", "\t "]))
    raw = ("{" + f",{space}".join(f"{k}:{space}{v}" for k, v in fields) + "}").encode()
    for _ in range(draw(st.integers(0, 2))):
        if not raw:
            break
        at = draw(st.integers(0, len(raw)))
        op = draw(st.sampled_from(["cut", "insert", "replace"]))
        junk = draw(
            st.one_of(st.binary(min_size=1, max_size=3), st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b","]))
        )
        raw = raw[:at] if op == "cut" else raw[:at] + junk + raw[at + (len(junk) if op == "replace" else 0) :]
    return raw


def agrees(raw: bytes, head: FrameHead | None) -> None:
    """``head`` is None, or it holds what orjson reads (the one known difference aside)."""
    if head is None:
        return
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        assert "infinity" in str(exc), (raw, exc)  # a number past a double's range in a skipped field
        return
    assert type(obj) is dict
    assert (head.type, head.sid, head.seq) == (obj["type"], obj["sid"], obj.get("seq")), raw
    assert type(head.sid) is int and type(head.seq) in (int, type(None))


def common(raw: bytes) -> bool:
    """Is ``raw`` the common data frame (the one the reader must not decline)?"""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    if type(obj) is not dict or type(obj.get("type")) is not str or type(obj.get("sid")) is not int:
        return False
    seq = obj.get("seq")
    return 0 <= obj["sid"] < 2**63 and (seq is None or (type(seq) is int and 0 <= seq < 2**63))


@settings(max_examples=1500, deadline=None)
@given(frames())
@example(b'{"type":"trade","sid":1,"seq":1,"seq":2}')
@example(b'{"type":"trade","sid":1,"seq":"x","seq":2}')
@example(b'{"type":"trade","sid":1,"seq":2,"seq":"x"}')
@example(b'{"type":"trade","type":"ticker","sid":1}')
@example(b'{"type":"trade","sid":1,"seq":1,"msg":{"t":"\xc3\x28"}}')
@example(b'{"type":"trade","sid":1,"seq":1,"msg":{"\xff":1}}')
@example(b'{"type":"trade","sid":1,"seq":18446744073709551615}')
@example(b'{"type":"trade","sid":1,"seq":99999999999999999999999}')
@example(b'{"type":"trade","sid":1,"seq":1,"msg":{"t":"\\ud800"}}')
@example(b'{"type":"trade","sid":1,"seq":1} x')
@example(b'\xef\xbb\xbf{"type":"trade","sid":1,"seq":1}')
def test_the_head_is_orjsons_or_declined(raw: bytes) -> None:
    agrees(raw, read_head(raw))
    try:
        fallback: FrameHead | None = orjson_head(raw)
    except ValueError:
        fallback = None
    agrees(raw, fallback)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["trade", "orderbook_delta", "ticker", "fill", "é"]),
    st.integers(0, 2**63 - 1),
    st.one_of(st.none(), st.integers(0, 2**63 - 1)),
    st.dictionaries(
        st.text(max_size=5), st.one_of(st.text(max_size=8), st.integers(-(2**63), 2**63 - 1), st.floats(), st.none())
    ),
    st.randoms(use_true_random=False),
)
def test_the_common_data_frame_is_read_in_any_key_order(kind, sid, seq, msg, rng) -> None:
    fields = [("type", kind), ("sid", sid), ("msg", msg)] + ([] if seq is None else [("seq", seq)])
    rng.shuffle(fields)
    raw = orjson.dumps(dict(fields))
    assert common(raw)
    for head in (read_head(raw), orjson_head(raw)):
        assert head is not None and (head.type, head.sid, head.seq) == (kind, sid, seq)


def test_kalshis_example_frames_read_as_orjson_reads_them() -> None:
    read = 0
    for path in sorted(EXAMPLES.glob("*.json")):
        raw = orjson.dumps(orjson.loads(path.read_bytes()))
        head = read_head(raw)
        agrees(raw, head)
        read += head is not None
        assert (head is not None) == common(raw), path.name
    assert read >= 10  # the data frames among them


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"trade","sid":1,"seq":1,"msg":{"a":1,}}',  # trailing comma
        b'{"type":"trade","sid":1,"seq":1,"msg":{"p":NaN}}',
        b'{"type":"trade","sid":1,"seq":1,"msg":{}}{"junk":1}',
        b'{"type":"trade","sid":1,"seq":1,"msg":{"t":"\xff\xfe"}}',  # not UTF-8, in a skipped string
        b'{"type":"trade","sid":1,"seq":1,"msg":{"t":"\xed\xa0\x80"}}',  # a surrogate, as UTF-8
        b'{"type":"trade","sid":1,"seq":1,"msg":{"t":"\x01"}}',  # a raw control character
        b'{"type":"trade","sid":1,"seq":1,"msg":' + b"[" * 2000 + b"]" * 2000 + b"}",
        b'{"type":"trade","sid":1,"seq":1.0}',
        b'{"type":"trade","sid":1,"seq":true}',
        b'{"type":"trade","sid":true,"seq":1}',
        b'{"type":null,"sid":1,"seq":1}',
        b'{"sid":1,"seq":1}',
        b'[{"type":"trade","sid":1,"seq":1}]',
        b"",
    ],
)
def test_what_the_reference_path_must_judge_is_declined(raw: bytes) -> None:
    assert read_head(raw) is None


def test_the_known_difference_is_only_a_number_past_a_doubles_range() -> None:
    raw = b'{"type":"trade","sid":1,"seq":1,"msg":{"a":1e400}}'
    with pytest.raises(orjson.JSONDecodeError, match="infinity"):
        orjson.loads(raw)
    head = read_head(raw)
    if framehead.FAST:  # msgspec skips the number unread (valid JSON, RFC 8259)
        assert head is not None and (head.type, head.sid, head.seq) == ("trade", 1, 1)
    else:
        assert head is None


def test_without_msgspec_tail_json_runs_on_the_orjson_path() -> None:
    """The [fast] extra is optional: without msgspec the session keeps the reference client."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['msgspec'] = None\n"  # an import of msgspec now fails, as if not installed
        "from kalshi_cli import framehead, session\n"
        "assert not framehead.FAST and session._client([], passthrough=True).__class__.__name__ == 'KalshiClient'\n"
        "from kalshi_cli.cli import main\n"
        "main(['tail', 'trade', 'ticker', '--sim', '--json', '--count', '3', '-q'])\n"
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=root, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.splitlines()
    assert len(lines) == 3 and all(orjson.loads(line)["type"] in ("trade", "ticker") for line in lines)
