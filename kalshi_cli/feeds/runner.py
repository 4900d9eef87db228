"""The one runner every feed runs on: the session, side tasks, and how a run ends.

``run_main`` (from ``feeds.signals``) runs a command's coroutine with SIGTERM and Ctrl-C
cancelling it cleanly. ``run_feed`` builds the session for a feed and runs it beside the feed's side work (periodic
checks such as the book's health ladder and record's flushes, REST tasks such as the private
feeds' seeding), until one of: the feed is done (``--count``, ``--once``, the view's ``q``),
a side task fails, the session ends (a fatal error), or a replayed recording ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import StreamContext
from kalshi_cli.feeds.signals import run_main
from kalshi_cli.session import Session, StreamDone, StreamHandler, Subscription

if TYPE_CHECKING:
    from kalshi_cli.redundant import RedundantSession

__all__ = ["FeedHandler", "finish_on_quit", "run_feed", "run_main"]

Tick = tuple[float, Callable[[], None]]  # (seconds between calls, what to call)


class FeedHandler(StreamHandler):
    """A stream handler that can also end the run and run work beside the socket.

    ``finish()`` ends the run cleanly from anywhere (a side task, a view); a task started with
    ``spawn`` that fails ends the run with its error; ``close()`` runs last, always.
    """

    def __init__(self) -> None:
        self._done: asyncio.Event | None = None
        self.failure: BaseException | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    @property
    def done(self) -> asyncio.Event:
        if self._done is None:  # made on first use, inside the running loop
            self._done = asyncio.Event()
        return self._done

    def finish(self) -> None:
        self.done.set()

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
        if isinstance(exc, StreamDone):  # e.g. --count reached by a backfill
            self.done.set()
        elif exc is not None and self.failure is None:
            self.failure = exc
            self.done.set()

    def close(self) -> None:
        """The run is over: write out what is buffered."""


async def finish_on_quit(view: Any, handler: FeedHandler) -> None:
    """End the run when the live ``view``'s ``q`` is pressed (its ``quit_event``)."""
    await view.quit_event.wait()
    handler.finish()


async def _every(seconds: float, call: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(seconds)
        call()


async def run_feed(
    ctx: StreamContext,
    subs: list[Subscription],
    handler: FeedHandler,
    *,
    stale_after: float,
    connect_tries: int | None,
    ticks: Sequence[Tick] = (),
    view: AbstractAsyncContextManager[Any] | None = None,
    redundant: int = 1,
) -> Session | RedundantSession:
    """Stream ``subs`` into ``handler`` until the run ends (see the module docstring).

    ``ticks`` are called periodically beside the stream (an exception from one ends the run);
    ``view`` (a live terminal view) is open for the whole run; ``redundant`` connections carry
    the stream, merged (``kalshi_cli.redundant``).
    """
    session: Session | RedundantSession
    if redundant > 1:
        if getattr(ctx.sim, "ended", None) is not None:
            raise UsageError("--redundant needs a live server or --sim: a --replay is one recorded connection")
        from kalshi_cli.redundant import RedundantSession

        session = RedundantSession(
            ctx.endpoint.ws_url,
            subs,
            handler,
            connections=redundant,
            signer=ctx.signer(),
            reporter=ctx.reporter,
            stale_after=stale_after,
            connect_tries=connect_tries,
            transport=ctx.connector(),
        )
    else:
        session = Session(
            ctx.endpoint.ws_url,
            subs,
            handler,
            signer=ctx.signer(),
            reporter=ctx.reporter,
            stale_after=stale_after,
            connect_tries=connect_tries,
            transport=ctx.connector(),
        )
    stream: Awaitable[None] = session.run()
    if getattr(ctx.sim, "ended", None) is not None:  # --replay: the stream ends with the recording
        from kalshi_cli.sim.replay import stream_until_replayed

        stream = stream_until_replayed(stream, session, ctx.sim)
    async with contextlib.AsyncExitStack() as stack:
        if view is not None:
            await stack.enter_async_context(view)
        run = asyncio.ensure_future(stream)
        finished = asyncio.ensure_future(handler.done.wait())
        side = [asyncio.ensure_future(_every(seconds, call)) for seconds, call in ticks]
        try:
            await asyncio.wait([run, finished, *side], return_when=asyncio.FIRST_COMPLETED)
        finally:
            pending = [t for t in (run, finished, *side, *handler.tasks) if not t.done()]
            for task in pending:
                task.cancel()
            try:
                await asyncio.gather(*pending, return_exceptions=True)
            finally:  # even when a second signal cuts the wait short
                handler.close()
        if handler.failure is not None:
            raise handler.failure
        for task in (run, *side):
            if task.done() and not task.cancelled():
                task.result()  # the session's fatal error or a failed check, if any
    return session
