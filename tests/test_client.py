"""The sans-I/O Kalshi client, driven by feeding it frames: no socket, no event loop."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kalshi_cli.client import KalshiClient
from kalshi_cli.errors import ServerError
from kalshi_cli.events import Data, Gap, Lost, Reply, RetryLater, Subscribed, Subscription, Warning


def frame(**fields: Any) -> bytes:
    return orjson.dumps(fields)


def trade(sid: int, seq: int, n: int | None = None) -> bytes:
    return frame(type="trade", sid=sid, seq=seq, msg={"market_ticker": "KX", "trade_id": f"t{n or seq}"})


def start(*channels: str, passthrough: bool = False) -> tuple[KalshiClient, list[Subscription], list[Any]]:
    """A connected client with one subscription per channel, acked with sids 1, 2, ..."""
    subs = [Subscription(c, {"market_tickers": ["KX"]}) for c in channels]
    client = KalshiClient(subs, passthrough=passthrough)
    client.connected()
    cmds = [orjson.loads(c) for c in client.data_to_send()]
    acks = [
        frame(id=c["id"], type="subscribed", msg={"channel": c["params"]["channels"][0], "sid": i + 1})
        for i, c in enumerate(cmds)
    ]
    events = list(client.receive(acks))
    return client, subs, events


def feed(client: KalshiClient, *frames: bytes) -> list[Any]:
    return list(client.receive(frames))


def data(events: list[Any]) -> list[bytes]:
    return [e.raw if isinstance(e, Data) else e for e in events if isinstance(e, Data | bytes)]


def warnings(events: list[Any]) -> list[str]:
    """The lines a reporter prints: a keyed warning once per key."""
    keys: set[str] = set()
    lines = []
    for e in events:
        if isinstance(e, Warning) and (e.key is None or e.key not in keys):
            lines.append(e.text)
            keys.add(e.key or "")
    return lines


def sent(client: KalshiClient) -> list[dict[str, Any]]:
    return [orjson.loads(c) for c in client.data_to_send()]


def test_subscribe_then_data_with_its_subscription_and_parse() -> None:
    client, subs, events = start("trade", "ticker")
    assert [type(e) for e in events] == [Subscribed, Subscribed] and [s.sid for s in subs] == [1, 2]
    raw = trade(1, 1)
    (event,) = feed(client, raw)
    assert isinstance(event, Data) and event.raw == raw and event.sub is subs[0]
    assert (event.head.type, event.head.sid, event.head.seq) == ("trade", 1, 1)
    assert event.head.obj == orjson.loads(raw)  # consumers need not parse again
    assert client.frames == 1


def test_commands_have_fresh_ids_and_a_reconnect_subscribes_everything_again() -> None:
    subs = [Subscription("trade"), Subscription("ticker", {"market_tickers": ["A"]})]
    client = KalshiClient(subs)
    client.connected()
    first = sent(client)
    assert [c["cmd"] for c in first] == ["subscribe", "subscribe"]
    assert first[1]["params"] == {"channels": ["ticker"], "market_tickers": ["A"]}
    client.connected()
    second = sent(client)
    assert [c["cmd"] for c in second] == ["subscribe", "subscribe"]
    assert len({c["id"] for c in first + second}) == 4


def test_frames_before_their_subscribed_ack_are_kept_and_delivered_after_it() -> None:
    sub = Subscription("trade")
    client = KalshiClient([sub])
    client.connected()
    (cmd,) = sent(client)
    early = [trade(7, 1), trade(7, 2)]
    assert feed(client, *early) == []
    events = feed(client, frame(id=cmd["id"], type="subscribed", msg={"channel": "trade", "sid": 7}))
    assert isinstance(events[0], Subscribed) and data(events) == early


def test_a_gap_is_reported_before_the_frame_that_shows_it() -> None:
    client, subs, _ = start("trade")
    events = feed(client, trade(1, 1), trade(1, 4), trade(1, 5))
    assert isinstance(events[1], Gap) and events[1].missing == 2 and events[1].head.seq == 4
    assert len(data(events)) == 3 and client.gaps == 1


def test_a_true_repeat_is_dropped_quietly_once_per_sid() -> None:
    client, _, _ = start("trade")
    one, two = trade(1, 1), trade(1, 2)
    reordered = b'{"msg":{"trade_id":"t1","market_ticker":"KX"},"seq":1,"type":"trade","sid":1}'
    events = feed(client, one, two, one, two, reordered)
    assert data(events) == [one, two]
    assert client.duplicates == 3
    assert len(warnings(events)) == 1
    assert not any(isinstance(e, Lost) for e in events)


@pytest.mark.parametrize(
    ("later", "reason"),
    [
        (trade(1, 2), "seq went back from 80 to 2"),
        (trade(1, 1), "seq restarted at 1 (was 80)"),
        (trade(1, 79, n=999), "new content under seq 79"),
    ],
)
def test_a_seq_that_goes_back_resyncs_the_subscription_once(later: bytes, reason: str) -> None:
    client, subs, _ = start("trade")
    feed(client, *(trade(1, s) for s in range(1, 81)))
    sent(client)
    events = feed(client, later, trade(1, 3), trade(1, 4))
    lost = [e for e in events if isinstance(e, Lost)]
    assert len(lost) == 1 and reason in lost[0].reason and lost[0].sub is subs[0]
    assert len(warnings(events)) == 1  # one line for the event, none for the old sid's frames in flight
    assert data(events) == [] and client.stale_frames == 2
    assert [c["cmd"] for c in sent(client)] == ["unsubscribe", "subscribe"]
    assert subs[0].sid is None


def test_a_resubscribed_channel_starts_over_with_its_new_sid() -> None:
    client, subs, _ = start("trade")
    feed(client, trade(1, 5))  # a gap from 0: fine, reported
    feed(client, trade(1, 1))  # went back
    new = [c for c in sent(client) if c["cmd"] == "subscribe"][0]
    events = feed(client, frame(id=new["id"], type="subscribed", msg={"channel": "trade", "sid": 2}), trade(2, 1))
    assert isinstance(events[0], Subscribed) and subs[0].sid == 2 and data(events) == [trade(2, 1)]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"trade","sid":1,"seq":1,"msg":{"a":1,}}',  # trailing comma
        b'{"type":"trade","sid":1,"seq":1,"msg":{"price":NaN}}',
        b'{"type":"trade","sid":1,"seq":1,"msg":{}} junk',
        b'{"type":"trade","sid":1,"seq":1,"msg":{"t":"\xff\xfe"}}',  # not UTF-8
        b'[{"type":"trade","sid":1,"seq":1}]',
        b"",
        b'{"type":"trade","sid":1,"seq":"1","msg":{}}',
        b'{"type":"trade","sid":1,"seq":0,"msg":{}}',
    ],
)
def test_an_unreadable_frame_is_reported_and_skipped(raw: bytes) -> None:
    client, _, _ = start("trade", passthrough=True)
    events = feed(client, raw, trade(1, 1))
    assert len(warnings(events)) == 1 and "skipping unreadable frame" in warnings(events)[0]
    assert data(events) == [trade(1, 1)]  # the stream goes on; the bad frame took no seq


def test_unreadable_frames_are_reported_a_few_times_then_once() -> None:
    client, _, _ = start("trade")
    events = feed(client, *[b"{oops"] * 500)
    assert len(warnings(events)) == 11 and client.bad_frames == 500


def test_the_envelope_reads_the_same_in_any_key_order() -> None:
    client, _, _ = start("trade", passthrough=True)
    shapes = [
        b'{"msg":{"x":1},"seq":1,"sid":1,"type":"trade"}',
        b'{ "sid" : 1 , "msg" : {"x":2} , "type" : "trade" , "seq" : 2 }',
        b'{"sid":1,"msg":{"x":1},"seq":1,"type":"trade"}',  # the first again: a repeat
        b'{"seq":5,"type":"trade","msg":{"x":5},"sid":1}',  # 3 and 4 missing
    ]
    events = feed(client, *shapes)
    assert data(events) == [shapes[0], shapes[1], shapes[3]]
    assert [e.missing for e in events if isinstance(e, Gap)] == [2]


def test_passthrough_yields_the_raw_bytes_only() -> None:
    client, _, _ = start("trade", passthrough=True)
    events = feed(client, trade(1, 1), trade(1, 2))
    assert events == [trade(1, 1), trade(1, 2)]


def test_unsequenced_channels_and_unknown_types() -> None:
    client, _, _ = start("ticker")
    tick = frame(type="ticker", sid=1, msg={"market_ticker": "KX"})
    events = feed(client, tick, tick, frame(type="mystery", sid=1), frame(type="mystery", sid=1))
    assert data(events) == [tick, tick]
    assert len(warnings(events)) == 1


def test_terminal_errors_resubscribe() -> None:
    client, subs, _ = start("orderbook_delta")
    events = feed(client, frame(type="error", sid=1, msg={"code": 25, "msg": "Subscription buffer overflow"}))
    assert [type(e) for e in events] == [Warning, Lost]
    assert [c["cmd"] for c in sent(client)] == ["subscribe"]  # the server dropped it already
    assert subs[0].sid is None


def test_rate_limit_and_timeout_errors_ask_for_a_retry_later() -> None:
    client, subs, _ = start("orderbook_delta")
    client.request_snapshot(subs[0], ["KX"])
    (cmd,) = sent(client)
    events = feed(client, frame(id=cmd["id"], type="error", msg={"code": 27, "msg": "Too many requests"}))
    retry = [e for e in events if isinstance(e, RetryLater)]
    assert len(retry) == 1 and retry[0].delay > 0 and sent(client) == []  # nothing until the session says so
    client.retry(retry[0].command)
    (again,) = sent(client)
    assert again["id"] != cmd["id"] and again["params"] == cmd["params"]


def test_a_failed_snapshot_request_resubscribes() -> None:
    client, subs, _ = start("orderbook_delta")
    client.request_snapshot(subs[0], ["KX"])
    (cmd,) = sent(client)
    events = feed(client, frame(id=cmd["id"], type="error", msg={"code": 14, "msg": "Market Ticker required"}))
    assert any(isinstance(e, Lost) for e in events)
    assert [c["cmd"] for c in sent(client)] == ["unsubscribe", "subscribe"]


def test_a_refused_subscription_is_a_server_error() -> None:
    client = KalshiClient([Subscription("nope")])
    client.connected()
    (cmd,) = sent(client)
    with pytest.raises(ServerError) as info:
        feed(client, frame(id=cmd["id"], type="error", msg={"code": 8, "msg": "Unknown channel name"}))
    assert info.value.code == 8


def test_legacy_already_subscribed_adopts_the_sid_its_data_arrives_on() -> None:
    sub = Subscription("trade")
    client = KalshiClient([sub])
    client.connected()
    (cmd,) = sent(client)
    events = feed(client, frame(id=cmd["id"], type="error", msg={"code": 6, "msg": "Already subscribed"}))
    assert len(warnings(events)) == 1
    assert [c["cmd"] for c in sent(client)] == ["list_subscriptions"]
    events = feed(client, trade(4, 40), trade(4, 41))
    assert isinstance(events[0], Subscribed) and sub.sid == 4
    assert data(events) == [trade(4, 40), trade(4, 41)]  # joined mid-stream: no gap from 0
    assert not any(isinstance(e, Gap) for e in events)


def test_legacy_already_subscribed_adopts_from_the_subscription_list() -> None:
    sub = Subscription("orderbook_delta", {"market_tickers": ["KX"]})
    client = KalshiClient([sub])
    client.connected()
    (cmd,) = sent(client)
    feed(client, frame(id=cmd["id"], type="error", msg={"code": 6, "msg": "Already subscribed"}))
    (listing,) = sent(client)
    events = feed(client, frame(id=listing["id"], type="ok", msg=[{"channel": "orderbook_delta", "sid": 3}]))
    assert isinstance(events[0], Subscribed) and sub.sid == 3
    assert isinstance(events[-1], Reply)
    (snap,) = sent(client)  # a book joined mid-stream needs its snapshot
    assert snap["params"] == {"sid": 3, "action": "get_snapshot", "market_tickers": ["KX"]}


def test_acks_with_a_seq_count_in_the_sequence() -> None:
    client, _, _ = start("orderbook_delta")
    events = feed(
        client, frame(type="orderbook_delta", sid=1, seq=1, msg={}), frame(id=9, type="ok", sid=1, seq=3, msg={})
    )
    assert [e.missing for e in events if isinstance(e, Gap)] == [1]


def test_frames_on_a_sid_nobody_asked_for_are_reported_once() -> None:
    client, _, _ = start("trade")
    events = feed(client, trade(99, 1), trade(99, 2), trade(1, 1))
    assert warnings(events) == ["ignoring frames for unknown sid 99"] and data(events) == [trade(1, 1)]


def test_a_consumer_editing_the_parse_does_not_change_what_a_repeat_is() -> None:
    client, _, _ = start("trade")
    (first,) = feed(client, trade(1, 1))
    first.head.obj["msg"].clear()  # a consumer is free to reuse the parse it was handed
    events = feed(client, trade(1, 1), trade(1, 2))
    assert data(events) == [trade(1, 2)] and not any(isinstance(e, Lost) for e in events)
