"""The book half of the redundant merge: one chain of frames per market, fed by any connection.

Positions come from ``EventKeyer.position``: ``(clock, n)`` for the n-th delta of an exchange
clock, ``(clock, SNAPSHOT_POS)`` for a snapshot (it holds every delta of its clock). The chain
is where the merged book stands. A connection's frame at or below it is a copy (dropped: the
frame becomes the connection's *anchor*, its place); the next frame extends it, and a
connection knows its frame is next when its anchor is where the chain stands (or, after a
snapshot the chain took, when it opens a higher clock). A frame beyond the chain waits in the
connection's *held* queue until the chain catches up (then it is a copy, or next in line).

When no connection is in line for a market any more (the one feeding it dropped or lost
frames), a connection's held snapshot and the deltas after it carry the chain on. If none holds
one but a connection's fresh subscription will bring one (it is subscribing, or subscribed and
has sent nothing for the market yet), the chain waits for it. Only when none can is the merge
*uncovered*: the caller reports a gap and every book of the subscription starts again from the
next snapshot (``restart``), as after a seq gap on one connection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Final

from kalshi_cli.event_keys import SNAPSHOT_POS, after_snapshot, delta_position, mark_lost, unknown_group

__all__ = ["COPY", "HELD_KEPT", "NEWS", "TAKEN", "UNCOVERED", "BookMerge", "Item", "Position"]

HELD_KEPT: Final = 2_000  # frames one connection may hold ahead of the chain, per market (seconds of a busy one)
_START: Final = (-1, SNAPSHOT_POS)  # below every real position
UNCOVERED, TAKEN, NEWS, COPY = 0, 1, 2, 3  # what ``BookMerge.frame`` made of a frame

Position = tuple[int, int]
#: A frame as the merge carries it: its parse, and its bytes as received (None: not kept).
Item = tuple[dict[str, Any], bytes | None]


class _Chain:
    __slots__ = ("by", "held", "needs", "pos")

    def __init__(self) -> None:
        self.pos: Position = _START
        self.needs = True  # waiting for a snapshot, whatever its clock (start, or after a gap)
        self.held = False  # a connection may hold frames of this market beyond the chain
        self.by = -1  # the tag (its low byte: the connection) of the one that delivered the frame at ``pos``


class _Track:
    """One connection on one market: its place at or below the chain, its frames beyond, and
    its clock group (``event_keys``: which delta of its clock a frame is)."""

    __slots__ = ("anchor", "chain", "conn", "group", "held")

    def __init__(self, chain: _Chain, conn: int) -> None:
        self.chain = chain
        self.conn = conn
        self.anchor: Position | None = None
        self.held: deque[tuple[Position, Item]] = deque()
        self.group = unknown_group()

    def holds_snapshot(self) -> bool:
        return bool(self.held) and self.held[0][0][1] == SNAPSHOT_POS


def _follows(anchor: Position | None, chain: Position, nxt: Position) -> bool:
    """Is ``nxt`` the frame right after ``chain``, for a connection whose place is ``anchor``?"""
    if anchor is None or nxt[1] == SNAPSHOT_POS:
        return False
    if chain[1] == SNAPSHOT_POS:  # everything up to the chain's clock is in: a new clock starts
        return anchor <= chain and nxt[1] == 0 and nxt[0] > chain[0]
    return anchor == chain


class BookMerge:
    """The chains of one ``orderbook_delta`` subscription over ``connections`` connections.

    ``on`` (the connections subscribed) and ``streaming`` (the connections up) are the
    caller's live sets; ``deliver`` takes each frame of the merged stream.
    """

    def __init__(
        self,
        connections: int,
        on: set[int],
        streaming: set[int],
        deliver: Callable[[Item], None],
        tags: list[int] | None = None,
    ) -> None:
        self.on = on
        self.streaming = streaming
        self.deliver = deliver
        #: per connection, the tag its deliveries carry (``redundant_lineup.KeyedLineUp.tags``)
        self.tags = tags if tags is not None else list(range(connections))
        self.chains: dict[str, _Chain] = {}
        self.tracks: list[dict[str, _Track]] = [{} for _ in range(connections)]
        self.news = False  # did the snapshot being placed go out
        self.copy_of = -1  # after ``COPY``: the tag of the connection that had delivered the frame

    def frame(
        self, conn: int, snapshot: bool, ticker: str, clock: int, parsed: dict[str, Any], raw: bytes | None
    ) -> int:
        """A book frame from ``conn`` (in its order, seq checked): ``NEWS`` if it went out (its
        connection is at the front), ``COPY`` if it is the frame the chain stands on (delivered by
        ``copy_of``), ``TAKEN`` otherwise, ``UNCOVERED`` if the merge became so."""
        track = self.tracks[conn].get(ticker)
        if track is None:
            chain = self.chains.get(ticker)
            if chain is None:
                chain = self.chains[ticker] = _Chain()
            track = self.tracks[conn][ticker] = _Track(chain, conn)
        chain = track.chain
        if snapshot:
            self.news = False
            track.group = after_snapshot(clock)
            self._snapshot(ticker, chain, track, (clock, SNAPSHOT_POS), (parsed, raw))
            return NEWS if self.news else TAKEN
        pos = delta_position(track.group, clock)
        if pos is None:  # it cannot place this delta: it stops helping until it can
            if track.anchor is None and not track.held:
                return TAKEN
            track.anchor = None
            track.held.clear()
            return TAKEN if self.settle() else UNCOVERED
        position = (clock, pos)
        at = chain.pos
        if position <= at or chain.needs:  # a copy (or no book yet): it only marks the place
            track.anchor = position
            if position == at and chain.by & 0xFF != conn:  # right where the one that delivered it stood
                self.copy_of = chain.by
                return COPY
            return TAKEN
        if not track.held and (track.anchor == at or _follows(track.anchor, at, position)):
            chain.pos = track.anchor = position
            chain.by = self.tags[conn]
            self.deliver((parsed, raw))
            if chain.held:
                self._catch_up(ticker, chain)
            return NEWS
        self._hold(track, chain, position, (parsed, raw))
        return TAKEN

    def _snapshot(self, ticker: str, chain: _Chain, track: _Track, position: Position, obj: Item) -> None:
        track.held.clear()  # a snapshot supersedes what this connection held before it
        if chain.needs and position >= chain.pos:
            self.news = True
            self._extend(ticker, chain, track, position, obj)
        elif position <= chain.pos or chain.needs:
            track.anchor = position
        else:
            track.anchor = None
            self._hold(track, chain, position, obj)
            if not self._helped(ticker, chain):
                self._resume(ticker, chain, track)

    def _hold(self, track: _Track, chain: _Chain, position: Position, obj: Item) -> None:
        track.held.append((position, obj))
        chain.held = True
        if len(track.held) > HELD_KEPT:  # too far ahead: it finds its place again later
            track.held.clear()
            track.anchor = None

    def lost_place(self, conn: int) -> None:
        """``conn`` lost frames on this subscription (a seq gap): none of its places holds."""
        for track in self.tracks[conn].values():
            track.anchor = None
            track.held.clear()
            mark_lost(track.group)

    def forget(self, conn: int) -> None:
        """``conn`` left, or subscribed afresh (its snapshots are on the way)."""
        self.tracks[conn].clear()

    def settle(self) -> bool:
        """After a connection stopped helping: each chain must still have a way on (False if not)."""
        for ticker, chain in self.chains.items():
            if chain.needs or self._helped(ticker, chain):
                continue
            best = self._best_snapshot(ticker)
            if best is not None:
                self._resume(ticker, chain, best)
            elif not self._snapshot_coming(ticker):
                return False
        return True

    def restart(self) -> None:
        """After a reported gap (or all connections down): every book from its next snapshot."""
        for ticker, chain in self.chains.items():
            chain.needs = True
            chain.pos = _START
            for tracks in self.tracks:
                track = tracks.get(ticker)
                if track is not None and not track.holds_snapshot():
                    track.held.clear()
            best = self._best_snapshot(ticker)
            if best is not None:
                self._resume(ticker, chain, best)

    # --- inside -----------------------------------------------------------------------------

    def _extend(self, ticker: str, chain: _Chain, track: _Track, position: Position, obj: Item) -> None:
        chain.pos = track.anchor = position
        chain.by = self.tags[track.conn]
        chain.needs = False
        self.deliver(obj)
        self._catch_up(ticker, chain)

    def _catch_up(self, ticker: str, chain: _Chain) -> None:
        """The chain moved: drop what the others held that it now covers, and let one that is
        next in line deliver what it held."""
        moved = True
        while moved:
            moved = False
            holding = False
            for conn in self.on:
                track = self.tracks[conn].get(ticker)
                if track is None or not track.held:
                    continue
                holding = True
                held = track.held
                while held and held[0][0] <= chain.pos:
                    track.anchor = held.popleft()[0]
                while held and _follows(track.anchor, chain.pos, held[0][0]):
                    position, obj = held.popleft()
                    chain.pos = track.anchor = position
                    chain.by = self.tags[conn]
                    self.deliver(obj)
                    moved = True
            chain.held = holding

    def _helped(self, ticker: str, chain: _Chain) -> bool:
        """Will a connection bring the chain's next frame (it is in line, at or behind it)?"""
        for conn in self.on:
            track = self.tracks[conn].get(ticker)
            if track is not None and not track.held and track.anchor is not None and track.anchor <= chain.pos:
                return True
        return False

    def _snapshot_coming(self, ticker: str) -> bool:
        """Is a connection subscribing, or subscribed without a word on ``ticker`` yet?"""
        return any(conn not in self.on or ticker not in self.tracks[conn] for conn in self.streaming)

    def _best_snapshot(self, ticker: str) -> _Track | None:
        best: _Track | None = None
        for conn in sorted(self.on):
            track = self.tracks[conn].get(ticker)
            if track is not None and track.holds_snapshot() and (best is None or track.held[-1][0] > best.held[-1][0]):
                best = track
        return best

    def _resume(self, ticker: str, chain: _Chain, track: _Track) -> None:
        """Carry the chain on from ``track``'s held snapshot (its deltas after it follow)."""
        position, obj = track.held.popleft()
        self._extend(ticker, chain, track, position, obj)
