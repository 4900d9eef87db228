"""Books from a bus stream: several connections' frames, each event once, rebuilt by ``clock``.

The stream interleaves what several recorders' connections saw, under their own ``sid``s, so the
sid bookkeeping of ``BookSet`` (one connection) does not apply. Instead, per market: a snapshot
older than (or as old as) the live book is a copy from a connection that lagged and is skipped;
any other snapshot replaces the book; a delta at or below the clock of the snapshot just applied
is inside it and skipped (``OrderBook.skip_contained``), as in the merged ``--redundant`` stream.
"""

from __future__ import annotations

from typing import Any

from kalshi_cli.book import BookState, DeltaOutcome, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.protocol import ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT

__all__ = ["MergedBookSet"]

_LIVE = BookState.LIVE
_APPLIED = DeltaOutcome.APPLIED


class MergedBookSet(BookSet):
    """A ``BookSet`` for a merged stream: books by market only, snapshots and deltas by clock."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped = 0  # frames older than the book (copies inside a snapshot, lagging snapshots)

    def apply(self, obj: dict[str, Any]) -> OrderBook | None:
        kind = obj.get("type")
        if kind != ORDERBOOK_DELTA and kind != ORDERBOOK_SNAPSHOT:
            return None
        msg = obj.get("msg")
        if not isinstance(msg, dict) or type(ticker := msg.get("market_ticker")) is not str:
            return None
        book = self.books.get(ticker)
        if book is None:
            book = self.books[ticker] = OrderBook(ticker, skip_contained=True)
        if kind == ORDERBOOK_SNAPSHOT:
            clock = msg.get("clock")
            if book.state is _LIVE and type(clock) is int and book.clock is not None and clock <= book.clock:
                self.skipped += 1
                return None
            before = book.state
            book.apply_snapshot(msg)
            if book.state is not _LIVE:
                return None
            if before is BookState.STALE:
                self.resync_count += 1
        else:
            outcome = book.apply_delta(msg)
            if outcome is not _APPLIED:
                if outcome is DeltaOutcome.SKIPPED_IN_SNAPSHOT:
                    self.skipped += 1
                return None
        book.seq = obj.get("seq")
        return book
