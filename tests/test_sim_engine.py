"""The sans-I/O protocol engine: commands, validation order, sids/seqs, routing, faults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from kalshi_cli.sim.engine import Connection
from kalshi_cli.sim.market import Exchange


@pytest.fixture
def ex() -> Exchange:
    return Exchange(3, 5)


@pytest.fixture
def conn(ex: Exchange) -> Connection:
    return Connection(ex, sending_ts=False)


def cmd(conn: Connection, obj: Any) -> list[dict]:
    text = obj if isinstance(obj, str) else orjson.dumps(obj).decode()
    return conn.handle_text(text)


def sub(conn: Connection, cid: int, **params: Any) -> list[dict]:
    return cmd(conn, {"id": cid, "cmd": "subscribe", "params": params})


def codes(frames: list[dict]) -> list[int]:
    return [f["msg"]["code"] for f in frames if f["type"] == "error"]


def drive(ex: Exchange, conn: Connection, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        out += conn.on_events(ex.step())
    return out


# --- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", 1),
        ("[1, 2]", 1),
        ('{"id": "x", "cmd": "subscribe"}', 1),
        ('{"id": 1, "cmd": "dance", "params": {}}', 5),
        ('{"id": 1}', 5),
        ('{"id": 1, "cmd": "subscribe"}', 2),
        ('{"id": 1, "cmd": "subscribe", "params": "x"}', 1),
        ('{"id": 1, "cmd": "subscribe", "params": {}}', 3),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": []}}', 3),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["multivariate"]}}', 8),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker_v2"]}}', 8),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["batch_communications"]}}', 8),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["market_positions", "market_position"]}}', 8),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["communications"], "shard_factor": 0}}', 19),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["communications"], "shard_key": 1}}', 20),
        (
            '{"id": 1, "cmd": "subscribe", "params": {"channels": ["communications"], "shard_factor": 4,'
            ' "shard_key": 4}}',
            21,
        ),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["communications"], "shard_factor": 101}}', 22),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}', 14),
        (
            '{"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_ids": '
            '["3f1c2b9e-7a4d-4c8e-9b21-5d6e0a7f8c13"]}}',
            14,
        ),
        ('{"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker"], "market_id": "nope"}}', 11),
        ('{"id": 1, "cmd": "unsubscribe", "params": {}}', 4),
        ('{"id": 1, "cmd": "unsubscribe", "params": {"sids": [42]}}', 7),
        ('{"id": 1, "cmd": "update_subscription", "params": {"action": "add_markets"}}', 12),
        ('{"id": 1, "cmd": "update_subscription", "params": {"sids": [1, 2], "action": "add_markets"}}', 12),
        ('{"id": 1, "cmd": "update_subscription", "params": {"sid": 1, "sids": [1]}}', 12),
        ('{"id": 1, "cmd": "update_subscription", "params": {"sid": 9, "action": "add_markets"}}', 7),
    ],
)
def test_command_errors(conn: Connection, text: str, code: int) -> None:
    (frame,) = conn.handle_text(text)
    assert frame["type"] == "error" and frame["msg"]["code"] == code
    assert isinstance(frame["msg"]["msg"], str) and frame["msg"]["msg"]
    try:
        cid = orjson.loads(text).get("id")
    except (orjson.JSONDecodeError, AttributeError):
        cid = None
    assert list(frame) == (["type", "id", "msg"] if isinstance(cid, int) else ["type", "msg"])
    assert conn.subs == {}


def test_validation_order(conn: Connection) -> None:
    # unknown channel beats shard errors, which beat the missing orderbook ticker, which beats a bad uuid
    assert codes(sub(conn, 1, channels=["nope", "communications"], shard_factor=0)) == [8]
    assert codes(sub(conn, 2, channels=["communications", "orderbook_delta"], shard_factor=0)) == [19]
    assert codes(sub(conn, 3, channels=["orderbook_delta", "ticker"], market_id="bad")) == [14]
    assert codes(sub(conn, 4, channels=[])) == [3]
    assert codes(cmd(conn, {"id": 5, "cmd": "nope"})) == [5]


def test_update_subscription_errors(conn: Connection, ex: Exchange) -> None:
    sub(conn, 1, channels=["orderbook_delta"], market_tickers=[ex.tickers[0]])
    sub(conn, 2, channels=["market_lifecycle_v2"])
    upd = lambda cid, **p: cmd(conn, {"id": cid, "cmd": "update_subscription", "params": p})  # noqa: E731
    assert codes(upd(3, sid=1)) == [15]
    assert codes(upd(4, sid=1, action="fly")) == [13]
    assert codes(upd(5, sid=2, action="add_markets", market_tickers=["X"])) == [13]
    assert codes(upd(6, sid=1, action="add_markets")) == [14]
    assert codes(upd(7, sid=1, action="get_snapshot", market_ticker=ex.tickers[0])) == [14]
    assert codes(upd(8, sid=1, action="get_snapshot")) == [14]
    err = upd(9, sid=1)
    assert err == [{"type": "error", "id": 9, "msg": {"code": 15, "msg": "Action required"}}]


# --- subscribe / seq -------------------------------------------------------------------------------


def test_subscribe_orderbook_snapshots_then_deltas_dense_seq(conn: Connection, ex: Exchange) -> None:
    t0, t1 = ex.tickers[:2]
    frames = sub(conn, 1, channels=["orderbook_delta"], market_tickers=[t0, t1, "KXNOPE-26NOV25-X"])
    assert frames[0] == {"type": "subscribed", "id": 1, "msg": {"channel": "orderbook_delta", "sid": 1}}
    assert [(f["type"], f["seq"], f["msg"]["market_ticker"]) for f in frames[1:]] == [
        ("orderbook_snapshot", 1, t0),
        ("orderbook_snapshot", 2, t1),
    ]
    assert frames[1]["msg"] == ex.snapshot_msg(t0)
    assert "id" not in frames[1]
    data = drive(ex, conn, 200)
    assert data and {f["msg"]["market_ticker"] for f in data} <= {t0, t1}
    assert [f["seq"] for f in data] == list(range(3, 3 + len(data)))
    assert all(list(f) == ["type", "sid", "seq", "msg"] for f in data)


def test_snapshot_plus_deltas_reproduce_true_book(conn: Connection, ex: Exchange) -> None:
    books: dict[str, dict[str, dict[Decimal, Decimal]]] = {}
    frames = sub(conn, 1, channels=["orderbook_delta"], market_tickers=ex.tickers) + drive(ex, conn, 500)
    for f in frames:
        m = f.get("msg", {})
        if f["type"] == "orderbook_snapshot":
            books[m["market_ticker"]] = {
                s: {Decimal(p): Decimal(q) for p, q in m.get(f"{s}_dollars_fp", [])} for s in ("yes", "no")
            }
        elif f["type"] == "orderbook_delta":
            level = books[m["market_ticker"]][m["side"]]
            p = Decimal(m["price_dollars"])
            level[p] = level.get(p, Decimal(0)) + Decimal(m["delta_fp"])
            if level[p] == 0:
                del level[p]
    for t in ex.tickers:
        true = ex.true_book(t)
        assert books[t] == {
            s: {Decimal(p): Decimal(q) for p, q in true.get(f"{s}_dollars_fp", [])} for s in ("yes", "no")
        }


def test_duplicate_subscribe_merges_into_same_sid(conn: Connection, ex: Exchange) -> None:
    t0, t1 = ex.tickers[:2]
    sub(conn, 1, channels=["orderbook_delta"], market_tickers=[t0])
    frames = sub(conn, 2, channels=["orderbook_delta"], market_tickers=[t0, t1])
    assert frames[0] == {"type": "subscribed", "id": 2, "msg": {"channel": "orderbook_delta", "sid": 1}}
    assert [(f["type"], f["seq"], f["msg"]["market_ticker"]) for f in frames[1:]] == [("orderbook_snapshot", 2, t1)]
    assert sub(conn, 3, channels=["orderbook_delta"], market_tickers=[t1])[1:] == []
    assert len(conn.subs) == 1
    listing = cmd(conn, {"id": 4, "cmd": "list_subscriptions"})
    assert listing == [{"type": "ok", "id": 4, "msg": [{"channel": "orderbook_delta", "sid": 1}]}]


def test_multi_channel_subscribe_and_filters(conn: Connection, ex: Exchange) -> None:
    t0 = ex.tickers[0]
    frames = sub(conn, 2, channels=["ticker", "trade"], market_tickers=[t0], send_initial_snapshot=True)
    assert [(f["type"], f.get("id"), f.get("sid") or f["msg"]["sid"]) for f in frames] == [
        ("subscribed", 2, 1),
        ("ticker", None, 1),
        ("subscribed", 2, 2),
    ]
    assert "seq" not in frames[1] and frames[1]["msg"]["market_ticker"] == t0
    sub(conn, 3, channels=["market_lifecycle_v2", "fill", "user_orders", "market_positions"], market_tickers=["Z"])
    data = drive(ex, conn, 1500)
    by_type: dict[str, list[dict]] = {}
    for f in data:
        by_type.setdefault(f["type"], []).append(f)
    assert all(f["msg"]["market_ticker"] == t0 for f in by_type["ticker"] + by_type["trade"])
    assert all("seq" not in f for f in by_type["ticker"])
    trade_seqs = [f["seq"] for f in by_type["trade"]]
    assert trade_seqs == list(range(1, len(trade_seqs) + 1))
    # lifecycle ignores market filters; fill etc. were filtered to a market that does not exist
    assert {f["msg"]["market_ticker"] for f in by_type["market_lifecycle_v2"]} - {t0}
    assert "fill" not in by_type and "user_order" not in by_type and "market_position" not in by_type
    assert {f["type"] for f in by_type.get("event_lifecycle", [])} <= {"event_lifecycle"}


def test_private_channels_all_markets(conn: Connection, ex: Exchange) -> None:
    sub(conn, 3, channels=["fill", "user_orders", "market_positions", "order_group_updates"])
    data = drive(ex, conn, 2000)
    types = {f["type"] for f in data}
    assert {"fill", "user_order", "market_position"} <= types
    assert all("seq" not in f for f in data)


def test_ticker_by_market_id(conn: Connection, ex: Exchange) -> None:
    t1 = ex.tickers[1]
    frames = sub(conn, 1, channels=["ticker"], market_ids=[ex.market_ids[t1]], send_initial_snapshot=True)
    assert frames[1]["msg"]["market_ticker"] == t1
    assert {f["msg"]["market_ticker"] for f in drive(ex, conn, 300)} == {t1}


def test_use_yes_price(conn: Connection, ex: Exchange) -> None:
    t0 = ex.tickers[0]
    frames = sub(conn, 5, channels=["orderbook_delta"], market_ticker=t0, use_yes_price=True)
    true = ex.true_book(t0)
    no = frames[1]["msg"]["no_dollars_fp"]
    expected = sorted([str(1 - Decimal(p)), q] for p, q in true["no_dollars_fp"])
    assert [[Decimal(p), q] for p, q in no] == [[Decimal(p), q] for p, q in expected]
    assert frames[1]["msg"]["yes_dollars_fp"] == true["yes_dollars_fp"]
    plain = Connection(ex, sending_ts=False)
    sub(plain, 1, channels=["orderbook_delta"], market_ticker=t0)
    for _ in range(300):
        events = ex.step()
        for a, b in zip(conn.on_events(events), plain.on_events(events), strict=True):
            if a["msg"]["side"] == "no":
                assert Decimal(a["msg"]["price_dollars"]) == 1 - Decimal(b["msg"]["price_dollars"])
            else:
                assert a["msg"] == b["msg"]


# --- update_subscription / unsubscribe -----------------------------------------------------------------


def test_add_delete_get_snapshot_consume_seq(conn: Connection, ex: Exchange) -> None:
    t0, t1, t2 = ex.tickers[:3]
    sub(conn, 1, channels=["orderbook_delta"], market_tickers=[t0])
    upd = lambda cid, **p: cmd(conn, {"id": cid, "cmd": "update_subscription", "params": p})  # noqa: E731
    frames = upd(8, sid=1, action="add_markets", market_tickers=[t1, t2])
    assert frames[0] == {"type": "ok", "id": 8, "sid": 1, "seq": 2, "msg": {"market_tickers": [t0, t1, t2]}}
    assert [(f["type"], f["seq"], f["msg"]["market_ticker"]) for f in frames[1:]] == [
        ("orderbook_snapshot", 3, t1),
        ("orderbook_snapshot", 4, t2),
    ]
    frames = upd(9, sids=[1], action="delete_markets", market_tickers=[t2])
    assert frames == [{"type": "ok", "id": 9, "sid": 1, "seq": 5, "msg": {"market_tickers": [t0, t1]}}]
    frames = upd(10, sid=1, action="get_snapshot", market_tickers=[t1, t2])
    assert frames == [{"type": "orderbook_snapshot", "id": 10, "sid": 1, "seq": 6, "msg": ex.snapshot_msg(t1)}]
    data = drive(ex, conn, 100)
    assert [f["seq"] for f in data] == list(range(7, 7 + len(data)))
    assert {f["msg"]["market_ticker"] for f in data} <= {t0, t1}


def test_skip_ticker_ack_and_unsequenced_ok(conn: Connection, ex: Exchange) -> None:
    t0, t1 = ex.tickers[:2]
    sub(conn, 1, channels=["fill"], market_tickers=[t0], skip_ticker_ack=True)
    frames = cmd(
        conn,
        {"id": 2, "cmd": "update_subscription", "params": {"sid": 1, "action": "add_markets", "market_tickers": [t1]}},
    )
    assert frames == [{"type": "ok", "id": 2, "sid": 1, "msg": {}}]


def test_unsubscribe(conn: Connection, ex: Exchange) -> None:
    sub(conn, 1, channels=["orderbook_delta", "ticker"], market_tickers=[ex.tickers[0]])
    frames = cmd(conn, {"id": 6, "cmd": "unsubscribe", "params": {"sids": [1, 2, 7]}})
    assert frames == [
        {"type": "unsubscribed", "id": 6, "sid": 1, "seq": 2},
        {"type": "unsubscribed", "id": 6, "sid": 2},
        {"type": "error", "id": 6, "msg": {"code": 7, "msg": "Unknown subscription ID"}},
    ]
    assert conn.subs == {} and drive(ex, conn, 50) == []
    again = sub(conn, 7, channels=["trade"])
    assert again[0]["msg"]["sid"] == 3  # sids are never reused on a connection


def test_index_feeds(conn: Connection) -> None:
    sub(conn, 1, channels=["cfbenchmarks_value"])
    upd = lambda cid, **p: cmd(conn, {"id": cid, "cmd": "update_subscription", "params": p})  # noqa: E731
    assert codes(upd(2, sid=1, action="subscribe_indices")) == [24]
    assert upd(3, sid=1, action="subscribe_indices", index_ids=["BRTI"]) == [
        {"type": "ok", "id": 3, "sid": 1, "seq": 1, "msg": {"index_ids": ["BRTI"]}}
    ]
    assert upd(4, sid=1, action="indexlist")[0]["type"] == "cfbenchmarks_value_indexlist"
    sub(conn, 5, channels=["pyth_value"])
    assert codes(upd(6, sid=2, action="subscribe_underlyings")) == [28]


def test_id_zero_is_absent_and_sending_ts(ex: Exchange) -> None:
    conn = Connection(ex, now_ms=lambda: 1787925912345)
    (frame,) = cmd(conn, {"id": 0, "cmd": "list_subscriptions"})
    assert frame == {"type": "ok", "msg": [], "sending_ts_ms": 1787925912345}


def test_anonymous_private_channels_get_code_9(ex: Exchange) -> None:
    conn = Connection(ex, authenticated=False, sending_ts=False)
    frames = sub(conn, 3, channels=["fill", "trade"])
    assert frames == [
        {"type": "error", "id": 3, "msg": {"code": 9, "msg": "Authentication required"}},
        {"type": "subscribed", "id": 3, "msg": {"channel": "trade", "sid": 1}},
    ]


# --- faults ----------------------------------------------------------------------------------------


def test_skip_seq_and_async_error(conn: Connection, ex: Exchange) -> None:
    sub(conn, 1, channels=["orderbook_delta"], market_tickers=ex.tickers)
    sub(conn, 2, channels=["ticker"])
    conn.skip_seq("orderbook_delta", 3)
    data = [f for f in drive(ex, conn, 30) if f["sid"] == 1]
    seqs = [f["seq"] for f in data]
    assert seqs[0] == len(ex.tickers) + 1 + 3 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    err = conn.async_error(conn.subs[1], 25)
    assert err == {
        "type": "error",
        "sid": 1,
        "seq": seqs[-1] + 1,
        "msg": {"code": 25, "msg": "Subscription buffer overflow"},
    }
    assert 1 not in conn.subs
    err = conn.async_error(conn.subs[2], 10)
    assert err == {"type": "error", "sid": 2, "msg": {"code": 10, "msg": "Channel error"}}
    assert conn.subs == {}


def test_maintenance_snapshot_goes_to_orderbook_subs(conn: Connection, ex: Exchange) -> None:
    t0 = ex.tickers[0]
    sub(conn, 1, channels=["orderbook_delta"], market_tickers=[t0])
    before = ex.snapshot_msg(t0)["clock"]
    (frame,) = conn.on_events(ex.maintenance(t0))
    assert frame["type"] == "orderbook_snapshot" and frame["seq"] == 2 and frame["msg"]["clock"] < before
