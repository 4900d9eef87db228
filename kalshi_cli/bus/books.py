"""Books from a bus stream: several connections' frames, each event once, rebuilt by ``clock``.

The stream interleaves what several recorders' connections saw, under their own ``sid``s, so the
sid bookkeeping of ``BookSet`` (one connection) does not apply. Instead, per market: a snapshot
older than the live book is a copy from a connection that lagged and is skipped; any other
snapshot replaces the book (one as old as the book holds the whole of that clock's exchange
action, which the book may have only part of); a delta at or below the clock of the snapshot the book was
built from is inside it and skipped, also after later deltas (a lagging connection's copy can reach
the bus after a quicker connection's snapshot and deltas).
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
        self._snapshot_clock: dict[str, int] = {}  # ticker -> clock of the snapshot its book was built from

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
            if book.state is _LIVE and type(clock) is int and book.clock is not None and clock < book.clock:
                self.skipped += 1
                return None
            before = book.state
            book.apply_snapshot(msg)
            if book.state is not _LIVE:
                return None
            if type(clock) is int:
                self._snapshot_clock[ticker] = clock
            if before is BookState.STALE:
                self.resync_count += 1
        else:
            clock = msg.get("clock")
            built = self._snapshot_clock.get(ticker)
            if type(clock) is int and built is not None and clock <= built and book.state is _LIVE:
                # inside the snapshot the book was built from, even after later deltas: a lagging
                # connection's copy that reached the bus after a quicker one's snapshot
                self.skipped += 1
                return None
            outcome = book.apply_delta(msg)
            if outcome is not _APPLIED:
                if outcome is DeltaOutcome.SKIPPED_IN_SNAPSHOT:
                    self.skipped += 1
                return None
        book.seq = obj.get("seq")
        return book
