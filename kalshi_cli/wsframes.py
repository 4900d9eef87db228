"""A lean reader for the data frames a WebSocket server sends, with no I/O.

Why it exists: websockets' Sans-I/O parser is a generator that costs about as much per frame
as everything else ``tail --json`` does with it. On a plain connection (no extension
negotiated) almost every frame is an unmasked, unfragmented text frame whose header is two or
four bytes, and reading those is a few slices. ``FrameReader`` reads exactly those and hands
everything else back untouched, at a frame boundary, for websockets' protocol to read: control
frames (it answers pings, runs the closing handshake) and, from the first frame it does not
expect on (reserved bits, a mask, an unknown opcode, a message over ``max_size``, a close), the
rest of the stream for good, so websockets' own checks and error handling apply to it.
"""

from __future__ import annotations

import asyncio

from websockets.client import ClientProtocol

__all__ = ["FrameReader", "send_pending"]

_TEXT, _BINARY, _CONT = 0x1, 0x2, 0x0
_CLOSE = 0x8


class FrameReader:
    """Splits received bytes into whole data messages and bytes for websockets to read.

    ``active`` becomes ``False`` once something unusual was handed over: from then on ``feed``
    returns all its input and the caller gives every byte to websockets.
    """

    __slots__ = ("_buf", "_heads", "_parts", "_size", "active", "max_size")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.active = True
        self._buf = b""
        self._parts: list[bytes] | None = None  # a fragmented message being joined: its frames, headers included
        self._heads: list[int] = []  # each of those frames' header length
        self._size = 0

    def feed(self, data: bytes, messages: list[bytes]) -> bytes:
        """Append the complete messages in ``data`` to ``messages``; return what websockets must read."""
        if not self.active:
            return data
        buf = self._buf + data if self._buf else data
        end = len(buf)
        pos = 0
        max_size = self.max_size
        append = messages.append
        control: list[bytes] = []
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if end - pos < 4:
                    break
                n = buf[pos + 2] << 8 | buf[pos + 3]
                head = 4
            elif n == 127:
                if end - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            opcode = b0 & 0x0F
            if b0 & 0x70 or b1 & 0x80 or n > max_size:  # reserved bits, a mask, too big
                return self._give_up(control, buf, pos)
            if opcode & 0x8:  # a control frame: websockets answers it, in stream order
                if opcode == _CLOSE or n > 125 or not b0 & 0x80:
                    return self._give_up(control, buf, pos)
                if end - pos < head + n:
                    break
                control.append(buf[pos : pos + head + n])
                pos += head + n
                continue
            if end - pos < head + n:
                break
            if opcode == _TEXT or opcode == _BINARY:
                if self._parts is not None:
                    return self._give_up(control, buf, pos)  # a new message inside a fragmented one
                if b0 & 0x80:
                    append(buf[pos + head : pos + head + n])
                else:
                    self._parts, self._heads, self._size = [buf[pos : pos + head + n]], [head], n
            elif opcode == _CONT and self._parts is not None:
                self._size += n
                if self._size > max_size:
                    return self._give_up(control, buf, pos)
                self._parts.append(buf[pos : pos + head + n])
                self._heads.append(head)
                if b0 & 0x80:
                    append(b"".join(memoryview(f)[h:] for f, h in zip(self._parts, self._heads, strict=True)))
                    self._parts = None
            else:
                return self._give_up(control, buf, pos)
            pos += head + n
        self._buf = buf[pos:] if pos < end else b""
        return b"".join(control)

    def _give_up(self, control: list[bytes], buf: bytes, pos: int) -> bytes:
        """From ``pos`` on, websockets reads the stream, and the frames of a message being joined
        before it, so that it judges them together (a new message inside a fragmented one: 1002)."""
        self.active = False
        self._buf = b""
        open_fragments = b"".join(self._parts) if self._parts is not None else b""
        self._parts = None
        return b"".join(control) + open_fragments + buf[pos:]


def send_pending(protocol: ClientProtocol, transport: asyncio.Transport | None) -> None:
    """Write what websockets' protocol has queued (an empty chunk: half-close); wsconn and the
    picows handshake (wshandshake) both write through it."""
    if transport is None:
        return
    for data in protocol.data_to_send():
        if data:
            transport.write(data)
        elif transport.can_write_eof():
            transport.write_eof()
