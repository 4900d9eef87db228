"""BookSet: which sid feeds which market, gaps and reconnects, and frames on the wrong sid."""

from __future__ import annotations

from kalshi_cli.book import BookState
from kalshi_cli.bookset import BookSet
from tests.test_book import delta


def frame(kind: str, sid: int, seq: int, msg: dict) -> dict:
    return {"type": kind, "sid": sid, "seq": seq, "msg": msg}


def test_bookset_gap_reconnect_and_resync():
    books = BookSet()
    books.watch(1, ["A", "B"])
    books.on_frame(frame("orderbook_snapshot", 1, 1, {"market_ticker": "A", "market_id": "a", "clock": 1}))
    books.on_frame(frame("orderbook_snapshot", 2, 1, {"market_ticker": "C", "market_id": "c", "clock": 1}))
    assert books.counts()[BookState.AWAITING_SNAPSHOT] == 1
    assert books.mark_sid_stale(1, "seq gap on sid 1") == ["A", "B"]
    assert books.stale_markets() == ["A", "B"] and books.stale_markets(sid=2) == []
    assert books.book("C").state is BookState.LIVE
    assert books.on_frame(frame("orderbook_snapshot", 1, 5, {"market_ticker": "A", "clock": 3})) == ["A"]
    assert books.resync_count == 1 and books.stale_markets(1) == ["B"]
    assert books.mark_all_stale("reconnect") == ["A", "C"]
    assert books.stale_markets() == ["A", "B", "C"]
    assert books.book("A").stale_reason == "reconnect" and books.book("B").stale_reason == "seq gap on sid 1"


def test_bookset_delta_for_unknown_market_is_stale_and_needs_snapshot():
    books = BookSet()
    assert books.on_frame(frame("orderbook_delta", 1, 1, delta("0.4400", "1.00") | {"market_ticker": "Z"})) == ["Z"]
    assert books.stale_markets(1) == ["Z"]


def test_bookset_unreadable_frame_stales_whole_sid():
    books = BookSet()
    books.on_frame(frame("orderbook_snapshot", 1, 1, {"market_ticker": "A", "clock": 1}))
    assert books.on_frame(frame("orderbook_delta", 1, 2, {"price_dollars": "0.4400"})) == ["A"]
    assert books.on_frame({"type": "ticker", "sid": 2, "msg": {}}) == []


def test_bookset_apply_returns_the_book_only_when_the_frame_changed_it():
    books = BookSet()
    books.watch(1, ["A"])
    snap = {"market_ticker": "A", "clock": 10, "yes_dollars_fp": [["0.4000", "5.00"]]}
    book = books.apply(frame("orderbook_snapshot", 1, 1, snap))
    assert book is books.book("A") and book.seq == 1
    assert books.apply(frame("orderbook_delta", 1, 3, delta("0.4000", "1.00") | {"market_ticker": "A"})) is book
    assert book.seq == 3 and book.yes == {4000: 600}
    assert (
        books.apply(frame("orderbook_delta", 1, 4, delta("0.4000", "-9.00", clock=12) | {"market_ticker": "A"})) is None
        and book.state is BookState.STALE
    )  # below zero
    assert (
        books.apply(frame("orderbook_delta", 1, 5, delta("0.4000", "1.00", clock=13) | {"market_ticker": "A"})) is None
        and book.seq == 3
    )  # a stale book ignores deltas
    crossed = {
        "market_ticker": "A",
        "clock": 20,
        "yes_dollars_fp": [["0.6000", "1.00"]],
        "no_dollars_fp": [["0.6000", "1.00"]],
    }
    assert books.apply(frame("orderbook_snapshot", 1, 6, crossed)) is None and book.state is BookState.STALE
    assert books.apply(frame("orderbook_snapshot", 1, 7, snap | {"clock": 21})) is book
    assert book.seq == 7 and books.resync_count == 1
    assert books.apply({"type": "ticker", "sid": 2, "msg": {"market_ticker": "A"}}) is None


def test_bookset_a_market_moving_to_another_sid_takes_that_sids_pricing():
    books = BookSet()
    books.watch(1, ["A", "B"])
    books.set_use_yes_price(2, True)
    books.apply(frame("orderbook_snapshot", 2, 1, {"market_ticker": "A", "clock": 1}))
    assert books.sid_markets == {1: {"B"}, 2: {"A"}}
    assert books.book("A").use_yes_price and not books.book("B").use_yes_price
    books.set_use_yes_price(1, True)  # declared after the markets were registered: applies to them too
    assert books.book("B").use_yes_price
    books.apply(frame("orderbook_snapshot", 1, 2, {"market_ticker": "A", "clock": 2}))
    assert books.sid_markets == {1: {"A", "B"}, 2: set()} and books.book("A").use_yes_price
    books.mark_all_stale("reconnect")  # new socket: sids mean nothing, pricing is declared again
    books.apply(frame("orderbook_snapshot", 1, 1, {"market_ticker": "A", "clock": 3}))
    assert books.sid_markets == {1: {"A"}} and not books.book("A").use_yes_price


def test_bookset_delta_on_a_sid_that_does_not_feed_the_market_stales_the_book():
    books = BookSet()
    books.watch(1, ["A"])
    books.watch(2, ["B"])
    snap = {"market_ticker": "A", "clock": 10, "yes_dollars_fp": [["0.4000", "5.00"]]}
    book = books.apply(frame("orderbook_snapshot", 1, 1, snap))
    assert book is not None and book.is_live
    assert books.apply(frame("orderbook_delta", 2, 1, delta("0.4000", "1.00") | {"market_ticker": "A"})) is None
    assert book.state is BookState.STALE and book.stale_reason == "delta on sid 2, but A is fed by sid 1"
    assert book.yes == {4000: 500} and books.sid_markets == {1: {"A"}, 2: {"B"}}
    assert books.stale_markets(1) == ["A"]  # recovered where it is subscribed
    assert books.apply(frame("orderbook_snapshot", 1, 2, snap | {"clock": 12})) is book and book.is_live


def test_maintenance_between_a_snapshot_and_the_next_delta_never_leaves_a_wrong_live_book():
    """What the hostile-stream property found while BookSet's books skipped deltas at or below
    their snapshot's clock: the book went on LIVE with a post-maintenance change missing."""
    books = BookSet()
    books.watch(1, ["A"])
    snap = {"market_ticker": "A", "clock": 1, "yes_dollars_fp": [["0.0100", "0.01"]]}
    assert books.apply(frame("orderbook_snapshot", 1, 1, snap)) is not None
    # The exchange: maintenance sets A's clock to 0, then an action at clock 1 adds 0.01 ...
    assert (
        books.apply(frame("orderbook_delta", 1, 2, delta("0.0100", "0.01", clock=1) | {"market_ticker": "A"})) is None
    )
    # ... and one at clock 2 adds 0.01 more: the truth is 0.03 at clock 2, never 0.02.
    assert (
        books.apply(frame("orderbook_delta", 1, 3, delta("0.0100", "0.01", clock=2) | {"market_ticker": "A"})) is None
    )
    book = books.book("A")
    assert book is not None and book.state is BookState.STALE
    assert book.stale_reason == "delta clock 1 is not after its snapshot's (1)"
