"""Running a command's coroutine: signals, and the session for streaming commands."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from kalshi_cli.commands.common import StreamContext
from kalshi_cli.session import Session, StreamHandler, Subscription

__all__ = ["Terminated", "run_main", "run_stream"]


class Terminated(Exception):
    """SIGTERM asked us to stop; the command cleaned up and exits 0."""


def run_main(main: Callable[[], Awaitable[None]]) -> None:
    """``asyncio.run(main())`` where SIGTERM cancels the main task cleanly (finally blocks run)."""

    async def guarded() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        terminated = False

        def on_term() -> None:
            nonlocal terminated
            terminated = True
            if task is not None:
                task.cancel()

        try:
            loop.add_signal_handler(signal.SIGTERM, on_term)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
        try:
            await main()
        except asyncio.CancelledError:
            if terminated:
                raise Terminated from None
            raise

    try:
        asyncio.run(guarded())
    except Terminated:
        return


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
