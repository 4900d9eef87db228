"""N redundant connections merged into one stream of exchange events, with no I/O.

Every connection carries the same subscriptions and checks its own ``seq`` (its client); this
merger is told what each one saw (``connected``, ``subscribed``, ``frame`` through ``route``,
``gap``, ``lost``, ``disconnected``) and hands an ``Emitter`` one stream in which each exchange
event appears once and in order:

* Book frames (``orderbook_delta`` subscriptions): per market by exchange clock, see
  ``redundant_books``.
* Frames with an event key (``trade`` by ``trade_id``; the other keys of ``event_keys``): the
  first copy of a key is delivered, later copies dropped (the last ``SEEN_KEPT`` keys of a
  subscription are remembered). A connection that joins (subscribes, or had a seq gap) holds
  its frames until they line up with the stream: one of them was delivered already, or is
  delivered by another connection (then what it holds after that one comes next), or, on a
  quiet subscription, copies on another subscription place it (``redundant_lineup``). So the order
  stays the exchange's and a joining connection that is ahead adds nothing twice.
* Frames with no exchange key (``ticker``, ``market_position``, ``event_lifecycle``,
  ``event_fee_update``, lifecycle pauses and other ``market_lifecycle_v2`` events without an id)
  are keyed by content (``event_keys.ContentKeyer``: type and msg as canonical JSON, and a count
  for the N-th repeat on that connection) and merged as keyed frames: taken from every
  connection, first copy wins, the same hold and line-up rules, so a drop loses none and a late
  copy of an older one is never printed after a newer one (but one that a connection lost unseen
  on a channel without ``seq``, ``ticker`` or ``market_positions``, and that a lagging one
  brings, comes late rather than never). Identical content on two updates means the same state
  (the same values and times): none is lost by taking it once per showing. Per channel:
  ``ticker`` carries ``ts_ms`` and ``market_position`` cumulative volume and fees, so a content
  never recurs; lifecycle news may recur (paused, resumed, paused), a repeat is told apart by
  its count on each connection, which is exact for a connection that saw the earlier ones (one
  back from a drop that missed one numbers it low and takes the repeat for a copy; the
  connection that stayed up delivers it).
* Frames with no key at all (no ``msg``, or a keyed type missing its field) come from one
  source connection per subscription, the first subscribed. When it leaves, the lowest-numbered
  other one takes over once a frame of its own is news (it is at the front); those it shows
  while still behind were the old source's already, those sent between its last copy and its
  first news are lost.

Order across a break: a connection lagging the others by more than a reconnect takes can, after
the stream reported a gap or went down, bring older frames than the last delivered (as a REST
backfill would). The stream sees a gap only when no connection can cover the loss: a seq gap on the last
connection in line, or a hand-over to a joining connection that lost frames itself or is
ahead of the one that left (frames may lie between). A connection taking over with nothing
to show yet is judged by its first frame: a copy proves continuity, anything else is a gap.
When every connection is down the stream is down (``Emitter.down``), and up again with the
first to reconnect, as one connection's stream would be.

Memory is bounded: ``SEEN_KEPT`` keys per subscription, ``event_keys.CONTENT_KEPT`` contents
counted per connection and subscription; per connection at most ``JOIN_KEPT``
frames held per keyed subscription and ``redundant_books.HELD_KEPT`` per market; one place per
market and connection.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from kalshi_cli.event_keys import CONTENT_TYPES, KEYED_TYPES, ContentKeyer, EventKeyer
from kalshi_cli.redundant_books import COPY, NEWS, TAKEN, UNCOVERED, BookMerge, Item
from kalshi_cli.redundant_lineup import (
    JOIN_KEPT,
    SEEN_KEPT,
    TAG_BITS,
    TAG_MASK,
    Emitter,
    Join,
    Key,
    KeyedLineUp,
    TakeOver,
)

__all__ = ["BOOK", "CONTENT", "JOIN_KEPT", "KEYED", "KEYLESS", "SEEN_KEPT", "Emitter", "Merger", "kind_of"]


#: How a subscription's frames are merged: by clock, by exchange key, by content, from one source.
BOOK, KEYED, CONTENT, KEYLESS = "book", "keyed", "content", "keyless"


def kind_of(channel: str, types: Sequence[str]) -> str:
    """How a subscription of ``channel`` (emitting message ``types``) is merged."""
    if channel == "orderbook_delta":
        return BOOK
    if any(t in KEYED_TYPES for t in types):
        return KEYED
    return CONTENT if any(t in CONTENT_TYPES for t in types) else KEYLESS


class Merger(KeyedLineUp):
    """The merge of ``connections`` connections over subscriptions of these ``kinds`` (``kind_of``)."""

    def __init__(
        self, connections: int, kinds: Sequence[str], emit: Emitter, sequenced: Sequence[bool] | None = None
    ) -> None:
        self.emit = emit
        self.kinds = list(kinds)
        #: per subscription: does it carry seq (``protocol.ChannelInfo.sequenced``); unknown: yes
        self.sequenced = list(sequenced) if sequenced is not None else [True] * len(kinds)
        books = [kind == BOOK for kind in kinds]
        n = len(kinds)
        self.keyers = [EventKeyer() for _ in range(connections)]
        self.contents = [[ContentKeyer() for _ in range(n)] for _ in range(connections)]
        self.streaming: set[int] = set()
        self.on: list[set[int]] = [set() for _ in range(n)]  # connections subscribed, per subscription
        self.merged_on = [False] * n
        self.tags = list(range(connections))  # per connection: its deliveries' tag (redundant_lineup)
        self.books: list[BookMerge | None] = [
            BookMerge(connections, self.on[i], self.streaming, self._deliverer(i), self.tags) if book else None
            for i, book in enumerate(books)
        ]
        self.anchored: list[set[int]] = [set() for _ in range(n)]  # in line: their new frames are news
        self.vouched: list[dict[int, int]] = [{} for _ in range(n)]  # lined up through another (lineup)
        self.joining: list[dict[int, Join]] = [{} for _ in range(n)]
        self.broken = [0] * n  # frames possibly lost since the last connection in line left
        self.taking_over: list[TakeOver | None] = [None] * n
        self.era = [0] * n  # counts the stream's breaks (all down, lost): a copy from an older era is past
        self.last_era = [0] * n  # the era of the latest frame delivered
        self.seen: list[dict[Key, int]] = [{} for _ in range(n)]  # key -> era << TAG_BITS | deliverer's tag
        self.seen_order: list[deque[Key]] = [deque() for _ in range(n)]
        #: per subscription, the connection whose frames without a key go out, and whether it is
        #: ready (a new source waits until a frame of its own is news: it is then at the front)
        self.source: list[int | None] = [None] * n
        self.ready = [True] * n
        self.waiting = 0  # subscriptions whose source is not ready
        self.placed = any(kind != KEYLESS for kind in kinds)  # does a placed (book or keyed) frame flow at all

    def _deliverer(self, sub: int) -> Callable[[Item], None]:
        return functools.partial(self.emit.deliver, sub)

    # --- what a connection saw --------------------------------------------------------------

    def connected(self, conn: int) -> None:
        self.keyers[conn] = EventKeyer()
        self._rejoined(conn)
        first = not self.streaming
        self.streaming.add(conn)
        if first:
            self.emit.up(conn)

    def disconnected(self, conn: int, reason: str) -> None:
        if conn not in self.streaming:
            return
        self.streaming.discard(conn)
        last = not self.streaming
        for sub in range(len(self.on)):
            self._leave(conn, sub, settle=not last)
        if last:
            for sub, book in enumerate(self.books):
                self.merged_on[sub] = False
                self.broken[sub] = 0
                self.taking_over[sub] = None
                self.era[sub] += 1
                if book is not None:
                    book.restart()
            self.emit.down(conn, reason)

    def subscribed(self, conn: int, sub: int) -> None:
        self.on[sub].add(conn)
        self._rejoined(conn)
        if self.source[sub] is None:
            self.source[sub] = conn
            self._set_ready(sub, True)
        if not self.merged_on[sub]:
            self.merged_on[sub] = True
            self.emit.subscribed(sub)
        book = self.books[sub]
        self.anchored[sub].discard(conn)  # subscribed again (a resync): it lines up afresh
        if self.vouched[sub]:
            self._vouch_left(sub, conn)
        self.joining[sub].pop(conn, None)
        if book is not None:
            book.forget(conn)  # its snapshots are on the way
        elif self.anchored[sub]:
            self.joining[sub][conn] = Join(0)
        else:
            self.anchored[sub].add(conn)
            if self.broken[sub]:
                self.taking_over[sub] = TakeOver(conn, [], self.broken[sub])
                self.broken[sub] = 0

    def lost(self, conn: int, sub: int, reason: str) -> None:
        self._leave(conn, sub, settle=True)
        if not self.on[sub] and self.merged_on[sub]:
            self.merged_on[sub] = False
            self.broken[sub] = 0
            self.taking_over[sub] = None
            self.era[sub] += 1
            book = self.books[sub]
            if book is not None:
                book.restart()
            self.emit.lost(sub, reason)

    def gap(self, conn: int, sub: int, missing: int) -> None:
        self._rejoined(conn)
        book = self.books[sub]
        if book is not None:
            book.lost_place(conn)
            if not book.settle():
                self._uncovered(sub, book, missing)
            return
        anchored = self.anchored[sub]
        self.vouched[sub].pop(conn, None)
        if self.vouched[sub]:
            self._vouch_gap(sub, conn, missing)
        if anchored == {conn} and not self.joining[sub]:
            taking = self.taking_over[sub]
            if taking is not None:  # what it held may lie before the gap or in a break: dropped
                missing = max(missing, taking.gap)
                self.taking_over[sub] = None
            self._keyed_gap(sub, missing)  # nobody else is in line: the stream lost them too
            return
        anchored.discard(conn)
        join = self.joining[sub].get(conn)
        if join is None:
            self.joining[sub][conn] = Join(missing)
        else:
            join.held.clear()  # what follows the gap comes from the others, in order
            join.missing += missing
            join.past = False  # it may have skipped past the break: it lines up afresh
        if not anchored:
            self._orphaned(sub, missing)

    def frame(self, sub: int, conn: int, parsed: dict[str, Any], raw: bytes | None = None) -> None:
        """A data frame ``conn`` received on subscription ``sub`` (in order, seq checked): its
        parse, and (to pass on unchanged where it can) its bytes. ``route`` is the fast way in."""
        item = (parsed, raw)
        book = self.books[sub]
        if book is not None:
            msg = parsed.get("msg")
            if type(msg) is dict and type(clock := msg.get("clock")) is int:
                ticker = msg.get("market_ticker")
                if type(ticker) is str and conn in self.on[sub]:
                    snapshot = parsed.get("type") == "orderbook_snapshot"
                    taken = book.frame(conn, snapshot, ticker, clock, parsed, raw)
                    if taken == UNCOVERED:
                        self._uncovered(sub, book, 1)
                    elif taken == NEWS and self.waiting:
                        self._news(conn)
                    elif taken == COPY and any(self.joining):
                        self._aligned(conn, book.copy_of)
                return
            key: Key | None = None  # a book from before the clock
        else:
            key = self.keyers[conn].key(parsed)
            if key is None:
                key = self.contents[conn][sub].key(parsed)
        if key is None:  # no identity: from the subscription's source connection only
            if conn == self.source[sub] and self.ready[sub]:
                self.emit.deliver(sub, item)
            return
        self.keyed(sub, conn, key, item)

    def keyed(self, sub: int, conn: int, key: Key, item: Item) -> None:
        """A frame of keyed subscription ``sub`` whose key is ``key``: delivered, held or dropped."""
        self.placed = True
        seen = self.seen[sub].get(key)
        if self.vouched[sub]:
            self._settled(sub, conn, seen is not None and seen >> TAG_BITS >= self.last_era[sub])
        if seen is not None:  # a copy
            era = seen >> TAG_BITS
            join = self.joining[sub].get(conn)
            if join is not None:
                if era >= self.last_era[sub]:  # the stream is past it: in line
                    del self.joining[sub][conn]
                    self.anchored[sub].add(conn)
                    self.broken[sub] = 0  # it carries on from a frame delivered: nothing lost
                else:  # from before the stream's last break: what follows it is in the break
                    join.past = True
                    join.held.clear()
            elif (taking := self.taking_over[sub]) is not None and taking.conn == conn:
                self._copy_after_take_over(sub, conn, taking, era)
            if era >= self.last_era[sub] and any(self.joining):
                self._aligned(conn, seen & TAG_MASK)
            return
        if conn in self.anchored[sub]:
            taking = self.taking_over[sub]
            if taking is not None and taking.conn == conn:  # news: what it held comes first
                self.taking_over[sub] = None
                if taking.gap:
                    self._keyed_gap(sub, taking.gap)
                for held_key, held in taking.held:
                    if held_key not in self.seen[sub]:
                        self._deliver_keyed(sub, held_key, held, conn)
                if key in self.seen[sub]:  # a connection lining up on those delivered it
                    return
            self._deliver_keyed(sub, key, item, conn)
            if self.waiting:
                self._news(conn)
            return
        join = self.joining[sub].get(conn)
        if join is None or join.past:  # not subscribed, or behind a break already reported
            return
        join.held[key] = item
        if len(join.held) > JOIN_KEPT:  # the others carry the oldest
            del join.held[next(iter(join.held))]

    def route(self, sub: int) -> Callable[[int, dict[str, Any], bytes | None], None]:
        """``frame`` for subscription ``sub``, specialised (a book subscription's hot path inline)."""
        book = self.books[sub]
        frame = self.frame
        if self.kinds[sub] == KEYLESS:
            emit, source, ready = self.emit.deliver, self.source, self.ready

            def keyless_route(conn: int, parsed: dict[str, Any], raw: bytes | None) -> None:
                if conn == source[sub] and ready[sub]:
                    emit(sub, (parsed, raw))

            return keyless_route
        if book is None:
            keyed, keyers, contents = self.keyed, self.keyers, [c[sub] for c in self.contents]
            content = self.kinds[sub] == CONTENT

            def keyed_route(conn: int, parsed: dict[str, Any], raw: bytes | None) -> None:
                key = contents[conn].key(parsed) if content else keyers[conn].key(parsed)
                if key is None:
                    frame(sub, conn, parsed, raw)  # the general way
                else:
                    keyed(sub, conn, key, (parsed, raw))

            return keyed_route
        on, book_frame, joining = self.on[sub], book.frame, self.joining

        def book_route(conn: int, parsed: dict[str, Any], raw: bytes | None) -> None:
            msg = parsed.get("msg")
            if type(msg) is dict:
                clock = msg.get("clock")
                ticker = msg.get("market_ticker")
                if type(clock) is int and type(ticker) is str:
                    if conn in on:
                        snapshot = parsed.get("type") == "orderbook_snapshot"
                        taken = book_frame(conn, snapshot, ticker, clock, parsed, raw)
                        if taken != TAKEN:
                            if taken == COPY:
                                if any(joining):
                                    self._aligned(conn, book.copy_of)
                            elif taken == UNCOVERED:
                                self._uncovered(sub, book, 1)
                            elif self.waiting:
                                self._news(conn)
                    return
            frame(sub, conn, parsed, raw)

        return book_route

    def _news(self, conn: int) -> None:
        """``conn`` delivered a frame first: it is at the front, so a source waiting on it is ready."""
        for sub, source in enumerate(self.source):
            if source == conn and not self.ready[sub]:
                self.ready[sub] = True
                self.waiting -= 1

    def _new_source(self, sub: int) -> None:
        """The source left: the lowest-numbered other connection subscribed takes over, ready once
        it leads (its frames without a key until then were the old source's already)."""
        on = self.on[sub]
        self.source[sub] = min(on) if on else None
        self._set_ready(sub, not on or not self.placed)

    def _set_ready(self, sub: int, ready: bool) -> None:
        self.waiting += (not ready) - (not self.ready[sub])
        self.ready[sub] = ready

    # --- keyed subscriptions ------------------------------------------------------------------

    def _leave(self, conn: int, sub: int, *, settle: bool) -> None:
        if self.vouched[sub]:
            self._vouch_left(sub, conn)
        self.on[sub].discard(conn)
        if self.source[sub] == conn:
            self._new_source(sub)
        self.joining[sub].pop(conn, None)
        was_anchored = conn in self.anchored[sub]
        self.anchored[sub].discard(conn)
        carried = 0
        taking = self.taking_over[sub]
        if taking is not None and taking.conn == conn:
            self.taking_over[sub] = None
            carried = taking.gap
        book = self.books[sub]
        if book is not None:
            book.forget(conn)
            if settle and not book.settle():
                self._uncovered(sub, book, 1)
        elif settle and was_anchored and not self.anchored[sub] and self.merged_on[sub]:
            self._orphaned(sub, carried)

    def _uncovered(self, sub: int, book: BookMerge, missing: int) -> None:
        """No connection can carry a book on: the stream sees the gap; every book resnapshots."""
        self.emit.gap(sub, missing)
        book.restart()
