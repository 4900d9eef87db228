"""run_main: SIGTERM and Ctrl-C cancel the command's coroutine from the event loop, never by an
exception raised wherever the interpreter happens to be (in-process; handlers restored after)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from kalshi_cli.feeds.signals import run_main


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
