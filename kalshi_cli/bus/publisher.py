"""Publishing frames to JetStream exactly once: pipelined, acknowledged, spooled while the server is away.

Frames wait in order in three places: in flight (sent, not yet acknowledged; at most ``window``),
in memory (``queue``, bounded), and on disk (``spool.Spool``). Once anything is on disk, new frames
go to disk too, so order holds; the sender reads the disk back oldest first. While the server is
unreachable (or before the first connection) every new frame goes to disk.

Every frame carries ``Nats-Msg-Id`` (its exchange-event key), so sending it twice is harmless
inside the stream's duplicate window: after a reconnect, an acknowledgement that does not come
(``ack_timeout``) or an error answer (a cluster electing a leader), everything in flight is put
back at the front of the queue and sent again, in order. One TCP connection keeps its order, so a
drop loses a suffix of what was sent and resending it keeps the stream in order; an error answer
for one frame while later ones were stored is the one case where a resent frame lands after later
ones. A frame with no key is published without ``Nats-Msg-Id``: it is kept once per recorder (and
may be kept twice if it had to be resent).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from kalshi_cli.bus.connect import open_bus
from kalshi_cli.bus.spool import Item, Spool
from kalshi_cli.bus.stream import StreamSpec, ensure_stream
from kalshi_cli.bus.target import BusTarget
from kalshi_cli.errors import ConnectionFailed, KalshiCliError

__all__ = ["Publisher", "PublishError"]

MSG_ID = "Nats-Msg-Id"


class PublishError(KalshiCliError):
    """The server refused a frame for good (e.g. larger than its max_payload)."""


class Publisher:
    """Frames in (``submit``), acknowledged messages out; ``run`` is the connection's task.

    Args:
        target: the server and stream.
        spec: the stream settings to create or check.
        env: the Kalshi environment (its subjects must be in the stream).
        spool_dir: where the backlog goes while the server is away.
        window: messages in flight at most (sent, not acknowledged).
        memory_items / memory_bytes: the in-memory queue's bound; beyond it frames go to disk.
        ack_timeout: seconds without the oldest acknowledgement before everything in flight is resent.
        on_event: one line for the user (connects, drops, retries).
    """

    def __init__(
        self,
        target: BusTarget,
        spec: StreamSpec,
        env: str,
        *,
        spool_dir: Path,
        window: int = 1024,
        memory_items: int = 20_000,
        memory_bytes: int = 32 * 1024 * 1024,
        ack_timeout: float = 5.0,
        on_event: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.target = target
        self.spec = spec
        self.env = env
        self.spool = Spool(spool_dir)
        self.window = window
        self.memory_items = memory_items
        self.memory_bytes = memory_bytes
        self.ack_timeout = ack_timeout
        self.on_event = on_event
        self.queue: deque[Item] = deque()
        self.queue_bytes = 0
        self.inflight: dict[int, tuple[Item, float]] = {}  # token -> (item, sent at), in send order
        self.stored = 0  # acknowledged as new messages in the stream
        self.duplicates = 0  # acknowledged as already there (another recorder's copy, or a resend)
        self.resends = 0
        self.up = False
        self.closed = False
        self.nc: Any = None
        self._token = 0
        self._inbox = ""
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._retry_at = 0.0
        self._backoff = 0.0

    # --- the feed side ----------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        """Frames not yet acknowledged: in flight, in memory and on disk."""
        return len(self.inflight) + len(self.queue) + len(self.spool)

    def submit(self, subject: str, msg_id: str | None, payload: bytes) -> None:
        """Queue one frame (never blocks: past the memory bound, or while down, it goes to disk)."""
        item = Item(subject, msg_id, payload)
        if (
            not self.up
            or len(self.spool)
            or len(self.queue) >= self.memory_items
            or self.queue_bytes >= self.memory_bytes
        ):
            self.spool.append(item)
        else:
            self.queue.append(item)
            self.queue_bytes += len(payload)
        self._wake.set()

    def tick(self) -> None:
        """Twice a second: the spool on disk, and a resend if the oldest acknowledgement is late."""
        self.spool.flush()
        if self.inflight and self.up:
            _, sent = next(iter(self.inflight.values()))
            if time.monotonic() - sent > self.ack_timeout:
                self.on_event(f"NATS {self.target.display}: no acknowledgement for {self.ack_timeout:g}s; resending")
                self._requeue()
        self._wake.set()

    # --- the connection side ----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect (retrying forever), make or check the stream, then send until cancelled."""
        self.nc = await open_bus(
            self.target,
            tries=None,
            on_event=self.on_event,
            on_disconnected=self._down,
            on_reconnected=self._back,
        )
        js = self.nc.jetstream()
        while True:
            try:
                created = await ensure_stream(js, self.target, self.spec, self.env)
                break
            except ConnectionFailed as exc:  # JetStream not ready yet (a cluster electing its leader)
                self.on_event(f"{exc}; retrying")
                await asyncio.sleep(1.0)
        self.on_event(
            f"publishing to NATS {self.target.display}"
            + (" (stream created)" if created else "")
            + (f"; {self.spool.leftover:,} spooled frame(s) of an earlier run first" if self.spool.leftover else "")
        )
        self._inbox = self.nc.new_inbox()
        await self.nc.subscribe(self._inbox + ".*", cb=self._on_ack)
        self.up = True
        await self._send_loop()

    def _down(self) -> None:
        self.up = False
        if self.closed:
            return
        if not len(self.spool):  # the backlog goes to disk while the server is away
            for item in self.queue:
                self.spool.append(item)
            self.queue.clear()
            self.queue_bytes = 0
        self.on_event(f"NATS {self.target.display}: connection lost; spooling to {self.spool.directory}")

    def _back(self) -> None:
        self._requeue()
        self.up = True
        self._wake.set()

    def _requeue(self) -> None:
        """Everything in flight back to the front of the queue, in order (acks for it are ignored)."""
        if not self.inflight:
            return
        items = [item for item, _ in self.inflight.values()]
        self.inflight.clear()
        self.resends += len(items)
        self.queue.extendleft(reversed(items))
        self.queue_bytes += sum(len(i.payload) for i in items)

    def _refill(self) -> None:
        if not self.queue and len(self.spool):
            for item in self.spool.take(min(self.memory_items, 4096)):
                self.queue.append(item)
                self.queue_bytes += len(item.payload)

    async def _send_loop(self) -> None:
        publish = self.nc.publish
        inbox = self._inbox + "."
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._retry_at and time.monotonic() < self._retry_at:
                await asyncio.sleep(self._retry_at - time.monotonic())
            self._retry_at = 0.0
            while self.up and len(self.inflight) < self.window:
                if not self.queue:
                    self._refill()
                    if not self.queue:
                        break
                item = self.queue.popleft()
                self.queue_bytes -= len(item.payload)
                self._token += 1
                token = self._token
                self.inflight[token] = (item, time.monotonic())
                headers = {MSG_ID: item.msg_id} if item.msg_id is not None else None
                try:
                    await publish(item.subject, item.payload, reply=f"{inbox}{token}", headers=headers)
                except Exception as exc:
                    if type(exc).__name__ == "MaxPayloadError":
                        raise PublishError(
                            f"NATS {self.target.display}: a frame of {len(item.payload):,} bytes is over the "
                            "server's max_payload; raise it in the server's config"
                        ) from None
                    self._requeue()  # the connection went away under us: resent once it is back
                    break

    async def _on_ack(self, msg: Any) -> None:
        token = int(msg.subject.rpartition(".")[2])
        entry = self.inflight.pop(token, None)
        if entry is None:
            return  # an answer to a frame already put back for resending
        item = entry[0]
        error = None
        if msg.headers and msg.headers.get("Status") == "503":
            error = "no stream answers for this subject (503)"
        else:
            try:
                reply = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                reply = {"error": {"description": "unreadable acknowledgement"}}
            if isinstance(reply, dict) and "error" in reply:
                err = reply["error"]
                error = str(err.get("description") if isinstance(err, dict) else err)
            elif isinstance(reply, dict) and reply.get("duplicate"):
                self.duplicates += 1
            else:
                self.stored += 1
        if error is None:
            self.spool.acked(item)
            self._backoff = 0.0
            if not self.inflight:
                self._settled.set()
        else:
            self.inflight[token] = entry  # back in place, then everything in flight is resent in order
            self._requeue()
            self._backoff = min(2.0, self._backoff * 2 or 0.1)
            self._retry_at = time.monotonic() + self._backoff
            self.on_event(f"NATS {self.target.display}: publish refused ({error}); retrying")
        self._wake.set()

    async def close(self, wait: float = 5.0) -> None:
        """Wait up to ``wait`` seconds for the backlog to be acknowledged, then keep the rest on disk."""
        deadline = time.monotonic() + wait
        if self.nc is None or not self.nc.is_connected:
            deadline = 0.0  # nothing can be acknowledged: straight to disk
        while self.up and self.backlog and time.monotonic() < deadline:
            self._wake.set()
            self._settled.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._settled.wait(), timeout=min(0.1, max(0.0, deadline - time.monotonic())))
        self.closed = True
        pending = [item for item, _ in self.inflight.values()] + list(self.queue)
        self.inflight.clear()
        self.queue.clear()
        left = len(pending) + len(self.spool)
        self.spool.close(pending)
        if left:
            self.on_event(
                f"{left:,} frame(s) not yet on NATS are kept in {self.spool.directory}; "
                f"'kalshi record ... --sink {self.target.display} --spool {self.spool.directory}' publishes them"
            )
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
