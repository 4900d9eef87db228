"""EventKeyer: one key per exchange event, the same on every connection, never a wrong one.

A random exchange story (book actions of one or more deltas under one clock, trades) is told to
several connections that join at different points (each starts with snapshots), number their
sids differently and may lose frames. The truth of every frame is known from the story, so
each key is checked against it: the same event gets the same key everywhere, a key never names
another event, and a clean connection keys every frame.
"""

from __future__ import annotations

import json
import string
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.event_keys import EventKeyer
from tests.conftest import EXAMPLES

MARKETS = ("KX-A", "KX.B-26", "KX:C")

Action = tuple[str, str, int]  # ("book", ticker, deltas in the group) or ("trade", ticker, n)


@st.composite
def stories(draw: st.DrawFn) -> list[Action]:
    actions: list[Action] = []
    for _ in range(draw(st.integers(1, 40))):
        ticker = draw(st.sampled_from(MARKETS))
        if draw(st.booleans()):
            actions.append(("book", ticker, draw(st.integers(1, 4))))
        else:
            actions.append(("trade", ticker, 0))
    return actions


def tell(story: list[Action], join: int, sids: tuple[int, int], clock_steps: list[int]) -> list[tuple[Any, Any]]:
    """The frames of a connection joining before action ``join``, each with its true event."""
    clocks = dict.fromkeys(MARKETS, 0)
    frames: list[tuple[Any, Any]] = []
    seqs = {sids[0]: 0, sids[1]: 0}

    def send(sid: int, kind: str, msg: dict[str, Any], truth: Any) -> None:
        seqs[sid] += 1
        frames.append(({"type": kind, "sid": sid, "seq": seqs[sid], "msg": msg}, truth))

    for i, (what, ticker, n) in enumerate(story):
        if i == join:
            for m in MARKETS:
                send(sids[0], "orderbook_snapshot", {"market_ticker": m, "clock": clocks[m]}, ("s", m, clocks[m]))
        if what == "book":
            clocks[ticker] += clock_steps[i % len(clock_steps)]
            for pos in range(n):
                msg = {"market_ticker": ticker, "clock": clocks[ticker], "price_dollars": "0.5", "side": "yes"}
                if i >= join:
                    send(sids[0], "orderbook_delta", msg, ("d", ticker, clocks[ticker], pos))
        elif i >= join:
            send(sids[1], "trade", {"trade_id": f"tr-{i}", "market_ticker": ticker}, ("t", i))
    if join >= len(story):
        for m in MARKETS:
            send(sids[0], "orderbook_snapshot", {"market_ticker": m, "clock": clocks[m]}, ("s", m, clocks[m]))
    return frames


def keyed(frames: list[tuple[Any, Any]]) -> list[tuple[str | None, Any]]:
    keyer = EventKeyer()
    return [(keyer.key(frame), truth) for frame, truth in frames]


steps = st.lists(st.integers(1, 5), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(stories(), st.data())
def test_every_key_names_one_event_on_every_connection(story: list[Action], data: st.DataObject) -> None:
    clock_steps = data.draw(steps)
    names: dict[str, Any] = {}
    for _ in range(3):
        join = data.draw(st.integers(0, len(story)))
        sids = data.draw(st.permutations([1, 2, 3, 4]))
        frames = tell(story, join, (sids[0], sids[1]), clock_steps)
        lost = data.draw(st.sets(st.integers(0, max(len(frames) - 1, 0)), max_size=6))
        clean = not lost
        for i, (key, truth) in enumerate(keyed([f for j, f in enumerate(frames) if j not in lost])):
            if key is None:
                assert not clean, f"a clean connection left frame {i} ({truth}) without a key"
                assert truth[0] == "d", "only a delta's key depends on what came before"
                continue
            assert names.setdefault(key, truth) == truth, f"{key} names {names[key]} and {truth}"
            assert key.isascii() and key.isprintable() and " " not in key


@settings(max_examples=100, deadline=None)
@given(stories(), steps, st.integers(0, 3))
def test_two_clean_connections_give_the_same_keys(story: list[Action], clock_steps: list[int], join: int) -> None:
    one = [k for k, _ in keyed(tell(story, join, (1, 2), clock_steps))]
    two = [k for k, _ in keyed(tell(story, join, (7, 3), clock_steps))]
    assert one == two
    assert len(set(one)) == len(one)


def test_after_a_gap_the_group_is_unsure_until_a_higher_clock() -> None:
    keyer = EventKeyer()

    def delta(seq: int, clock: int) -> str | None:
        return keyer.key(
            {"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": {"market_ticker": "M", "clock": clock}}
        )

    assert keyer.key({"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "M", "clock": 5}}) == (
        "s:M:5"
    )
    assert delta(2, 5) is None  # at the snapshot's clock: already inside it
    assert [delta(3, 9), delta(4, 9)] == ["d:M:9:0", "d:M:9:1"]
    assert delta(6, 12) is None  # seq 5 lost: it may have been the first delta of clock 12
    assert delta(7, 12) is None
    assert delta(8, 13) == "d:M:13:0"
    assert delta(9, 2) is None  # the clock went down (maintenance): unsure until it moves on
    assert delta(10, 3) == "d:M:3:0"
    keyer.reset()  # a new connection: nothing is sure before its snapshots
    assert delta(1, 4) is None


def test_a_delta_before_any_snapshot_waits_for_the_next_clock() -> None:
    keyer = EventKeyer()
    msg = {"market_ticker": "M", "clock": 3}
    assert keyer.key({"type": "orderbook_delta", "sid": 1, "seq": 1, "msg": msg}) is None
    assert keyer.key({"type": "orderbook_delta", "sid": 1, "seq": 2, "msg": {"market_ticker": "M", "clock": 4}}) == (
        "d:M:4:0"
    )


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def test_the_reference_examples() -> None:
    keyer = EventKeyer()
    expected = {
        "orderbook_snapshot.json": "s:KXHIGHNY-26AUG28-B84.5:7310442",
        "trade.json": "t:8c7f3a52-1b9e-4d60-a2f4-93e0c6d5b718",
        "fill.json": "f:8c7f3a52-1b9e-4d60-a2f4-93e0c6d5b718:e41d9b07-6a3c-4f8e-b215-7d0c9a4e2f61",
        "order_group_updates.json": "g:og_5b1e0c:limit_updated:1787925912345:500.00",
        "market_lifecycle_v2.json": "l:KXHIGHNY-26AUG29-B84.5:created",
        "rfq_batch_best_quotes.json": "c:rfq_batch_best_quotes:rfqb_3e8d21c4:4",
        "pyth_value.json": "x:pyth_value:Metal.XAU%2FUSD:1787925912200",
        "ticker.json": None,
        "market_positions.json": None,
        "event_fee_update.json": None,
        "market_lifecycle_v2_deactivated.json": None,
    }
    for name, key in expected.items():
        assert keyer.key(example(name)) == key, name
    order = example("user_order.json")
    assert keyer.key(order) == ("u:e41d9b07-6a3c-4f8e-b215-7d0c9a4e2f61:1787925912345:resting:42.00:58.00:0.4400")
    order["msg"]["fill_count_fp"], order["msg"]["remaining_count_fp"] = "50.00", "50.00"
    assert keyer.key(order) != keyer.key(example("user_order.json"))
    for path in sorted(EXAMPLES.glob("*.json")):  # every key is a valid header value
        frame = json.loads(path.read_text())
        key = keyer.key(frame) if isinstance(frame, dict) else None
        assert key is None or (key.isascii() and key.isprintable() and " " not in key), path.name


def test_a_self_trade_gives_two_fills_two_keys() -> None:
    fill = example("fill.json")
    other = json.loads(json.dumps(fill))
    other["msg"]["order_id"] = "0d6e2c11-9f8a-4b3c-8d7e-6f5a4b3c2d1e"
    keyer = EventKeyer()
    assert keyer.key(fill) != keyer.key(other)


ids = st.text(alphabet=string.printable + "é☃:%", max_size=12)


@given(st.lists(st.tuples(ids, ids), min_size=2, max_size=8, unique=True))
def test_distinct_ids_never_share_a_key(pairs: list[tuple[str, str]]) -> None:
    keyer = EventKeyer()
    keys = [keyer.key({"type": "fill", "msg": {"trade_id": t, "order_id": o}}) for t, o in pairs]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert key is not None and key.isascii() and key.isprintable() and " " not in key


def test_content_keys_ignore_sid_seq_and_key_order_and_number_repeats() -> None:
    from kalshi_cli.event_keys import CONTENT_KEPT, ContentKeyer

    one, two = ContentKeyer(), ContentKeyer()
    a = {"type": "ticker", "sid": 3, "msg": {"market_ticker": "M", "price_dollars": "0.5", "ts_ms": 1}}
    a_elsewhere = {"sid": 9, "msg": {"ts_ms": 1, "price_dollars": "0.5", "market_ticker": "M"}, "type": "ticker"}
    b = {"type": "ticker", "sid": 3, "msg": {"market_ticker": "M", "price_dollars": "0.6", "ts_ms": 1}}
    first = one.key(a)
    assert first is not None and first == two.key(a_elsewhere)  # the same update on both connections
    assert one.key(b) != first
    again = one.key(a)  # the same state again: a new update, told apart by its count
    assert again is not None and again != first and two.key(a_elsewhere) == again
    assert one.key({"type": "trade", "msg": {"trade_id": "x"}}) is None  # has an exchange key
    assert one.key({"type": "ticker", "msg": "not a dict"}) is None
    for i in range(CONTENT_KEPT + 10):
        one.key({"type": "market_position", "msg": {"market_ticker": "M", "volume_fp": str(i)}})
    assert len(one._shown) <= CONTENT_KEPT
