"""run_main: SIGTERM and Ctrl-C cancel the command's coroutine from the event loop, never by an
exception raised wherever the interpreter happens to be (in-process; handlers restored after).
run_feed: how a feed's run ends (finish, a failing tick or side task, StreamDone), against a
loopback server; close() always runs once, inside the view."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time

import pytest

from kalshi_cli.config import Endpoint, rest_from_ws
from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import StreamContext
from kalshi_cli.feeds.runner import FeedHandler, run_feed
from kalshi_cli.feeds.signals import run_main
from kalshi_cli.output import Reporter
from kalshi_cli.session import StreamDone, Subscription
from tests.hostile import HostileConn, HostileServer


@pytest.fixture(autouse=True)
def restore_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def cleanup_under_fire(sig: signal.Signals, done: list[str]):
    async def main() -> None:
        try:
            os.kill(os.getpid(), sig)
            await asyncio.sleep(30)
        finally:
            os.kill(os.getpid(), sig)  # a second one while cleaning up: it must not cut this short
            time.sleep(0.05)  # noqa: ASYNC251 (deliberately blocking: where asyncio's Ctrl-C raised)
            done.append("cleaned up")

    return main


def test_second_ctrl_c_does_not_cut_the_cleanup_short():
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        run_main(cleanup_under_fire(signal.SIGINT, done))
    assert done == ["cleaned up"]


def test_sigterm_ends_cleanly_even_twice():
    done: list[str] = []
    run_main(cleanup_under_fire(signal.SIGTERM, done))  # no exception: the command exits 0
    assert done == ["cleaned up"]


def test_second_signal_hurries_an_awaiting_cleanup():
    done: list[str] = []

    async def main() -> None:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            await asyncio.sleep(30)
        finally:
            asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
            try:
                await asyncio.sleep(30)  # a slow goodbye
            finally:
                done.append("hurried")

    started = time.monotonic()
    run_main(main)
    assert done == ["hurried"] and time.monotonic() - started < 10


def test_handlers_are_as_before_when_the_command_ends_by_itself():
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    async def main() -> None:
        await asyncio.sleep(0)

    run_main(main)
    assert {s: signal.getsignal(s) for s in before} == before


def test_ctrl_c_that_the_command_absorbs_is_not_an_interruption():
    async def main() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            return  # e.g. a command that treats Ctrl-C as "done"

    run_main(main)  # no KeyboardInterrupt


# --- run_feed: the one runner ---------------------------------------------------------------


class Recorder(FeedHandler):
    """A feed handler that notes what happened to it."""

    def __init__(self) -> None:
        super().__init__()
        self.closed = 0
        self.subscribed: list[str] = []

    def on_subscribed(self, sub: Subscription) -> None:
        self.subscribed.append(sub.channel)

    def close(self) -> None:
        self.closed += 1


def feed_run(handler: Recorder, **kwargs) -> tuple[str | None, HostileServer]:
    """``run_feed`` against a loopback server that accepts, acks the subscription and idles."""

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        await conn.subscribe_all()
        await conn.idle()

    server = HostileServer(script)
    err = io.StringIO()

    async def main() -> None:
        ctx = StreamContext(Endpoint(server.url, rest_from_ws(server.url), "custom"), None, Reporter(stream=err))
        await run_feed(ctx, [Subscription("trade")], handler, stale_after=30.0, connect_tries=1, **kwargs)

    with server:
        try:
            asyncio.run(main())
        except Exception as exc:  # noqa: BLE001 (the test looks at it)
            return f"{type(exc).__name__}: {exc}", server
    return None, server


def test_a_tick_that_finishes_ends_the_run_cleanly_and_close_runs_once():
    handler = Recorder()
    error, server = feed_run(handler, ticks=[(0.01, lambda: handler.finish() if handler.subscribed else None)])
    assert error is None and handler.subscribed == ["trade"] and handler.closed == 1
    assert server.connections == 1


def test_a_failing_tick_ends_the_run_with_its_error():
    handler = Recorder()

    def check() -> None:
        if handler.subscribed:
            raise UsageError("no order book for KXA-1")

    error, _ = feed_run(handler, ticks=[(0.01, check)])
    assert error == "UsageError: no order book for KXA-1" and handler.closed == 1


@pytest.mark.parametrize(("raised", "expected"), [(StreamDone, None), (RuntimeError, "RuntimeError: boom")])
def test_a_side_task_ends_the_run_cleanly_or_with_its_error(raised, expected):
    async def side() -> None:
        await asyncio.sleep(0)
        raise raised("boom")

    class Spawner(Recorder):
        def on_subscribed(self, sub: Subscription) -> None:
            super().on_subscribed(sub)
            self.spawn(side())

    handler = Spawner()
    error, _ = feed_run(handler)
    assert error == expected and handler.closed == 1


def test_the_view_is_open_for_the_whole_run():
    seen: list[str] = []
    handler = Recorder()

    class View:
        async def __aenter__(self) -> View:
            seen.append("open")
            return self

        async def __aexit__(self, *exc: object) -> None:
            seen.append(f"closed after {handler.closed} close()")

    error, _ = feed_run(handler, view=View(), ticks=[(0.01, lambda: handler.finish() if handler.subscribed else None)])
    assert error is None and seen == ["open", "closed after 1 close()"]
