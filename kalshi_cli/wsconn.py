"""A lean WebSocket client connection that hands over received messages in batches.

Why it exists: websockets' asyncio client delivers one message per ``await recv()``, through
a queue, a future and three coroutine frames. At 100k frames/s that machinery costs more than
everything kalshi does with a frame. websockets' Sans-I/O ``ClientProtocol`` (a public API:
the same handshake, frame parser, permessage-deflate, ping replies and closing handshake) is
driven here by a plain asyncio ``Protocol``, and every message parsed from one read of the
socket is handed over at once by ``recv_batch``. On a plain connection (no extension agreed)
the data frames after the 101 are read by ``wsframes.FrameReader`` instead of websockets'
parser, which still reads control frames and anything unusual (see there).

Used for direct connections. When a proxy is configured for the URL, websockets' own client
(which knows how to talk to proxies) is wrapped in the same interface instead, with redirects
refused (a signed handshake must never be replayed to another host).

This module is the only one that imports websockets: its exceptions become the neutral ones of
``transport`` here (``HandshakeRejected``, ``HandshakeFailed``, ``TransportClosed``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from websockets.client import ClientProtocol
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from kalshi_cli.transport import Connection, HandshakeFailed, HandshakeRejected, TransportClosed
from kalshi_cli.wsframes import FrameReader, send_pending

__all__ = ["Connection", "client_protocol", "connect"]

#: Reading pauses while this many received messages wait to be taken (a stalled consumer).
PAUSE_AT = 20_000
HEAD_LIMIT = 64 * 1024  # held handshake bytes without an end of head: websockets refuses them
MAX_MESSAGE = 64 * 1024 * 1024


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
    """Open a WebSocket to ``url``; close it (closing handshake, then abort) on exit.

    Raises ``HandshakeRejected`` (status, headers, body) when the server answers with another
    status than 101 (a redirect included: it is never followed), ``HandshakeFailed`` for other
    handshake failures, ``OSError``/``TimeoutError`` for network failures; ``recv_batch`` raises
    ``TransportClosed``.
    """
    if _proxied(url):
        async with _websockets_client(
            url,
            headers=headers,
            user_agent=user_agent,
            max_size=max_size,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
        ) as conn:
            yield conn
        return
    conn = await _open(
        url,
        headers=headers,
        user_agent=user_agent,
        max_size=max_size,
        open_timeout=open_timeout,
        close_timeout=close_timeout,
    )
    try:
        yield conn
    finally:
        await conn.close()


def _proxied(url: str) -> bool:
    """Whether websockets' client would go through a proxy for ``url`` (its own rule, same settings)."""
    return get_proxy(parse_uri(url)) is not None


def client_protocol(
    url: str, headers: dict[str, str], user_agent: str, max_size: int, *, deflate: bool = True
) -> tuple[ClientProtocol, Request]:
    """websockets' Sans-I/O client and its opening request (the signed headers, our User-Agent).

    Every transport opens with this one request and reads the answer with this one protocol, so
    they agree on what is sent, which answers are refused, and why. ``deflate``: offer
    permessage-deflate (a transport that cannot inflate frames must not).
    """
    extensions = enable_client_permessage_deflate(None) if deflate else None
    protocol = ClientProtocol(parse_uri(url), extensions=extensions, max_size=max_size)
    request = protocol.connect()
    for name, value in headers.items():
        request.headers[name] = value
    request.headers["User-Agent"] = user_agent
    return protocol, request


async def _open(
    url: str, *, headers: dict[str, str], user_agent: str, max_size: int, open_timeout: float, close_timeout: float
) -> BatchConnection:
    protocol, request = client_protocol(url, headers, user_agent, max_size)
    uri = protocol.uri
    loop = asyncio.get_running_loop()
    tls: dict[str, Any] = {"ssl": True, "server_hostname": uri.host} if uri.secure else {}
    conn: BatchConnection | None = None
    try:
        async with asyncio.timeout(open_timeout):
            _, conn = await loop.create_connection(
                lambda: BatchConnection(protocol, close_timeout), uri.host, uri.port, **tls
            )
            protocol.send_request(request)
            conn.write_pending()
            await conn.handshake_done
    except BaseException:
        if conn is not None:
            conn.abort()
        raise
    if protocol.handshake_exc is not None:
        conn.abort()
        raise neutral_error(protocol.handshake_exc) from None
    return conn


def neutral_error(exc: BaseException) -> BaseException:
    """websockets' exception as the transport's own (network errors pass unchanged)."""
    if isinstance(exc, InvalidStatus):
        response = exc.response
        return HandshakeRejected(response.status_code, response.headers, bytes(response.body or b""))
    if isinstance(exc, InvalidHandshake):
        return HandshakeFailed(str(exc) or type(exc).__name__)
    if isinstance(exc, ConnectionClosed):
        return closed_error(exc)
    return exc


def closed_error(exc: ConnectionClosed) -> TransportClosed:
    """The close code and reason the server sent, if it sent one."""
    if exc.rcvd is None:
        return TransportClosed()
    return TransportClosed(exc.rcvd.code, exc.rcvd.reason)


class BatchConnection(asyncio.Protocol):
    """An asyncio protocol around websockets' ``ClientProtocol`` that queues whole messages."""

    def __init__(self, protocol: ClientProtocol, close_timeout: float) -> None:
        self.protocol = protocol
        self.close_timeout = close_timeout
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.response_headers: Mapping[str, str] = Headers()
        self.last_rx = time.monotonic()
        loop = asyncio.get_running_loop()
        self.handshake_done: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self._messages: list[bytes] = []
        self._fragments: list[bytes] = []
        self._waiter: asyncio.Future[None] | None = None
        self._paused = False
        self._closing = False
        self._head = b""  # the handshake answer, held until its head is whole
        self._frames: FrameReader | None = None  # data frames, once the connection is open and plain

    # --- what Session uses ---------------------------------------------------------------

    async def recv_batch(self) -> list[bytes]:
        if not self._messages:
            if self.lost.done():
                raise closed_error(self.protocol.close_exc)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            if not self._messages:
                raise closed_error(self.protocol.close_exc)
        batch, self._messages = self._messages, []
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return batch

    async def send(self, payload: bytes) -> None:
        if self.protocol.state is not State.OPEN:
            return  # closing: the read side ends the connection
        self.protocol.send_text(payload)
        self.write_pending()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    async def close(self) -> None:
        """The closing handshake (code 1000), then drop the TCP connection if the server lingers."""
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(1000)
            self.write_pending()
        if not self.lost.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.lost), self.close_timeout)
            except TimeoutError:
                self.abort()

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.last_rx = time.monotonic()
        if self._frames is not None:
            data = self._frames.feed(data, self._messages)
        elif not self.handshake_done.done():
            data = self._split_handshake(data)
        if data:
            self._protocol_reads(data)
        if self._messages:
            if self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(None)
            if len(self._messages) >= PAUSE_AT and not self._paused and self.transport is not None:
                self._paused = True
                self.transport.pause_reading()

    def _split_handshake(self, data: bytes) -> bytes:
        """websockets reads the answer's head; after a plain 101 the frames go to ``FrameReader``.

        The head is held until it is whole, so the switch happens exactly at a frame boundary.
        """
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            return self._head_overflow()
        head, rest = self._head[: end + 4], self._head[end + 4 :]
        self._head = b""
        self._protocol_reads(head)
        protocol = self.protocol
        if protocol.state is State.OPEN and not protocol.extensions:
            self._frames = FrameReader(protocol.max_message_size or MAX_MESSAGE)
            return self._frames.feed(rest, self._messages)
        return rest

    def _head_overflow(self) -> bytes:
        """A head that never ends is websockets' to refuse (it knows the limits)."""
        if len(self._head) <= HEAD_LIMIT:
            return b""
        held, self._head = self._head, b""
        return held

    def _protocol_reads(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        self.write_pending()  # pong replies, a close reply
        self._take_events()
        if not self._closing and protocol.close_expected() and self.transport is not None:
            self._closing = True  # the server closes TCP after the closing handshake; or we do
            asyncio.get_running_loop().call_later(self.close_timeout, self.transport.abort)

    def _take_events(self) -> None:
        for event in self.protocol.events_received():
            if type(event) is Frame:
                self._on_frame(event)
            elif isinstance(event, Response):
                self.response = event
                self.response_headers = event.headers
                if not self.handshake_done.done():
                    self.handshake_done.set_result(None)

    def _on_frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            data = frame.data if type(frame.data) is bytes else bytes(frame.data)
            if frame.fin:
                self._messages.append(data)
            else:
                self._fragments = [data]
        elif opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                self._messages.append(b"".join(self._fragments))
                self._fragments = []
        # PING, PONG, CLOSE: the Sans-I/O protocol has answered them already.

    def eof_received(self) -> None:
        # A refusal without Content-Length ends at the close: the answer is complete only now.
        self._release_head()
        self.protocol.receive_eof()
        self.write_pending()
        self._take_events()

    def _release_head(self) -> None:
        if self._head:
            held, self._head = self._head, b""
            self._protocol_reads(held)

    def connection_lost(self, exc: Exception | None) -> None:
        self._release_head()
        self.protocol.receive_eof()  # idempotent; the protocol's state becomes CLOSED
        self._take_events()
        if not self.handshake_done.done():
            self.handshake_done.set_exception(exc or HandshakeFailed("connection closed during the handshake"))
            self.handshake_done.exception()  # retrieved: not reported as "never retrieved"
        if not self.lost.done():
            self.lost.set_result(None)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def write_pending(self) -> None:
        send_pending(self.protocol, self.transport)


# --- through a proxy: websockets' own client, one message per batch ----------------------------


@asynccontextmanager
async def _websockets_client(
    url: str, *, headers: dict[str, str], user_agent: str, max_size: int, open_timeout: float, close_timeout: float
) -> AsyncIterator[Connection]:
    from websockets.asyncio.client import ClientConnection
    from websockets.asyncio.client import connect as ws_connect

    class _Watched(ClientConnection):
        last_rx: float = 0.0

        def data_received(self, data: bytes) -> None:
            self.last_rx = time.monotonic()
            super().data_received(data)

    class _NoRedirects(ws_connect):
        def process_redirect(self, exc: Exception) -> Exception | str:
            return exc  # a redirect is a refusal: the signed headers stay with the host asked

    try:
        ws = await _NoRedirects(
            url,
            additional_headers=headers,
            user_agent_header=user_agent,
            max_size=max_size,
            ping_interval=None,
            open_timeout=open_timeout,
            close_timeout=close_timeout,
            create_connection=_Watched,
        )
    except (InvalidHandshake, ConnectionClosed) as exc:
        raise neutral_error(exc) from None
    try:
        yield _OneByOne(ws)
    finally:
        await ws.close()


class _OneByOne:
    """websockets' ``ClientConnection`` seen through the ``Connection`` interface."""

    def __init__(self, ws: Any) -> None:
        self._ws = ws
        self.response_headers: Mapping[str, str] = ws.response.headers if ws.response else Headers()

    @property
    def last_rx(self) -> float:
        return float(self._ws.last_rx or time.monotonic())

    async def recv_batch(self) -> list[bytes]:
        try:
            return [await self._ws.recv(decode=False)]
        except ConnectionClosed as exc:
            raise closed_error(exc) from None

    async def send(self, payload: bytes) -> None:
        try:
            await self._ws.send(payload.decode())
        except ConnectionClosed:
            pass

    def abort(self) -> None:
        if self._ws.transport is not None:
            self._ws.transport.abort()
