"""``redundant_lane`` (``tail --json --redundant N``'s read path) against the general way it shortcuts.

The same two connections' streams (late joins, drops that leave seq gaps, repeats, reconnects with
new sids and seqs, sids in another order, key order and spacing at random, odd and unreadable
frames, ticker contents that recur), fed in the same batches to a ``RedundantSession`` whose
connections read through the lane and to one whose connections take the general way
(``receive_into`` and ``Merger.route``): the handler sees the very same frames in the same order,
the same gaps, subscriptions, drops and warnings, and the counts agree. And the lane is taken:
on a plain stream almost every frame goes through it (a silent fall back fails here).
"""

from __future__ import annotations

import io
import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli import redundant_heads
from kalshi_cli.events import Subscription
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import Head
from kalshi_cli.redundant import RedundantSession
from kalshi_cli.session import StreamHandler

pytestmark = pytest.mark.skipif(not redundant_heads.FAST, reason="the lane needs msgspec (the [fast] extra)")

MARKETS = ["KX-A", "KX-B\u00e9"]
CHANNELS = ["orderbook_delta", "ticker", "trade"]
TICKS = [{"market_ticker": "KX-A", "price_dollars": f"0.{p}0"} for p in (41, 42, 41)]  # contents recur
JUNK = [
    b"not json",
    b"[1]",
    b'{"type":"trade","sid":3,"seq":1.0,"msg":{}}',
    b'{"type":"trade","sid":3,"seq":2,"msg":{"trade_id":"x","p":"\xc3\x28"}}',
    b'{"type":"orderbook_delta","sid":1,"seq":3,"msg":{"market_ticker":"KX-A","clock":1e400}}',
    b'{"type":"ticker","sid":2,"msg":{"market_ticker":"KX-A","big":1e400}}',
    b'{"type":"trade","sid":3,"seq":4,"msg":{"trade_id":null}}',
    b'{"id":99,"type":"ok","msg":[]}',
]


class Recorder(StreamHandler):
    """A pass-through handler that notes everything it is given."""

    passthrough_apart = frozenset({"trade"})

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.passthrough = self.seen.append
        self.passthrough_batch = self.seen.extend

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:  # pragma: no cover - passthrough
        self.seen.append(("data", raw))

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        self.seen.append(("gap", sub.channel, missing, head.seq))

    def on_subscribed(self, sub: Subscription) -> None:
        self.seen.append(("subscribed", sub.channel))

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        self.seen.append(("lost", sub.channel, reason))

    def on_connected(self, url: str) -> None:
        self.seen.append(("up",))

    def on_disconnected(self, reason: str) -> None:
        self.seen.append(("down", reason))


def session(lane: bool) -> tuple[RedundantSession, Recorder, io.StringIO]:
    handler, err = Recorder(), io.StringIO()
    subs = [Subscription(c, {"market_tickers": list(MARKETS)}) for c in CHANNELS]
    rs = RedundantSession("ws://x", subs, handler, connections=2, signer=None, reporter=Reporter(stream=err))
    for s in rs.sessions:
        assert (s.lane is not None) is True  # type: ignore[attr-defined]
        if not lane:
            s.lane = None  # type: ignore[attr-defined]  # the general way
    return rs, handler, err


def exchange(rng: random.Random, n: int, snapshots: float = 0.05, keyless: bool = True) -> list[tuple[Any, ...]]:
    """The exchange's events: book deltas (several may share a clock), snapshots, trades, tickers."""
    out: list[tuple[Any, ...]] = []
    clocks = dict.fromkeys(MARKETS, 10)
    for i in range(n):
        what = rng.random()
        market = rng.choice(MARKETS)
        if what < 0.55:  # (a delta at a snapshot's clock is a fault the general way judges)
            clocks[market] += rng.choice((0, 1, 1, 2)) if out and out[-1][0] != "orderbook_snapshot" else 1
            out.append(("orderbook_delta", {"market_ticker": market, "clock": clocks[market], "d": i}))
        elif what < 0.55 + snapshots:
            clocks[market] += 1
            out.append(("orderbook_snapshot", {"market_ticker": market, "clock": clocks[market], "yes": [i]}))
        elif what < (0.78 if keyless else 0.8):
            out.append(("trade", {"trade_id": f"t-{i}", "market_ticker": market, "ts_ms": i}))
        elif what < 0.8 and keyless:  # no key: from one source connection only (Merger.source, ready once it leads)
            out.append(("trade", {"market_ticker": market, "ts_ms": i}))
        else:
            out.append(("ticker", rng.choice(TICKS)))
    return out


def encode(rng: random.Random, kind: str, sid: int, seq: int | None, msg: dict[str, Any], odd: bool) -> bytes:
    fields: list[tuple[str, Any]] = [("type", kind), ("sid", sid), ("seq", seq), ("msg", msg)]
    if seq is None:
        fields.pop(2)
    if odd:  # another key order and spacing: read whole, or declined
        rng.shuffle(fields)
        return ("{" + ", ".join(f'"{k}": {orjson.dumps(v).decode()}' for k, v in fields) + "}").encode()
    return orjson.dumps(dict(fields))


def stream(rng: random.Random, events: list[tuple[Any, ...]], odd: float) -> list[Any]:
    """One connection's view: it joins late, loses and repeats frames, reconnects (new sids and seqs),
    meets junk; each (re)connect begins with its acks and the books' snapshots."""
    out: list[Any] = []
    start = rng.randrange(0, max(1, len(events) // 3))
    i = start
    while i < len(events):
        sids = dict(zip(CHANNELS, rng.sample([1, 2, 3], 3) if rng.random() < 0.3 else [1, 2, 3], strict=True))
        seqs = dict.fromkeys(CHANNELS, 0)
        out.append(("connect", sids))
        clocks = {e[1]["market_ticker"]: e[1]["clock"] for e in events[:i] if "clock" in e[1]}
        for market in MARKETS:
            seqs["orderbook_delta"] += 1
            snap = {"market_ticker": market, "clock": clocks.get(market, 9), "yes": []}
            out.append(encode(rng, "orderbook_snapshot", sids["orderbook_delta"], seqs["orderbook_delta"], snap, False))
        stop = i + rng.randrange(5, 300)
        while i < min(stop, len(events)):
            kind, msg = events[i]
            channel = "orderbook_delta" if kind.startswith("orderbook") else kind
            seq = None
            if channel != "ticker":
                seqs[channel] += 1
                seq = seqs[channel]
            roll = rng.random()
            frame = encode(rng, kind, sids[channel], seq, msg, rng.random() < odd)
            if roll < 0.04:
                pass  # lost: a seq gap (or a ticker gone unseen)
            elif roll < 0.06:
                out += [frame, frame]  # a true repeat
            else:
                out.append(frame)
            if rng.random() < 0.03:
                out.append(rng.choice(JUNK))
            i += 1
        out.append(("drop",))
        i += rng.randrange(0, 4)  # what it missed while down
    return out


def acks(session: Any, sids: dict[str, int]) -> list[bytes]:
    cmds = session.client.data_to_send()
    return [
        orjson.dumps(
            {
                "id": orjson.loads(cmd)["id"],
                "type": "subscribed",
                "msg": {"channel": sub.channel, "sid": sids[sub.channel]},
            }
        )
        for sub, cmd in zip(session.subscriptions, cmds, strict=True)
    ]


def feed(rs: RedundantSession, conn: int, items: list[Any]) -> None:
    """What ``Session._serve`` and ``_MergedSession._read_loop`` do with these items."""
    s = rs.sessions[conn]
    frames: list[bytes] = []

    def read(batch: list[bytes]) -> None:
        lane = s.lane  # type: ignore[attr-defined]
        events = (
            lane.receive(batch, s.handler.on_frame)
            if lane is not None
            else s.client.receive_into(batch, s.handler.on_frame, s.loads)
        )  # type: ignore[attr-defined]
        for event in events:
            if type(event).__name__ == "Data":
                s.handler.on_data(event.raw, event.head, event.sub)  # type: ignore[union-attr]
            else:
                s._dispatch(event)  # type: ignore[arg-type]

    for item in items:
        if type(item) is bytes:
            frames.append(item)
            continue
        if frames:
            read(frames)
            frames = []
        if item[0] == "connect":
            s.client.connected()
            s.handler.on_connected("ws://x")
            read(acks(s, item[1]))
        else:
            s.handler.on_disconnected("dropped")
    if frames:
        read(frames)


def run(rs: RedundantSession, streams: list[list[Any]], schedule: list[tuple[int, int]]) -> None:
    at = [0, 0]
    for conn, size in schedule:
        feed(rs, conn, streams[conn][at[conn] : at[conn] + size])
        at[conn] += size
    for conn in (0, 1):
        feed(rs, conn, streams[conn][at[conn] :])


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(20, 240), st.sampled_from([0.0, 0.0, 0.2]), st.integers(1, 40))
def test_the_lane_gives_what_the_general_way_gives(seed: int, n: int, odd: float, step: int) -> None:
    rng = random.Random(seed)
    events = exchange(rng, n)
    streams = [stream(rng, events, odd), stream(rng, events, odd)]
    schedule = [(rng.randrange(2), rng.randrange(1, step + 1)) for _ in range(4 * n // step + 4)]
    fast, fast_seen, fast_err = session(True)
    plain, plain_seen, plain_err = session(False)
    run(fast, streams, schedule)
    run(plain, streams, schedule)
    assert fast_seen.seen == plain_seen.seen
    assert fast_err.getvalue() == plain_err.getvalue()
    assert (fast.frames, fast.gaps, fast.merged_seq) == (plain.frames, plain.gaps, plain.merged_seq)
    for a, b in zip(fast.sessions, plain.sessions, strict=True):
        assert (a.client.frames, a.client.gaps, a.client.bad_frames) == (
            b.client.frames,
            b.client.gaps,
            b.client.bad_frames,
        )


def test_a_plain_stream_goes_through_the_lane() -> None:
    rng = random.Random(5)
    events = exchange(rng, 400, snapshots=0, keyless=False)
    rs, seen, _ = session(True)
    clean: list[Any] = [("connect", {"orderbook_delta": 1, "ticker": 2, "trade": 3})]
    seqs = dict.fromkeys(CHANNELS, 0)
    for market in MARKETS:
        seqs["orderbook_delta"] += 1
        clean.append(
            encode(rng, "orderbook_snapshot", 1, seqs["orderbook_delta"], {"market_ticker": market, "clock": 9}, False)
        )
    for kind, msg in events:
        channel = "orderbook_delta" if kind.startswith("orderbook") else kind
        seq = None
        if channel != "ticker":
            seqs[channel] += 1
            seq = seqs[channel]
        clean.append(encode(rng, kind, {"orderbook_delta": 1, "ticker": 2, "trade": 3}[channel], seq, msg, False))
    lanes = [s.lane for s in rs.sessions]  # type: ignore[attr-defined]
    start = 3 + 50  # both subscribed; the second lines up (its first copies) while the first delivers
    for conn in (0, 1):
        feed(rs, conn, clean[:start])
    before = [lane.fast for lane in lanes]
    for at in range(start, len(clean), 40):
        for conn in (0, 1):
            feed(rs, conn, clean[at : at + 40])
    for lane, was in zip(lanes, before, strict=True):
        assert lane.fast - was == len(clean) - start  # then every frame takes the lane
    delivered = [x for x in seen.seen if type(x) is bytes]
    assert delivered == clean[1:] and rs.frames == len(delivered)  # each frame once, in order


def test_a_connection_the_merge_no_longer_counts_on_a_book_is_ignored_there_as_by_the_general_way() -> None:
    rng = random.Random(9)
    events = exchange(rng, 200, snapshots=0, keyless=False)
    streams = [stream(random.Random(1), events, 0.0), stream(random.Random(2), events, 0.0)]
    outcomes = []
    for lane in (True, False):
        rs, seen, _ = session(lane)
        feed(rs, 0, streams[0][:40])
        feed(rs, 1, streams[1][:40])
        rs.merger.lost(1, 0, "test")  # (as if its book subscription broke, its sid not yet dropped)
        feed(rs, 1, streams[1][40:])
        feed(rs, 0, streams[0][40:])
        outcomes.append((seen.seen, rs.frames, rs.merged_seq))
    assert outcomes[0] == outcomes[1]
