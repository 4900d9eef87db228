"""The book's NDJSON line: Kalshi's snapshot vocabulary, live books only."""

from __future__ import annotations

import pytest

from kalshi_cli.book import BookError, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.encoders import book_json_bytes, book_json_line
from tests.test_book import TICKER, load
from tests.test_bookset import frame


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


def test_bookset_a_stale_book_is_never_encoded():
    books = BookSet()
    books.apply(frame("orderbook_snapshot", 1, 1, {"market_ticker": "A", "clock": 5}))
    books.mark_sid_stale(1, "seq gap")
    with pytest.raises(BookError, match="stale"):
        book_json_bytes(books.book("A"))
