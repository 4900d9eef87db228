"""Serving until told to stop: the one start-wait-stop loop of ``kalshi sim`` and ``kalshi replay``.

A port that cannot be bound (in use, out of range, a host that does not resolve) is the
user's input, so it becomes a one-line ``UsageError`` rather than an internal error.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
from collections.abc import Callable
from typing import Protocol

from kalshi_cli.errors import UsageError

from .catalog import spec_for

__all__ = ["MAX_MARKETS", "Server", "check_port", "check_sim_options", "listen", "serve_until_stopped"]

MAX_MARKETS = 20_000


class Server(Protocol):
    """What the loop needs of a server."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    async def start(self) -> str: ...

    async def stop(self) -> None: ...


def check_port(port: int) -> None:
    """A TCP port the server may listen on (0: any free one), else a usage error naming ``--port``."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535 (0 picks a free one), got {port}")


def check_sim_options(markets: int, rate: float, tickers: tuple[str, ...] = ()) -> None:
    """``--markets``, ``--rate`` and ``--ticker`` as the simulator can take them, else a usage
    error naming the flag."""
    for ticker in tickers:
        try:
            spec_for(ticker)
        except ValueError as exc:
            raise UsageError(f"--ticker: {exc}") from None
    if not 1 <= markets <= MAX_MARKETS:
        raise UsageError(f"--markets must be between 1 and {MAX_MARKETS}, got {markets}")
    if not (math.isfinite(rate) and rate >= 0):
        raise UsageError(f"--rate must be a number of actions per second, 0 or more, got {rate}")


async def listen(server: Server) -> str:
    """``server.start()``, with a bind failure told as a usage error naming the address."""
    host, port = server.host, server.port
    try:
        return await server.start()
    except (OSError, OverflowError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"cannot listen on {host}:{port}: {reason}") from None


async def serve_until_stopped(
    server: Server,
    on_ready: Callable[[], None],
    *,
    handle_signals: bool = True,
    done: asyncio.Event | None = None,
) -> None:
    """Start ``server``, call ``on_ready()``, serve until SIGINT/SIGTERM (or ``done`` is set), stop it."""
    await listen(server)
    stop = asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
    try:
        on_ready()
        waits = [asyncio.ensure_future(stop.wait())]
        if done is not None:
            waits.append(asyncio.ensure_future(done.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
    finally:
        await server.stop()
