"""``KalshiClient.receive_into`` (``--redundant``'s read path) against ``receive``: on the same
hostile stream (duplicates, gaps, restarts, rewrites, key order and spacing at random) both give
the same frames in the same order, the same gaps, breaks and replies, the same counts."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.client import KalshiClient
from kalshi_cli.events import Data, Gap, Lost, Subscription
from tests.test_client_props import CHANNELS, encode, hostile_feed


def started() -> tuple[KalshiClient, list[Subscription]]:
    subs = [Subscription(CHANNELS[sid][0]) for sid in (1, 2)]
    client = KalshiClient(subs)
    client.connected()
    acks = [
        orjson.dumps({"id": orjson.loads(cmd)["id"], "type": "subscribed", "msg": {"channel": sub.channel, "sid": sid}})
        for sid, sub, cmd in zip((1, 2), subs, client.data_to_send(), strict=True)
    ]
    list(client.receive(acks))
    return client, subs


def described(event: Any, subs: list[Subscription]) -> tuple[Any, ...]:
    if isinstance(event, Data):
        return ("data", event.raw, subs.index(event.sub))
    if isinstance(event, Gap):
        return ("gap", subs.index(event.sub), event.missing, event.head.seq)
    if isinstance(event, Lost):
        return ("lost", subs.index(event.sub), event.reason)
    return (type(event).__name__, repr(getattr(event, "text", "")))


@settings(max_examples=300, deadline=None)
@given(hostile_feed(), st.integers(0, 2**32 - 1), st.integers(1, 7), st.booleans())
def test_receive_into_is_receive_without_the_data_events(feed, seed: int, batch: int, junk: bool) -> None:
    rng = random.Random(seed)
    frames = [encode(item, rng) for item in feed]
    if junk:  # a reply and unreadable frames among them
        frames[len(frames) // 2 : len(frames) // 2] = [b'{"id":99,"type":"ok","msg":[]}', b"not json", b"[1]"]
    plain, plain_subs = started()
    into, into_subs = started()
    want: list[tuple[Any, ...]] = []
    got: list[tuple[Any, ...]] = []

    def on_frame(raw: bytes, obj: dict[str, Any], sub: Subscription) -> None:
        assert obj == orjson.loads(raw)
        got.append(("data", raw, into_subs.index(sub)))

    for start in range(0, len(frames), batch):
        want += [described(e, plain_subs) for e in plain.receive(frames[start : start + batch])]
        for event in into.receive_into(frames[start : start + batch], on_frame):  # on_frame appends as it goes
            got.append(described(event, into_subs))
    assert got == want
    assert into.frames == plain.frames
    assert any(d[0] == "data" for d in got) == any(d[0] == "data" for d in want)
