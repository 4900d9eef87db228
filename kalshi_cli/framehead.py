"""A data frame's head (``type``, ``sid``, ``seq``), read fast or declined: the fast paths' one reader.

Why: a pass-through path (``tail --json``) needs three fields of each frame and writes the frame
as received. ``orjson.loads`` builds the whole frame (0.6-1.5 µs for a 300-byte frame); msgspec
(the ``[fast]`` extra) decodes the three into a small struct and skips the rest, still checking
that the whole frame is JSON (truncated, trailing bytes, bad tokens and escapes, deep nesting),
in about 0.2 µs. Without msgspec the reader is orjson's and ``FAST`` is False: a caller with its
own orjson path keeps it (this reader would only add a step).

The contract, for any bytes ``raw``: ``read_head(raw)`` is either ``None`` (declined: the caller
takes its reference path, which parses with orjson and judges the frame) or a head whose
``type``, ``sid`` and ``seq`` are what ``orjson.loads(raw)`` holds under those keys (``seq``
``None`` when absent or null). Declined: anything but a JSON object with a string ``type`` and an
integer ``sid``; a ``seq`` that is not an integer (``1.0``, ``true``, ``"1"``); integers outside
0..2**63-1 in the head (orjson reads integers past 64 bits as floats); bytes that are not UTF-8
(msgspec does not check the strings it skips, so the reader does: ``isascii`` first, a decode
only for the rest). Callers still check what is theirs (frame size, known sids, seq order).

One difference is known: a number beyond a double's range (``1e400``, 400 digits) in a field
the head skips is valid JSON (RFC 8259) that orjson refuses and msgspec skips unread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Protocol

import orjson

__all__ = ["FAST", "FrameHead", "HeadError", "decode_head", "is_utf8", "orjson_head", "read_head"]

_MAX = 2**63 - 1  # orjson reads integers up to 2**64 - 1 as ints; a head past int64 is declined


class FrameHead(Protocol):
    """What a fast path reads of a frame; the rest is passed on as received."""

    @property
    def type(self) -> str: ...
    @property
    def sid(self) -> int: ...
    @property
    def seq(self) -> int | None: ...


def is_utf8(raw: bytes) -> bool:
    """True when ``raw`` is UTF-8 (what orjson accepts: no surrogates, no overlong forms)."""
    if raw.isascii():
        return True
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


class _OrjsonHead:
    __slots__ = ("seq", "sid", "type")

    def __init__(self, kind: str, sid: int, seq: int | None) -> None:
        self.type, self.sid, self.seq = kind, sid, seq


class _Declined(ValueError):
    """Valid JSON, but not a head the reader vouches for."""


def orjson_head(raw: bytes) -> FrameHead:
    """The reader without msgspec (and the reference the tests hold msgspec's to)."""
    obj = orjson.loads(raw)
    if type(obj) is not dict:
        raise _Declined("not an object")
    kind, sid, seq = obj.get("type"), obj.get("sid"), obj.get("seq")
    if type(kind) is not str or type(sid) is not int or not (seq is None or type(seq) is int):
        raise _Declined("not a data frame's head")
    if not 0 <= sid <= _MAX or not (seq is None or 0 <= seq <= _MAX):
        raise _Declined("out of range")
    return _OrjsonHead(kind, sid, seq)


try:
    import msgspec
except ImportError:  # pragma: no cover - the [fast] extra is in [test]
    FAST = False
    #: ``raw``'s head, unchecked for UTF-8 (hot loops test ``raw.isascii() or is_utf8(raw)``
    #: themselves); raises ``HeadError`` for anything ``read_head`` declines.
    decode_head: Callable[[bytes], FrameHead] = orjson_head
    HeadError: tuple[type[Exception], ...] = (ValueError,)  # orjson.JSONDecodeError and _Declined
else:
    _Count = Annotated[int, msgspec.Meta(ge=0, le=_MAX)]

    class _Head(msgspec.Struct, gc=False):
        type: str
        sid: _Count
        seq: _Count | None = None

    FAST = True
    decode_head = msgspec.json.Decoder(_Head).decode
    HeadError = (msgspec.DecodeError, RecursionError)  # (ValidationError is a DecodeError; deep nesting)


def read_head(raw: bytes) -> FrameHead | None:
    """``raw``'s head, or ``None`` when the frame is not one the reader vouches for (see above)."""
    try:
        head = decode_head(raw)
    except HeadError:
        return None
    return head if raw.isascii() or is_utf8(raw) else None
