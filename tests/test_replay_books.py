"""The replay's rebuilt books against the simulated exchange's truth, with frames lost on the way.

The simulator's events are "recorded" as an orderbook sid's frames (dense seqs), some are
dropped, and the replay exchange is fed the rest: every book it vouches for (the ones it
would serve) must be the exchange's true book, and it vouches for every market except those
with no snapshot since a seq gap (a gap does not say which market lost frames).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.protocol import ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT
from kalshi_cli.recording import Recording
from kalshi_cli.sim.market import Exchange
from kalshi_cli.sim.replay_exchange import ReplayExchange

BOOK_TYPES = (ORDERBOOK_SNAPSHOT, ORDERBOOK_DELTA)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16), data=st.data())
def test_every_book_the_replay_vouches_for_is_the_true_book(seed: int, data: st.DataObject) -> None:
    ex = Exchange(seed, n_markets=3)
    rex = ReplayExchange(Recording([]))
    seq = 0
    unplaceable: set[str] = set()  # markets with no snapshot since the last gap
    undetected = False  # a dropped frame that no later frame has revealed yet

    def record(kind: str, ticker: str, msg: dict, *, drop: bool) -> None:
        nonlocal seq, undetected
        seq += 1
        if drop:
            undetected = True
            return
        if undetected:  # this frame's seq reveals the gap
            unplaceable.update(ex.tickers)
            undetected = False
        if kind == ORDERBOOK_SNAPSHOT:
            unplaceable.discard(ticker)
        rex.apply({"type": kind, "sid": 1, "seq": seq, "msg": msg})

    for ticker in ex.tickers:
        record(ORDERBOOK_SNAPSHOT, ticker, ex.snapshot_msg(ticker), drop=False)
    for _ in range(data.draw(st.integers(1, 60), label="steps")):
        if data.draw(st.integers(0, 9), label="maintenance?") == 0:
            events = ex.maintenance(data.draw(st.sampled_from(ex.tickers), label="market"))
        else:
            events = ex.step()
        for ev in events:
            if ev.type not in BOOK_TYPES or ev.ticker is None:
                continue
            drop = data.draw(st.integers(0, 14), label="drop?") == 0
            record(ev.type, ev.ticker, ev.msg, drop=drop)
        if undetected:
            continue  # a loss at the very end cannot be seen yet (the recorder writes a gap line then)
        assert set(rex.markets) == set(ex.tickers) - unplaceable
        for ticker in rex.markets:
            assert rex.snapshot_msg(ticker) == ex.snapshot_msg(ticker)


def test_a_delta_at_its_snapshots_clock_is_not_sent_and_the_book_waits_for_the_next_snapshot() -> None:
    rex = ReplayExchange(Recording([]))
    snap = {"market_ticker": "KXA", "clock": 10, "yes_dollars_fp": [["0.4000", "5.00"]]}
    assert rex.apply({"type": ORDERBOOK_SNAPSHOT, "sid": 1, "seq": 1, "msg": snap}) is not None
    inside = {"market_ticker": "KXA", "clock": 10, "price_dollars": "0.4000", "delta_fp": "5.00", "side": "yes"}
    # on one connection this is a fault, or follows maintenance: the client's BookSet goes STALE too
    assert rex.apply({"type": ORDERBOOK_DELTA, "sid": 1, "seq": 2, "msg": inside}) is None
    assert "KXA" not in rex.markets
    after = {**inside, "clock": 11, "delta_fp": "-1.00"}
    assert rex.apply({"type": ORDERBOOK_DELTA, "sid": 1, "seq": 3, "msg": after}) is None
    assert rex.apply({"type": ORDERBOOK_SNAPSHOT, "sid": 1, "seq": 4, "msg": {**snap, "clock": 12}}) is not None
    assert rex.apply({"type": ORDERBOOK_DELTA, "sid": 1, "seq": 5, "msg": {**after, "clock": 13}}) is not None
    assert rex.snapshot_msg("KXA")["yes_dollars_fp"] == [["0.4000", "4.00"]]


def test_books_the_client_would_refuse_are_not_vouched_for() -> None:
    rex = ReplayExchange(Recording([]))
    crossed = {"market_ticker": "KXA", "yes_dollars_fp": [["0.6000", "1.00"]], "no_dollars_fp": [["0.5000", "1.00"]]}
    assert rex.apply({"type": ORDERBOOK_SNAPSHOT, "msg": crossed}) is None
    assert "KXA" not in rex.markets
    rex.apply({"type": ORDERBOOK_SNAPSHOT, "msg": {"market_ticker": "KXA", "clock": 1}})
    finer = {"market_ticker": "KXA", "clock": 2, "price_dollars": "0.40005", "delta_fp": "1.00", "side": "yes"}
    assert rex.apply({"type": ORDERBOOK_DELTA, "msg": finer}) is None  # never rounded into a wrong book
    assert "KXA" not in rex.markets
