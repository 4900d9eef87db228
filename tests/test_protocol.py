"""The sans-I/O protocol helpers: envelope reading, seq tracking, error sentences."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.protocol import (
    CHANNELS,
    DATA_TYPES,
    FrameError,
    SeqTracker,
    channel_of_type,
    describe_error,
    encode_command,
    read_head,
)
from tests.conftest import EXAMPLES


def test_every_example_frame_reads_like_a_full_parse():
    for path in sorted(EXAMPLES.rglob("*.json")):
        obj = json.loads(path.read_text())
        if "type" not in obj:
            continue  # client commands
        for raw in (orjson.dumps(obj), path.read_bytes().strip()):
            head = read_head(raw)
            assert head.type == obj["type"], path
            assert head.sid == obj.get("sid"), path
            assert head.seq == obj.get("seq"), path
            assert head.id == obj.get("id"), path


def test_compact_fast_path_does_not_parse():
    raw = b'{"type":"trade","sid":3,"seq":17,"msg":{"trade_id":"x"}}'
    head = read_head(raw)
    assert (head.type, head.sid, head.seq, head.obj) == ("trade", 3, 17, None)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"msg":{"a":1},"sid":4,"seq":9,"type":"trade"}',
        b'{ "type" : "trade" , "sid" : 4 , "seq" : 9 , "msg" : {"a": 1} }',
        b'{"type":"trade","sending_ts_ms":1,"sid":4,"seq":9,"msg":{"a":1}}',
    ],
)
def test_other_key_orders_and_spacing(raw):
    head = read_head(raw)
    assert (head.type, head.sid, head.seq) == ("trade", 4, 9)


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b'{"type":"trade","sid":3,"seq":17,"msg":{"trade_id":"8c7', b"[1,2]", b'{"sid":1}']
)
def test_malformed_frames_raise(raw):
    with pytest.raises(FrameError):
        read_head(raw)


envelopes = st.fixed_dictionaries(
    {"type": st.sampled_from(sorted(DATA_TYPES | {"ok", "error", "subscribed"}))},
    optional={
        "sid": st.integers(1, 10**9),
        "seq": st.integers(1, 10**12),
        "id": st.integers(1, 10**6),
        "sending_ts_ms": st.integers(0, 2**62),
    },
)


@given(envelopes, st.dictionaries(st.text(max_size=5), st.text(max_size=8), max_size=3), st.booleans())
def test_read_head_agrees_with_full_parse(env, msg, msg_first):
    obj = {"msg": msg, **env} if msg_first else {**env, "msg": msg}
    head = read_head(orjson.dumps(obj))
    assert (head.type, head.sid, head.seq, head.id) == (env["type"], env.get("sid"), env.get("seq"), env.get("id"))


def test_seq_tracker_reports_gaps_and_repeats():
    t = SeqTracker()
    assert [t.observe(1, s) for s in (1, 2, 3)] == [0, 0, 0]
    assert t.observe(1, 6) == 2  # 4 and 5 lost; 6 becomes the baseline
    assert t.observe(1, 7) == 0
    assert t.observe(1, 7) == -1
    assert t.observe(1, 5) == -1
    assert t.observe(2, 1) == 0  # sids are independent
    t.clear()
    assert t.observe(1, 1) == 0  # a new connection starts again at 1


@given(st.lists(st.integers(1, 30), max_size=60))
def test_seq_tracker_counts_every_missing_frame(seqs):
    t = SeqTracker()
    missing = 0
    delivered = []
    for s in seqs:
        r = t.observe(7, s)
        if r >= 0:
            missing += r
            delivered.append(s)
    assert delivered == sorted(set(delivered))
    if delivered:
        assert missing == delivered[-1] - len(delivered)


def test_channel_table_matches_reference():
    assert channel_of_type("market_position") == "market_positions"
    assert channel_of_type("user_order") == "user_orders"
    assert channel_of_type("event_lifecycle") == "market_lifecycle_v2"
    assert not CHANNELS["ticker"].sequenced and CHANNELS["trade"].sequenced
    assert CHANNELS["orderbook_delta"].markets == "required"


def test_error_sentences_keep_the_code():
    text = describe_error({"code": 8, "msg": "Unknown channel name"})
    assert "does not know that channel" in text and "Kalshi error 8: Unknown channel name" in text
    text = describe_error({"code": 16, "msg": "Market not found", "market_ticker": "KXNOPE"})
    assert "KXNOPE" in text and "16" in text


def test_encode_command_shape():
    assert orjson.loads(encode_command(3, "subscribe", {"channels": ["trade"]})) == {
        "id": 3,
        "cmd": "subscribe",
        "params": {"channels": ["trade"]},
    }
    assert orjson.loads(encode_command(4, "list_subscriptions")) == {"id": 4, "cmd": "list_subscriptions"}
