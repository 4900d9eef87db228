"""A WebSocket connection whose frames are read by picows (Cython), behind the transport seam.

Why it exists: websockets' parser reads a frame in about 3 µs of pure Python (``wsconn`` skips
it for plain data frames, but a server that agrees to permessage-deflate sends every frame
through it and through inflate); picows (``pip install 'kalshi-cli[fast]'``) reads one in a
fraction of a µs, whatever the server. It is used only where it is faster and cannot differ:
the opening handshake is websockets' (``wsconn.client_protocol``: the same request, the same
checks of the answer, refusals read whole, redirects refused), and only the frames after the
101 go to picows. It offers no permessage-deflate (picows cannot inflate): frames come
uncompressed, more bytes on the wire for less CPU.

How the hand-over works: picows' ``WSProtocol`` always writes its own upgrade request when it
takes a connection, and waits for a 101 to it. So once websockets has accepted the server's
101, the socket's protocol is switched to picows' (``set_protocol``, in the same callback, so
no byte is missed), its request is swallowed (``_Quiet``) and it is shown a 101 answering its
own key, followed by whatever the server sent after the real one.

What the listener adds to picows, to behave as websockets does: fragments joined (and their
total held to ``max_size``), frames with reserved bits refused (no extension is offered),
pings answered, the server's close code kept and echoed, our close sent on exit. Through a
proxy, the connection is websockets' own client (``wsconn.connect``), as with the default.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from picows import WSCloseCode, WSListener, WSMsgType, WSTransport
from picows.picows import WSAutoPingStrategy, WSProtocol  # type: ignore[attr-defined]  # not in its stubs
from websockets.datastructures import Headers
from websockets.http11 import Response

from kalshi_cli import wsconn
from kalshi_cli.transport import Connection, TransportClosed
from kalshi_cli.wshandshake import Handshake

__all__ = ["PicowsConnection", "connect"]

_TEXT, _BINARY, _CONT = WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.CONTINUATION
_PING, _CLOSE = WSMsgType.PING, WSMsgType.CLOSE
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_READ_BUFFER = 512 * 1024  # picows' receive buffer to start with (it grows for larger frames)
_READ_AT_MOST = 256 * 1024  # bytes taken from the socket per read
_NO_STATUS = 1005  # a close frame without a code (RFC 6455 7.1.5)

# picows logs protocol errors itself; the session reports them, so its records go nowhere.
_LOG = logging.getLogger("kalshi_cli.picows")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False
_LOG.setLevel(logging.CRITICAL + 1)


@asynccontextmanager
async def connect(
    url: str,
    *,
    headers: dict[str, str],
    user_agent: str,
    max_size: int,
    open_timeout: float,
    close_timeout: float,
) -> AsyncIterator[Connection]:
    """Open a WebSocket to ``url`` read by picows; close it (closing handshake, then abort) on exit.

    Raises what ``wsconn.connect`` raises, for the same answers (see ``transport``).
    """
    if wsconn._proxied(url):  # websockets knows how to talk to proxies
        async with wsconn.connect(
            url,
            headers=headers,
            user_agent=user_agent,
            max_size=max_size,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
        ) as proxied:
            yield proxied
        return
    conn = await _open(url, headers, user_agent, max_size, open_timeout, close_timeout)
    try:
        yield conn
    finally:
        await conn.close()


async def _open(
    url: str, headers: dict[str, str], user_agent: str, max_size: int, open_timeout: float, close_timeout: float
) -> PicowsConnection:
    protocol, request = wsconn.client_protocol(url, headers, user_agent, max_size, deflate=False)
    uri = protocol.uri
    conn = PicowsConnection(max_size, close_timeout)
    tls: dict[str, Any] = {"ssl": True, "server_hostname": uri.host} if uri.secure else {}
    loop = asyncio.get_running_loop()
    shake: Handshake | None = None
    try:
        async with asyncio.timeout(open_timeout):
            _, shake = await loop.create_connection(
                lambda: Handshake(protocol, conn.take_over), uri.host, uri.port, **tls
            )
            shake.send(request)
            await shake.done
    except BaseException:
        if shake is not None and shake.transport is not None:
            shake.transport.abort()
        raise
    return conn


class _Quiet:
    """The real transport as picows sees it: minus picows' own upgrade request (already answered),
    and closing as websockets does after failing a stream (``linger``), not at once."""

    def __init__(self, transport: asyncio.Transport, linger: Callable[[], None]) -> None:
        self._transport = transport
        self.speaking = False
        self.get_extra_info = transport.get_extra_info
        self.get_write_buffer_size = transport.get_write_buffer_size
        self.close = linger
        self.abort = transport.abort
        self.is_closing = transport.is_closing

    def write(self, data: bytes) -> None:
        if self.speaking:
            self._transport.write(data)


class _Protocol(WSProtocol):  # type: ignore[misc]
    """picows' protocol, telling the connection after each read (its clock, its waiter)."""

    conn: PicowsConnection

    def get_buffer(self, sizehint: int) -> memoryview:
        # At most a read of asyncio's own size (256 KiB) at a time: picows doubles its buffer after
        # every read that fills it, so a fast sender would otherwise grow it (and each batch) to
        # the socket's whole receive buffer, several MB, for good.
        buffer: memoryview = super().get_buffer(sizehint)
        return buffer[:_READ_AT_MOST]

    def buffer_updated(self, nbytes: int) -> None:
        conn = self.conn
        conn.last_rx = time.monotonic()
        if self.transport.is_close_frame_sent:
            # picows failed the stream (an oversized frame, a bad opcode...) but parses on until
            # its delayed disconnect: nothing after that is a message
            conn.stop_reading()
        super().buffer_updated(nbytes)
        conn.after_read()


class PicowsConnection(WSListener):
    """picows' listener: whole messages queued for ``recv_batch``; the ``Connection`` interface."""

    def __init__(self, max_size: int, close_timeout: float) -> None:
        super().__init__()
        self.max_size = max_size
        self.close_timeout = close_timeout
        self.last_rx = time.monotonic()
        self.response_headers: Mapping[str, str] = Headers()
        self._raw: asyncio.Transport | None = None  # the socket's transport
        self._ws: WSTransport | None = None
        self._messages: list[bytes] = []
        self._parts: list[bytes] | None = None  # a fragmented message being joined
        self._size = 0
        self._reading = True  # False once a close was received or the connection failed
        self._closed: TransportClosed | None = None  # the server's close frame
        self._close_sent = False
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # --- what Session uses ---------------------------------------------------------------

    async def recv_batch(self) -> list[bytes]:
        if not self._messages:
            if self._lost.done():
                raise self._closed or TransportClosed()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            if not self._messages:
                raise self._closed or TransportClosed()
        batch, self._messages = self._messages, []
        if self._paused and self._raw is not None:
            self._paused = False
            self._raw.resume_reading()
        return batch

    async def send(self, payload: bytes) -> None:
        ws = self._ws
        if ws is None or self._close_sent or self._lost.done():
            return  # closing: the read side ends the connection
        ws.send(_TEXT, payload)

    def abort(self) -> None:
        if self._raw is not None:
            self._raw.abort()

    async def close(self) -> None:
        """The closing handshake (code 1000), then drop the TCP connection if the server lingers."""
        if self._lost.done():
            return
        if self._ws is not None and not self._close_sent:
            self._close_sent = True
            self._ws.send_close(WSCloseCode.OK)
        try:
            await asyncio.wait_for(asyncio.shield(self._lost), self.close_timeout)
        except TimeoutError:
            self.abort()

    # --- the hand-over ----------------------------------------------------------------------

    def take_over(self, transport: asyncio.Transport, rest: bytes, response: Response) -> None:
        """Give the open connection to picows; ``rest`` is what came after the 101's head."""
        self._raw = transport
        self.response_headers = response.headers
        protocol = _Protocol(
            "", "/", True, lambda *_: self, _LOG, True, None,
            False, 10, 10, WSAutoPingStrategy.PING_WHEN_IDLE, False,  # no pings of ours; we answer theirs
            self.max_size, None, _READ_BUFFER,
        )  # fmt: skip
        protocol.conn = self
        quiet = _Quiet(transport, self._linger)
        transport.set_protocol(protocol)
        protocol.connection_made(quiet)  # picows writes its upgrade request: swallowed
        quiet.speaking = True
        key = protocol.transport.request.headers["Sec-WebSocket-Key"].encode()
        accept = base64.b64encode(hashlib.sha1(key + _GUID).digest())
        _feed(
            protocol,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + rest,
        )

    # --- picows' callbacks ----------------------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._ws = transport

    def on_ws_frame(self, transport: WSTransport, frame: Any) -> None:
        kind = frame.msg_type
        if kind is _TEXT or kind is _BINARY:
            if frame.fin and self._parts is None and self._reading and not (frame.rsv1 or frame.rsv2 or frame.rsv3):
                self._messages.append(frame.get_payload_as_bytes())
            else:
                self._first_fragment(transport, frame)
        elif kind is _CONT:
            self._next_fragment(transport, frame)
        elif kind is _PING:
            if not self._close_sent:
                transport.send_pong(frame.get_payload_as_bytes())
        elif kind is _CLOSE:
            self._on_close(transport, frame)
        # PONG: we send no pings

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self._lost.done():
            self._lost.set_result(None)
        self._wake()

    def stop_reading(self) -> None:
        self._reading = False
        self._parts = None

    def after_read(self) -> None:
        """After each read: wake the reader; stop reading while too much waits to be taken."""
        if self._messages:
            self._wake()
            if len(self._messages) >= wsconn.PAUSE_AT and not self._paused and self._raw is not None:
                self._paused = True
                self._raw.pause_reading()

    # --- the rarer frames -------------------------------------------------------------------

    def _first_fragment(self, transport: WSTransport, frame: Any) -> None:
        if not self._reading:
            return
        if frame.rsv1 or frame.rsv2 or frame.rsv3:
            self._fail(transport, WSCloseCode.PROTOCOL_ERROR, "reserved bits must be 0")
        elif self._parts is not None:
            self._fail(transport, WSCloseCode.PROTOCOL_ERROR, "expected a continuation frame")
        else:
            self._parts, self._size = [frame.get_payload_as_bytes()], frame.payload_size

    def _next_fragment(self, transport: WSTransport, frame: Any) -> None:
        if not self._reading:
            return
        if self._parts is None or frame.rsv1 or frame.rsv2 or frame.rsv3:
            self._fail(transport, WSCloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
            return
        self._size += frame.payload_size
        if self._size > self.max_size:
            self._fail(
                transport, WSCloseCode.MESSAGE_TOO_BIG, f"over size limit ({self._size} > {self.max_size} bytes)"
            )
            return
        self._parts.append(frame.get_payload_as_bytes())
        if frame.fin:
            self._messages.append(b"".join(self._parts))
            self._parts = None

    def _on_close(self, transport: WSTransport, frame: Any) -> None:
        """Keep the server's code and reason, echo them, and let the server close TCP (or abort)."""
        payload = frame.get_payload_as_bytes()
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else _NO_STATUS
        if self._reading:
            self._closed = TransportClosed(code, payload[2:].decode("utf-8", "replace"))
        self._reading = False
        self._parts = None
        if not self._close_sent:
            self._close_sent = True
            if code == _NO_STATUS:
                transport.send(_CLOSE, b"")
            else:
                transport.send_close(WSCloseCode(code), payload[2:])
        self._abort_later()

    def _fail(self, transport: WSTransport, code: WSCloseCode, reason: str) -> None:
        """Refuse the stream as websockets does: a close frame with ``code``, then ``_linger``."""
        if not self._close_sent:
            self._close_sent = True
            transport.send_close(code, reason.encode())
        self._linger()

    def _linger(self) -> None:
        """A failed stream: read on, discarding, until the server closes TCP; abort if it does not.

        Closing at once would leave unread bytes, and the kernel would answer them with a reset
        that can destroy our close frame on its way (websockets waits too).
        """
        self.stop_reading()
        self._abort_later()

    def _abort_later(self) -> None:
        if self._raw is not None:
            asyncio.get_running_loop().call_later(self.close_timeout, self._raw.abort)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _feed(protocol: _Protocol, data: bytes) -> None:
    """Hand ``data`` to a buffered protocol as if read from the socket."""
    view = memoryview(data)
    while view:
        buffer = protocol.get_buffer(-1)
        n = min(len(buffer), len(view))
        buffer[:n] = view[:n]
        protocol.buffer_updated(n)
        view = view[n:]
