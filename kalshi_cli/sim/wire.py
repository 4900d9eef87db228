"""Real sockets around any ``MarketSource``: the WebSocket side of the simulator and the replay.

One source is shared by every connection (so clocks agree across connections); each
connection has its own protocol engine and an ordered outbound queue, which is where slow
consumers are detected (code 25) and where the fault knobs act. Plain-HTTP routes (a REST
layer) are given to the server, which serves them on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import http
import struct
import termios
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from kalshi_cli.protocol import WS_PATH

from .auth import SignatureCheck
from .engine import Connection, Frame
from .model import Event
from .source import MarketSource

__all__ = ["EngineFactory", "HttpRoute", "WireServer", "ws_url"]

HttpRoute = Callable[[ServerConnection, Request], "Response | Awaitable[Response]"]
#: Builds the protocol engine of a new connection: ``factory(authenticated=...)``.
EngineFactory = Callable[[bool], Connection]
HEARTBEAT = b"heartbeat"
KEEP_LOGS = 64  # connections whose sent-frame logs are kept


def ws_url(host: str, port: int) -> str:
    """The URL clients use for a server on ``host:port`` (an IPv6 literal goes in brackets)."""
    netloc = f"[{host}]" if ":" in host else host
    return f"ws://{netloc}:{port}{WS_PATH}"


class _Conn:
    """I/O state of one connection: socket, engine, outbound queue and the log of sent frames."""

    def __init__(self, ws: ServerConnection, engine: Connection, log_limit: int) -> None:
        self.ws = ws
        self.engine = engine
        self.log: deque[str] = deque(maxlen=log_limit)
        self.queue: deque[tuple[int | None, str]] = deque()
        self.backlog: Counter[int] = Counter()
        self.wake = asyncio.Event()
        self.stalled = False
        self.stopping = False
        self.sending = False
        self.closed = False


class WireServer:
    """A local Kalshi WebSocket endpoint serving one ``MarketSource``, with fault injection.

    Args:
        source: the market state the engines read.
        engine: builds each connection's engine (default: the plain ``Connection`` over ``source``).
        routes: plain-HTTP routes (path -> handler); a path ending in ``/`` serves every path below it.
        check: the signature policy of the handshake (default: every client is accepted).
        allow_anonymous: accept unsigned upgrades even with a key (private channels then answer 9).
    """

    def __init__(
        self,
        source: MarketSource,
        *,
        engine: EngineFactory | None = None,
        routes: Mapping[str, HttpRoute] | None = None,
        check: SignatureCheck | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ping_interval: float = 10.0,
        sending_ts: bool = True,
        buffer_limit: int = 2000,
        allow_anonymous: bool = False,
        frame_log_limit: int = 100_000,
    ) -> None:
        self.source = source
        self.host, self.port = host, port
        self.ping_interval = ping_interval
        self.sending_ts = sending_ts
        self.buffer_limit = buffer_limit
        self.allow_anonymous = allow_anonymous
        self.frame_log_limit = frame_log_limit
        self.check = check or SignatureCheck()
        self.http_routes: dict[str, HttpRoute] = dict(routes or {})
        self.handshakes: list[dict[str, str]] = []
        self.url = ""
        self._engine = engine or self._plain_engine
        self._conns: list[_Conn] = []
        self._live: list[_Conn] = []
        self._rejects: deque[tuple[int, dict[str, str]]] = deque()
        self._anonymous: set[int] = set()
        self._server: Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def _plain_engine(self, authenticated: bool) -> Connection:
        return Connection(self.source, authenticated=authenticated, sending_ts=self.sending_ts)

    # --- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen; return ``ws://HOST:PORT/trade-api/ws/v2``."""
        self._server = await serve(
            self._handler,
            self.host,
            self.port,
            process_request=self._process_request,
            ping_interval=None,
            max_size=2**20,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = ws_url(self.host, self.port)
        return self.url

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the server owns (cancelled by ``stop``)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def add_route(self, path: str, handler: HttpRoute) -> None:
        """Serve plain-HTTP requests for ``path`` on the same port (``/``-ended: every path below it)."""
        self.http_routes[path] = handler

    # --- views ------------------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Connections accepted since start (open or not)."""
        return len(self._conns)

    @property
    def live_connections(self) -> int:
        return len(self._live)

    def sent_frames(self, conn: int = -1) -> list[str]:
        """Every text frame written on connection ``conn`` (0 = first ever, -1 = latest)."""
        return list(self._conns[conn].log)

    def backlogged(self, limit: int) -> bool:
        """Whether an open connection has more than ``limit`` frames waiting to be sent."""
        return any(len(c.queue) > limit and not c.closed for c in self._live)

    # --- handshake --------------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?")[0]
        route = self.http_routes.get(path)
        if route is None:
            route = next((r for p, r in self.http_routes.items() if p.endswith("/") and path.startswith(p)), None)
        if route is not None:
            response = route(connection, request)
            return await response if isinstance(response, Awaitable) else response
        if path != WS_PATH:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
        self.handshakes.append(dict(request.headers.raw_items()))
        if self._rejects:
            status, headers = self._rejects.popleft()
            rejected = connection.respond(status, f"{http.HTTPStatus(status).phrase}\n")
            for name, value in headers.items():
                rejected.headers[name] = value
            return rejected
        reason = self.check.why_not(request.headers)
        if self.allow_anonymous and not self.check.signed(request.headers):
            self._anonymous.add(id(connection))
            return None
        if reason is not None:
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, f"401 Unauthorized: {reason}\n")
        return None

    # --- connections ------------------------------------------------------------------------------

    async def _handler(self, ws: ServerConnection) -> None:
        anonymous = id(ws) in self._anonymous
        self._anonymous.discard(id(ws))
        engine = self._engine(not anonymous)
        conn = _Conn(ws, engine, self.frame_log_limit)
        self._conns.append(conn)
        if len(self._conns) > KEEP_LOGS:  # bound memory across many reconnects: forget old logs
            self._conns[-KEEP_LOGS - 1].log.clear()
        self._live.append(conn)
        writer = self.spawn(self._writer(conn))
        pinger = self.spawn(self._pinger(conn)) if self.ping_interval > 0 else None
        try:
            async for text in ws:
                self._enqueue(conn, engine.handle_text(text))
        except ConnectionClosed:
            pass
        finally:
            conn.closed = True
            with contextlib.suppress(ValueError):
                self._live.remove(conn)
            writer.cancel()
            if pinger is not None:
                pinger.cancel()

    def _enqueue(self, conn: _Conn, frames: Iterable[Frame]) -> None:
        """Queue frames in order; a sid whose unsent backlog passes its limit dies with 25.

        The limit is ``buffer_limit`` plus one frame per market of the subscription, so the
        burst of snapshots a large subscribe produces is not mistaken for a slow reader.
        """
        if conn.closed:
            return
        for frame in frames:
            sid = frame.get("sid")
            conn.queue.append((sid, orjson.dumps(frame).decode()))
            if sid is None:
                continue
            conn.backlog[sid] += 1
            sub = conn.engine.subs.get(sid)
            if sub is not None and conn.backlog[sid] > self.buffer_limit + len(sub.tickers or ()):
                conn.queue = deque(item for item in conn.queue if item[0] != sid)
                del conn.backlog[sid]
                error = conn.engine.async_error(sub, 25)
                conn.queue.append((None, orjson.dumps(error).decode()))
        conn.wake.set()

    async def _writer(self, conn: _Conn) -> None:
        try:
            while True:
                while not conn.queue or conn.stalled or conn.stopping:
                    conn.wake.clear()
                    await conn.wake.wait()
                sid, text = conn.queue.popleft()
                if sid is not None:
                    conn.backlog[sid] -= 1
                    if conn.backlog[sid] <= 0:
                        del conn.backlog[sid]
                conn.sending = True
                try:
                    await conn.ws.send(text)
                finally:
                    conn.sending = False
                conn.log.append(text)
        except ConnectionClosed:
            pass

    async def _pinger(self, conn: _Conn) -> None:
        try:
            while True:
                await asyncio.sleep(self.ping_interval)
                if conn.stalled or conn.stopping:
                    continue
                # an unanswered beat must not block the next one (websockets refuses duplicate payloads)
                getattr(conn.ws, "pending_pings", {}).pop(HEARTBEAT, None)
                await conn.ws.ping(HEARTBEAT)
        except ConnectionClosed:
            pass

    def fan_out(self, events: list[Event]) -> None:
        """Hand ``events`` to every open connection's engine and queue what it answers."""
        for conn in list(self._live):
            self._enqueue(conn, conn.engine.on_events(events))

    # --- fault injection --------------------------------------------------------------------------

    def skip_seq(self, channel: str | None = None, n: int = 1, *, only: int | None = None) -> None:
        """The next data frame of each matching sequenced sid skips ``n`` seq numbers (on the
        ``only``-th open connection, oldest first, when given)."""
        for conn in self._live if only is None else self._live[only : only + 1]:
            conn.engine.skip_seq(channel, n)

    def drop_one(self, index: int = 0) -> bool:
        """Abort the ``index``-th open connection (oldest first) at once, what it had queued lost,
        as a network failure would; the others carry on. False if there is no such connection."""
        if not 0 <= index < len(self._live):
            return False
        conn = self._live[index]
        conn.stopping = True
        conn.queue.clear()
        conn.ws.transport.abort()
        return True

    def send_error(self, code: int, channel: str | None = None) -> None:
        """An async subscription error on every matching sid (10 and 25 end the subscription)."""
        for conn in list(self._live):
            self._enqueue(conn, [conn.engine.async_error(sub, code) for sub in conn.engine.matching(channel)])

    def inject_raw(self, data: str) -> None:
        """Send an arbitrary text frame, in order, on every open connection."""
        for conn in self._live:
            conn.queue.append((None, data))
            conn.wake.set()

    def reject_handshakes(self, status: int, count: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``count`` upgrades with HTTP ``status`` (plus ``headers``, e.g. Retry-After)."""
        self._rejects.extend([(status, dict(headers or {}))] * count)

    def stall(self, seconds: float) -> None:
        """Open connections go silent (no data, no pings) and stop reading for ``seconds``."""
        stalled = list(self._live)
        for conn in stalled:
            conn.stalled = True
            conn.ws.transport.pause_reading()

        def resume() -> None:
            for conn in stalled:
                conn.stalled = False
                if not conn.closed:
                    with contextlib.suppress(Exception):
                        conn.ws.transport.resume_reading()
                conn.wake.set()

        asyncio.get_running_loop().call_later(seconds, resume)

    async def drop_connections(self, flush_wait: float = 2.0) -> None:
        """Abort every open connection (no close frame) once all logged frames reached the peer.

        Waits at most ``flush_wait`` seconds for a peer that is not reading.
        """
        conns = list(self._live)
        for conn in conns:
            conn.stopping = True
        for _ in range(int(flush_wait / 0.005)):
            if all(_flushed(c) for c in conns):
                break
            await asyncio.sleep(0.005)
        for conn in conns:
            conn.ws.transport.abort()
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.wait_closed(), flush_wait)

    async def restart(self) -> None:
        """Close every connection as a server restart would (1012); the source keeps going."""
        conns = list(self._live)
        for conn in conns:
            conn.stopping = True
        await asyncio.gather(*(c.ws.close(1012, "Service Restart") for c in conns), return_exceptions=True)

    async def close_all(self, code: int, reason: str, flush_wait: float = 30.0) -> None:
        """Let every queued frame go out (``flush_wait`` seconds at most), then close with ``code``."""
        for _ in range(int(flush_wait / 0.005)):
            if not any((c.queue or c.sending) and not c.closed for c in self._live):
                break
            await asyncio.sleep(0.005)
        await asyncio.gather(*(c.ws.close(code, reason) for c in list(self._live)), return_exceptions=True)


def _flushed(conn: _Conn) -> bool:
    """True when nothing of ours is still in flight: not mid-send, no user-space or kernel backlog."""
    if conn.sending or conn.closed:
        return conn.closed
    transport = conn.ws.transport
    if transport.get_write_buffer_size():
        return False
    sock = transport.get_extra_info("socket")
    if sock is None:
        return True
    try:
        pending = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return True
    return bool(struct.unpack("i", pending)[0] == 0)
