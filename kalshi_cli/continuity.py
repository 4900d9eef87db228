"""When not to trust a stream: one vocabulary for recordings and for live output.

``kalshi record`` writes continuity into its files as ``{"type": "kalshi_cli.meta", "event": E, ...}``
lines (``recording.META``); ``tail --json --continuity`` and ``book --json --continuity`` write the
same events into their output as ``{"kalshi_cli.continuity": E, ...}`` lines, keyed apart from
``type`` so that nothing which dispatches on a frame's ``type`` takes one for a Kalshi message.
Both carry the same event names, the same fields (built here, by ``gap_fields`` and friends) and
the same clock: ``recv_ts_ms``, the local time the event was seen, last. ``read_continuity`` reads
either form back (for ``export``).

Events and their fields:

- ``connect`` (``url``, ``connection``: 1, 2, ...): a connection is up. Live output writes it for
  reconnects only: the stream's first line already says where it starts.
- ``disconnect`` (``reason``): the connection ended; every market is untrusted until the next connect.
- ``gap`` (``channel``, ``sid``, ``missing``, ``seq``, ``markets``): ``missing`` frames were lost on
  ``sid`` before ``seq``. ``markets`` are the subscription's filter; empty means every market of the
  channel.
- ``resubscribe`` (``channel``, ``sid``, ``reason``, ``markets``): the subscription broke (a server
  error, seq went back); it is made again under a new sid.
- ``stale`` (``markets``, ``reason``), ``fresh`` (``markets``): ``book`` only; these books are not
  to be trusted / are exact again (a fresh snapshot). A stale market's next book line follows
  its ``fresh`` line.
- ``subscribed``, ``snapshot_requested``: in recordings only (a reader maps sids with them).
- ``reconnect``: ``export``'s ``continuity`` table only: a seq that went back in the data (a new
  connection a ``tail --json`` capture does not mark).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from kalshi_cli.book import BookState, OrderBook
from kalshi_cli.events import Subscription
from kalshi_cli.output import OutputClosed
from kalshi_cli.recording import META, RECV_TS

__all__ = [
    "CONNECT",
    "CONTINUITY",
    "DISCONNECT",
    "FRESH",
    "GAP",
    "RECONNECT",
    "RESUBSCRIBE",
    "SNAPSHOT_REQUESTED",
    "STALE",
    "SUBSCRIBED",
    "UNTRUSTED",
    "BookContinuity",
    "ContinuityLines",
    "continuity_line",
    "gap_fields",
    "meta_line",
    "read_continuity",
    "resubscribe_fields",
]

#: The key of a continuity line in live output; its value is the event.
CONTINUITY = "kalshi_cli.continuity"

CONNECT = "connect"
DISCONNECT = "disconnect"
GAP = "gap"
RESUBSCRIBE = "resubscribe"
STALE = "stale"
FRESH = "fresh"
SUBSCRIBED = "subscribed"
SNAPSHOT_REQUESTED = "snapshot_requested"
RECONNECT = "reconnect"

#: The events after which (some) data is missing or wrong until a later event says otherwise.
UNTRUSTED = frozenset({DISCONNECT, GAP, RESUBSCRIBE, STALE})


def gap_fields(sub: Subscription, missing: int, seq: int | None) -> dict[str, Any]:
    return {"channel": sub.channel, "sid": sub.sid, "missing": missing, "seq": seq, "markets": sub.markets}


def resubscribe_fields(sub: Subscription, reason: str) -> dict[str, Any]:
    return {"channel": sub.channel, "sid": sub.sid, "reason": reason, "markets": sub.markets}


def meta_line(event: str, recv_ts_ms: int, **fields: Any) -> bytes:
    """A recording's line for ``event``: ``{"type":"kalshi_cli.meta","event":...,...,"recv_ts_ms":N}``."""
    return orjson.dumps({"type": META, "event": event, **fields, RECV_TS: recv_ts_ms})


def continuity_line(event: str, recv_ts_ms: int, **fields: Any) -> bytes:
    """Live output's line for ``event``: ``{"kalshi_cli.continuity":...,...,"recv_ts_ms":N}``."""
    return orjson.dumps({CONTINUITY: event, **fields, RECV_TS: recv_ts_ms})


def read_continuity(obj: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(event, fields)`` of a recording's meta line or a live continuity line; ``None`` for anything else."""
    event = obj.get(CONTINUITY)
    if isinstance(event, str):
        return event, {k: v for k, v in obj.items() if k != CONTINUITY}
    if obj.get("type") == META and isinstance(event := obj.get("event"), str):
        return event, {k: v for k, v in obj.items() if k not in ("type", "event")}
    return None


class ContinuityLines:
    """The continuity lines of one live run, from the session's callbacks, handed to ``write``.

    The caller writes each line where its data goes, so a line sits among the data frames at
    the point of the stream where its event happened; ``clock`` is the run's (Unix seconds).
    """

    def __init__(self, write: Callable[[bytes], None], clock: Callable[[], float]) -> None:
        self.write = write
        self.clock = clock
        self.connects = 0

    def emit(self, event: str, **fields: Any) -> None:
        self.write(continuity_line(event, int(self.clock() * 1000), **fields))

    def connected(self, url: str) -> None:
        self.connects += 1
        if self.connects > 1:
            self.emit(CONNECT, url=url, connection=self.connects)

    def disconnected(self, reason: str) -> None:
        self.emit(DISCONNECT, reason=reason)

    def gap(self, sub: Subscription, missing: int, seq: int | None) -> None:
        self.emit(GAP, **gap_fields(sub, missing, seq))

    def lost(self, sub: Subscription, reason: str) -> None:
        self.emit(RESUBSCRIBE, **resubscribe_fields(sub, reason))

    def stale(self, markets: Iterable[str], reason: str) -> None:
        self.emit(STALE, markets=sorted(markets), reason=reason)

    def fresh(self, markets: Iterable[str]) -> None:
        self.emit(FRESH, markets=sorted(markets))


class BookContinuity(ContinuityLines):
    """``book``'s lines: also which books went stale (``check`` after anything that can do it) and
    which a snapshot made exact again, each market said once per change.

    Written at once, before the burst's book lines (a stale book's line never follows its stale
    line); a closed pipe is left for the next burst to end the stream.
    """

    def __init__(self, write: Callable[[bytes], None], clock: Callable[[], float]) -> None:
        super().__init__(write, clock)
        self.untrusted: set[str] = set()  # said to be stale, not yet fresh

    def emit(self, event: str, **fields: Any) -> None:
        try:
            super().emit(event, **fields)
        except OutputClosed:
            pass

    def check(self, books: Mapping[str, OrderBook], frame: dict[str, Any] | None = None) -> None:
        """A ``stale`` line (one per reason) for the books that went stale since the last check.

        Given the ``frame`` that did it, only its market's book is looked at (when it names one):
        while books wait for snapshots every delta lands here, and markets can be thousands.
        """
        msg = frame.get("msg") if frame is not None else None
        ticker = msg.get("market_ticker") if isinstance(msg, dict) else None
        if isinstance(ticker, str):
            if ticker in self.untrusted or (book := books.get(ticker)) is None:
                return
            books = {ticker: book}
        by_reason: dict[str, list[str]] = {}
        for ticker, book in books.items():
            if book.state is BookState.STALE and ticker not in self.untrusted:
                self.untrusted.add(ticker)
                by_reason.setdefault(book.stale_reason or "stale", []).append(ticker)
        for reason, tickers in by_reason.items():
            self.stale(tickers, reason)

    def snapshot_applied(self, ticker: str) -> None:
        """A snapshot left ``ticker``'s book live: ``fresh`` if it had been said to be stale."""
        if ticker in self.untrusted:
            self.untrusted.discard(ticker)
            self.fresh([ticker])
