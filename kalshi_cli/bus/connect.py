"""Opening a NATS connection for the bus: the ``[nats]`` extra, credentials refused in one line.

nats-py reconnects by itself once connected; ``open_bus`` also keeps trying the first connection
(``tries=None``: until it works, as a recorder wants; else that many attempts, then exit 4), and
turns a refused sign-in into ``BusAuthRejected`` (exit 3) instead of retrying it forever. nats-py's
own error logging (a traceback per failed attempt) is replaced by ``on_event`` lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import ModuleType
from typing import Any

from kalshi_cli.bus.target import BusTarget
from kalshi_cli.errors import AuthRejected, ConnectionFailed, UsageError

__all__ = ["BusAuthRejected", "import_nats", "open_bus"]

EXTRA_HINT = "pip install 'kalshi-cli[nats]'"


class BusAuthRejected(AuthRejected):
    """The NATS server refused the credentials (exit 3)."""


def import_nats() -> ModuleType:
    """nats-py, or one line naming the extra that brings it."""
    try:
        import nats
        import nats.js  # noqa: F401 - JetStream, used by every caller
    except ImportError:
        raise UsageError(f"the NATS bus (nats://) needs the [nats] extra: {EXTRA_HINT}") from None
    return nats


def _is_auth_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "authorization" in text or "authentication" in text or "permissions violation" in text


async def open_bus(
    target: BusTarget,
    *,
    tries: int | None,
    on_event: Callable[[str], None],
    on_disconnected: Callable[[], None] | None = None,
    on_reconnected: Callable[[], None] | None = None,
    reconnect_wait: float = 1.0,
    connect_timeout: float = 2.0,
) -> Any:
    """A connected ``nats.NATS`` client for ``target``.

    Args:
        tries: failed first attempts allowed before ``ConnectionFailed`` (``None``: no limit).
        on_event: one line for the user (a failed attempt, a drop, a reconnect), never with secrets.

    Raises:
        BusAuthRejected: the server refused the credentials.
        ConnectionFailed: ``tries`` attempts failed.
        UsageError: nats-py is missing, or the credentials need the ``nkeys`` package.
    """
    nats = import_nats()
    if target.creds_file or target.nkey_file:
        import importlib

        try:
            importlib.import_module("nkeys")  # nats-py signs NKey challenges with it
        except ImportError:
            raise UsageError(
                f"NATS_CREDS and NATS_NKEY need the nkeys package of the [nats] extra: {EXTRA_HINT}"
            ) from None
    failures: list[BaseException] = []
    gave_up: list[bool] = []
    connected = asyncio.Event()
    task: asyncio.Task[Any] | None = None

    said: set[str] = set()  # what was reported since the last (re)connect: a retry loop says it once

    async def error_cb(exc: Exception) -> None:
        if connected.is_set():
            text = _describe(exc)
            if text not in said:
                said.add(text)
                on_event(f"NATS {target.display}: {text}; retrying")
            return
        failures.append(exc)
        if _is_auth_error(exc) or (tries is not None and len(failures) >= tries):
            if task is not None:
                gave_up.append(True)
                task.cancel()
        elif len(failures) == 1:
            on_event(f"NATS {target.display} is not reachable yet ({_describe(exc)}); retrying")

    async def disconnected_cb() -> None:
        if connected.is_set() and on_disconnected is not None:
            on_disconnected()

    async def reconnected_cb() -> None:
        said.clear()
        on_event(f"NATS {target.display}: reconnected")
        if on_reconnected is not None:
            on_reconnected()

    options = target.connect_options()
    task = asyncio.ensure_future(
        nats.connect(
            **options,
            error_cb=error_cb,
            disconnected_cb=disconnected_cb,
            reconnected_cb=reconnected_cb,
            max_reconnect_attempts=-1,
            reconnect_time_wait=reconnect_wait,
            connect_timeout=connect_timeout,
            name="kalshi-cli",
        )
    )
    try:
        nc = await task
    except (asyncio.CancelledError, Exception) as exc:
        if isinstance(exc, asyncio.CancelledError):
            if not gave_up:
                raise  # cancelled from outside (Ctrl-C)
        else:
            failures.append(exc)
        last = failures[-1]
        if _is_auth_error(last):
            raise BusAuthRejected(
                f"NATS {target.display} refused the credentials ({_describe(last)}): check the user and "
                "password, token, NATS_CREDS or NATS_NKEY"
            ) from None
        raise ConnectionFailed(
            f"cannot connect to NATS {target.display} after {len(failures)} attempt(s): {_describe(last)}"
        ) from None
    connected.set()
    return nc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.removeprefix("nats: ").strip("'")
