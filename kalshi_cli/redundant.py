"""``--redundant N``: N independent signed connections merged into one stream for one handler.

``RedundantSession`` stands where a ``Session`` would: the feed's handler sees one stream and
calls it as it would call a session (``request_snapshot``, ``resubscribe``, ``reconnect``,
``reporter``, ``state``). Underneath, N ``Session``s (each its own connection, client and seq
checks, the same subscriptions) report to one ``redundant_merge.Merger``, which decides what
the handler sees. Each delivered frame is stamped with the merged stream's own ``sid`` (the
subscription's place, from 1) and, on sequenced channels, a dense ``seq`` of its own (skipping
on a gap the merge could not cover), so downstream readers check it as they would one
connection's: a frame goes on byte for byte when its connection's numbers are the merged ones,
re-encoded with them otherwise (the single-connection fast path is untouched). When frames are
passed on as received (``tail --json``, ``record``) and msgspec is installed, each connection
reads of a book or trade frame only the fields the merge needs, and its common frames take a
fast lane through the merge to the handler (``redundant_lane``).

stderr names each connection ("connection 2: ..."): its connects, its drops (with how many are
still streaming) and the seq gaps the others covered. The handler hears of a drop only when
every connection is down, and of a gap only when no connection could cover it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import orjson

from kalshi_cli import events, redundant_heads
from kalshi_cli.errors import UsageError
from kalshi_cli.events import Event, SessionState, Subscription
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import CHANNELS, ORDERBOOK_DELTA, Head
from kalshi_cli.redundant_merge import Merger, kind_of
from kalshi_cli.session import Session, StreamHandler, pass_batch_of
from kalshi_cli.transport import Connection, Connector

if TYPE_CHECKING:
    from kalshi_cli.redundant_lane import Lane

__all__ = ["MAX_CONNECTIONS", "RedundantSession"]

MAX_CONNECTIONS = 64  # Kalshi caps connections per user (200 by default); the merge numbers them in a byte


class _Labelled(Reporter):
    """A connection's lines, prefixed with its name, through the run's reporter."""

    def __init__(self, base: Reporter, label: str) -> None:
        super().__init__(quiet=base.quiet)
        self.base = base
        self.label = label

    def info(self, text: str) -> None:
        self.base.info(f"{self.label}: {text}")

    def warn(self, text: str) -> None:
        self.base.warn(f"{self.label}: {text}")

    def warn_once(self, key: str, text: str) -> None:
        self.base.warn_once(f"{self.label}:{key}", f"{self.label}: {text}")

    def error(self, text: str) -> None:
        self.base.error(f"{self.label}: {text}")


class _Connection(StreamHandler):
    """One connection's handler: everything it sees goes to the merge."""

    def __init__(self, owner: RedundantSession, conn: int, subs: list[Subscription]) -> None:
        self.owner = owner
        self.conn = conn
        self.index = {id(sub): i for i, sub in enumerate(subs)}
        self.routes = [owner.merger.route(i) for i in range(len(subs))]
        routes = {id(sub): self.routes[i] for i, sub in enumerate(subs)}
        loads = orjson.loads

        def on_frame(raw: bytes, obj: dict[str, Any], sub: Subscription) -> None:  # the hot path
            routes[id(sub)](conn, obj, raw)

        def on_data(raw: bytes, head: Head, sub: Subscription) -> None:  # the client's general path
            obj = head.obj
            routes[id(sub)](conn, obj if obj is not None else loads(raw), raw)

        self.on_frame = on_frame
        self.on_data = on_data  # type: ignore[method-assign]

    def on_connected(self, url: str) -> None:
        self.owner.connected(self.conn)

    def on_subscribed(self, sub: Subscription) -> None:
        self.owner.merger.subscribed(self.conn, self.index[id(sub)])

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        self.session.reporter.warn(f"seq gap on {sub.label()}: {missing} frame(s) missing before seq {head.seq}")
        if sub.channel == ORDERBOOK_DELTA and sub.markets:
            self.session.request_snapshot(sub, sub.markets)  # so this connection finds its place again
        self.owner.merger.gap(self.conn, self.index[id(sub)], missing)

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        self.owner.merger.lost(self.conn, self.index[id(sub)], reason)

    def on_disconnected(self, reason: str) -> None:
        self.owner.disconnected(self.conn, reason)

    def on_reply(self, obj: dict[str, Any]) -> None:
        if self.conn == self.owner.primary():
            self.owner.handler.on_reply(obj)


class _MergedSession(Session):
    """A connection's session: its client hands each in-order data frame straight to the merge
    (``KalshiClient.receive_into``: no event object per frame); the rest as any session. ``loads``
    parses a frame: whole, or only the merge's fields when frames are passed on as received."""

    loads: Callable[[bytes], Any] = orjson.loads
    lane: Lane | None = None  # frames passed on as received, with msgspec: redundant_lane

    async def _read_loop(self, conn: Connection) -> None:
        on_frame = self.handler.on_frame  # type: ignore[attr-defined]  # always a _Connection
        on_data = self.handler.on_data
        dispatch = self._dispatch
        receive: Callable[..., Iterator[Event | bytes]] = (
            self.lane.receive
            if self.lane is not None
            else functools.partial(self.client.receive_into, loads=self.loads)
        )
        recv_batch = conn.recv_batch
        flush = self._flush
        data_event = events.Data
        while True:
            for event in receive(await recv_batch(), on_frame):
                if type(event) is data_event:
                    on_data(event.raw, event.head, event.sub)
                else:
                    dispatch(event)  # type: ignore[arg-type]
            flush()


class RedundantSession:
    """``connections`` sessions to ``url`` carrying ``subscriptions``, merged into ``handler``.

    The other arguments are ``Session``'s, given to each connection's session.
    """

    def __init__(
        self,
        url: str,
        subscriptions: list[Subscription],
        handler: StreamHandler,
        *,
        connections: int,
        signer: Callable[[], dict[str, str]] | None,
        reporter: Reporter,
        stale_after: float = 30.0,
        connect_tries: int | None = 10,
        transport: Connector | None = None,
    ) -> None:
        if not 1 <= connections <= MAX_CONNECTIONS:
            raise UsageError(f"--redundant takes 1 to {MAX_CONNECTIONS} connections; got {connections}")
        self.url = url
        self.subscriptions = subscriptions
        self.handler = handler
        handler.session = self  # type: ignore[assignment]  # it calls what a Session offers
        self.reporter = reporter
        kinds = [kind_of(s.channel, CHANNELS[s.channel].types if s.channel in CHANNELS else ()) for s in subscriptions]
        sequenced = [s.channel not in CHANNELS or CHANNELS[s.channel].sequenced for s in subscriptions]
        self.merger = Merger(connections, kinds, self, sequenced)
        self.sessions: list[Session] = []
        for conn in range(connections):
            subs = [Subscription(s.channel, copy.deepcopy(s.params)) for s in subscriptions]
            self.sessions.append(
                _MergedSession(
                    url,
                    subs,
                    _Connection(self, conn, subs),
                    signer=signer,
                    reporter=_Labelled(reporter, f"connection {conn + 1}"),
                    stale_after=stale_after,
                    connect_tries=connect_tries,
                    transport=transport,
                )
            )
        self._index = {id(sub): i for i, sub in enumerate(subscriptions)}
        self.merged_seq = [0] * len(subscriptions)
        self._passthrough = handler.passthrough  # set by the handler at its birth, before the session
        # frames passed on as received: the connections read only what the merge needs of them
        self._partial = self._passthrough is not None and redundant_heads.FAST
        if self._partial:
            self._lanes()
        self._started = [False] * connections
        self.frames = 0  # frames delivered to the handler
        self.gaps = 0  # gaps the handler was told of
        self._closed = False

    def _lanes(self) -> None:
        """Each connection reads through the fast lane, the readings shared (``redundant_lane``)."""
        from kalshi_cli.redundant_lane import Lane, Reading  # (msgspec: only with it installed)

        handler = self.handler
        pass_on = self._passthrough
        assert pass_on is not None
        batch = pass_batch_of(handler, pass_on)
        cache: dict[bytes, Reading] = {}
        for conn, session in enumerate(self.sessions):
            assert isinstance(session, _MergedSession) and isinstance(session.handler, _Connection)
            session.loads = redundant_heads.merge_loads
            routes = session.handler.routes
            lane = Lane(
                session.client,
                conn,
                self.merger,
                self,
                session.subscriptions,
                routes,
                cache,
                session.loads,
                (pass_on, batch, handler.passthrough_apart),
            )
            session.lane = lane

    # --- what a Session offers a handler ------------------------------------------------------

    @property
    def state(self) -> SessionState:
        if self._closed:
            return SessionState.CLOSED
        states = {s.state for s in self.sessions}
        for state in (SessionState.STREAMING, SessionState.RECONNECTING):
            if state in states:
                return state
        return SessionState.CONNECTING

    @property
    def connects(self) -> int:
        return sum(s.connects for s in self.sessions)

    @property
    def reconnects(self) -> int:
        return sum(s.reconnects for s in self.sessions)

    def request_snapshot(self, sub: Subscription, markets: list[str]) -> None:
        index = self._index[id(sub)]
        for conn in self.merger.on[index]:
            session = self.sessions[conn]
            session.request_snapshot(session.subscriptions[index], markets)

    def resubscribe(self, sub: Subscription, reason: str) -> None:
        index = self._index[id(sub)]
        for session in self.sessions:
            session.resubscribe(session.subscriptions[index], reason)

    def reconnect(self, reason: str) -> None:
        for session in self.sessions:
            session.reconnect(reason)

    def list_subscriptions(self) -> None:
        self.sessions[self.primary()].list_subscriptions()

    def primary(self) -> int:
        streaming = self.merger.streaming
        return min(streaming) if streaming else 0

    async def run(self) -> None:
        """Run every connection until one ends the stream (``StreamDone``) or fails for good."""
        tasks = [asyncio.ensure_future(s.run()) for s in self.sessions]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            self._closed = True
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    # --- the connections ----------------------------------------------------------------------

    def connected(self, conn: int) -> None:
        if self._started[conn]:
            up = len(self.merger.streaming) + 1
            self.reporter.info(f"connection {conn + 1} back ({up} of {len(self.sessions)} streaming)")
        self._started[conn] = True
        self.merger.connected(conn)

    def disconnected(self, conn: int, reason: str) -> None:
        self.merger.disconnected(conn, reason)
        left = len(self.merger.streaming)
        self.reporter.warn(f"connection {conn + 1} down ({reason}); {left} of {len(self.sessions)} still streaming")

    # --- the merged stream (redundant_merge.Emitter) ------------------------------------------

    def deliver(self, sub: int, item: tuple[dict[str, Any], bytes | None]) -> None:
        frame, raw = item
        sid = sub + 1
        seq = frame.get("seq")
        stamp = False
        if seq is not None:
            expected = self.merged_seq[sub] = self.merged_seq[sub] + 1
            if seq != expected:
                seq = expected
                stamp = True
        if raw is None or stamp or frame.get("sid") != sid:  # stamped with the merged stream's numbers
            if self._partial and raw is not None:  # the merge's fields only: the whole frame again
                try:
                    frame = orjson.loads(raw)
                except ValueError:  # JSON msgspec reads and orjson does not (a number past a double)
                    self.reporter.warn_once("unreadable", f"skipping unreadable frame: {raw[:60]!r}")
                    return
            frame["sid"] = sid
            if seq is not None:
                frame["seq"] = seq
            raw = orjson.dumps(frame)  # (unchanged bytes otherwise)
        self.frames += 1
        if self._passthrough is not None:
            self._passthrough(raw)
        else:
            self.handler.on_data(raw, Head(frame["type"], sid, seq, None, frame), self.subscriptions[sub])

    def gap(self, sub: int, missing: int) -> None:
        self.gaps += 1
        self.merged_seq[sub] += missing
        logical = self.subscriptions[sub]
        head = Head(logical.channel, sub + 1, self.merged_seq[sub] + 1, None, None)
        self.handler.on_gap(logical, missing, head)

    def up(self, conn: int) -> None:
        self.handler.on_connected(self.url)

    def down(self, conn: int, reason: str) -> None:
        self.handler.on_disconnected(f"all {len(self.sessions)} connections down; the last: {reason}")

    def subscribed(self, sub: int) -> None:
        logical = self.subscriptions[sub]
        logical.sid = sub + 1
        self.handler.on_subscribed(logical)

    def lost(self, sub: int, reason: str) -> None:
        self.handler.on_subscription_lost(self.subscriptions[sub], reason)
