"""Reading a bus stream back, in stream order: each payload exactly as ``record --sink`` published it.

Filtered to the subjects asked for (``subjects.filter_subjects``). Without ``--durable``: nats-py's
ordered push consumer (ephemeral, from the beginning or ``--since``), which restarts itself after
the last message it delivered when anything goes wrong (a gap, missed heartbeats, a restarted
server), so nothing is skipped or repeated. With ``--durable NAME``: a pull consumer the server
keeps; each batch is acknowledged (ack-all) once handed over and the unread rest of a batch is
given back, so the next run resumes right after the last message printed. Both follow the stream
until stopped; ``--count`` (the feed) ends them.

``book_markets`` (``book --from`` without ``--durable``/``--since``): each market's book is read
from its latest safe snapshot (``bookstart``) instead of the stream's start; the reading starts at
the earliest of those, and a market's book messages before its own start are skipped."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from typing import Any

from kalshi_cli.bus.connect import open_bus
from kalshi_cli.bus.stream import stream_info
from kalshi_cli.bus.target import BusTarget
from kalshi_cli.errors import UsageError

__all__ = ["BATCH", "BusReader"]

BATCH = 512  # messages per fetch


class BusReader:
    """Hands every message of the stream (that ``filters`` select) to ``emit``, in order.

    Args:
        target: the server and stream.
        filters: subject filters (``kalshi.*.trade.*``, ...).
        durable: the durable consumer's name, or None for an ephemeral one.
        since_ms: start at this time (Unix ms) instead of the beginning (a new consumer only).
        tries: failed first connection attempts before giving up (exit 4).
        on_event: status lines.
        on_ready: called once the stream is found (the reading starts).
        book_markets: markets whose books start at their latest safe snapshot (see above).
    """

    def __init__(
        self,
        target: BusTarget,
        filters: list[str],
        *,
        durable: str | None,
        since_ms: int | None,
        tries: int | None,
        on_event: Callable[[str], None],
        on_warn: Callable[[str], None],
        on_ready: Callable[[], None] | None = None,
        book_markets: list[str] | None = None,
    ) -> None:
        self.target = target
        self.filters = filters
        self.durable = durable
        self.since_ms = since_ms
        self.tries = tries
        self.on_event = on_event
        self.on_warn = on_warn
        self.on_ready = on_ready
        self.book_markets = list(book_markets or [])
        self.start_seq = 0  # where a new consumer starts (0: the stream's start, or --since)
        self.book_starts: dict[str, int] = {}  # market -> the sequence its book is read from
        self._skip_below = 0  # no book message at or above this sequence is skipped
        self._market_of: dict[str, str | None] = {}  # subject -> market, for the book subjects
        self.last_seq = 0  # the stream sequence of the last message handed over
        self.messages = 0
        self.nc: Any = None

    def _config(self) -> Any:
        from nats.js import api

        cfg: dict[str, Any] = {"filter_subjects": self.filters} if len(self.filters) > 1 else {}
        if len(self.filters) == 1:
            cfg["filter_subject"] = self.filters[0]
        if self.last_seq or self.start_seq:
            first = self.last_seq + 1 if self.last_seq else self.start_seq
            cfg.update(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=first)
        elif self.since_ms is not None:
            start = datetime.datetime.fromtimestamp(self.since_ms / 1000, tz=datetime.UTC)
            cfg.update(deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=start)
        else:
            cfg["deliver_policy"] = api.DeliverPolicy.ALL
        if self.durable is None:
            cfg.update(ack_policy=api.AckPolicy.NONE, inactive_threshold=30.0, mem_storage=True)
        else:
            # ack_wait: how long a batch a killed reader had taken waits before it is delivered again
            cfg.update(ack_policy=api.AckPolicy.ALL, durable_name=self.durable, max_ack_pending=-1, ack_wait=10.0)
        return api.ConsumerConfig(**cfg)

    async def _subscribe(self, js: Any) -> Any:
        from nats.js import errors as js_errors

        if self.durable is not None:
            try:
                info = await js.consumer_info(self.target.stream, self.durable)
            except js_errors.NotFoundError:
                info = None
            if info is not None:
                have = sorted(info.config.filter_subjects or [info.config.filter_subject or ">"])
                if have != sorted(self.filters) and not (have == [">"] and self.filters == ["kalshi.*.*.*"]):
                    raise UsageError(
                        f"durable consumer {self.durable} on stream {self.target.stream} reads "
                        f"{', '.join(have)}, not {', '.join(self.filters)}: give the same channels and "
                        "markets, or another --durable name"
                    )
                if self.since_ms is not None and not self.last_seq:
                    self.on_warn(f"--since ignored: durable consumer {self.durable} resumes where it stopped")
                return await js.pull_subscribe_bind(self.durable, stream=self.target.stream)
            await js.add_consumer(self.target.stream, self._config())
            return await js.pull_subscribe_bind(self.durable, stream=self.target.stream)
        info = await js.add_consumer(self.target.stream, self._config())
        return await js.pull_subscribe_bind(info.name, stream=self.target.stream)

    async def run(self, emit: Callable[[bytes], None]) -> None:
        """Follow the stream until cancelled (or until ``emit`` raises, e.g. ``--count`` reached)."""
        import nats.errors
        from nats.js import errors as js_errors

        self.nc = await open_bus(self.target, tries=self.tries, on_event=self.on_event)
        js = self.nc.jetstream()
        info = await stream_info(js, self.target)
        if self.book_markets and self.durable is None and self.since_ms is None:
            await self._find_book_starts(info)
        if self.on_ready is not None:
            self.on_ready()
        if self.durable is None:
            await self._run_ordered(js, emit)
            return
        sub = await self._subscribe(js)
        ack_all = self.durable is not None
        while True:
            try:
                msgs = await sub.fetch(BATCH, timeout=1.0)
            except TimeoutError:  # nats-py raises its own (a subclass) or the builtin one when idle
                continue
            except (js_errors.NotFoundError, js_errors.ServiceUnavailableError, nats.errors.Error) as exc:
                # the consumer vanished, or the server is away: make it again from where we are
                if isinstance(exc, nats.errors.ConnectionClosedError):
                    raise
                await asyncio.sleep(0.5)
                try:
                    if not self.nc.is_connected:
                        continue
                    with_durable = self.durable is not None
                    sub = await self._subscribe(js) if with_durable else await self._resubscribe(js, sub)
                except Exception:
                    continue
                continue
            handed = 0
            try:
                for msg in msgs:
                    handed += 1
                    if msg.headers and msg.headers.get("Status"):
                        continue  # a status message (heartbeat, 408), not data
                    if ack_all and msg.metadata.sequence.stream <= self.last_seq:
                        continue  # redelivered after a late acknowledgement: handed over already
                    self.messages += 1
                    emit(msg.data)
            finally:  # also when emit ends the run (--count): the position is what was handed over
                await self._settle(msgs[:handed], msgs[handed:], ack_all)

    async def _run_ordered(self, js: Any, emit: Callable[[bytes], None]) -> None:
        """Without ``--durable``: nats-py's ordered push consumer, which keeps the order itself (a
        gap, a missed heartbeat or a server restart makes it start again after the last message it
        delivered) and, with flow control, never lets the server run ahead of us. Several times
        cheaper per message than ``fetch``, which waits on a timer for every message."""
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def on_message(msg: Any) -> None:
            if finished.done():
                return
            if msg.headers and msg.headers.get("Status"):
                return  # heartbeat or flow control: nats-py answers those
            try:
                if self._skip_below and self._skipped(msg):
                    return
                self.messages += 1
                emit(msg.data)
            except BaseException as exc:  # --count reached, a closed pipe: the end of the run
                finished.set_exception(exc)

        config = self._config()
        sub = await js.subscribe(
            self.filters[0],
            stream=self.target.stream,
            config=config,
            ordered_consumer=True,
            idle_heartbeat=1.0,  # two missed (a server restarted) and it starts again: ~2 s, not 10
            cb=on_message,
        )
        try:
            await finished
        finally:
            import contextlib

            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _find_book_starts(self, info: Any) -> None:
        """Each book market's start (``bookstart``); the stream's start for any without one."""
        from kalshi_cli.bus.bookstart import DirectHistory, book_starts

        if not getattr(info.config, "allow_direct", False):
            self.on_event(f"stream {self.target.stream} has no direct get: books are read from its start")
            return
        try:
            history = DirectHistory(self.nc, self.target.stream)
            starts = await book_starts(history, self.book_markets, float(info.config.duplicate_window or 0))
        except Exception as exc:  # a server that cannot say: read from the start, as without it
            self.on_warn(f"stream {self.target.stream}: latest snapshots not found ({str(exc) or type(exc).__name__})")
            return
        self.book_starts = starts
        if starts:
            self._skip_below = max(starts.values())
            if all(m in starts for m in self.book_markets):
                self.start_seq = min(starts.values())

    def _skipped(self, msg: Any) -> bool:
        """A book message of a market from before that market's start."""
        seq = msg.metadata.sequence.stream
        if seq >= self._skip_below:
            self._skip_below = 0  # past every market's start: nothing more to skip
            return False
        subject = msg.subject
        market = self._market_of.get(subject, "")
        if market == "":
            from kalshi_cli.bus.subjects import BOOK_TOKENS, subject_parts

            try:
                _, channel, market = subject_parts(subject)
            except ValueError:
                channel, market = "", None
            market = market if channel in BOOK_TOKENS else None
            self._market_of[subject] = market
        start = self.book_starts.get(market) if market is not None else None
        return start is not None and seq < start

    async def _settle(self, handed: list[Any], rest: list[Any], ack_all: bool) -> None:
        """Note the position; a durable acknowledges what was handed over and gives the rest back
        at once (else the next run waits out the ack wait before it is redelivered)."""
        done = next((m for m in reversed(handed) if m.reply and m.reply.startswith("$JS.ACK.")), None)
        if done is None:
            return
        self.last_seq = done.metadata.sequence.stream
        if ack_all:
            await done.ack()
            for msg in rest:
                if msg.reply and msg.reply.startswith("$JS.ACK."):
                    await msg.nak()

    async def _resubscribe(self, js: Any, old: Any) -> Any:
        import contextlib

        with contextlib.suppress(Exception):
            await old.unsubscribe()
        return await self._subscribe(js)

    async def close(self) -> None:
        if self.nc is not None:
            import contextlib

            with contextlib.suppress(Exception):
                await self.nc.close()
