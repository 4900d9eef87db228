"""What ``fills``, ``positions`` and ``orders`` share: a REST client for the stream's environment,
handlers that run REST work beside the socket, and the seed-then-follow pattern.

The private channels carry no ``seq``, so a dropped connection loses frames silently. Each
command therefore subscribes first and buffers, fetches the REST view, and only then applies
the buffer; after every reconnect (or lost subscription) it does it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import orjson

from kalshi_cli.commands.common import StreamContext
from kalshi_cli.output import LineWriter
from kalshi_cli.protocol import Head, parse_frame
from kalshi_cli.rest import RestClient
from kalshi_cli.session import Session, StreamHandler, Subscription

__all__ = ["PrivateHandler", "SeededHandler", "follow", "rest_client", "stream_until_done"]


def rest_client(ctx: StreamContext) -> RestClient:
    """A signed REST client for the same environment (and key) as the WebSocket."""
    creds = ctx.credentials
    signer = None
    if creds is not None:
        from kalshi_cli.auth import auth_headers

        def signer(method: str, path: str) -> dict[str, str]:
            return auth_headers(creds.key_id, creds.key, method=method, path=path)

    return RestClient(ctx.endpoint.rest_url, signer, reporter=ctx.reporter)


class PrivateHandler(StreamHandler):
    """A handler with background REST tasks: a failing task ends the command with its error."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.writer = LineWriter() if as_json else None
        self.done = asyncio.Event()
        self.failure: BaseException | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.state = "connecting"

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self.failure is None:
            self.failure = exc
            self.done.set()

    def write(self, frame: bytes | dict[str, Any]) -> None:
        assert self.writer is not None
        raw = frame if isinstance(frame, bytes) else orjson.dumps(frame)
        if b"\n" in raw:  # pretty-printed JSON from a server: one line per frame
            raw = orjson.dumps(orjson.loads(raw))
        self.writer.write_line(raw)

    def on_disconnected(self, reason: str) -> None:
        self.state = f"reconnecting ({reason})"

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()

    @staticmethod
    def frame_obj(raw: bytes, head: Head) -> dict[str, Any]:
        return head.obj if head.obj is not None else parse_frame(raw)


async def stream_until_done(
    ctx: StreamContext, subs: list[Subscription], handler: PrivateHandler, *, stale_after: float
) -> None:
    """Run the session until it ends, the handler says it is done, or a REST task fails."""
    session = Session(
        ctx.endpoint.ws_url, subs, handler, signer=ctx.signer(), reporter=ctx.reporter, stale_after=stale_after
    )
    run = asyncio.create_task(session.run())
    finished = asyncio.create_task(handler.done.wait())
    try:
        await asyncio.wait({run, finished}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        pending = [t for t in (run, finished, *handler.tasks) if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    if handler.failure is not None:
        raise handler.failure
    if run.done() and not run.cancelled():
        run.result()  # the session's own fatal error, if any


async def follow(
    ctx: StreamContext,
    subs: list[Subscription],
    handler: PrivateHandler,
    *,
    stale_after: float,
    view: Callable[[int], Any] | None,
) -> None:
    """Stream until done; with ``view`` (terminal height -> renderable), draw it live meanwhile."""
    try:
        if view is None:
            await stream_until_done(ctx, subs, handler, stale_after=stale_after)
        else:
            from kalshi_cli.render.portfolio import LiveTable

            async with LiveTable(view):
                await stream_until_done(ctx, subs, handler, stale_after=stale_after)
    finally:
        handler.close()


class SeededHandler(PrivateHandler):
    """Seed rows from REST, then follow a channel; re-seed on every (re)subscription.

    Subclasses set ``channel``, ``frame_type``, ``path`` and ``rows_key`` and implement
    ``params``, ``seed_frame`` (REST row -> WS-shaped frame), ``key_of`` and ``apply``.
    """

    channel = ""
    frame_type = ""
    path = ""
    rows_key = ""

    def __init__(self, rest: RestClient, markets: list[str], *, as_json: bool) -> None:
        super().__init__(as_json=as_json)
        self.rest = rest
        self.markets = markets
        self.seeding = True
        self.seeds = 0
        self.buffer: list[tuple[bytes, dict[str, Any]]] = []
        self._seed_task: asyncio.Task[None] | None = None

    # --- to implement -------------------------------------------------------------------------

    def params(self) -> list[tuple[str, Any]]:
        return [("ticker", self.markets[0])] if len(self.markets) == 1 else []

    def seed_frame(self, row: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def ticker_of(self, msg: dict[str, Any]) -> str:
        raise NotImplementedError

    def reset(self, frames: list[dict[str, Any]]) -> None:
        """Replace the state with the seed frames."""
        raise NotImplementedError

    def apply(self, obj: dict[str, Any]) -> None:
        """Apply one live frame to the state."""
        raise NotImplementedError

    # --- stream callbacks -----------------------------------------------------------------------

    def on_connected(self, url: str) -> None:
        self.seeding = True
        self.state = "subscribing"

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        if sub.channel == self.channel:
            self.seeding = True

    def on_subscribed(self, sub: Subscription) -> None:
        if sub.channel != self.channel:
            return
        self.seeding = True
        self.state = "loading from the REST API"
        if self._seed_task is not None and not self._seed_task.done():
            self._seed_task.cancel()
        self._seed_task = self.spawn(self._seed())

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        if head.type != self.frame_type:
            return
        obj = self.frame_obj(raw, head)
        if self.seeding:
            self.buffer.append((raw, obj))
            return
        self._live(raw, obj)

    # --- seeding --------------------------------------------------------------------------------

    async def _seed(self) -> None:
        rows = await self.rest.paginate(self.path, self.rows_key, self.params())
        frames = [self.seed_frame(r) for r in rows]
        if self.markets:
            wanted = set(self.markets)
            frames = [f for f in frames if self.ticker_of(f["msg"]) in wanted]
        self.reset(frames)
        if self.writer is not None:
            for frame in frames:
                self.write(frame)
        buffered, self.buffer = self.buffer, []
        for raw, obj in buffered:
            self._live(raw, obj)
        self.seeding = False
        self.seeds += 1
        self.state = "live"

    def _live(self, raw: bytes, obj: dict[str, Any]) -> None:
        self.apply(obj)
        if self.writer is not None:
            self.write(raw)
