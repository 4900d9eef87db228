"""The transport seam: what the session needs from a connection, and the errors it may raise.

Nothing above this module knows which WebSocket library carries the frames. A transport is an
async context manager factory with ``connect``'s signature (``Connector``) that yields a
``Connection`` and raises only the neutral errors below, or ``OSError``/``TimeoutError`` for a
failure below HTTP (refused, DNS, TLS). ``wsconn.connect`` is the one shipped; another transport
(a faster parser, a relay, an in-memory test double) plugs in as ``Session(..., transport=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol

__all__ = [
    "Connection",
    "Connector",
    "HandshakeFailed",
    "HandshakeRejected",
    "TransportClosed",
    "TransportError",
]


class TransportError(Exception):
    """Base of the transport's own errors."""


class TransportClosed(TransportError):
    """The connection ended. ``code`` is the close code the server sent (``None``: no close frame)."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        if self.code is None:
            return "connection dropped"
        return f"closed by the server: {self.code}{' ' + self.reason if self.reason else ''}"


class HandshakeRejected(TransportError):
    """The server answered the opening handshake with an HTTP status other than 101."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(status)
        self.status = status
        self.headers = headers
        self.body = body

    def __str__(self) -> str:
        return f"server answered HTTP {self.status}"


class HandshakeFailed(TransportError):
    """The opening handshake failed without an HTTP answer (closed early, not a WebSocket)."""


class Connection(Protocol):
    """What ``Session`` needs from an open connection."""

    @property
    def last_rx(self) -> float:
        """``time.monotonic()`` of the last bytes received (data or ping): the watchdog reads it."""
        ...

    @property
    def response_headers(self) -> Mapping[str, str]:
        """The handshake answer's headers (``Date`` tells the clock skew)."""
        ...

    async def recv_batch(self) -> list[bytes]:
        """Every complete message received so far (at least one); raises ``TransportClosed``."""
        ...

    async def send(self, payload: bytes) -> None:
        """Send one text message (UTF-8 bytes)."""
        ...

    def abort(self) -> None:
        """Drop the connection now, without a closing handshake."""
        ...


class Connector(Protocol):
    """Opens a ``Connection``; the context's exit closes it."""

    def __call__(
        self,
        url: str,
        *,
        headers: dict[str, str],
        user_agent: str,
        max_size: int,
        open_timeout: float,
        close_timeout: float,
    ) -> AbstractAsyncContextManager[Connection]: ...
