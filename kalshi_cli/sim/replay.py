"""Serve a recording as a Kalshi endpoint: a ``WireServer`` over the market the recording describes.

``ReplayServer`` composes the simulator's wire (auth, pings, per-connection queues and
engines) with a ``ReplayExchange`` in the ``MarketSource`` role, and plays the recording
into it: one timeline shared by every connection, started by the first subscribe, paced by
the recorded times divided by ``speed``. sids and seqs are the engine's, so they are dense
from 1 for each client's own subscriptions. A replay never drops a slow client (code 25):
the timeline waits for it. Reading recordings is ``kalshi_cli.recording``'s job.

A ``Window`` plays part of the recording: every line before its start is taken into the market
state unpublished (so books are rebuilt from the last recorded snapshot before it, and a client
that subscribes gets each market's book as it stood then, then the deltas after it), and the
timeline stops at the first line after its end. Times are the recording's (``record_time``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from kalshi_cli.errors import UsageError
from kalshi_cli.recording import META, Recording, expand, read_records, record_time, scan

from .auth import SignatureCheck, load_public_key
from .engine import Connection
from .model import Event
from .replay_exchange import ReplayConnection, ReplayExchange
from .serving import serve_until_stopped
from .window import Window, check_window, parse_window
from .wire import WireServer

__all__ = [
    "META",
    "Recording",
    "ReplayConnection",
    "ReplayExchange",
    "ReplayServer",
    "Window",
    "check_window",
    "parse_window",
    "expand",
    "parse_speed",
    "read_records",
    "record_time",
    "scan",
    "serve_replay",
    "stream_until_replayed",
]

HIGH_WATER = 512  # frames queued for one client before the timeline waits for it
BATCH = 256  # events fanned out at once at full speed


def parse_speed(text: str) -> float | None:
    """``"max"`` -> ``None`` (as fast as the clients read); ``"10"`` -> 10.0."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not speed > 0 or speed == float("inf"):
        raise UsageError(f"--speed expects a number above 0 or 'max', got {text!r}")
    return speed


class ReplayServer:
    """A Kalshi WebSocket endpoint that plays a recording to every client.

    Args:
        recording: from ``scan``.
        speed: recorded time runs this many times faster; ``None`` = as fast as clients read.
        loop: start again at the end instead of closing connections.
        settle: the timeline starts once no command arrived for this long after the first subscribe,
            so the subscribes a client sends back to back all see the start.
        public_key_pem: verify handshake signatures against it (any client is accepted without).
    """

    def __init__(
        self,
        recording: Recording,
        *,
        speed: float | None = 1.0,
        loop: bool = False,
        settle: float = 0.1,
        host: str = "127.0.0.1",
        port: int = 0,
        public_key_pem: bytes | str | None = None,
        sending_ts: bool = True,
        frame_log_limit: int = 1000,
        window: Window | None = None,
    ) -> None:
        self.recording = recording
        self.window = window or Window()
        self.skipped = 0  # lines before the window's start, taken into the market state unpublished
        self._records: Iterator[dict[str, Any]] = iter(())  # the pass being played (``_seek``)
        self.exchange = ReplayExchange(recording)
        self.speed = speed
        self.loop = loop
        self.settle = settle
        check = SignatureCheck(load_public_key(public_key_pem) if public_key_pem else None)
        #: The sockets; no REST routes: the simulator's REST layer describes its own market, not the recording.
        self.wire = WireServer(
            self.exchange,
            engine=self._new_engine,
            check=check,
            host=host,
            port=port,
            sending_ts=sending_ts,
            frame_log_limit=frame_log_limit,
        )
        self.replayed = 0  # events published (one frame for each client subscribed to it)
        self.passes = 0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.ending = asyncio.Event()  # set when everything is queued, before the closes
        self.ended = asyncio.Event()  # set once every connection is closed
        self._first_subscribe: float | None = None
        self._last_command = 0.0

    # --- the wire's face --------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.wire.host

    @property
    def port(self) -> int:
        return self.wire.port

    @property
    def url(self) -> str:
        return self.wire.url

    @property
    def connections(self) -> int:
        return self.wire.connections

    def sent_frames(self, conn: int = -1) -> list[str]:
        return self.wire.sent_frames(conn)

    @property
    def tickers(self) -> list[str]:
        """Markets with recorded books (else every recorded market): ``--replay``'s default markets."""
        return list(self.recording.book_tickers or self.recording.tickers)

    def true_book(self, ticker: str) -> dict[str, Any]:
        return self.exchange.snapshot_msg(ticker)

    async def start(self) -> str:
        self._records = self._seek()  # before any client: the first subscribe sees the books at the start
        url = await self.wire.start()
        self.wire.spawn(self._play())
        return url

    async def stop(self) -> None:
        await self.wire.stop()

    def _new_engine(self, authenticated: bool) -> Connection:
        return ReplayConnection(
            self.exchange, on_command=self._on_command, authenticated=authenticated, sending_ts=self.wire.sending_ts
        )

    def _on_command(self, engine: Connection) -> None:
        self._last_command = time.monotonic()
        if self._first_subscribe is None and engine.subs:
            self._first_subscribe = self._last_command

    # --- the timeline -----------------------------------------------------------------------------

    async def _play(self) -> None:
        while True:  # the first subscribe, then a moment of quiet (at most a second)
            await asyncio.sleep(0.01)
            first = self._first_subscribe
            now = time.monotonic()
            if first is not None and (now - self._last_command >= self.settle or now - first >= 1.0):
                break
        self.started_at = time.monotonic()
        while True:
            self.passes += 1
            await self._play_once()
            if not self.loop:
                break
            self.exchange.reset()
            self._records = self._seek()
        self.ended_at = time.monotonic()
        self.ending.set()
        await self.wire.close_all(1000, "end of recording")
        self.ended.set()

    def _seek(self) -> Iterator[dict[str, Any]]:
        """A pass over the recording, the market state brought to the window's start (nothing published)."""
        records = read_records(self.recording.paths)
        start = self.window.start
        if start is None:
            return records
        apply = self.exchange.apply
        self.skipped = 0
        for obj in records:
            t = record_time(obj)
            if t is not None and t >= start:
                return itertools.chain((obj,), records)
            apply(obj)  # a line without a time belongs where it sits: before the start
            self.skipped += 1
        return iter(())

    async def _play_once(self) -> None:
        loop = asyncio.get_running_loop()
        apply = self.exchange.apply
        speed = self.speed
        end = self.window.end
        batch: list[Event] = []
        due = loop.time()
        last_t: int | None = None
        for obj in self._records:
            if speed is not None or end is not None:
                t = record_time(obj)
                if end is not None and t is not None and t > end:
                    break
                if t is not None and speed is not None:
                    if last_t is not None and t > last_t:
                        due += (t - last_t) / 1000 / speed
                    last_t = t
                    if due - loop.time() > 0.001:
                        await self._publish(batch)
                        batch = []
                        await asyncio.sleep(due - loop.time())
            ev = apply(obj)
            if ev is not None:
                batch.append(ev)
                if len(batch) >= BATCH:
                    await self._publish(batch)
                    batch = []
        await self._publish(batch)

    async def _publish(self, batch: list[Event]) -> None:
        """Fan ``batch`` out, then wait while any client is more than ``HIGH_WATER`` frames behind."""
        if batch:
            self.replayed += len(batch)
            self.wire.fan_out(batch)
        await asyncio.sleep(0)
        while True:  # polled: the writers have no "drained" signal, and 1 ms is far below a frame's worth
            if not self.wire.backlogged(HIGH_WATER):
                return
            await asyncio.sleep(0.001)


async def serve_replay(
    paths: list[Path],
    *,
    speed: float | None,
    loop: bool,
    host: str = "127.0.0.1",
    port: int = 0,
    public_key_pem: bytes | None = None,
    on_ready: Callable[[str, Recording], None] | None = None,
    warn: Callable[[str], None] | None = None,
    recording: Recording | None = None,
    handle_signals: bool = True,
    window: Window | None = None,
) -> ReplayServer:
    """Scan ``paths`` (unless given their ``recording``), serve them (the ``window`` of them) until the
    end (or SIGINT/SIGTERM, unless the caller handles signals); return the server."""
    recording = recording or scan(paths, warn)
    if window is not None:
        check_window(recording, window)
    server = ReplayServer(
        recording, speed=speed, loop=loop, host=host, port=port, public_key_pem=public_key_pem, window=window
    )

    def ready() -> None:
        if on_ready is not None:
            on_ready(server.url, recording)

    await serve_until_stopped(server, ready, handle_signals=handle_signals, done=server.ended)
    return server


class _Session(Protocol):
    """What ``stream_until_replayed`` reads of a session."""

    @property
    def state(self) -> object: ...

    @property
    def reporter(self) -> Any: ...


async def stream_until_replayed(run: Awaitable[Any], session: _Session, server: ReplayServer) -> None:
    """Run ``run`` (a session's ``run()``) until the replay ``server`` has sent everything.

    The server closes the connection at the end of the recording; the session then reads
    what it still holds and would reconnect: it is stopped there instead.
    """
    from kalshi_cli.session import SessionState

    task = asyncio.ensure_future(run)
    ended = asyncio.ensure_future(server.ending.wait())
    try:
        await asyncio.wait([task, ended], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
            return
        session.reporter.info("end of the recording")
        session.reporter.quiet = True  # no "reconnecting" line: there is nothing left to replay
        while True:  # the session leaves "streaming" once it has read the whole connection
            if session.state is not SessionState.STREAMING or task.done():
                break
            await asyncio.sleep(0.005)
        if task.done():
            task.result()
    finally:
        ended.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
