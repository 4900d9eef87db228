"""Every order book of one stream, keyed by market, and which subscription feeds which markets.

Pure state over ``OrderBook``: frames in, books out, no I/O. The book feed drives it.
"""

from __future__ import annotations

from typing import Any

from kalshi_cli.book import BookError, BookState, DeltaOutcome, OrderBook
from kalshi_cli.protocol import ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT

__all__ = ["BookSet"]

_LIVE = BookState.LIVE
_STALE = BookState.STALE
_AWAITING = BookState.AWAITING_SNAPSHOT
_APPLIED = DeltaOutcome.APPLIED


class BookSet:
    """Every book of a stream, keyed by market ticker, and which sid feeds which markets.

    The session code tracks ``seq`` and asks for snapshots; this class only keeps the books
    honest: it applies frames and marks books STALE when the caller reports a gap or reconnect.
    Its books are fed by one connection, so a delta not after its snapshot's clock marks the
    book STALE (``OrderBook.skip_contained`` is off).
    """

    def __init__(self, *, use_yes_price: bool = False):
        self.books: dict[str, OrderBook] = {}
        self.sid_markets: dict[int, set[str]] = {}
        #: how many times a STALE book came back LIVE through a snapshot.
        self.resync_count = 0
        self.use_yes_price = use_yes_price
        self._yes_price_sids: dict[int, bool] = {}
        #: ticker -> the sid feeding it (``sid_markets`` the other way round), checked per frame.
        self._sid_of: dict[str, int] = {}

    def set_use_yes_price(self, sid: int, use_yes_price: bool) -> None:
        """Declare how a sid prices its NO side (its subscribe had ``use_yes_price``)."""
        self._yes_price_sids[sid] = use_yes_price
        for ticker in self.sid_markets.get(sid, ()):
            self.books[ticker].use_yes_price = use_yes_price

    def watch(self, sid: int, tickers: list[str] | tuple[str, ...]) -> None:
        """Register markets subscribed on ``sid`` before their snapshots arrive.

        This way a gap that swallows a market's first snapshot still shows up in
        ``stale_markets``.
        """
        for ticker in tickers:
            self._book_for(sid, ticker)

    def book(self, ticker: str) -> OrderBook | None:
        return self.books.get(ticker)

    def _book_for(self, sid: Any, ticker: str) -> OrderBook:
        """The book of ``ticker``, created if new, and (for an int ``sid``) registered as fed by it."""
        book = self.books.get(ticker)
        if type(sid) is not int:
            if book is None:
                book = self.books[ticker] = OrderBook(ticker, use_yes_price=self.use_yes_price, skip_contained=False)
            return book
        if book is None:
            book = self.books[ticker] = OrderBook(ticker, skip_contained=False)
        markets = self.sid_markets.setdefault(sid, set())
        if ticker not in markets:
            for other in self.sid_markets.values():
                other.discard(ticker)
            markets.add(ticker)
        self._sid_of[ticker] = sid
        book.use_yes_price = self._yes_price_sids.get(sid, self.use_yes_price)
        return book

    def apply(self, obj: dict[str, Any]) -> OrderBook | None:
        """Apply a parsed ``orderbook_snapshot`` / ``orderbook_delta`` frame; the book it changed.

        That is the book of an applied delta, or of a snapshot that left it LIVE (its ``seq`` is
        now the frame's). None for anything else: another frame type, a delta ignored (the book
        is STALE), or a frame that turned its book STALE.
        A frame whose market cannot be read could have touched any market of its sid, so the
        whole sid goes STALE. A delta on a sid that does not feed its market (a snapshot on a
        new sid moves the market there) turns that book STALE: its deltas came from two streams.
        """
        kind = obj.get("type")
        if kind != ORDERBOOK_DELTA and kind != ORDERBOOK_SNAPSHOT:
            return None
        sid = obj.get("sid")
        msg = obj.get("msg")
        if not isinstance(msg, dict) or type(ticker := msg.get("market_ticker")) is not str:
            if type(sid) is not int:
                raise BookError(f"{kind} frame without a sid or market ticker")
            self.mark_sid_stale(sid, f"{kind} frame without a market ticker")
            return None
        book = self.books.get(ticker)
        if book is None or self._sid_of.get(ticker) != sid:
            fed_by = self._sid_of.get(ticker)
            if book is not None and kind == ORDERBOOK_DELTA and type(sid) is int and fed_by is not None:
                book.mark_stale(f"delta on sid {sid}, but {ticker} is fed by sid {fed_by}")
                return None
            book = self._book_for(sid, ticker)
        if kind == ORDERBOOK_DELTA:
            if book.apply_delta(msg) is not _APPLIED:
                return None
        else:
            before = book.state
            book.apply_snapshot(msg)
            if book.state is not _LIVE:
                return None
            if before is _STALE:
                self.resync_count += 1
        book.seq = obj.get("seq")
        return book

    def on_frame(self, obj: dict[str, Any]) -> list[str]:
        """``apply`` a frame; the tickers whose state (live, stale, awaiting) it changed, sorted.

        Other frame types are ignored. (For tests and status lines: it looks at every book.)
        """
        before = {ticker: book.state for ticker, book in self.books.items()}
        self.apply(obj)
        return sorted(t for t, book in self.books.items() if book.state is not before.get(t, _AWAITING))

    def mark_sid_stale(self, sid: int, reason: str) -> list[str]:
        """A seq gap on ``sid`` may have hit any of its markets: all of them go STALE."""
        return [t for t in sorted(self.sid_markets.get(sid, ())) if self.books[t].mark_stale(reason)]

    def mark_all_stale(self, reason: str) -> list[str]:
        """Reconnect: nothing is current any more, and the old sids mean nothing on the new socket.

        The sid map and per-sid ``use_yes_price`` settings are dropped; declare them again for
        the new sids (``set_use_yes_price``, ``watch``).
        """
        changed = [t for t, book in sorted(self.books.items()) if book.mark_stale(reason)]
        self.sid_markets.clear()
        self._sid_of.clear()
        self._yes_price_sids.clear()
        return changed

    def stale_markets(self, sid: int | None = None) -> list[str]:
        """Tickers to re-snapshot, sorted (all of them, or those fed by ``sid``)."""
        tickers = self.books if sid is None else self.sid_markets.get(sid, ())
        return sorted(t for t in tickers if self.books[t].state is _STALE)

    def counts(self) -> dict[BookState, int]:
        """How many books are in each state (for a status line)."""
        out = dict.fromkeys(BookState, 0)
        for book in self.books.values():
            out[book.state] += 1
        return out
