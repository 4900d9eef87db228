"""Encoders for what the tool writes: the book as one NDJSON line in Kalshi's snapshot vocabulary.

A line is only ever made from a LIVE book (``BookError`` otherwise), so a consumer never
mistakes a stale book for the market. The fast encoder keeps each book's ladders encoded and
patches only the levels deltas touched since the last line (``ladder_json``).
"""

from __future__ import annotations

import bisect
from typing import Any

import orjson

from kalshi_cli.book import BookError, BookState, OrderBook
from kalshi_cli.fixed import format_price, format_price_cached, format_size_cached

__all__ = ["book_json_bytes", "book_json_line", "ladder_json"]

_LIVE = BookState.LIVE
#: more touched levels than this since the last line: re-sort the side instead of patching.
_PATCH_LIMIT = 8


class _Encoded:
    """One book's encoded ladders, valid for the snapshot it was made after (``generation``).

    Per side: each level's encoded ``["price","size"]`` (``frag``), the sorted prices
    (``order``) with their encodings in that order (``parts``) as of the last line, and that
    line's ``(depth, ladder bytes)`` (``line``).
    """

    __slots__ = ("generation", "frag", "order", "parts", "line")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.frag: tuple[dict[int, bytes], dict[int, bytes]] = ({}, {})
        self.order: list[list[int] | None] = [None, None]
        self.parts: list[list[bytes]] = [[], []]
        self.line: list[tuple[int | None, bytes] | None] = [None, None]


def ladder_json(book: OrderBook, side: int, depth: int | None = None) -> bytes:
    """One ladder (0 = yes, 1 = no) as JSON bytes, re-encoded only after that side changed.

    Only the levels deltas touched since the last call are encoded again, so a line after every
    delta re-encodes one level, and a line after a burst of deltas the levels the burst touched.
    """
    enc = book.encoded
    if not isinstance(enc, _Encoded) or enc.generation != book.snapshots:
        enc = book.encoded = _Encoded(book.snapshots)
    touched = book.touched[side]
    line = enc.line[side]
    if not touched and line is not None and line[0] == depth:
        return line[1]
    ladder = book.no if side else book.yes
    frag = enc.frag[side]
    for price in touched:
        frag.pop(price, None)
    order = enc.order[side]
    if order is None or len(touched) > _PATCH_LIMIT:  # (re)build: sort, reuse each unchanged level
        order = enc.order[side] = sorted(ladder)
        parts = enc.parts[side] = [frag.get(price) or _level_json(frag, ladder, price) for price in order]
    else:  # a few levels changed, came or went: patch them in place
        parts = enc.parts[side]
        for price in touched:
            i = bisect.bisect_left(order, price)
            present = i < len(order) and order[i] == price
            if price in ladder:
                if present:
                    parts[i] = _level_json(frag, ladder, price)
                else:
                    order.insert(i, price)
                    parts.insert(i, _level_json(frag, ladder, price))
            elif present:
                del order[i]
                del parts[i]
    touched.clear()
    if depth is not None:
        parts = parts[-depth:] if depth > 0 else []
    data = b"[" + b",".join(parts) + b"]"
    enc.line[side] = (depth, data)
    return data


def _level_json(frag: dict[int, bytes], ladder: dict[int, int], price: int) -> bytes:
    level = frag.get(price)
    if level is None:
        level = frag[price] = orjson.dumps([format_price_cached(price), format_size_cached(ladder[price])])
    return level


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

    The ladders come from ``ladder_json`` (cached per side until it changes), so a line costs
    a few small encodes instead of formatting and encoding every level again.
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
            ladder_json(book, 0, depth),
            b',"no_dollars_fp":',
            ladder_json(book, 1, depth),
            b',"best_yes_bid":',
            b"null" if bid is None else dumps(format_price_cached(bid)),
            b',"best_yes_ask":',
            b"null" if ask is None else dumps(format_price_cached(ask)),
            b',"ts_ms":',
            dumps(ts_ms),
            b"}",
        )
    )
