"""The redundant merge, fed the frames of two connections to one known exchange story.

The story is book actions (one or more deltas under one clock) and trades on two markets. Each
connection joins (snapshots first), may drop and rejoin later, may lose frames (a seq gap, as
its client reports it), and its events reach the merger after a random, bounded lag, so the
two are interleaved every way. Whatever happens: no trade twice, trades in order, every book
delta delivered is the true next change of its market (a wrong book is never built), and a
trade that never reaches the stream is reported (a gap, or the stream going down). When at
every moment one connection carries the feed, the stream is exactly the exchange's: every
trade once, in order, books ending on the truth, no gap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.event_keys import SNAPSHOT_POS
from kalshi_cli.redundant_merge import BOOK as BOOK_KIND
from kalshi_cli.redundant_merge import KEYED, Merger, kind_of

MARKETS = ("M1", "M2")
BOOK, TRADES, TICKER = 0, 1, 2
TICKER_KIND = kind_of("ticker", ("ticker",))  # merged by content (no exchange key)
LAG = 3  # story steps a connection's events may lag behind the exchange
SEQUENCED = (True, True, False)  # as Kalshi's channels: ticker frames carry no seq


@dataclass
class Story:
    actions: list[tuple[str, str, int]]  # ("book", ticker, deltas) or ("trade", ticker, 0)
    clocks: list[dict[str, int]] = field(default_factory=list)  # each market's clock before action i
    deltas: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # true positions, in order

    def __post_init__(self) -> None:
        clock = dict.fromkeys(MARKETS, 0)
        self.deltas = {m: [] for m in MARKETS}
        for i, (what, ticker, n) in enumerate(self.actions):
            self.clocks.append(dict(clock))
            if what == "book":
                clock[ticker] += 1 + i % 3
                self.deltas[ticker] += [(clock[ticker], p) for p in range(n)]
        self.clocks.append(dict(clock))

    def trades(self) -> list[int]:
        return [i for i, a in enumerate(self.actions) if a[0] == "trade"]


@st.composite
def stories(draw: st.DrawFn) -> Story:
    actions = []
    for _ in range(draw(st.integers(4, 45))):
        ticker = draw(st.sampled_from(MARKETS))
        what = draw(st.sampled_from(["book", "book", "trade", "trade", "ticker"]))
        actions.append((what, ticker, draw(st.integers(1, 3)) if what == "book" else 0))
    return Story(actions)


Event = tuple[float, int, tuple[Any, ...]]  # (when it is processed, connection, what)


def episode(story: Story, conn: int, join: int, leave: int, losses: set[int], lags: list[int]) -> list[Event]:
    """One connection from ``join`` to ``leave`` (story indices): what its client reports."""
    out: list[tuple[int, tuple[Any, ...]]] = [(join, ("connected",)), (join, ("subscribed", BOOK))]
    out.append((join, ("subscribed", TRADES)))
    out.append((join, ("subscribed", TICKER)))
    seqs = {BOOK: 0, TRADES: 0, TICKER: 0}
    pending = {BOOK: 0, TRADES: 0, TICKER: 0}
    frame_no = 0

    def send(t: int, sub: int, kind: str, msg: dict[str, Any]) -> None:
        nonlocal frame_no
        frame_no += 1
        seqs[sub] += 1
        if frame_no in losses:
            pending[sub] += 1
            return
        if pending[sub] and sub != TICKER:  # ticker frames carry no seq: their client never sees a loss
            out.append((t, ("gap", sub, pending[sub])))
            pending[sub] = 0
        frame = {"type": kind, "sid": sub + 1, "seq": seqs[sub], "msg": msg}
        if sub == TICKER:  # not sequenced
            del frame["seq"]
        out.append((t, ("frame", sub, frame)))

    for m in MARKETS:
        send(join, BOOK, "orderbook_snapshot", {"market_ticker": m, "clock": story.clocks[join][m]})
    for i in range(join, leave):
        what, ticker, n = story.actions[i]
        if what == "book":
            clock = story.clocks[i + 1][ticker]
            for p in range(n):
                send(i, BOOK, "orderbook_delta", {"market_ticker": ticker, "clock": clock, "p": p})
        elif what == "trade":
            send(i, TRADES, "trade", {"trade_id": f"t{i}", "market_ticker": ticker, "i": i})
        else:
            send(i, TICKER, "ticker", {"market_ticker": ticker, "i": i})
    if leave < len(story.actions):
        out.append((leave, ("disconnected", "dropped")))
    events: list[Event] = []
    last = 0.0
    for k, (t, what) in enumerate(out):
        last = max(last, t + lags[k % len(lags)] + 0.5 * conn)  # lagging, never reordered
        events.append((last, conn, what))
    return events


class Log:
    """The merged stream as the handler would see it."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def deliver(self, sub: int, item: tuple[dict[str, Any], bytes | None]) -> None:
        self.events.append(("deliver", sub, item[0]))

    def gap(self, sub: int, missing: int) -> None:
        self.events.append(("gap", sub, missing))

    def up(self, conn: int) -> None:
        self.events.append(("up",))

    def down(self, conn: int, reason: str) -> None:
        self.events.append(("down",))

    def subscribed(self, sub: int) -> None:
        self.events.append(("subscribed", sub))

    def lost(self, sub: int, reason: str) -> None:
        self.events.append(("lost", sub))


def in_order(events: list[Event]) -> list[Event]:
    """One connection's episodes, concatenated: never processed out of their order."""
    out: list[Event] = []
    last = 0.0
    for when, conn, what in events:
        last = max(last, when)
        out.append((last, conn, what))
    return out


def run(events: list[Event]) -> Log:
    log = Log()
    merger = Merger(2, [BOOK_KIND, KEYED, TICKER_KIND], log, SEQUENCED)
    routes = [merger.route(sub) for sub in (BOOK, TRADES, TICKER)]  # frames go the way the session sends them
    for _, conn, what in sorted(events, key=lambda e: (e[0], e[1])):
        if what[0] == "connected":
            merger.connected(conn)
        elif what[0] == "subscribed":
            merger.subscribed(conn, what[1])
        elif what[0] == "gap":
            merger.gap(conn, what[1], what[2])
        elif what[0] == "frame":
            routes[what[1]](conn, dict(what[2]), None)
        else:
            merger.disconnected(conn, what[1])
    return log


def position(frame: dict[str, Any]) -> tuple[int, int]:
    msg = frame["msg"]
    return (msg["clock"], SNAPSHOT_POS) if frame["type"] == "orderbook_snapshot" else (msg["clock"], msg["p"])


def check_keyed(story: Story, log: Log, sub: int) -> None:
    """No frame of keyed subscription ``sub`` twice; on a sequenced one none out of order and every
    missing one reported."""
    got = [e[2]["msg"]["i"] for e in log.events if e[0] == "deliver" and e[1] == sub]
    assert len(got) == len(set(got)), f"sub {sub} twice: {got}"
    if not SEQUENCED[sub]:
        # no seq, so no client sees a loss: a ticker one connection lost is brought by the other
        # (late, if that one lags) or by none, unreported; the exact property checks the order
        return
    # in order, except across a break the stream reports (all down, or a gap on the subscription):
    # a connection that lags the others by more than a reconnect takes and can bring older
    # frames after it, as a REST backfill would
    era: list[int] = []
    for event in log.events:
        if event[0] == "down" or (event[0] == "gap" and event[1] == sub):
            era = []
        elif event[0] == "deliver" and event[1] == sub:
            era.append(event[2]["msg"]["i"])
            assert era == sorted(era), f"sub {sub} out of order: {era}"
    at = {e[2]["msg"]["i"]: n for n, e in enumerate(log.events) if e[0] == "deliver" and e[1] == sub}
    reports = [n for n, e in enumerate(log.events) if e[0] == "down" or (e[0] == "gap" and e[1] == sub)]
    what = "trade" if sub == TRADES else "ticker"
    for t in [i for i, a in enumerate(story.actions) if a[0] == what]:
        before = [i for i in at if i < t]
        if t in at or not before or not [i for i in at if i > t]:
            continue
        assert any(n > at[max(before)] for n in reports), f"{what} {t} lost without a gap"


def check_always(story: Story, log: Log) -> None:
    """What must hold whatever was lost: no trade twice or out of order, never a wrong book,
    every missing trade reported."""
    for sub in (TRADES, TICKER):  # tickers by content, as trades by trade_id
        check_keyed(story, log, sub)
    # in order, except across a break the stream reports (all down, or a gap on the trades): a
    # connection that lags the others by more than a reconnect takes and can bring older trades
    # after it, as a REST backfill would
    where: dict[str, tuple[int, int] | None] = dict.fromkeys(MARKETS)
    for event in log.events:
        if event[0] in ("gap", "down", "lost") and (event[0] == "down" or event[1] == BOOK):
            where = dict.fromkeys(MARKETS)  # every book starts again from a snapshot
        if event[0] != "deliver" or event[1] != BOOK:
            continue
        frame = event[2]
        ticker, pos = frame["msg"]["market_ticker"], position(frame)
        before = where[ticker]
        if pos[1] == SNAPSHOT_POS:
            assert before is None or pos >= before, f"{ticker}: snapshot {pos} goes back from {before}"
        else:
            assert before is not None, f"{ticker}: delta {pos} before any snapshot"
            true = story.deltas[ticker]
            nxt = next(d for d in true if d > before) if before[1] == SNAPSHOT_POS else true[true.index(before) + 1]
            assert pos == nxt, f"{ticker}: delta {pos} after {before}, but the next change is {nxt}"
        where[ticker] = pos


def check_exact(story: Story, log: Log) -> None:
    assert not [e for e in log.events if e[0] in ("gap", "down")], "a gap while a connection carried the feed"
    trades = [e[2]["msg"]["i"] for e in log.events if e[0] == "deliver" and e[1] == TRADES]
    if trades:
        assert trades == [t for t in story.trades() if t >= trades[0]]
    tickers = [e[2]["msg"]["i"] for e in log.events if e[0] == "deliver" and e[1] == TICKER]
    if tickers:  # merged by content: each once, in order, none lost at a hand-over
        assert tickers == [i for i, a in enumerate(story.actions) if a[0] == "ticker" and i >= tickers[0]]
    final: dict[str, tuple[int, int]] = {}
    for event in log.events:
        if event[0] == "deliver" and event[1] == BOOK:
            final[event[2]["msg"]["market_ticker"]] = position(event[2])
    for m in MARKETS:
        true = story.deltas[m]
        end_clock = story.clocks[-1][m]
        assert final[m] in ((end_clock, SNAPSHOT_POS), *true[-1:]), f"{m} ends at {final[m]}, truly {end_clock}"


lags = st.lists(st.integers(0, LAG), min_size=1, max_size=6)
#: examples per story property; raise it to hunt (``REDUNDANT_MERGE_EXAMPLES=20000 pytest ...``)
EXAMPLES = int(os.environ.get("REDUNDANT_MERGE_EXAMPLES", "300"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(stories(), st.data())
def test_losses_and_drops_never_duplicate_reorder_or_corrupt(story: Story, data: st.DataObject) -> None:
    n = len(story.actions)
    events: list[Event] = []
    for conn in (0, 1):
        mine: list[Event] = []
        t = data.draw(st.integers(0, n // 3))
        while t < n:
            leave = data.draw(st.integers(t + 1, n))
            losses = data.draw(st.sets(st.integers(1, 3 * n), max_size=3))
            mine += episode(story, conn, t, leave, losses, data.draw(lags))
            t = leave + LAG + data.draw(st.integers(1, max(1, n // 4)))  # a reconnect outlasts the lag
        events += in_order(mine)
    check_always(story, run(events))


@settings(max_examples=EXAMPLES, deadline=None)
@given(stories(), st.data())
def test_while_one_connection_carries_the_feed_the_stream_is_exact(story: Story, data: st.DataObject) -> None:
    """Connections take turns dropping (the other is up and has been for more than the lag,
    with a trade in the overlap, so the one coming back is in line before the next drop)."""
    n = len(story.actions)
    trades = set(story.trades())
    episodes: dict[int, list[tuple[int, int]]] = {0: [], 1: []}
    start = {0: 0, 1: 0}
    t, conn = 2 * LAG + 1, data.draw(st.integers(0, 1))  # both up and in line before a first drop
    if not trades & set(range(LAG + 1)):
        return
    while True:
        drop = data.draw(st.integers(t + 1, n + 6))
        back = drop + data.draw(st.integers(1, 4))
        # the next drop (of the other connection) comes after this one is back and in line
        if back + LAG + 2 >= n or not trades & set(range(back, min(n, back + 2 * LAG + 2))):
            break
        episodes[conn].append((start[conn], drop))
        start[conn] = back
        t = back + 2 * LAG + 2
        conn = 1 - conn
    events: list[Event] = []
    for c in (0, 1):
        mine: list[Event] = []
        for join, leave in [*episodes[c], (start[c], n)]:
            mine += episode(story, c, join, leave, set(), data.draw(lags))
        events += in_order(mine)
    log = run(events)
    check_always(story, log)
    check_exact(story, log)


def test_a_connection_back_and_ahead_is_in_line_on_a_quiet_subscription() -> None:
    """The counterexample a random run of the property above found (issue 16): connection 0
    drops and comes back ahead of connection 1 (its frames are news, 1's are copies); no ticker
    flows while both are up; connection 1 drops; connection 0's next ticker is no gap: 1's copies
    of what 0 delivered since it came back prove 0 has every ticker since (was: a gap)."""
    story = Story(
        [
            ("book", "M1", 1),
            ("trade", "M1", 0),
            ("book", "M1", 1),
            ("book", "M1", 1),
            ("book", "M1", 1),
            ("trade", "M1", 0),
            ("trade", "M1", 0),
            ("ticker", "M1", 0),
        ]
    )
    n = len(story.actions)
    ahead = in_order(episode(story, 0, 0, 2, set(), [0]) + episode(story, 0, 3, n, set(), [0]))
    behind = in_order(episode(story, 1, 0, 6, set(), [0]) + episode(story, 1, 7, n, set(), [0]))
    log = run(ahead + behind)
    check_always(story, log)
    check_exact(story, log)


def test_copies_of_what_a_connection_delivered_before_it_joined_do_not_line_it_up() -> None:
    """The other side of the test above: connection 0 subscribes to the tickers after it
    delivered a trade; connection 1 (in line on the tickers) shows its copy of that trade, then
    drops before bringing a ticker from before 0's subscription. That copy proves nothing about
    0's tickers: its first ticker is judged as a take-over, and the loss is reported."""
    log = Log()
    merger = Merger(2, [KEYED, TICKER_KIND], log)
    trades, tickers = merger.route(0), merger.route(1)
    for conn in (0, 1):
        merger.connected(conn)
    merger.subscribed(0, 0)
    merger.subscribed(1, 0)
    merger.subscribed(1, 1)
    trades(0, {"type": "trade", "sid": 1, "seq": 1, "msg": {"trade_id": "t1"}}, None)
    merger.subscribed(0, 1)  # after its trade: its tickers start later than the trade
    tickers(1, {"type": "ticker", "sid": 2, "msg": {"market_ticker": "M", "ts": 1}}, None)
    trades(1, {"type": "trade", "sid": 1, "seq": 1, "msg": {"trade_id": "t1"}}, None)  # a copy
    merger.disconnected(1, "dropped")  # before its ticker ts 2, which 0 never had
    tickers(0, {"type": "ticker", "sid": 2, "msg": {"market_ticker": "M", "ts": 3}}, None)
    assert ("gap", 1, 1) in log.events
    assert [e[2]["msg"]["ts"] for e in log.events if e[0] == "deliver" and e[1] == 1] == [1, 3]


def test_a_loss_seen_later_by_the_connection_that_vouched_for_a_line_up_is_a_gap() -> None:
    """Connection 0 lines up on the quiet tickers through connection 1's copy of its trade; then 1
    sees a seq gap on the tickers: the ticker it lost may be older than 0's subscription, which
    cannot cover it: the stream reports it (a random run of the loss property found it silent)."""
    log = Log()
    merger = Merger(2, [KEYED, TICKER_KIND], log)
    trades, tickers = merger.route(0), merger.route(1)
    for conn in (0, 1):
        merger.connected(conn)
    merger.subscribed(1, 1)
    merger.subscribed(0, 0)
    merger.subscribed(1, 0)
    merger.subscribed(0, 1)  # quiet from here on: nothing to line up with
    tickers(1, {"type": "ticker", "sid": 2, "msg": {"market_ticker": "M", "ts": 1}}, None)
    trades(0, {"type": "trade", "sid": 1, "seq": 1, "msg": {"trade_id": "t1"}}, None)
    trades(1, {"type": "trade", "sid": 1, "seq": 1, "msg": {"trade_id": "t1"}}, None)  # 0 is in line on both
    merger.gap(1, 1, 1)  # 1 lost ticker ts 2, before 0's subscription
    tickers(0, {"type": "ticker", "sid": 2, "msg": {"market_ticker": "M", "ts": 3}}, None)
    assert ("gap", 1, 1) in log.events
    assert [e[2]["msg"]["ts"] for e in log.events if e[0] == "deliver" and e[1] == 1] == [1, 3]


def test_a_loss_the_voucher_never_saw_is_a_gap_when_it_leaves() -> None:
    """Connection 0 comes back and lines up on the trades (quiet since) only through connection 1's
    copies of its book frames; 1 had lost trade 11 (before 0 came back) and drops before its next
    trade would show the loss: 0's first trade is judged as a take-over, a gap (a random run of
    the loss property found trade 11 lost silently when the line-up simply held)."""
    story = Story(
        [("book", "M1", 1), ("book", "M1", 1), ("trade", "M1", 0), ("trade", "M1", 0), ("book", "M1", 2)]
        + [("trade", "M1", 0)] * 4
        + [("book", "M1", 2), ("book", "M1", 3), ("trade", "M1", 0), ("ticker", "M1", 0), ("book", "M1", 1)]
        + [("ticker", "M1", 0), ("book", "M1", 1), ("book", "M1", 1), ("trade", "M1", 0)]
    )
    n = len(story.actions)
    first = in_order(episode(story, 0, 0, 8, set(), [0]) + episode(story, 0, 12, n, set(), [0]))
    lossy = episode(story, 1, 0, 16, {18}, [0])  # frame 18: trade 11
    log = run(first + lossy)
    check_always(story, log)
    assert ("gap", TRADES, 1) in log.events


def test_a_gap_on_one_connection_is_covered_by_the_other() -> None:
    story = Story([("trade", "M1", 0), ("book", "M1", 2), ("trade", "M2", 0), ("book", "M1", 1), ("trade", "M1", 0)])
    # connection 0 loses its first delta (frame 4) and its second trade (frame 6); connection 1,
    # later, has everything
    lossy = episode(story, 0, 0, 5, {4, 6}, [0])
    clean = episode(story, 1, 0, 5, set(), [0, 1])
    log = run(lossy + clean)
    check_always(story, log)
    check_exact(story, log)


def test_the_same_loss_on_both_is_a_gap() -> None:
    story = Story([("trade", "M1", 0), ("trade", "M1", 0), ("book", "M1", 1), ("trade", "M2", 0)])
    log = run(episode(story, 0, 0, 4, {4}, [0]) + episode(story, 1, 0, 4, {4}, [1]))  # frame 4: the 2nd trade
    check_always(story, log)
    assert ("gap", TRADES, 1) in log.events
    trades = [e[2]["msg"]["i"] for e in log.events if e[0] == "deliver" and e[1] == TRADES]
    assert trades == [0, 3]


def test_a_subscription_lost_on_one_connection_is_carried_by_the_other() -> None:
    log = Log()
    merger = Merger(2, [BOOK_KIND, KEYED, TICKER_KIND], log)
    trades = merger.route(TRADES)

    def trade(conn: int, seq: int, i: int) -> None:
        trades(conn, {"type": "trade", "sid": 2, "seq": seq, "msg": {"trade_id": f"t{i}", "i": i}}, None)

    for conn in (0, 1):
        merger.connected(conn)
        merger.subscribed(conn, TRADES)
    for i in range(2):
        trade(0, i + 1, i)
        trade(1, i + 1, i)
    merger.lost(0, TRADES, "error 25")  # connection 0 resubscribes; 1 carries on
    trade(1, 3, 2)
    merger.subscribed(0, TRADES)
    trade(0, 1, 3)  # ahead of connection 1: held until 1 shows where it stands
    trade(1, 4, 3)
    trade(1, 5, 4)
    trade(0, 2, 4)
    delivered = [e[2]["msg"]["i"] for e in log.events if e[0] == "deliver"]
    assert delivered == [0, 1, 2, 3, 4]
    assert not [e for e in log.events if e[0] in ("gap", "lost", "down")]


def test_memory_stays_bounded_and_nothing_is_lost_when_one_connection_runs_far_ahead() -> None:
    from kalshi_cli.redundant_books import HELD_KEPT
    from kalshi_cli.redundant_merge import SEEN_KEPT

    log = Log()
    merger = Merger(2, [BOOK_KIND, KEYED], log)
    books, trades = merger.route(BOOK), merger.route(TRADES)
    n = HELD_KEPT + 500
    for conn in (0, 1):
        merger.connected(conn)
        merger.subscribed(conn, BOOK)
        merger.subscribed(conn, TRADES)
    snapshot = {"type": "orderbook_snapshot", "sid": 1, "msg": {"market_ticker": "M", "clock": 0}}
    books(0, {**snapshot, "seq": 1}, None)
    books(1, {**snapshot, "seq": 1}, None)

    def delta(i: int) -> dict[str, Any]:
        return {"type": "orderbook_delta", "sid": 1, "seq": i + 2, "msg": {"market_ticker": "M", "clock": i + 1}}

    books(1, {"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {"market_ticker": "M", "clock": 9}}, None)
    for i in range(9, 9 + n):  # connection 1 is far ahead of the chain (its snapshot at clock 9)
        books(1, delta(i), None)
        track = merger.books[BOOK].tracks[1]["M"]  # type: ignore[union-attr]
        assert len(track.held) <= HELD_KEPT
    for i in range(9 + n):  # connection 0 brings every delta, in order
        books(0, delta(i), None)
    clocks = [e[2]["msg"]["clock"] for e in log.events if e[0] == "deliver" and e[1] == BOOK]
    assert clocks == [0, *range(1, 10 + n)]
    for i in range(SEEN_KEPT + 100):
        for conn in (0, 1):
            trades(conn, {"type": "trade", "sid": 2, "seq": i + 1, "msg": {"trade_id": f"t{i}"}}, None)
    assert len(merger.seen[TRADES]) <= SEEN_KEPT
    assert sum(e[0] == "deliver" and e[1] == TRADES for e in log.events) == SEEN_KEPT + 100


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from("ABC"), max_size=30), st.data())
def test_the_same_ticker_content_again_is_a_new_update_never_a_copy(contents: list[str], data: st.DataObject) -> None:
    """Ticker content may recur (the same state again): two connections, both up throughout, any
    lag: the merged stream is the exchange's sequence, each update once, in order."""
    log = Log()
    merger = Merger(2, [TICKER_KIND], log)
    route = merger.route(0)
    for conn in (0, 1):
        merger.connected(conn)
        merger.subscribed(conn, 0)
    order = data.draw(st.permutations([0] * len(contents) + [1] * len(contents)))  # interleaving
    sent = [0, 0]
    for conn in order:
        frame = {"type": "ticker", "sid": 1 + conn, "msg": {"market_ticker": "M", "price": contents[sent[conn]]}}
        sent[conn] += 1
        route(conn, frame, None)
    assert [e[2]["msg"]["price"] for e in log.events if e[0] == "deliver"] == contents


def test_a_ticker_copy_arriving_late_is_dropped_in_a_window_of_content_keys() -> None:
    from kalshi_cli.redundant_merge import SEEN_KEPT

    log = Log()
    merger = Merger(2, [TICKER_KIND], log)
    route = merger.route(0)
    for conn in (0, 1):
        merger.connected(conn)
        merger.subscribed(conn, 0)
    n = SEEN_KEPT + 50
    for i in range(n):  # connection 1 lags connection 0 by 20 updates; key order differs
        route(0, {"type": "ticker", "sid": 1, "msg": {"market_ticker": "M", "ts_ms": i}}, None)
        if i >= 20:
            route(1, {"type": "ticker", "sid": 7, "msg": {"ts_ms": i - 20, "market_ticker": "M"}}, None)
    assert [e[2]["msg"]["ts_ms"] for e in log.events if e[0] == "deliver"] == list(range(n))
    assert len(merger.seen[0]) <= SEEN_KEPT and len(merger.contents[0][0]._shown) <= SEEN_KEPT
