"""Property tests: the client under random duplicates, gaps, decreases, restarts and reorderings.

A model of §7 (dense seq per sid; a repeat of what was seen is harmless; anything else going
back breaks the subscription) is run beside the client on the same hostile stream, and the
client must agree with it: nothing delivered twice, deliveries in server order, every gap
reported with its size right before the frame that shows it, every break reported (``Lost``)
and nothing delivered on a broken sid afterwards. JSON key order and spacing are random.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.client import KalshiClient
from kalshi_cli.events import Data, Gap, Lost, Subscription

CHANNELS = {1: ("trade", "trade"), 2: ("market_lifecycle_v2", "event_lifecycle")}

Item = tuple[int, int, str]  # sid, seq, content tag


@st.composite
def sid_stream(draw: st.DrawFn, sid: int) -> list[Item]:
    """One sid's frames as a hostile server might send them."""
    items: list[Item] = [(sid, s, f"{sid}-a{s}") for s in range(1, draw(st.integers(1, 25)) + 1)]
    for _ in range(draw(st.integers(0, 6))):
        if not items:
            break
        op = draw(st.sampled_from(["drop", "repeat", "swap", "restart", "rewrite"]))
        i = draw(st.integers(0, len(items) - 1))
        if op == "drop":
            del items[i]
        elif op == "repeat":
            items.insert(draw(st.integers(i + 1, len(items))), items[i])
        elif op == "swap" and i + 1 < len(items):
            items[i], items[i + 1] = items[i + 1], items[i]
        elif op == "restart":
            items[i:i] = [(sid, s, f"{sid}-r{i}-{s}") for s in range(1, draw(st.integers(1, 5)) + 1)]
        elif op == "rewrite":  # new content under a seq already used
            items.insert(draw(st.integers(i + 1, len(items))), (sid, items[i][1], f"{sid}-w{i}"))
    return items


@st.composite
def hostile_feed(draw: st.DrawFn) -> list[Item]:
    one, two = draw(sid_stream(1)), draw(sid_stream(2))
    merged: list[Item] = []
    while one or two:
        take_one = bool(one) and (not two or draw(st.booleans()))
        merged.append((one if take_one else two).pop(0))
    return merged


def encode(item: Item, rng: random.Random) -> bytes:
    """The frame with its keys in a random order and random spacing."""
    sid, seq, tag = item
    fields = [("type", CHANNELS[sid][1]), ("sid", sid), ("seq", seq), ("msg", {"tag": tag, "n": seq})]
    rng.shuffle(fields)
    space = rng.choice(["", " "])
    body = f",{space}".join(f'"{k}":{space}{orjson.dumps(v).decode()}' for k, v in fields)
    return ("{" + space + body + space + "}").encode()


def model(feed: list[Item]) -> tuple[list[Item], dict[int, int], set[int]]:
    """What §7 says should happen: delivered items, gap sizes by feed index, sids that break."""
    last: dict[int, int] = {1: 0, 2: 0}
    seen: dict[tuple[int, int], str] = {}
    broken: set[int] = set()
    delivered: list[Item] = []
    gaps: dict[int, int] = {}
    for index, (sid, seq, tag) in enumerate(feed):
        if sid in broken:
            continue
        if seq > last[sid]:
            if seq > last[sid] + 1:
                gaps[index] = seq - last[sid] - 1
            last[sid] = seq
            seen[sid, seq] = tag
            delivered.append((sid, seq, tag))
        elif seen.get((sid, seq)) != tag:
            broken.add(sid)
    return delivered, gaps, broken


@settings(max_examples=300, deadline=None)
@given(hostile_feed(), st.booleans(), st.integers(0, 2**32 - 1), st.integers(1, 7))
def test_the_client_agrees_with_the_model(feed: list[Item], passthrough: bool, seed: int, batch: int) -> None:
    rng = random.Random(seed)
    subs = [Subscription(CHANNELS[sid][0]) for sid in (1, 2)]
    client = KalshiClient(subs, passthrough=passthrough)
    client.connected()
    acks = [
        orjson.dumps({"id": orjson.loads(cmd)["id"], "type": "subscribed", "msg": {"channel": sub.channel, "sid": sid}})
        for sid, sub, cmd in zip((1, 2), subs, client.data_to_send(), strict=True)
    ]
    list(client.receive(acks))
    frames = [encode(item, rng) for item in feed]
    events: list[Any] = []
    for start in range(0, len(frames), batch):
        events.extend(client.receive(frames[start : start + batch]))

    delivered: list[Item] = []
    gaps_before: list[int | None] = []
    pending_gap: int | None = None
    lost: list[str] = []
    for event in events:
        if isinstance(event, Gap):
            pending_gap = event.missing
        elif isinstance(event, Data | bytes):
            obj = orjson.loads(event.raw if isinstance(event, Data) else event)
            delivered.append((obj["sid"], obj["seq"], obj["msg"]["tag"]))
            gaps_before.append(pending_gap)
            pending_gap = None
        elif isinstance(event, Lost):
            lost.append(event.sub.channel)

    expected, gaps, broken = model(feed)
    assert delivered == expected  # nothing twice, server order, nothing after a break
    assert len(set(delivered)) == len(delivered)
    expected_gaps = [gaps.get(i) for i, item in enumerate(feed) if item in expected and feed.index(item) == i]
    assert gaps_before == expected_gaps  # every gap, its size, right before its frame
    assert sorted(lost) == sorted(CHANNELS[sid][0] for sid in broken)  # every break, once
    assert client.frames == len(delivered)
