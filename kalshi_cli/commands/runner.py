"""Running a command's coroutine: signals, and the session for streaming commands."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from kalshi_cli.commands.common import StreamContext
from kalshi_cli.session import Session, StreamHandler, Subscription

__all__ = ["run_main", "run_stream"]


def run_main(main: Callable[[], Awaitable[None]]) -> None:
    """``asyncio.run(main())`` where SIGTERM and Ctrl-C cancel the main task cleanly (finally blocks run).

    Both signals only schedule the cancellation on the event loop; nothing is ever raised at
    whatever point the interpreter happened to be. (asyncio's own Ctrl-C handling raises
    KeyboardInterrupt at the second Ctrl-C, which can land in the loop's bookkeeping: a task's
    wake-up lost half-way through scheduling, and the shutdown then waits for it forever.)
    A second signal cancels again, to hurry a slow cleanup along; once the loop is gone, it
    ends the process. After SIGTERM the command exits 0; after Ctrl-C, KeyboardInterrupt
    (status 130) unless the command finished anyway.
    """
    stopping: list[int] = []  # the signals received, first first
    running: dict[str, Any] = {}  # the loop and the main task, once they exist

    def cancel_main() -> None:
        task = running.get("task")
        if task is not None and not task.done():
            task.cancel()

    def on_signal(signum: int, frame: object) -> None:
        stopping.append(signum)
        loop = running.get("loop")
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to stop
                loop.call_soon_threadsafe(cancel_main)

    previous: dict[int, Any] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):  # not the main thread
            handler = signal.getsignal(signum)
            if handler is not signal.SIG_IGN:  # ignored (nohup, a background job): leave it so
                signal.signal(signum, on_signal)
                previous[signum] = handler

    async def guarded() -> None:
        running["loop"] = asyncio.get_running_loop()
        running["task"] = asyncio.current_task()
        if stopping:  # a signal came while the loop was starting
            raise asyncio.CancelledError
        await main()

    try:
        asyncio.run(guarded())
    except asyncio.CancelledError:
        if not stopping:
            raise
        if stopping[0] == signal.SIGINT:
            raise KeyboardInterrupt from None
    finally:
        for signum, handler in previous.items():
            # Done by itself: signals mean what they meant before. Stopped by a signal: all that
            # is left is to exit, and another signal ends the process at once, as it would anyway
            # once the interpreter is finalizing.
            signal.signal(signum, signal.SIG_DFL if stopping else handler)


async def run_stream(
    ctx: StreamContext, subs: list[Subscription], handler: StreamHandler, *, stale_after: float
) -> Session:
    """Build the session for ``ctx`` and stream until the handler is done."""
    session = Session(
        ctx.endpoint.ws_url,
        subs,
        handler,
        signer=ctx.signer(),
        reporter=ctx.reporter,
        stale_after=stale_after,
    )
    if getattr(ctx.sim, "ended", None) is not None:  # --replay: the stream ends with the recording
        from kalshi_cli.sim.replay import stream_until_replayed

        await stream_until_replayed(session.run(), session, ctx.sim)
    else:
        await session.run()
    return session
