"""OrderBook and BookSet against the protocol examples and each integrity rule (KALSHI_WS.md §6, §11)."""

from __future__ import annotations

import copy
import json

import pytest

from kalshi_cli.book import BookError, BookState, DeltaOutcome, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.encoders import book_json_bytes, book_json_line
from kalshi_cli.fixed import FixedPointError, format_price, format_size, parse_price, parse_size
from tests.conftest import EXAMPLES

TICKER = "KXHIGHNY-26AUG28-B84.5"


def load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def live_book(**snapshot_msg) -> OrderBook:
    book = OrderBook("T")
    book.apply_snapshot({"market_ticker": "T", "market_id": "id", "clock": 10, **snapshot_msg})
    assert book.state is BookState.LIVE, book.stale_reason
    return book


def delta(price: str, size: str, side: str = "yes", clock: int | None = 11) -> dict:
    msg = {"market_ticker": "T", "market_id": "id", "price_dollars": price, "delta_fp": size, "side": side}
    if clock is not None:
        msg["clock"] = clock
    return msg


# --- number formats --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.4400", 4400), ("0.440", 4400), ("0.44", 4400), ("1", 10000), ("0.0001", 1), ("0.44000", 4400)],
)
def test_parse_price_is_exact(text, value):
    assert parse_price(text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("95.50", 9550), ("-42.00", -4200), ("25", 2500), ("0.01", 1), ("+3.5", 350)]
)
def test_parse_size_is_exact(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["0.44001", "0.123456", "1.001e2", "0.4_4", " 0.44", "", ".5", "-0.44", None, 44])
def test_parse_price_refuses_what_it_cannot_hold_exactly(text):
    with pytest.raises(FixedPointError):
        parse_price(text)


@pytest.mark.parametrize("text", ["95.505", "1e2", "NaN", "1,000.00"])
def test_parse_size_refuses_rounding(text):
    with pytest.raises(FixedPointError):
        parse_size(text)


def test_format_round_trips_kalshi_form():
    assert format_price(4400) == "0.4400"
    assert format_price(10000) == "1.0000"
    assert format_price(-100) == "-0.0100"
    assert format_size(9550) == "95.50"
    assert format_size(-4200) == "-42.00"
    assert format_size(1) == "0.01"


# --- the examples' story ---------------------------------------------------------------------


def test_snapshot_then_deltas_story():
    books = BookSet()
    assert books.on_frame(load("orderbook_snapshot.json")) == [TICKER]
    book = books.book(TICKER)
    assert book.clock == 7310442 and book.seq == 1
    assert book.best_yes_bid() == 4400 and book.best_yes_ask() == 4500
    assert book.spread() == 100 and str(book.mid()) == "0.445"
    assert book.best_yes_bid_size() == 4200 and book.best_yes_ask_size() == 6000

    assert books.on_frame(load("orderbook_delta.json")) == []  # -42 at 0.44 empties the level
    assert book.best_yes_bid() == 4300 and book.best_yes_bid_size() == 9550
    assert 4400 not in book.yes
    assert book.clock == 7310449 and book.seq == 2

    books.on_frame(load("orderbook_delta_own_order.json"))  # our +25 NO bid at 0.55
    assert book.no[5500] == 8500 and book.best_yes_ask() == 4500
    yes, no = book.ladders()
    assert yes == [["0.3800", "1250.00"], ["0.4100", "310.00"], ["0.4300", "95.50"]]
    assert no == [["0.4900", "800.00"], ["0.5300", "150.00"], ["0.5500", "85.00"]]
    assert book.state is BookState.LIVE


def test_use_yes_price_snapshot_is_the_same_book():
    plain = OrderBook(TICKER)
    plain.apply_snapshot(load("orderbook_snapshot.json")["msg"])
    yes_priced = OrderBook(TICKER, use_yes_price=True)
    yes_priced.apply_snapshot(load("orderbook_snapshot_use_yes_price.json")["msg"])
    assert yes_priced.yes == plain.yes and yes_priced.no == plain.no
    assert yes_priced.ladders() == plain.ladders()
    assert yes_priced.best_yes_ask() == 4500


def test_use_yes_price_delta_is_converted_to_no_terms():
    books = BookSet()
    books.set_use_yes_price(5, True)
    books.on_frame(load("orderbook_snapshot_use_yes_price.json"))
    book = books.book(TICKER)
    frame = {
        "type": "orderbook_delta",
        "sid": 5,
        "seq": 2,
        "msg": {**delta("0.4500", "25.00", "no"), "clock": 7310453, "market_ticker": TICKER},
    }
    assert books.on_frame(frame) == []
    assert book.no[5500] == 8500 and book.state is BookState.LIVE


def test_snapshot_sorts_and_replaces():
    book = live_book(yes_dollars_fp=[["0.4400", "1.00"], ["0.3800", "2.00"]], no_dollars_fp=[["0.5000", "3.00"]])
    assert book.ladders()[0] == [["0.3800", "2.00"], ["0.4400", "1.00"]]
    book.apply_snapshot({"market_ticker": "T", "market_id": "id", "clock": 20})  # both keys absent
    assert book.yes == {} and book.no == {} and book.state is BookState.LIVE
    assert book.best_yes_bid() is None and book.best_yes_ask() is None and book.spread() is None
    assert book.mid() is None


def test_get_snapshot_reply_with_one_side():
    book = OrderBook(TICKER)
    book.apply_snapshot(load("orderbook_snapshot_get_snapshot_reply.json")["msg"])
    assert book.ladders() == ([["0.4100", "310.00"], ["0.4400", "42.00"]], [])


def test_legacy_frames_load():
    books = BookSet()
    books.on_frame(load("legacy/orderbook_snapshot_legacy.json"))
    book = books.book(TICKER)
    assert book.state is BookState.LIVE and book.clock is None
    assert book.yes == {3800: 125000, 4100: 31000, 4400: 4200}
    books.on_frame(load("legacy/orderbook_delta_legacy.json"))
    assert book.best_yes_bid() == 4100 and book.state is BookState.LIVE


def test_legacy_encodings_in_order_of_preference():
    cents_only = live_book(yes=[[38, 1250], [44, 42]], no=[[49, 800]])
    assert cents_only.yes == {3800: 125000, 4400: 4200} and cents_only.no == {4900: 80000}
    dollars = live_book(yes_dollars=[["0.380", 1250]], yes=[[99, 1]])
    assert dollars.yes == {3800: 125000}
    fp = live_book(yes_dollars_fp=[["0.3800", "12.50"]], yes_dollars=[["0.380", 1250]], yes=[[38, 1250]])
    assert fp.yes == {3800: 1250}
    book = live_book(yes=[[44, 42]])
    assert book.apply_delta({"price": 44, "delta": -2, "side": "yes"}) is DeltaOutcome.APPLIED
    assert book.yes == {4400: 4000}


def test_fractional_sizes_and_sub_cent_prices():
    book = live_book(yes_dollars_fp=[["0.0001", "0.01"], ["0.4325", "95.50"]], no_dollars_fp=[["0.5674", "1.25"]])
    assert book.best_yes_bid() == 4325 and book.best_yes_ask() == 4326 and book.spread() == 1
    assert str(book.mid()) == "0.43255"  # half a tick, exactly
    assert book.apply_delta(delta("0.4325", "-0.50")) is DeltaOutcome.APPLIED
    assert book.ladders()[0] == [["0.0001", "0.01"], ["0.4325", "95.00"]]
    assert book.apply_delta(delta("0.0001", "-0.01", clock=12)) is DeltaOutcome.APPLIED
    assert 1 not in book.yes


def test_ladders_depth_keeps_best_levels_ascending():
    book = live_book(
        yes_dollars_fp=[["0.1000", "1.00"], ["0.2000", "2.00"], ["0.3000", "3.00"]],
        no_dollars_fp=[["0.5000", "1.00"], ["0.6000", "2.00"]],
    )
    assert book.ladders(depth=2) == (
        [["0.2000", "2.00"], ["0.3000", "3.00"]],
        [["0.5000", "1.00"], ["0.6000", "2.00"]],
    )
    assert book.ladders(depth=0) == ([], [])


# --- integrity rules -------------------------------------------------------------------------


def test_delta_before_snapshot_marks_stale():
    book = OrderBook("T")
    assert book.apply_delta(delta("0.4400", "1.00")) is DeltaOutcome.MARKED_STALE
    assert book.state is BookState.STALE and "before any snapshot" in book.stale_reason


def test_level_below_zero_marks_stale_and_stale_ignores_deltas():
    book = live_book(yes_dollars_fp=[["0.4400", "1.00"]])
    assert book.apply_delta(delta("0.4400", "-2.00")) is DeltaOutcome.MARKED_STALE
    assert book.state is BookState.STALE and "below zero" in book.stale_reason
    assert book.apply_delta(delta("0.4400", "5.00", clock=12)) is DeltaOutcome.IGNORED_STALE
    assert book.yes == {4400: 100}
    book.apply_snapshot({"market_ticker": "T", "market_id": "id", "clock": 30})
    assert book.state is BookState.LIVE and book.stale_reason is None


def test_delta_for_missing_level_below_zero_marks_stale():
    book = live_book()
    assert book.apply_delta(delta("0.4400", "-1.00")) is DeltaOutcome.MARKED_STALE


def test_crossed_book_marks_stale():
    book = live_book(yes_dollars_fp=[["0.4400", "1.00"]], no_dollars_fp=[["0.5500", "1.00"]])
    assert book.apply_delta(delta("0.5600", "1.00", "no")) is DeltaOutcome.APPLIED  # 0.44 + 0.56 = 1: locked
    assert book.spread() == 0
    assert book.apply_delta(delta("0.4500", "1.00", clock=12)) is DeltaOutcome.MARKED_STALE
    assert "crossed" in book.stale_reason


def test_crossed_snapshot_is_stale():
    book = OrderBook("T")
    book.apply_snapshot({"yes_dollars_fp": [["0.6000", "1.00"]], "no_dollars_fp": [["0.5000", "1.00"]]})
    assert book.state is BookState.STALE and "crossed" in book.stale_reason


def test_clock_rules():
    book = live_book(yes_dollars_fp=[["0.4400", "5.00"]])  # snapshot clock 10
    assert book.apply_delta(delta("0.4400", "-1.00", clock=9)) is DeltaOutcome.SKIPPED_IN_SNAPSHOT
    assert book.apply_delta(delta("0.4400", "-1.00", clock=10)) is DeltaOutcome.SKIPPED_IN_SNAPSHOT
    assert book.skipped_deltas == 2 and book.yes == {4400: 500} and book.state is BookState.LIVE
    assert book.apply_delta(delta("0.4400", "-1.00", clock=15)) is DeltaOutcome.APPLIED
    assert book.apply_delta(delta("0.4300", "1.00", clock=15)) is DeltaOutcome.APPLIED  # same action
    assert book.clock == 15
    assert book.apply_delta(delta("0.4300", "1.00", clock=14)) is DeltaOutcome.MARKED_STALE
    assert "backwards" in book.stale_reason


def test_skip_only_right_after_snapshot():
    book = live_book(yes_dollars_fp=[["0.4400", "5.00"]])
    book.apply_delta(delta("0.4400", "1.00", clock=12))
    assert book.apply_delta(delta("0.4400", "1.00", clock=10)) is DeltaOutcome.MARKED_STALE


@pytest.mark.parametrize(
    "bad",
    [
        {"price_dollars": "0.44001"},
        {"price_dollars": "1.0000"},
        {"price_dollars": 44},
        {"delta_fp": "1.001"},
        {"side": "maybe"},
        {"clock": "11"},
    ],
)
def test_unreadable_delta_marks_stale(bad):
    book = live_book(yes_dollars_fp=[["0.4400", "5.00"]])
    assert book.apply_delta({**delta("0.4400", "1.00"), **bad}) is DeltaOutcome.MARKED_STALE
    assert book.yes == {4400: 500}


def test_unreadable_snapshot_marks_stale():
    book = live_book(yes_dollars_fp=[["0.4400", "5.00"]])
    book.apply_snapshot({"yes_dollars_fp": [["0.4400", "-5.00"]]})
    assert book.state is BookState.STALE and "negative" in book.stale_reason
    book.apply_snapshot({"yes_dollars_fp": [["0.44", "1.001"]]})
    assert book.state is BookState.STALE


# --- BookSet ---------------------------------------------------------------------------------


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
    assert (
        books.apply(frame("orderbook_delta", 1, 2, delta("0.4000", "1.00", clock=9) | {"market_ticker": "A"})) is None
    )  # already inside the snapshot
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


# --- JSON line -------------------------------------------------------------------------------


def test_json_line_shape():
    books = BookSet()
    books.on_frame(load("orderbook_snapshot_get_snapshot_reply.json"))
    line = book_json_line(books.book(TICKER), depth=1, ts_ms=1787925912345)
    assert line == {
        "market_ticker": TICKER,
        "market_id": "3f1c2b9e-7a4d-4c8e-9b21-5d6e0a7f8c13",
        "seq": 512,
        "clock": 7316108,
        "yes_dollars_fp": [["0.4400", "42.00"]],
        "no_dollars_fp": [],
        "best_yes_bid": "0.4400",
        "best_yes_ask": None,
        "ts_ms": 1787925912345,
    }


def test_json_line_refuses_stale_book():
    book = OrderBook("T")
    with pytest.raises(BookError):
        book_json_line(book)
    book.mark_stale("gap")
    with pytest.raises(BookError):
        book_json_line(book)


def test_many_deltas_that_cancel_leave_the_snapshot():
    """40k deltas (+10 then -10 at moving prices) leave the book exactly as snapshotted."""
    book = OrderBook(TICKER)
    book.apply_snapshot(load("orderbook_snapshot.json")["msg"])
    before = book.ladders()
    template = load("orderbook_delta.json")["msg"]
    for i in range(20000):
        for size in ("10.00", "-10.00"):
            msg = copy.copy(template)
            msg.update(clock=7310450 + i, price_dollars=f"0.{10 + i % 30:02d}00", delta_fp=size)
            book.apply_delta(msg)
    assert book.state is BookState.LIVE
    assert book.ladders() == before  # speed is measured in benchmarks/, never asserted here


# --- integrity: never LIVE-and-wrong (issue 12) ------------------------------------------------


def test_snapshot_whose_clock_goes_back_leaves_a_live_book_stale_and_the_next_one_recovers():
    book = live_book(yes_dollars_fp=[["0.4400", "5.00"]])  # clock 10
    assert book.apply_delta(delta("0.4400", "1.00", clock=12)) is DeltaOutcome.APPLIED
    book.apply_snapshot({"market_ticker": "T", "clock": 11, "yes_dollars_fp": [["0.3000", "1.00"]]})
    assert book.state is BookState.STALE and "snapshot clock went backwards (11 < 12)" in book.stale_reason
    assert book.yes == {4400: 600}  # not half-replaced
    # Recovery (after maintenance the clock may really be lower): a stale book takes the snapshot.
    book.apply_snapshot({"market_ticker": "T", "clock": 3, "yes_dollars_fp": [["0.3000", "1.00"]]})
    assert book.state is BookState.LIVE and book.clock == 3 and book.yes == {3000: 100}
    book.apply_snapshot({"market_ticker": "T", "clock": 3, "yes_dollars_fp": [["0.3100", "1.00"]]})
    assert book.state is BookState.LIVE and book.yes == {3100: 100}  # same clock: not a step back


def test_delta_whose_clock_goes_back_leaves_the_book_stale_with_a_reason():
    book = live_book(yes_dollars_fp=[["0.4400", "5.00"]])
    book.apply_delta(delta("0.4400", "1.00", clock=20))
    assert book.apply_delta(delta("0.4300", "1.00", clock=19)) is DeltaOutcome.MARKED_STALE
    assert book.stale_reason == "delta clock went backwards (19 < 20)" and 4300 not in book.yes


@pytest.mark.parametrize(
    "levels",
    [
        {"yes_dollars_fp": [["0.4400", "5.00"], ["0.3000", "1.00"], ["0.44", "2.00"]]},  # same price, two spellings
        {"no_dollars_fp": [["0.5000", "1.00"], ["0.5000", "1.00"]]},
        {"yes_dollars": [["0.440", 5], ["0.4400", 2]]},
        {"yes": [[44, 5], [44, 2]]},
    ],
)
def test_snapshot_with_a_price_listed_twice_is_stale_not_summed(levels):
    book = live_book(yes_dollars_fp=[["0.2000", "1.00"]])
    book.apply_snapshot({"market_ticker": "T", "clock": 11, **levels})
    assert book.state is BookState.STALE and "listed twice" in book.stale_reason
    assert book.yes == {2000: 100}
    fresh = OrderBook("T")
    fresh.apply_snapshot({"market_ticker": "T", "clock": 11, **levels})
    assert fresh.state is BookState.STALE and not fresh.is_live


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


def test_bookset_a_stale_book_is_never_encoded():
    books = BookSet()
    books.apply(frame("orderbook_snapshot", 1, 1, {"market_ticker": "A", "clock": 5}))
    books.mark_sid_stale(1, "seq gap")
    with pytest.raises(BookError, match="stale"):
        book_json_bytes(books.book("A"))
