"""How connections line up on a keyed subscription of the redundant merge (``redundant_merge``).

A frame with an event key goes out once: the first copy of a key is delivered, later copies
dropped (the last ``SEEN_KEPT`` keys of a subscription are remembered). A connection that joins
(subscribes, or had a seq gap) holds its frames until they line up with the stream: one of them
was delivered already, or is delivered by another connection (then what it holds after that one
comes next). When no connection is in line any more, a joining one takes over (``_orphaned``);
one with nothing to show yet is judged by its first frame. A connection holding nothing on a
quiet subscription lines up through another subscription's copies (``_aligned``). ``KeyedLineUp``
is the half of ``Merger`` that owns this; the merger feeds it and keeps the state it reads.

Such a line-up is *vouched for* by the connection in line whose copy (or whose copy of the
joining one's frame) showed it: that one may have lost a frame of the quiet subscription before
that point without knowing yet (a loss shows at its next frame there). Its next frame there
settles it: clean, the line-up holds (as it does once the joining one shows a copy there); after
a seq gap, the stream reports the gap (the joining one may have begun after the lost frames). If
it leaves first, on a sequenced subscription the joining one is judged by its first frame there,
as any taking over; on one without ``seq`` (no loss ever shows) the line-up holds.

Every delivery is stamped with its connection's *tag*: the connection in the low byte, above it
how many times that connection (re)joined anything (connected, subscribed, a seq gap). A copy
of a frame with its deliverer's current tag was delivered after that connection's every
current ``Join`` began.
"""

from __future__ import annotations

from collections import deque
from typing import Final, Protocol

from kalshi_cli.redundant_books import Item

__all__ = ["JOIN_KEPT", "SEEN_KEPT", "TAG_BITS", "TAG_MASK", "Emitter", "Join", "Key", "KeyedLineUp", "TakeOver"]

#: An exchange event key (``event_keys.EventKeyer.key``) or a content key (``event_keys.content_key``).
Key = str | bytes | tuple[bytes, int]

SEEN_KEPT: Final = 10_000  # event keys remembered per subscription (far above the lag between connections)
JOIN_KEPT: Final = 10_000  # frames a joining connection may hold per subscription; the others carry older ones
TAG_BITS: Final = 40  # a tag: the connection (8 bits), how often it (re)joined (32 bits, wrapping)
TAG_MASK: Final = (1 << TAG_BITS) - 1


class Emitter(Protocol):
    """Where the merged stream goes (``redundant.RedundantSession`` turns it into handler calls)."""

    def deliver(self, sub: int, item: Item) -> None: ...
    def gap(self, sub: int, missing: int) -> None: ...
    def up(self, conn: int) -> None: ...
    def down(self, conn: int, reason: str) -> None: ...
    def subscribed(self, sub: int) -> None: ...
    def lost(self, sub: int, reason: str) -> None: ...


class Join:
    """A connection lining up with a keyed subscription: what it holds, the seq it lost, and
    whether it showed a frame from before the stream's last break (so what follows is past)."""

    __slots__ = ("held", "missing", "past")

    def __init__(self, missing: int) -> None:
        self.held: dict[Key, Item] = {}
        self.missing = missing
        self.past = False


class TakeOver:
    """A connection that took over while not in line: its next frame tells whether what it holds
    comes next (a new frame: ``gap`` frames may lie between) or lies in a break (a copy)."""

    __slots__ = ("conn", "gap", "held")

    def __init__(self, conn: int, held: list[tuple[Key, Item]], gap: int) -> None:
        self.conn = conn
        self.held = held
        self.gap = gap


class KeyedLineUp:
    """The keyed half of ``Merger``: the state below is the merger's, per subscription."""

    emit: Emitter
    anchored: list[set[int]]  # in line: their new frames are news
    joining: list[dict[int, Join]]
    broken: list[int]  # frames possibly lost since the last connection in line left
    taking_over: list[TakeOver | None]
    era: list[int]  # counts the stream's breaks (all down, lost): a copy from an older era is past
    last_era: list[int]  # the era of the latest frame delivered
    seen: list[dict[Key, int]]  # key -> era << TAG_BITS | the tag of the connection that delivered it
    seen_order: list[deque[Key]]
    tags: list[int]  # per connection, the tag its deliveries carry (see the module docstring)
    vouched: list[dict[int, int]]  # per subscription: a connection lined up through another -> that one
    sequenced: list[bool]  # per subscription: do its frames carry a seq (a loss shows at the next)

    def _rejoined(self, conn: int) -> None:
        """``conn`` (re)joins: what it delivered before no longer proves where its joins stand."""
        self.tags[conn] = (self.tags[conn] + 0x100) & TAG_MASK

    def _deliver_keyed(self, sub: int, key: Key, obj: Item, by: int) -> None:
        seen, order = self.seen[sub], self.seen_order[sub]
        era = self.last_era[sub] = self.era[sub]
        seen[key] = era << TAG_BITS | self.tags[by]
        order.append(key)
        if len(order) > SEEN_KEPT:
            seen.pop(order.popleft(), None)
        self.emit.deliver(sub, obj)
        joining = self.joining[sub]
        if joining:
            for conn, join in list(joining.items()):
                if key in join.held:
                    self._line_up(sub, conn, join, key)

    def _line_up(self, sub: int, conn: int, join: Join, key: Key) -> None:
        """Another connection delivered ``key``, which ``conn`` holds: what ``conn`` holds after it
        comes next (what it holds before it was delivered already)."""
        del self.joining[sub][conn]
        self.anchored[sub].add(conn)
        items = iter(list(join.held.items()))
        for held_key, _ in items:
            if held_key == key:
                break
        for held_key, obj in items:
            if held_key not in self.seen[sub]:
                self._deliver_keyed(sub, held_key, obj, conn)

    def _aligned(self, conn: int, tag: int) -> None:
        """``conn`` showed a copy of a frame delivered under ``tag``: its socket is where that
        connection's (``by``) was. On a quiet subscription with no break in the stream yet (and
        nobody taking over), with the one joining holding nothing:

        * ``conn`` joins and ``by`` is the one in line: every frame before that point came from
          ``by`` and ``conn`` has every one after it (or they are copies): in line;
        * ``by`` joins, ``conn`` is in line, and ``by`` delivered that frame after it began to join
          (its current tag) and lost nothing: every frame before that point came from ``conn``,
          ``by`` has every one after it: in line (no traffic of its own needed either way)."""
        by = tag & 0xFF
        fresh = tag == self.tags[by]
        for sub, joining in enumerate(self.joining):
            if not joining or self.era[sub] or self.taking_over[sub] is not None:
                continue
            join = joining.get(conn)
            if join is not None and not join.held and not join.past and self.anchored[sub] == {by}:
                del joining[conn]
                self.anchored[sub].add(conn)
                self.vouched[sub][conn] = by
                continue
            join = joining.get(by) if fresh else None
            if join is not None and not join.held and not join.past and not join.missing and conn in self.anchored[sub]:
                del joining[by]
                self.anchored[sub].add(by)
                self.vouched[sub][by] = conn

    def _settled(self, sub: int, conn: int, copy: bool) -> None:
        """``conn`` showed a frame of ``sub`` with no gap before it: what it vouched for holds; a
        ``copy`` of one the stream delivered lines it up by its own traffic."""
        vouched = self.vouched[sub]
        if copy:
            vouched.pop(conn, None)
        for aligned in [c for c, v in vouched.items() if v == conn]:
            del vouched[aligned]

    def _vouch_gap(self, sub: int, conn: int, missing: int) -> None:
        """``conn`` had a seq gap on ``sub``: the frames it lost may lie before the start of one it
        vouched for, which cannot cover them: the stream reports them."""
        vouched = self.vouched[sub]
        aligned = [c for c, v in vouched.items() if v == conn]
        for c in aligned:
            del vouched[c]
        if aligned:
            self._keyed_gap(sub, missing)

    def _vouch_left(self, sub: int, conn: int) -> None:
        """``conn`` leaves ``sub`` (or lines up afresh): on a sequenced subscription, what it vouched
        for is unsure (a loss it did not see yet): those connections join again, judged by their
        frames. On one without ``seq`` no loss ever shows: the line-up holds."""
        vouched = self.vouched[sub]
        vouched.pop(conn, None)
        for c in [c for c, v in vouched.items() if v == conn]:
            del vouched[c]
            if self.sequenced[sub] and c in self.anchored[sub]:
                self.anchored[sub].discard(c)
                self.joining[sub][c] = Join(0)

    def _orphaned(self, sub: int, missing: int) -> None:
        """No connection is in line any more: a joining one takes over (see the module docstring)."""
        joining = {c: j for c, j in self.joining[sub].items() if not j.past}
        if not joining:  # the next to subscribe (or to line up) takes over
            self.broken[sub] = max(self.broken[sub], missing, 1)
            return
        conn = min(joining, key=lambda c: (-len(joining[c].held), joining[c].missing, c))
        join = self.joining[sub].pop(conn)
        self.anchored[sub].add(conn)
        if not join.missing:  # its next frame tells
            self.taking_over[sub] = TakeOver(conn, list(join.held.items()), max(missing, 1))
            return
        self._keyed_gap(sub, max(missing, join.missing))  # it lost frames itself: a gap for sure
        for key, obj in join.held.items():
            if key not in self.seen[sub]:
                self._deliver_keyed(sub, key, obj, conn)

    def _copy_after_take_over(self, sub: int, conn: int, taking: TakeOver, era: int) -> None:
        """The connection that took over shows a copy: what it held lies before a delivered frame."""
        self.taking_over[sub] = None
        if era < self.last_era[sub]:  # it is behind the stream's last break
            self.anchored[sub].discard(conn)
            join = self.joining[sub][conn] = Join(0)
            join.past = True
            self.broken[sub] = max(self.broken[sub], taking.gap)

    def _keyed_gap(self, sub: int, missing: int) -> None:
        """The stream lost frames: a break, so a lagging connection's copies from before it no
        longer line it up (what it brings after them lies in the gap, and would come out of order)."""
        self.era[sub] += 1
        self.emit.gap(sub, missing)
