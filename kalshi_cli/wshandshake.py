"""The opening handshake on its own: websockets' Sans-I/O client reads the answer until a verdict.

Why it exists: a transport that parses frames with another library (``picowsconn``) still
opens with websockets' request and judges the answer with websockets' checks, so every
transport refuses the same answers for the same reasons. On a 101 the transport is handed
over at the end of the answer's head, in the same callback, so no frame byte is read here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from websockets.client import ClientProtocol
from websockets.http11 import Request, Response
from websockets.protocol import State

from kalshi_cli import wsconn
from kalshi_cli.transport import HandshakeFailed
from kalshi_cli.wsframes import send_pending

__all__ = ["Handshake"]


class Handshake(asyncio.Protocol):
    """Reads the answer to the opening request with websockets' protocol, until a verdict.

    A 101 hands the transport over (``opened``) at the end of its head, in the same callback;
    any other answer is read whole (its body to its length or to the close) and refused.
    """

    def __init__(self, protocol: ClientProtocol, opened: Callable[[asyncio.Transport, bytes, Response], None]) -> None:
        self.protocol = protocol
        self.opened = opened
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._head = b""
        self._head_read = False

    def send(self, request: Request) -> None:
        self.protocol.send_request(request)
        self._write_pending()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._head_read:
            self._reads(data)
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > wsconn.HEAD_LIMIT:  # websockets refuses a head that never ends
                self._head_read = True
                held, self._head = self._head, b""
                self._reads(held)
            return
        head, rest = self._head[: end + 4], self._head[end + 4 :]
        self._head, self._head_read = b"", True
        response = self._reads(head)
        if self.protocol.state is State.OPEN and response is not None and self.transport is not None:
            self.opened(self.transport, rest, response)
            self.done.set_result(None)
        elif rest:
            self._reads(rest)

    def _reads(self, data: bytes) -> Response | None:
        self.protocol.receive_data(data)
        self._write_pending()
        return self._verdict()

    def _verdict(self) -> Response | None:
        response = None
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                response = event
        exc = self.protocol.handshake_exc
        if exc is not None and not self.done.done():
            self.done.set_exception(wsconn.neutral_error(exc))
            if self.transport is not None:
                self.transport.abort()
        return response

    def eof_received(self) -> None:
        # A refusal without Content-Length ends at the close: the answer is complete only now.
        if self._head:
            held, self._head = self._head, b""
            self.protocol.receive_data(held)
        self.protocol.receive_eof()
        self._verdict()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(exc or HandshakeFailed("connection closed during the handshake"))
            self.done.exception()  # retrieved: not reported as "never retrieved"

    def _write_pending(self) -> None:
        send_pending(self.protocol, self.transport)
