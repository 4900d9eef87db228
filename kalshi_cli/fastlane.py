"""The client's fast lane: the checked, in-order data frames of a pass-through run handed on unparsed.

Why: a pass-through handler (``tail --json``, ``record``) needs of a frame only its ``type``,
``sid`` and ``seq`` (and that it is JSON and UTF-8); ``KalshiClient.receive`` parses each frame
whole with ``orjson.loads``, which costs more than picows' whole read of it.
``FastLaneClient.receive_passing`` reads the head with ``framehead`` (msgspec) instead and, for
the common frame (a known sid, a data type, the next seq or none), checks and notes it as
``receive`` does and hands it on from inside the loop, consecutive frames together in one list:
no parse, no ``Head``, no event, no per-frame call from the session. Any other frame
(unreadable, unknown sid, a reply, out of order, oversize) goes to ``receive``, the reference
path, which judges it exactly as before, after the frames that came before it were handed on.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator

from kalshi_cli.client import SKIP_FRAME, KalshiClient
from kalshi_cli.events import Event, Subscription
from kalshi_cli.framehead import HeadError, decode_head, is_utf8
from kalshi_cli.protocol import DATA_TYPES
from kalshi_cli.seq import WINDOW

__all__ = ["FastLaneClient"]

_MASK = WINDOW - 1


class FastLaneClient(KalshiClient):
    """A ``KalshiClient`` in passthrough mode with a fast lane for the common data frame."""

    def __init__(self, subscriptions: list[Subscription]) -> None:
        super().__init__(subscriptions, passthrough=True)

    def receive_passing(
        self,
        frames: Iterable[bytes],
        pass_on: Callable[[bytes], None],
        pass_batch: Callable[[list[bytes]], None],
        apart: Container[str] = (),
    ) -> Iterator[Event | bytes]:
        """``receive(frames)``, but the common in-order data frames are handed on at once instead
        of yielded: consecutive ones together to ``pass_batch`` (a list, in order), those of a
        type in ``apart`` one by one to ``pass_on``. Everything else is yielded in order, lazily,
        as ``receive`` yields it; frames collected so far are handed on before each yield."""
        decode, errors, utf8 = decode_head, HeadError, is_utf8
        lanes = self._lanes
        data_types, skip, mask = DATA_TYPES, SKIP_FRAME, _MASK
        slow = self.receive
        out: list[bytes] = []
        keep = out.append
        passed = 0
        try:
            for raw in frames:
                try:
                    head = decode(raw)
                except errors:
                    head = None
                if head is not None:
                    lane = lanes.get(head.sid)
                    kind = head.type
                    if lane is not None and kind in data_types and len(raw) <= skip:
                        seq = head.seq
                        window = lane[1]
                        if (seq is None or seq == window.last + 1) and (raw.isascii() or utf8(raw)):
                            if seq is not None:  # SeqWindow.observe's in-order case, inline
                                window.last = seq
                                window.ring[seq & mask] = (seq, raw)
                            passed += 1
                            if kind not in apart:
                                keep(raw)
                                continue
                            if out:
                                pass_batch(out)
                                out = []
                                keep = out.append
                            pass_on(raw)
                            continue
                if out:  # the reference path judges this one: what came before goes first
                    pass_batch(out)
                    out = []
                    keep = out.append
                yield from slow((raw,))
            if out:
                pass_batch(out)
        finally:
            self.frames += passed
