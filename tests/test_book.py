"""OrderBook against the protocol examples and each integrity rule (KALSHI_WS.md §6, §11)."""

from __future__ import annotations

import copy
import json

import pytest

from kalshi_cli.book import BookState, DeltaOutcome, OrderBook
from kalshi_cli.bookset import BookSet
from tests.conftest import EXAMPLES

TICKER = "KXHIGHNY-26AUG28-B84.5"


def load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def live_book(*, skip_contained: bool = True, **snapshot_msg) -> OrderBook:
    book = OrderBook("T", skip_contained=skip_contained)
    book.apply_snapshot({"market_ticker": "T", "market_id": "id", "clock": 10, **snapshot_msg})
    assert book.state is BookState.LIVE, book.stale_reason
    return book


def delta(price: str, size: str, side: str = "yes", clock: int | None = 11) -> dict:
    msg = {"market_ticker": "T", "market_id": "id", "price_dollars": price, "delta_fp": size, "side": side}
    if clock is not None:
        msg["clock"] = clock
    return msg


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
    assert book.apply_delta(delta("0.4400", "-1.00", clock=15)) is DeltaOutcome.APPLIED
    assert book.apply_delta(delta("0.4300", "1.00", clock=15)) is DeltaOutcome.APPLIED  # same action
    assert book.clock == 15 and book.yes == {4400: 400, 4300: 100}
    assert book.apply_delta(delta("0.4300", "1.00", clock=14)) is DeltaOutcome.MARKED_STALE
    assert "backwards" in book.stale_reason


@pytest.mark.parametrize("clock", [10, 9, 0])
def test_a_delta_not_after_its_snapshot_is_stale_on_one_connection(clock):
    """On one connection every delta after a snapshot has a higher clock (§6.2). One that does not
    may be a change the snapshot holds, or a new one after maintenance lowered the clock: skipping
    it would then lose that change, so the book goes stale and is re-snapshotted."""
    book = live_book(skip_contained=False, yes_dollars_fp=[["0.4400", "5.00"]])  # snapshot clock 10
    assert book.apply_delta(delta("0.4400", "1.00", clock=clock)) is DeltaOutcome.MARKED_STALE
    assert book.stale_reason == f"delta clock {clock} is not after its snapshot's (10)"
    assert book.yes == {4400: 500}


def test_skip_contained_skips_deltas_the_snapshot_holds_until_one_comes_after_it():
    book = live_book(yes_dollars_fp=[["0.4400", "5.00"]])  # snapshot clock 10, copies possible
    assert book.apply_delta(delta("0.4400", "-1.00", clock=9)) is DeltaOutcome.SKIPPED_IN_SNAPSHOT
    assert book.apply_delta(delta("0.4400", "-1.00", clock=10)) is DeltaOutcome.SKIPPED_IN_SNAPSHOT
    assert book.yes == {4400: 500} and book.state is BookState.LIVE and book.clock == 10
    assert book.apply_delta(delta("0.4400", "-1.00", clock=11)) is DeltaOutcome.APPLIED
    assert book.apply_delta(delta("0.4400", "-1.00", clock=10)) is DeltaOutcome.MARKED_STALE  # went back


def test_a_delta_below_the_books_clock_is_stale():
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
