"""The process a command runs in: its output streams, whether they are terminals, its clock.

Passed in rather than read from ``sys`` where it is used, so the output seam (``sinks``) is
chosen from one place and a test can run a command in-process with its own streams.
``current()`` is the real process unless a caller (a test) set another with ``using()``.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

__all__ = ["Environment", "current", "using"]


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):
        return False


def _binary_stdout() -> IO[bytes]:
    """fd 1, unbuffered; where stdout is not a file descriptor (embedded, captured), its buffer."""
    try:
        return open(sys.stdout.fileno(), "wb", buffering=0, closefd=False)  # noqa: SIM115 (lives as long as the run)
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        buffer = getattr(sys.stdout, "buffer", None)
        return buffer if buffer is not None else io.BytesIO()


@dataclass(frozen=True)
class Environment:
    """Where data goes (``stdout``, bytes), where people read (``stderr``), and the clock.

    ``stdout_text`` is the same destination for text writers (rich); ``stdout`` is written
    in big binary chunks by ``output.LineWriter``.
    """

    stdout: IO[bytes]
    stdout_text: IO[str]
    stderr: IO[str]
    stdout_isatty: bool = False
    stderr_isatty: bool = False
    stdin_isatty: bool = False
    clock: Callable[[], float] = field(default=time.time)

    @classmethod
    def real(cls) -> Environment:
        """The running process: fd 1 unbuffered (immune to ``PYTHONUNBUFFERED``), sys.stderr."""
        return cls(
            stdout=_binary_stdout(),
            stdout_text=sys.stdout,
            stderr=sys.stderr,
            stdout_isatty=_isatty(sys.stdout),
            stderr_isatty=_isatty(sys.stderr),
            stdin_isatty=_isatty(sys.stdin),
        )

    @classmethod
    def captured(cls, *, stdout_isatty: bool = False, clock: Callable[[], float] = time.time) -> Environment:
        """In-memory streams (``stdout`` a ``BytesIO``, ``stderr`` a ``StringIO``), for tests."""
        out = io.BytesIO()
        text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
        return cls(out, text, io.StringIO(), stdout_isatty=stdout_isatty, clock=clock)


_CURRENT: contextvars.ContextVar[Environment | None] = contextvars.ContextVar("kalshi_environment", default=None)


def current() -> Environment:
    """The environment set by ``using``, else the real process."""
    env = _CURRENT.get()
    return env if env is not None else Environment.real()


@contextlib.contextmanager
def using(env: Environment) -> Iterator[Environment]:
    """Run commands inside the block in ``env`` instead of the real process."""
    token = _CURRENT.set(env)
    try:
        yield env
    finally:
        _CURRENT.reset(token)
