"""Encoders for what the tool writes: the book as one NDJSON line in Kalshi's snapshot vocabulary.

A line is only ever made from a LIVE book (``BookError`` otherwise), so a consumer never
mistakes a stale book for the market.
"""

from __future__ import annotations

from typing import Any

import orjson

from kalshi_cli.book import BookError, BookState, OrderBook
from kalshi_cli.fixed import format_price, format_price_cached

__all__ = ["book_json_bytes", "book_json_line"]

_LIVE = BookState.LIVE


def book_json_line(book: OrderBook, depth: int | None = None, ts_ms: int | None = None) -> dict[str, Any]:
    """The book as one NDJSON record in Kalshi's own snapshot vocabulary.

    Only a LIVE book may be emitted: a reader of the stream must never mistake a stale book
    for the market, so a non-LIVE book raises ``BookError`` instead of producing a line.
    """
    if book.state is not _LIVE:
        raise BookError(f"{book.market_ticker} is {book.state.value}; only live books are emitted")
    yes, no = book.ladders(depth)
    bid, ask = book.best_yes_bid(), book.best_yes_ask()
    return {
        "market_ticker": book.market_ticker,
        "market_id": book.market_id,
        "seq": book.seq,
        "clock": book.clock,
        "yes_dollars_fp": yes,
        "no_dollars_fp": no,
        "best_yes_bid": None if bid is None else format_price(bid),
        "best_yes_ask": None if ask is None else format_price(ask),
        "ts_ms": ts_ms,
    }


def book_json_bytes(book: OrderBook, depth: int | None = None, ts_ms: int | None = None) -> bytes:
    """``orjson.dumps(book_json_line(book, depth, ts_ms))``, byte for byte, built faster.

    The ladders come from ``OrderBook.ladder_json`` (cached per side until it changes), so a
    line costs a few small encodes instead of formatting and encoding every level again.
    """
    if book.state is not _LIVE:
        raise BookError(f"{book.market_ticker} is {book.state.value}; only live books are emitted")
    dumps = orjson.dumps
    bid, ask = book.best_yes_bid(), book.best_yes_ask()
    return b"".join(
        (
            b'{"market_ticker":',
            dumps(book.market_ticker),
            b',"market_id":',
            dumps(book.market_id),
            b',"seq":',
            dumps(book.seq),
            b',"clock":',
            dumps(book.clock),
            b',"yes_dollars_fp":',
            book.ladder_json(0, depth),
            b',"no_dollars_fp":',
            book.ladder_json(1, depth),
            b',"best_yes_bid":',
            b"null" if bid is None else dumps(format_price_cached(bid)),
            b',"best_yes_ask":',
            b"null" if ask is None else dumps(format_price_cached(ask)),
            b',"ts_ms":',
            dumps(ts_ms),
            b"}",
        )
    )
