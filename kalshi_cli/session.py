"""A signed, self-healing Kalshi session: the network half of the client.

``Session.run`` signs every attempt afresh, opens a connection through the transport seam
(``transport.Connector``; ``wsconn.connect`` unless another is given), feeds each batch of
received frames to the sans-I/O ``KalshiClient``, hands its events to a ``StreamHandler`` and
writes the commands the client queues. It owns time: the silence watchdog, the delays of
``RetryLater`` events and reconnecting with backoff (``retry.Backoff``).

Reconnect policy: every drop is retried after a growing delay. The delay starts again from
``backoff_base`` only after a *healthy* connection, one that streamed data for at least
``HEALTHY_AFTER`` (30 s): a server that drops each connection after its first frame is retried
ever more slowly, never hammered. Until the first connection ever succeeds, ``connect_tries``
consecutive failures end the run with ``ConnectionFailed`` (exit 4), in one plain sentence (waits
capped at ``FIRST_CONNECT_CAP``: 10 tries take about 25 s, not minutes); once a stream has run,
drops are retried for as long as the command runs. HTTP 401/403 ends it with
the key diagnosis (exit 3), other refusals that retrying cannot fix with exit 4.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from kalshi_cli import events, framehead
from kalshi_cli.client import KalshiClient
from kalshi_cli.errors import ConnectionFailed
from kalshi_cli.events import Command, Event, SessionState, StreamDone, Subscription
from kalshi_cli.fastlane import FastLaneClient
from kalshi_cli.output import Reporter
from kalshi_cli.probe import USER_AGENT, refusal_error
from kalshi_cli.protocol import ORDERBOOK_DELTA, Head
from kalshi_cli.retry import Backoff, describe_network_error, parse_retry_after
from kalshi_cli.transport import Connection, Connector, HandshakeFailed, HandshakeRejected, TransportClosed

__all__ = ["HEALTHY_AFTER", "Session", "SessionState", "StreamDone", "StreamHandler", "Subscription", "pass_batch_of"]

MAX_FRAME = 64 * 1024 * 1024  # the transport's hard cap; a frame above it costs the connection
HEALTHY_AFTER = 30.0  # seconds of streaming with data after which the backoff starts again
FIRST_CONNECT_CAP = 5.0  # the longest own wait between tries before any connection succeeded


class StreamHandler:
    """What a command does with the stream. Every method has a sensible default."""

    session: Session

    #: Optional fast path for handlers that only pass frames on (``tail --json``): when set, every
    #: data frame on a known sid (checked: UTF-8, JSON, seq) is given here as its raw bytes
    #: instead of to ``on_data``, and no ``Head`` is built. It must do what ``on_data`` would do.
    passthrough: Callable[[bytes], None] | None = None
    #: With ``passthrough``, optionally: several consecutive such frames at once (a list, in
    #: order), doing what ``passthrough`` does for each; frames of a type in
    #: ``passthrough_apart`` always come one by one to ``passthrough`` (those that need a look).
    #: A batch is handed on once the frames after it were checked: it must not resubscribe.
    passthrough_batch: Callable[[list[bytes]], None] | None = None
    passthrough_apart: frozenset[str] = frozenset()

    def on_connected(self, url: str) -> None:
        """A new connection is up; sids and seqs start again."""

    def on_subscribed(self, sub: Subscription) -> None:
        """The server confirmed ``sub`` (``sub.sid`` is set)."""

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        """A data frame, in the order received. ``raw`` is the frame exactly as sent; it is valid
        JSON and ``head.obj`` is its parse."""

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        """``missing`` frames were lost on ``sub`` before this one."""
        self.session.reporter.warn(f"seq gap on {sub.label()}: {missing} frame(s) missing before seq {head.seq}")
        if sub.channel == ORDERBOOK_DELTA and sub.markets:
            self.session.request_snapshot(sub, sub.markets)

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        """``sub`` broke (error 10/25, seq went back or restarted); the session resubscribes right after."""

    def on_disconnected(self, reason: str) -> None:
        """The connection ended; a reconnect follows unless the error is fatal."""

    def on_reply(self, obj: dict[str, Any]) -> None:
        """A command reply the session does not handle itself (e.g. ``list_subscriptions``)."""


class Session:
    """A signed Kalshi WebSocket session that heals itself.

    Args:
        url: the ``ws://`` or ``wss://`` endpoint.
        subscriptions: what to subscribe, re-sent after every reconnect.
        handler: receives the data.
        signer: returns fresh ``KALSHI-ACCESS-*`` headers per attempt, or ``None`` (unsigned).
        reporter: status lines on stderr.
        stale_after: seconds without any byte (data or ping) before reconnecting.
        connect_tries: consecutive failures allowed before the first connection (``None``: no limit).
        transport: opens connections (``wsconn.connect`` by default).
    """

    def __init__(
        self,
        url: str,
        subscriptions: list[Subscription],
        handler: StreamHandler,
        *,
        signer: Callable[[], dict[str, str]] | None,
        reporter: Reporter,
        stale_after: float = 30.0,
        open_timeout: float = 10.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        connect_tries: int | None = 10,
        transport: Connector | None = None,
    ) -> None:
        self.url = url
        self.subscriptions = subscriptions
        self.handler = handler
        handler.session = self
        self.signer = signer
        self.reporter = reporter
        self.stale_after = stale_after
        self.open_timeout = open_timeout
        self.backoff = Backoff(backoff_base, backoff_cap)
        self.connect_tries = connect_tries
        self.transport = transport
        self.client = _client(subscriptions, passthrough=handler.passthrough is not None)
        self.connects = 0
        self.reconnects = 0
        self.state = SessionState.CONNECTING
        self._conn: Connection | None = None
        self._outbox: asyncio.Queue[bytes] | None = None

    @property
    def frames(self) -> int:
        """Data frames delivered so far."""
        return self.client.frames

    @property
    def gaps(self) -> int:
        return self.client.gaps

    # --- commands handlers may send ---------------------------------------------------------

    def request_snapshot(self, sub: Subscription, markets: list[str]) -> None:
        """Ask for fresh ``orderbook_snapshot``s of ``markets`` on ``sub`` (§5.4 ``get_snapshot``)."""
        self.client.request_snapshot(sub, markets)
        self._flush()

    def resubscribe(self, sub: Subscription, reason: str) -> None:
        """Drop ``sub``'s sid and subscribe again (the server sends fresh snapshots)."""
        self.client.resubscribe(sub, reason)
        self._flush()

    def list_subscriptions(self) -> None:
        self.client.list_subscriptions()
        self._flush()

    def reconnect(self, reason: str) -> None:
        """Abort the connection; ``run`` reconnects and resubscribes everything."""
        self.reporter.warn(f"{reason}; reconnecting")
        if self._conn is not None:
            self._conn.abort()

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Stream until the handler raises ``StreamDone`` or a fatal error is raised."""
        try:
            await self._run()
        finally:
            self.state = SessionState.CLOSED

    async def _run(self) -> None:
        connect = self.transport or _default_transport()
        failures = 0
        while True:
            headers = self.signer() if self.signer else {}
            retry_after: float | None = None
            opened: float | None = None
            frames_before = self.frames
            try:
                # No pings from us: Kalshi pings every 10 s, and the watchdog covers silence.
                async with connect(
                    self.url,
                    headers=headers,
                    user_agent=USER_AGENT,
                    max_size=MAX_FRAME,
                    open_timeout=self.open_timeout,
                    close_timeout=2,
                ) as conn:
                    opened = time.monotonic()
                    cause = await self._serve(conn)
            except StreamDone:
                return
            except HandshakeRejected as exc:
                final = refusal_error(exc, signed=bool(headers), url=self.url)
                if final is not None:
                    raise final from None
                cause = str(exc)
                retry_after = parse_retry_after(exc.headers.get("Retry-After"))
            except (OSError, TimeoutError, HandshakeFailed, TransportClosed) as exc:
                cause = describe_network_error(exc)
            finally:
                self._conn = None
                self._outbox = None
            if self.state is SessionState.STREAMING:
                self.handler.on_disconnected(cause)
            self.state = SessionState.RECONNECTING if self.connects else SessionState.CONNECTING
            if self.connects == 0:
                failures += 1
                if self.connect_tries is not None and failures >= self.connect_tries:
                    tries = f"{failures} {'try' if failures == 1 else 'tries'}"
                    raise ConnectionFailed(f"cannot connect to {self.url}: {cause} ({tries})")
            elif opened is not None and self.frames > frames_before and time.monotonic() - opened >= HEALTHY_AFTER:
                self.backoff.reset()
            delay = self.backoff.next() if retry_after is None else retry_after
            if self.connects == 0 and retry_after is None:
                delay = min(delay, FIRST_CONNECT_CAP)
            self.reconnects += 1
            self.reporter.info(f"{cause}; reconnecting in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _serve(self, conn: Connection) -> str:
        """Subscribe and read until the connection ends; returns why it ended."""
        self._conn = conn
        self._outbox = asyncio.Queue()
        self.connects += 1
        self.state = SessionState.STREAMING
        self.reporter.info(f"connected to {self.url}")
        self.client.connected()
        self.handler.on_connected(self.url)
        self._flush()
        sender = asyncio.create_task(self._send_loop(conn, self._outbox))
        watchdog = asyncio.create_task(self._watch(conn))
        try:
            await self._read_loop(conn)
        except TransportClosed as exc:
            return str(exc)
        finally:
            sender.cancel()
            watchdog.cancel()
        return "connection closed"  # pragma: no cover - the read loop ends by an exception

    def _flush(self) -> None:
        """Queue what the client wants sent (dropped with the connection when there is none)."""
        commands = self.client.data_to_send()
        if self._outbox is not None:
            for payload in commands:
                self._outbox.put_nowait(payload)

    async def _send_loop(self, conn: Connection, outbox: asyncio.Queue[bytes]) -> None:
        while True:
            await conn.send(await outbox.get())  # a text frame: Kalshi expects JSON text

    async def _watch(self, conn: Connection) -> None:
        period = max(0.05, min(1.0, self.stale_after / 4))
        while True:
            await asyncio.sleep(period)
            idle = time.monotonic() - conn.last_rx
            if idle > self.stale_after:
                self.reconnect(f"no data or heartbeat for {idle:.0f}s")
                return

    async def _read_loop(self, conn: Connection) -> None:
        handler = self.handler
        pass_on = handler.passthrough or _no_passthrough
        on_data = handler.on_data
        dispatch = self._dispatch
        client = self.client
        if isinstance(client, FastLaneClient):  # the common frames are handed on from inside the client
            batch = pass_batch_of(handler, pass_on)
            receive: Callable[[list[bytes]], Iterator[Event | bytes]] = partial(
                client.receive_passing, pass_on=pass_on, pass_batch=batch, apart=handler.passthrough_apart
            )
        else:
            receive = client.receive
        recv_batch = conn.recv_batch
        flush = self._flush
        data_event = events.Data
        while True:
            for event in receive(await recv_batch()):
                if type(event) is bytes:  # the fast path: a checked, in-order frame for passthrough
                    pass_on(event)
                elif type(event) is data_event:
                    on_data(event.raw, event.head, event.sub)
                else:
                    dispatch(event)  # type: ignore[arg-type]
            flush()

    def _dispatch(self, event: Event) -> None:
        handler = self.handler
        if isinstance(event, events.Subscribed):
            handler.on_subscribed(event.sub)
        elif isinstance(event, events.Gap):
            handler.on_gap(event.sub, event.missing, event.head)
        elif isinstance(event, events.Lost):
            handler.on_subscription_lost(event.sub, event.reason)
        elif isinstance(event, events.Reply):
            handler.on_reply(event.obj)
        elif isinstance(event, events.Warning):
            if event.key is None:
                self.reporter.warn(event.text)
            else:
                self.reporter.warn_once(event.key, event.text)
        elif isinstance(event, events.RetryLater):
            loop = asyncio.get_running_loop()
            loop.call_later(event.delay, self._retry, event.command, self.client.connection)

    def _retry(self, command: Command, connection: int) -> None:
        if connection == self.client.connection and self._outbox is not None:
            self.client.retry(command)
            self._flush()


def _no_passthrough(raw: bytes) -> None:  # pragma: no cover - the client yields bytes only with one
    raise AssertionError("raw frame without a passthrough handler")


def pass_batch_of(handler: StreamHandler, pass_on: Callable[[bytes], None]) -> Callable[[list[bytes]], None]:
    """How ``handler`` takes a run of frames passed on: its ``passthrough_batch``, else ``pass_on`` each."""
    return handler.passthrough_batch or partial(_one_by_one, pass_on)


def _one_by_one(pass_on: Callable[[bytes], None], frames: list[bytes]) -> None:
    for raw in frames:
        pass_on(raw)


def _client(subscriptions: list[Subscription], *, passthrough: bool) -> KalshiClient:
    """The fast lane when frames are passed on and msgspec reads heads (``framehead.FAST``)."""
    if passthrough and framehead.FAST:
        return FastLaneClient(subscriptions)
    return KalshiClient(subscriptions, passthrough=passthrough)


def _default_transport() -> Connector:
    """websockets underneath, imported when a session first connects (not for ``--help``)."""
    from kalshi_cli.wsconn import connect

    return connect
