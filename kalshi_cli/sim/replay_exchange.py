"""The market a recording describes, in the ``MarketSource`` role, for the replay server.

``ReplayExchange`` rebuilds every market's order book from the recorded snapshots and deltas
with the client's own ``OrderBook`` (same parsing, same integrity rules, the clock rules of
one connection as ``BookSet`` applies them), and knows which
books it can vouch for. A book becomes trustworthy at a recorded snapshot and stops being so
at a recorded seq gap, a ``kalshi_cli.meta`` gap, connect or disconnect, or a delta the book
refuses; the deltas of an untrusted book are not sent, so a client's first frame for a
market is always a snapshot and a recorded gap heals at the next recorded snapshot (the
recorder asks for one on every gap). A client that subscribes mid-replay, or asks
``get_snapshot``, gets the rebuilt book.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kalshi_cli.book import DeltaOutcome, OrderBook
from kalshi_cli.continuity import CONNECT, DISCONNECT, GAP
from kalshi_cli.protocol import DATA_TYPES, ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT, TICKER
from kalshi_cli.recording import META, Recording

from .engine import Connection, Frame
from .model import Event

__all__ = ["ReplayConnection", "ReplayExchange"]

_RESET_EVENTS = frozenset({CONNECT, DISCONNECT})


class ReplayExchange:
    """The market state a recording describes (a ``MarketSource``), fed one recorded line at a time.

    ``markets`` holds only the books that can be vouched for, so the engine sends initial
    snapshots and ``get_snapshot`` answers for those alone.
    """

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.markets: dict[str, OrderBook] = {}
        self.last_ticker: dict[str, dict[str, Any]] = {}
        self._seq: dict[int, int] = {}  # recorded orderbook sid -> last recorded seq

    @property
    def tickers(self) -> list[str]:
        return list(self.recording.tickers)

    def ticker_of_id(self, market_id: str) -> str | None:
        return self.recording.ids.get(market_id)

    def snapshot_msg(self, ticker: str) -> dict[str, Any]:
        """The current rebuilt book of a trusted market as an ``orderbook_snapshot`` msg."""
        book = self.markets[ticker]
        msg: dict[str, Any] = {"market_ticker": ticker}
        if book.market_id is not None:
            msg["market_id"] = book.market_id
        if book.clock is not None:
            msg["clock"] = book.clock
        yes, no = book.ladders()
        if yes:
            msg["yes_dollars_fp"] = yes
        if no:
            msg["no_dollars_fp"] = no
        return msg

    true_book = snapshot_msg

    def ticker_msg(self, ticker: str) -> dict[str, Any] | None:
        """The last recorded ``ticker`` msg of a market (None before one was recorded)."""
        return self.last_ticker.get(ticker)

    def reset(self) -> None:
        """Forget everything (the start of a new pass with ``--loop``)."""
        self.markets.clear()
        self.last_ticker.clear()
        self._seq.clear()

    def distrust_books(self) -> None:
        self.markets.clear()

    def apply(self, obj: dict[str, Any]) -> Event | None:
        """Take one recorded line into the state; return the event to publish, if any."""
        kind = obj.get("type")
        if kind == META:
            event = obj.get("event")
            if event in _RESET_EVENTS or (event == GAP and obj.get("channel") == ORDERBOOK_DELTA):
                self.distrust_books()
                if event != GAP:
                    self._seq.clear()  # a new connection numbers its frames from 1 again
            return None
        if not isinstance(kind, str) or kind not in DATA_TYPES:
            return None
        msg = obj.get("msg")
        if not isinstance(msg, dict):
            return None
        raw_ticker = msg.get("market_ticker")
        ticker = raw_ticker if isinstance(raw_ticker, str) else None
        if kind in (ORDERBOOK_SNAPSHOT, ORDERBOOK_DELTA):
            return self._book_frame(kind, ticker, obj, msg)
        if kind == TICKER and ticker is not None:
            self.last_ticker[ticker] = msg
        return Event(kind, ticker, msg)

    def _book_frame(self, kind: str, ticker: str | None, obj: dict[str, Any], msg: dict[str, Any]) -> Event | None:
        sid, seq = obj.get("sid"), obj.get("seq")
        if isinstance(sid, int) and isinstance(seq, int):
            last = self._seq.get(sid)
            if last is not None and seq != last + 1:  # frames were lost here (or a new connection began)
                self.distrust_books()
            self._seq[sid] = seq
        if ticker is None:
            return None
        if kind == ORDERBOOK_SNAPSHOT:
            book = OrderBook(ticker, skip_contained=False)  # one connection's frames, as BookSet reads them
            book.apply_snapshot(msg)
            if not book.is_live:  # unreadable or crossed: nothing to vouch for
                self.markets.pop(ticker, None)
                return None
            self.markets[ticker] = book
            return Event(kind, ticker, msg)
        trusted = self.markets.get(ticker)
        if trusted is None:
            return None  # no trusted book to place it on: wait for the next snapshot
        if trusted.apply_delta(msg) is DeltaOutcome.APPLIED:
            return Event(kind, ticker, msg)
        del self.markets[ticker]  # the recording says something the book cannot take: wait for a snapshot
        return None


class ReplayConnection(Connection):
    """The simulator's engine, telling the server about commands (the timeline starts at the first subscribe)."""

    def __init__(
        self,
        exchange: ReplayExchange,
        *,
        on_command: Callable[[Connection], None],
        authenticated: bool = True,
        sending_ts: bool = True,
    ) -> None:
        super().__init__(exchange, authenticated=authenticated, sending_ts=sending_ts)
        self._on_command = on_command

    def handle_text(self, text: str | bytes) -> list[Frame]:
        frames = super().handle_text(text)
        self._on_command(self)
        return frames
