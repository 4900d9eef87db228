"""Signals: SIGTERM and Ctrl-C end a command's coroutine from the event loop, cleanly.

Light on purpose (no session, no websockets): ``sim``, ``replay`` and ``sign --check`` run on it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["run_main"]


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
        running["loop"] = loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_network_leftovers)
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
        for number, handler in previous.items():
            # Done by itself: signals mean what they meant before. Stopped by a signal: all that
            # is left is to exit, and another signal ends the process at once, as it would anyway
            # once the interpreter is finalizing.
            signal.signal(number, signal.SIG_DFL if stopping else handler)


def _quiet_network_leftovers(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A library's dropped connection left in a future nobody awaited (nats-py's reader after a
    refused sign-in: "Future exception was never retrieved", ConnectionResetError) is not news:
    the error the command reports already said it. asyncio would print a traceback on stderr;
    anything else still goes to asyncio's own handler."""
    if isinstance(context.get("exception"), ConnectionError) and "never retrieved" in str(context.get("message")):
        return
    loop.default_exception_handler(context)
