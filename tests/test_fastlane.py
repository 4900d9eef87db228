"""``FastLaneClient.receive_passing`` (``tail --json``'s read path) against ``KalshiClient.receive``
in passthrough mode, the reference: on the same hostile stream (duplicates, gaps, restarts,
rewrites, key order and spacing at random, unreadable frames, float seqs, bytes that are not
UTF-8, replies) both hand on the same frames in the same order, with the same gaps, breaks,
warnings and counts; frames of an ``apart`` type come one by one, the rest in batches."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.client import KalshiClient
from kalshi_cli.events import Gap, Lost, Subscription
from kalshi_cli.fastlane import FastLaneClient
from tests.test_client_props import CHANNELS, encode, hostile_feed

JUNK = [
    b'{"id":99,"type":"ok","msg":[]}',
    b"not json",
    b"[1]",
    b'{"type":"trade","sid":1,"seq":1.0,"msg":{}}',
    b'{"type":"trade","sid":1,"seq":3,"msg":{"t":"\xc3\x28"}}',  # not UTF-8, in a string the head skips
    b'{"type":"trade","sid":1,"seq":3,"msg":{"a":1,}}',
    b'{"type":"trade","sid":1,"seq":3,"msg":{}} {"x":1}',
    b'{"type":"trade","sid":7,"seq":1,"msg":{}}',  # an unknown sid
    b'{\n "type": "trade",\n "sid": 1,\n "seq": 4\n}',  # pretty: a newline inside
    b'{"type":"trade","sid":1,"seq":5,"msg":{"t":"\xc3\xa9"}}',  # UTF-8 beyond ASCII: fine
]


def started(cls: type[KalshiClient]) -> tuple[KalshiClient, list[Subscription]]:
    subs = [Subscription(CHANNELS[sid][0]) for sid in (1, 2)]
    client = FastLaneClient(subs) if cls is FastLaneClient else KalshiClient(subs, passthrough=True)
    client.connected()
    acks = [
        orjson.dumps({"id": orjson.loads(cmd)["id"], "type": "subscribed", "msg": {"channel": sub.channel, "sid": sid}})
        for sid, sub, cmd in zip((1, 2), subs, client.data_to_send(), strict=True)
    ]
    list(client.receive(acks))
    return client, subs


def described(event: Any, subs: list[Subscription]) -> tuple[Any, ...]:
    if type(event) is bytes:
        return ("data", event)
    if isinstance(event, Gap):
        return ("gap", subs.index(event.sub), event.missing, event.head.seq)
    if isinstance(event, Lost):
        return ("lost", subs.index(event.sub), event.reason)
    return (type(event).__name__, repr(getattr(event, "text", "")))


@settings(max_examples=300, deadline=None)
@given(hostile_feed(), st.integers(0, 2**32 - 1), st.integers(1, 9), st.booleans(), st.booleans())
def test_the_fast_lane_hands_on_what_receive_yields(feed, seed: int, batch: int, junk: bool, apart: bool) -> None:
    rng = random.Random(seed)
    frames = [encode(item, rng) for item in feed]
    if junk:
        for bad in JUNK:
            at = rng.randrange(len(frames) + 1)
            frames[at:at] = [bad]
    plain, plain_subs = started(KalshiClient)
    fast, fast_subs = started(FastLaneClient)
    assert isinstance(fast, FastLaneClient)
    kept_apart = frozenset({"trade"}) if apart else frozenset()
    want: list[tuple[Any, ...]] = []
    got: list[tuple[Any, ...]] = []
    batches: list[list[bytes]] = []
    ones: list[bytes] = []

    def pass_on(raw: bytes) -> None:
        ones.append(raw)
        got.append(("data", raw))

    def pass_batch(raws: list[bytes]) -> None:
        assert raws and not any(orjson.loads(r)["type"] in kept_apart for r in raws)
        batches.append(list(raws))
        got.extend(("data", r) for r in raws)

    for start in range(0, len(frames), batch):
        chunk = frames[start : start + batch]
        want += [described(e, plain_subs) for e in plain.receive(chunk)]
        for event in fast.receive_passing(chunk, pass_on, pass_batch, kept_apart):  # hands on as it goes
            got.append(described(event, fast_subs))
    assert got == want
    assert fast.frames == plain.frames and fast.gaps == plain.gaps and fast.bad_frames == plain.bad_frames
    assert all(orjson.loads(r)["type"] in kept_apart for r in ones)  # one by one: only those kept apart


def test_an_in_order_stream_goes_out_in_runs_with_the_apart_frames_between() -> None:
    client, _ = started(FastLaneClient)
    assert isinstance(client, FastLaneClient)
    frames = [encode((1 + i % 2, 1 + i // 2, f"t{i}"), random.Random(i)) for i in range(8)]  # trade, lifecycle, ...
    handed: list[Any] = []
    events = list(client.receive_passing(frames, handed.append, lambda run: handed.append(list(run)), {"trade"}))
    assert events == [] and client.frames == 8
    assert handed == [frames[0], [frames[1]], frames[2], [frames[3]], frames[4], [frames[5]], frames[6], [frames[7]]]
    client, _ = started(FastLaneClient)
    assert isinstance(client, FastLaneClient)
    handed.clear()
    assert list(client.receive_passing(frames, handed.append, lambda run: handed.append(list(run)))) == []
    assert handed == [frames]  # nothing kept apart: one run


def test_a_session_that_passes_frames_on_takes_the_lane_and_only_then() -> None:
    from kalshi_cli import framehead
    from kalshi_cli.output import Reporter
    from kalshi_cli.session import Session, StreamHandler

    class PassingOn(StreamHandler):
        passthrough = staticmethod(lambda raw: None)

    def client_of(handler: StreamHandler) -> KalshiClient:
        return Session("ws://127.0.0.1:9/", [Subscription("trade")], handler, signer=None, reporter=Reporter()).client

    assert framehead.FAST  # the [fast] extra is in [test]
    assert isinstance(client_of(PassingOn()), FastLaneClient)
    plain = client_of(StreamHandler())
    assert type(plain) is KalshiClient and not plain.passthrough
