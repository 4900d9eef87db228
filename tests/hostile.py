"""A from-scratch WebSocket server that can misbehave, for hostile-server tests.

RFC 6455 framing is written here by hand (not websockets' server) so that a test can break any
rule: answer the handshake with any status, headers and body (with or without Content-Length, a
redirect), send any bytes in a text frame (invalid UTF-8, invalid JSON, keys in any order),
fragment a message, close with any code and reason, or drop the TCP connection.

The server listens on 127.0.0.1, port 0, in a thread of its own (so a test can run the real
``kalshi`` CLI as a subprocess against it). Each accepted connection runs the test's *script*, a
coroutine ``async def script(conn: HostileConn) -> None``. When the script returns, the
connection is closed (TCP FIN). An exception in a script other than the client going away is
kept in ``server.errors`` and re-raised when the ``with`` block ends, so a broken script fails the
test instead of hanging it.

API (all ``HostileConn`` methods are coroutines unless noted):

- ``HostileServer(script, path="/trade-api/ws/v2")``: a context manager; ``server.url`` is the
  ws:// URL to give the client; ``server.connections`` counts accepted TCP connections;
  ``server.conns`` holds every ``HostileConn``; ``server.wait_for(pred, timeout)`` polls from the
  test thread.
- ``conn.index``: 0 for the first connection, 1 for the next, ... (script per attempt);
  ``conn.ws_index`` counts WebSocket upgrades only (None for a plain HTTP request, such as the
  CLI's REST calls, which reach the same port); ``server.ws_conns`` lists those connections.
- ``conn.read_request()`` -> ``Request`` (method, path, headers with lower-case names,
  ``is_websocket``).
- ``conn.accept(request, headers=None)``: the 101 answer with a correct Sec-WebSocket-Accept.
- ``conn.respond(status, headers=None, body=b"", content_length=True, reason=None)``: any
  HTTP answer, then the connection closes; without Content-Length the body ends at the close.
- ``conn.redirect(location, status=302)``: a redirect answer.
- ``conn.handshake()``: read the request and accept it (returns the request); a plain HTTP
  request is answered 404 and ends the script (a WS-only server).
- ``conn.recv_frame()`` -> ``Frame`` (opcode, payload unmasked, fin); ``conn.recv_message()`` ->
  a whole text/binary message (fragments joined; pings answered with pongs; ``None`` when the
  client sent a close or went away); ``conn.recv_json()`` -> the next message parsed as JSON.
- ``conn.ack_subscribe(cmd)`` -> ``{channel: sid}``: one ``subscribed`` frame per channel of a
  ``subscribe`` command (sids count from 1 per connection; also kept in ``conn.sids``).
- ``conn.subscribe_all()`` -> ``{channel: sid}``: read commands until a subscribe arrives, ack it.
- ``conn.send_text(data, fragments=1)``: one text message of any bytes (str is UTF-8 encoded),
  split into ``fragments`` frames; ``conn.send_frame(opcode, payload, fin=True, rsv=0)`` for raw
  frames; ``conn.send_close(code=1000, reason="")``.
- ``conn.idle()``: answer pings and subscribe commands until the client goes away.
- ``conn.drop()`` (plain method): abort the TCP connection at once.
- ``conn.commands``: every JSON command the client sent on this connection.

Example::

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sids = await conn.subscribe_all()
        sid = sids["trade"]
        await conn.send_text('{"msg": {"market_ticker": "KX"}, "seq": 1, "sid": %d, "type": "trade"}' % sid)
        await conn.send_close(1011, "bye")

    with HostileServer(script) as server:
        proc = run_cli(["tail", "trade", "-m", "KX", "--json", "--url", server.url, ...])
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

REASONS = {
    101: "Switching Protocols",
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

Script = Callable[["HostileConn"], Awaitable[None]]


class ClientGone(Exception):
    """The client closed the TCP connection (or sent a close frame) while the script read."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def is_websocket(self) -> bool:
        return self.headers.get("upgrade", "").lower() == "websocket"


@dataclass
class Frame:
    opcode: int
    payload: bytes
    fin: bool = True


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def encode_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A server frame (never masked), with whatever flags the test asks for."""
    head = bytes([(0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode])
    n = len(payload)
    if n < 126:
        return head + bytes([n]) + payload
    if n < 1 << 16:
        return head + bytes([126]) + struct.pack("!H", n) + payload
    return head + bytes([127]) + struct.pack("!Q", n) + payload


def unmask(mask: bytes, data: bytes) -> bytes:
    if not data:
        return data
    n = len(data)
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(data, "big") ^ key).to_bytes(n, "big")


@dataclass
class HostileConn:
    index: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    commands: list[Any] = field(default_factory=list)
    sids: dict[str, int] = field(default_factory=dict)
    request: Request | None = None
    ws_index: int | None = None
    _ws_counter: Callable[[], int] | None = None
    _next_sid: int = 1

    # -- handshake -------------------------------------------------------------------------
    async def read_request(self) -> Request:
        try:
            raw = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ClientGone("no request") from exc
        lines = raw.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        self.request = Request(method, path, headers, raw)
        if self.request.is_websocket and self._ws_counter is not None:
            self.ws_index = self._ws_counter()
        return self.request

    async def _write(self, data: bytes) -> None:
        self.writer.write(data)
        try:
            await self.writer.drain()
        except ConnectionError as exc:
            raise ClientGone("write failed") from exc

    async def _status(self, status: int, headers: dict[str, str], reason: str | None) -> None:
        head = f"HTTP/1.1 {status} {reason or REASONS.get(status, 'Status')}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        await self._write(head.encode("latin-1") + b"\r\n")

    async def accept(self, request: Request, headers: dict[str, str] | None = None) -> None:
        answer = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Accept": accept_key(request.headers.get("sec-websocket-key", "")),
        }
        answer.update(headers or {})
        await self._status(101, answer, None)

    async def respond(
        self,
        status: int,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
        *,
        content_length: bool = True,
        reason: str | None = None,
    ) -> None:
        """Any HTTP answer; then the connection closes (the body ends there without a length)."""
        answer = dict(headers or {})
        if content_length:
            answer.setdefault("Content-Length", str(len(body)))
        answer.setdefault("Connection", "close")
        await self._status(status, answer, reason)
        await self._write(body)
        self.writer.close()

    async def redirect(self, location: str, status: int = 302) -> None:
        await self.respond(status, {"Location": location})

    async def handshake(self) -> Request:
        request = await self.read_request()
        if not request.is_websocket:
            await self.respond(404, {"Content-Type": "text/plain"}, b"404 page not found")
            raise ClientGone(f"not a WebSocket request: {request.method} {request.path}")
        await self.accept(request)
        return request

    # -- frames ----------------------------------------------------------------------------
    async def recv_frame(self) -> Frame:
        try:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
            mask = await self.reader.readexactly(4) if b1 & 0x80 else b""
            payload = await self.reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ClientGone("connection closed") from exc
        return Frame(b0 & 0x0F, unmask(mask, payload) if mask else payload, bool(b0 & 0x80))

    async def recv_message(self) -> bytes | None:
        """The next data message (pings answered); None once the client closes or goes away."""
        parts: list[bytes] = []
        while True:
            try:
                frame = await self.recv_frame()
            except ClientGone:
                return None
            if frame.opcode == PING:
                await self.send_frame(PONG, frame.payload)
            elif frame.opcode == CLOSE:
                return None
            elif frame.opcode != PONG:
                parts.append(frame.payload)
                if frame.fin:
                    return b"".join(parts)

    async def recv_json(self) -> Any:
        message = await self.recv_message()
        if message is None:
            raise ClientGone("closed before a command")
        obj = orjson.loads(message)
        self.commands.append(obj)
        return obj

    async def send_frame(self, opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> None:
        await self._write(encode_frame(opcode, payload, fin=fin, rsv=rsv))

    async def send_text(self, data: bytes | str, *, fragments: int = 1) -> None:
        """One text message of any bytes, split into ``fragments`` frames."""
        raw = data.encode() if isinstance(data, str) else data
        step = max(1, -(-len(raw) // max(1, fragments)))
        chunks = [raw[i : i + step] for i in range(0, len(raw), step)] or [b""]
        for i, chunk in enumerate(chunks):
            await self.send_frame(TEXT if i == 0 else CONT, chunk, fin=i == len(chunks) - 1)

    async def send_close(self, code: int | None = 1000, reason: str = "") -> None:
        payload = b"" if code is None else struct.pack("!H", code) + reason.encode()
        await self.send_frame(CLOSE, payload)

    def drop(self) -> None:
        """Abort the TCP connection (no close frame, no FIN handshake)."""
        self.writer.transport.abort()

    # -- Kalshi commands ---------------------------------------------------------------------
    async def ack_subscribe(self, cmd: Any) -> dict[str, int]:
        """One `subscribed` frame per channel (an already-known channel keeps its sid)."""
        acked: dict[str, int] = {}
        for channel in cmd.get("params", {}).get("channels", []):
            if channel not in self.sids:
                self.sids[channel] = self._next_sid
                self._next_sid += 1
            sid = self.sids[channel]
            acked[channel] = sid
            ack = {"id": cmd.get("id"), "type": "subscribed", "msg": {"channel": channel, "sid": sid}}
            await self.send_text(orjson.dumps(ack))
        return acked

    async def subscribe_all(self) -> dict[str, int]:
        """Read commands until a `subscribe` comes, and ack it."""
        while True:
            cmd = await self.recv_json()
            if cmd.get("cmd") == "subscribe":
                return await self.ack_subscribe(cmd)

    async def idle(self) -> None:
        """Answer pings and subscribes until the client goes away."""
        while True:
            message = await self.recv_message()
            if message is None:
                return
            cmd = orjson.loads(message)
            self.commands.append(cmd)
            if cmd.get("cmd") == "subscribe":
                await self.ack_subscribe(cmd)


class HostileServer:
    """Run ``script`` for each connection on 127.0.0.1 (port 0) in a background thread."""

    def __init__(self, script: Script, *, path: str = "/trade-api/ws/v2") -> None:
        self.script = script
        self.path = path
        self.conns: list[HostileConn] = []
        self.errors: list[BaseException] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ws_count = itertools.count()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    @property
    def connections(self) -> int:
        return len(self.conns)

    @property
    def ws_conns(self) -> list[HostileConn]:
        """The connections that asked for a WebSocket upgrade, in order."""
        return sorted((c for c in self.conns if c.ws_index is not None), key=lambda c: c.ws_index or 0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = HostileConn(len(self.conns), reader, writer, _ws_counter=self._ws_count.__next__)
        self.conns.append(conn)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self.script(conn)
        except (ClientGone, ConnectionError):
            pass
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # kept for the test thread, re-raised on exit
            self.errors.append(exc)
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.sleep(0)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if self.errors and exc[0] is None:
            raise self.errors[0]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Poll ``predicate`` from the test thread until it is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")
