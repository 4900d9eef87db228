"""The pure exchange model: determinism, book invariants, delta/snapshot consistency, the user."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.sim.market import Exchange

PRICE = re.compile(r"^\d\.\d{4}$")
COUNT = re.compile(r"^-?\d+\.\d{2}$")


def book_of(snapshot: dict) -> dict[str, dict[Decimal, Decimal]]:
    return {side: {Decimal(p): Decimal(s) for p, s in snapshot.get(f"{side}_dollars_fp", [])} for side in ("yes", "no")}


def run(ex: Exchange, n: int) -> list:
    events = []
    for _ in range(n):
        events += ex.step()
    return events


def test_same_seed_same_events() -> None:
    a, b = Exchange(7, 6), Exchange(7, 6)
    assert a.tickers == b.tickers and a.market_ids == b.market_ids
    assert [(e.type, e.ticker, e.msg) for e in run(a, 300)] == [(e.type, e.ticker, e.msg) for e in run(b, 300)]
    c = Exchange(8, 6)
    assert c.tickers != a.tickers or [e.msg for e in run(c, 50)] != [e.msg for e in run(Exchange(7, 6), 50)]


def test_realistic_names_and_ids() -> None:
    ex = Exchange(1, 20)
    assert len(set(ex.tickers)) == 20
    for ticker, market_id in ex.market_ids.items():
        assert re.match(r"^KX[A-Z]+-\d{2}[A-Z]{3}[0-9A-Z]*-[A-Z0-9.]+$", ticker), ticker
        assert str(uuid.UUID(market_id)) == market_id


def test_untouched_market_has_clock_zero_and_no_side_keys() -> None:
    ex = Exchange(2, 4)
    snap = ex.snapshot_msg(ex.tickers[-1])
    assert snap == {"market_ticker": ex.tickers[-1], "market_id": ex.market_ids[ex.tickers[-1]], "clock": 0}
    seeded = ex.snapshot_msg(ex.tickers[0])
    assert seeded["clock"] > 0 and "yes_dollars_fp" in seeded and "no_dollars_fp" in seeded


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_deltas_rebuild_true_book_and_never_cross(seed: int) -> None:
    ex = Exchange(seed, 4)
    books = {t: book_of(ex.snapshot_msg(t)) for t in ex.tickers}
    clocks = {t: ex.snapshot_msg(t)["clock"] for t in ex.tickers}
    for _ in range(400):
        events = ex.step()
        action_clock: dict[str, int] = {}
        for ev in events:
            if ev.type != "orderbook_delta":
                continue
            m = ev.msg
            t = m["market_ticker"]
            assert PRICE.match(m["price_dollars"]) and COUNT.match(m["delta_fp"])
            # one exchange action => one clock per market, strictly above everything before it
            assert action_clock.setdefault(t, m["clock"]) == m["clock"]
            assert m["clock"] > clocks[t]
            level = books[t][m["side"]]
            price = Decimal(m["price_dollars"])
            level[price] = level.get(price, Decimal(0)) + Decimal(m["delta_fp"])
            assert level[price] >= 0
            if level[price] == 0:
                del level[price]
        clocks.update(action_clock)
        for t in action_clock:
            snap = ex.snapshot_msg(t)
            assert snap["clock"] == clocks[t]
            assert book_of(snap) == books[t]
        for t in ex.tickers:
            b = books[t]
            if b["yes"] and b["no"]:
                assert max(b["yes"]) + max(b["no"]) < 1
    for t in ex.tickers:
        snap = ex.true_book(t)
        assert book_of(snap) == books[t]
        for side in ("yes", "no"):
            prices = [Decimal(p) for p, _ in snap.get(f"{side}_dollars_fp", [])]
            assert prices == sorted(prices)
            assert f"{side}_dollars_fp" not in snap or prices


def test_trades_match_deltas_and_ticker_follows() -> None:
    ex = Exchange(5, 5)
    seen_trade = False
    for _ in range(500):
        events = ex.step()
        trades = [e.msg for e in events if e.type == "trade"]
        if not trades:
            continue
        seen_trade = True
        deltas = [e.msg for e in events if e.type == "orderbook_delta"]
        assert len(deltas) == len(trades)
        for d, tr in zip(deltas, trades, strict=True):
            assert Decimal(tr["yes_price_dollars"]) + Decimal(tr["no_price_dollars"]) == 1
            assert Decimal(d["delta_fp"]) == -Decimal(tr["count_fp"])
            yes_price = Decimal(d["price_dollars"]) if d["side"] == "yes" else 1 - Decimal(d["price_dollars"])
            assert Decimal(tr["yes_price_dollars"]) == yes_price
            assert tr["taker_outcome_side"] == ("no" if d["side"] == "yes" else "yes")
        assert events[-1].type == "ticker"
        assert events[-1].msg["price_dollars"] == trades[-1]["yes_price_dollars"]
    assert seen_trade


def test_user_fills_orders_positions() -> None:
    ex = Exchange(11, 3)
    fills, own_deltas = [], []
    for _ in range(3000):
        events = ex.step()
        types = [e.type for e in events]
        for i, ev in enumerate(events):
            if ev.type == "fill":
                fills.append(ev.msg)
                assert types[i + 1 : i + 3] == ["user_order", "market_position"]
                order, pos = events[i + 1].msg, events[i + 2].msg
                assert order["client_order_id"] == ev.msg["client_order_id"]
                assert order["status"] in ("resting", "executed") and order["last_update_reason"] == "Trade"
                assert pos["position_fp"] == ev.msg["post_position_fp"]
                assert COUNT.match(ev.msg["count_fp"]) and re.match(r"^\d+\.\d{6}$", ev.msg["fee_cost"])
            if ev.type == "orderbook_delta" and "client_order_id" in ev.msg:
                own_deltas.append(ev.msg)
    assert fills and own_deltas
    assert ex.fills() == fills
    assert all(isinstance(f["ts_ms"], int) for f in fills)
    orders = {o["client_order_id"]: o for o in ex.orders()}
    assert {d["client_order_id"] for d in own_deltas} <= set(orders)
    for o in orders.values():
        filled, left, initial = (Decimal(o[k]) for k in ("fill_count_fp", "remaining_count_fp", "initial_count_fp"))
        assert filled <= initial and (left == initial - filled or o["status"] != "resting")
    traded = {f["market_ticker"] for f in fills}
    assert {p["market_ticker"] for p in ex.positions()} == traded


def test_lifecycle_events_appear() -> None:
    ex = Exchange(4, 5)
    kinds = {(e.type, e.msg.get("event_type")) for e in run(ex, 1500)}
    assert ("market_lifecycle_v2", "deactivated") in kinds
    assert ("market_lifecycle_v2", "activated") in kinds
    assert ("market_lifecycle_v2", "close_date_updated") in kinds
    assert ("event_lifecycle", None) in kinds


def test_maintenance_lowers_clock() -> None:
    ex = Exchange(3, 3)
    t = ex.tickers[0]
    before = ex.snapshot_msg(t)["clock"]
    (ev,) = ex.maintenance(t)
    assert ev.type == "orderbook_snapshot" and ev.msg["clock"] < before
