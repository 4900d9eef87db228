"""The ``continuity`` table: when the data may not be trusted, and for which markets.

One row per connect, disconnect, seq gap, resubscribe, reconnect (seq going back), book turned
stale by the data itself (a level below zero, a crossed book, a clock going back...) and fresh
(a stale book made live again by a snapshot): ``kalshi_cli.continuity``'s event names, as in
live output. ``from_ts`` is the last data before the event (the doubt starts there), ``ts`` the
event, ``until_ts`` when every market it names had a fresh snapshot again (null: not before the
recording ends); ``markets`` are the books not to trust in between (for a gap on another
channel: that subscription's markets, empty meaning all). Times are the recording's
(``recv_ts_ms``, else the frame's own). A row whose markets still wait is held until they are
fresh, and rows settled after it are held behind it, so the table is in the order of ``ts``
(``HELD`` rows at most: past that the oldest settled rows go first, and a row still waiting
comes after them).
``source`` says who saw it: ``recorder`` (a ``kalshi_cli.meta`` line) or ``data`` (a seq that
jumps or goes back in the frames, as in a ``tail --json`` capture).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from itertools import count

from kalshi_cli.continuity import FRESH
from kalshi_cli.export.tables import TableBuffer

__all__ = ["HELD", "Continuity"]

#: settled rows held behind one still waiting, at most (memory stays flat whatever the recording)
HELD = 10_000


@dataclass
class _Open:
    ts: int
    from_ts: int | None
    event: str
    connection: int | None
    channel: str | None
    sid: int | None
    missing: int | None
    markets: list[str]
    reason: str | None
    source: str
    waiting: set[str] = field(default_factory=set)


class Continuity:
    """Collects continuity rows into ``table`` (None: the table was not asked for)."""

    def __init__(self, table: TableBuffer | None, markets: set[str] | None = None) -> None:
        self.table = table
        self.only = markets
        self.open: list[_Open] = []
        self.stale_since: dict[str, int] = {}
        self.last_ts: int | None = None  # recording time of the last data frame
        self.connection: int | None = None
        self.rows = 0
        self._held: list[tuple[int, int, _Open, int | None]] = []  # (ts, n, row, until): settled, not written
        self._n = count()

    def event(
        self,
        ts: int,
        event: str,
        *,
        books: list[str] | None = None,
        markets: list[str] | None = None,
        channel: str | None = None,
        sid: int | None = None,
        missing: int | None = None,
        reason: str | None = None,
        source: str = "recorder",
    ) -> None:
        """Note an event; ``books`` went stale with it (the row waits until they are fresh)."""
        stale = list(books or [])
        for ticker in stale:
            self.stale_since.setdefault(ticker, ts)
        named = sorted(set(stale) | set(markets or []))
        if self.only is not None:
            if markets and not stale and not set(markets) & self.only:
                return  # another channel's gap on markets that were not asked for
            named = [m for m in named if m in self.only]
        row = _Open(ts, self.last_ts, event, self.connection, channel, sid, missing, named, reason, source)
        row.waiting = set(stale)
        if row.waiting:
            self.open.append(row)
        else:
            self._settle(row, ts)

    def fresh(self, ts: int, ticker: str) -> None:
        """A stale book is live again (a snapshot): its ``fresh`` row, and rows no longer waiting."""
        since = self.stale_since.pop(ticker, None)
        if since is None:
            return
        self._settle(
            _Open(ts, since, FRESH, self.connection, "orderbook_delta", None, None, [ticker], None, "data"), ts
        )
        still: list[_Open] = []
        for row in self.open:
            row.waiting.discard(ticker)
            if row.waiting:
                still.append(row)
            else:
                self._settle(row, ts)
        self.open = still
        self._release()

    def close(self) -> None:
        """The recording is over: rows still waiting end with no ``until_ts``."""
        for row in self.open:
            self._settle(row, None)
        self.open = []
        self._release()

    def _settle(self, row: _Open, until: int | None) -> None:
        """``row`` is whole: written once no row still waiting is older (``_release``)."""
        heapq.heappush(self._held, (row.ts, next(self._n), row, until))
        self._release()

    def _release(self) -> None:
        held = self._held
        oldest = min((row.ts for row in self.open), default=None)
        while held and (oldest is None or held[0][0] <= oldest or len(held) > HELD):
            _, _, row, until = heapq.heappop(held)
            self._emit(row, until)

    def _emit(self, row: _Open, until: int | None) -> None:
        table = self.table
        if table is None:
            return
        start = row.from_ts if row.from_ts is not None else row.ts
        end = until if until is not None else 2**62
        if end < table.lo or start >= table.hi:
            return  # the span of doubt is outside --from/--to
        self.rows += 1
        table.put(
            row.ts,
            (
                row.ts,
                row.from_ts,
                until,
                row.event,
                row.connection,
                row.channel,
                row.sid,
                row.missing,
                row.markets,
                row.reason,
                row.source,
            ),
        )
