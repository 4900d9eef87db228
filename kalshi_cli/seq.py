"""Per-sid ``seq`` checks (KALSHI_WS.md §7): dense, starting at 1, independent between sids.

``SeqWindow`` is the client's: besides gaps it tells a true repeat (same seq, same frame:
dropped quietly) from a broken stream (seq went back, restarted at 1, or new content under a
seq already seen: resync), by keeping the bytes of the last ``WINDOW`` frames of the sid (bytes
cannot change under it, unlike a parse a consumer may keep and edit). The same JSON in another
key order or spacing is the same frame: only then are the two parsed and compared.
``SeqTracker`` is the plain gap counter over many sids that recorded files are read with.
"""

from __future__ import annotations

from typing import Final

import orjson

__all__ = ["DUPLICATE", "IN_ORDER", "WINDOW", "SeqTracker", "SeqWindow", "Verdict"]

WINDOW: Final = 64  # frames of content kept per sid (a power of two)


class _Mark:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_ANY: Final = -2  # ``last`` of a fresh window: no seq is last + 1, and every seq is above it
IN_ORDER: Final = _Mark("IN_ORDER")
DUPLICATE: Final = _Mark("DUPLICATE")

#: What ``SeqWindow.observe`` says of a frame: ``IN_ORDER``, ``DUPLICATE``, an ``int`` (that
#: many frames are missing before it; it is the new baseline) or a ``str`` (the stream is broken,
#: and why).
Verdict = _Mark | int | str


class SeqWindow:
    """The seq state of one sid, with the content of its last ``WINDOW`` frames.

    ``fresh``: the first frame seen sets the baseline whatever its seq (a sid joined mid-stream).
    """

    __slots__ = ("last", "ring")

    def __init__(self, *, fresh: bool = False) -> None:
        self.last = _ANY if fresh else 0
        self.ring: list[tuple[int, bytes] | None] = [None] * WINDOW

    def observe(self, seq: object, content: bytes) -> Verdict:
        """Judge the frame numbered ``seq`` whose bytes are ``content`` (valid JSON)."""
        if seq == self.last + 1:
            self.last = seq
            self.ring[seq & (WINDOW - 1)] = (seq, content)
            return IN_ORDER
        if type(seq) is not int or seq < 1:
            return f"seq {seq!r} is not a positive integer"
        last = self.last
        if seq > last:
            self.last = seq
            self.ring[seq & (WINDOW - 1)] = (seq, content)
            return IN_ORDER if last == _ANY else seq - last - 1
        seen = self.ring[seq & (WINDOW - 1)]
        if seen is not None and seen[0] == seq and _same_frame(seen[1], content):
            return DUPLICATE
        if seq == 1:
            return f"seq restarted at 1 (was {last})"
        if seen is not None and seen[0] == seq:
            return f"new content under seq {seq}, already seen"
        return f"seq went back from {last} to {seq}"


def _same_frame(a: bytes, b: bytes) -> bool:
    return a == b or orjson.loads(a) == orjson.loads(b)


class SeqTracker:
    """Per-sid gap counting over many sids.

    ``observe`` answers how the frame relates to the last one seen on its sid:
    0 in order, n > 0 when n frames are missing (the new seq becomes the baseline),
    -1 for a repeat or a step back (the frame should be dropped; the baseline stays).
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[int, int] = {}

    def observe(self, sid: int, seq: int) -> int:
        last = self._last.get(sid, 0)
        if seq == last + 1:
            self._last[sid] = seq
            return 0
        if seq <= last:
            return -1
        self._last[sid] = seq
        return seq - last - 1

    def last(self, sid: int) -> int | None:
        return self._last.get(sid)

    @property
    def table(self) -> dict[int, int]:
        """The live sid -> last seq map, for a hot loop that handles the in-order case inline
        (``table.get(sid, 0) == seq - 1``, then ``table[sid] = seq``) and calls ``observe`` otherwise."""
        return self._last

    def forget(self, sid: int) -> None:
        self._last.pop(sid, None)

    def clear(self) -> None:
        self._last.clear()
