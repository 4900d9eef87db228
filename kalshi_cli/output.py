"""stdout for data, stderr for people.

``LineWriter`` owns a 64 KiB buffer on a binary stream (the run's stdout: fd 1 unbuffered,
see ``environment``, so immune to ``PYTHONUNBUFFERED``) and flushes when the event loop goes
idle, so a pipe gets big writes under load and every line promptly when the feed is slow. A closed pipe (``| head``)
becomes ``OutputClosed``, which the CLI turns into a quiet exit. ``Reporter`` writes status
and warnings to stderr, one line each.
"""

from __future__ import annotations

import io
import os
import sys
from typing import IO

__all__ = ["LineWriter", "OutputClosed", "Reporter"]


class OutputClosed(Exception):
    """stdout's reader went away (EPIPE)."""


class LineWriter:
    """Buffered byte lines to a file descriptor, flushed when the loop is idle.

    Lines collect in a ``bytearray`` (appending costs less than ``BufferedWriter.write``, which
    takes a lock per call) and go out in writes of at least 64 KiB under load.
    """

    LIMIT = 65536

    def __init__(self, stream: IO[bytes], *, flush_each: bool = False) -> None:
        self._out = stream
        self._buf = bytearray()
        self._flush_each = flush_each
        self._flush_at = 1 if flush_each else self.LIMIT  # buffered bytes that make a write: one check a line
        self._flush_pending = False
        self._closed = False
        self.lines = 0

    def write_line(self, data: bytes) -> None:
        """Write one line (``data`` must not end with a newline)."""
        if self._closed:
            raise OutputClosed
        buf = self._buf
        buf += data
        buf += b"\n"
        self.lines += 1
        if len(buf) >= self._flush_at:
            self.flush()
        elif not self._flush_pending:
            self._flush_pending = True
            import asyncio  # here, not at the top: `kalshi sign` writes lines and needs no event loop

            try:
                asyncio.get_running_loop().call_soon(self._idle_flush)
            except RuntimeError:  # no loop: flush now
                self.flush()

    def write_lines(self, lines: list[bytes]) -> None:
        """Write several lines (none may hold a newline) in one append: a batch of frames."""
        if lines:
            self.lines += len(lines) - 1
            self.write_line(b"\n".join(lines))

    def _idle_flush(self) -> None:
        self._flush_pending = False
        try:
            self.flush()
        except OutputClosed:
            # Raised again at the next write; here there is nobody to catch it.
            self._closed = True

    def flush(self) -> None:
        """Write out everything buffered (whole lines only), then flush the stream."""
        buf = self._buf
        try:
            if buf:
                view = memoryview(buf)
                try:
                    while view:
                        written = self._out.write(view)
                        view = view[written if written is not None else len(view) :]
                finally:
                    view.release()
                buf.clear()
            self._out.flush()
        except BrokenPipeError:
            self._closed = True
            buf.clear()
            raise OutputClosed from None
        except ValueError:  # already closed
            pass

    @property
    def closed(self) -> bool:
        return self._closed


def silence_stdout() -> None:
    """After EPIPE: point fd 1 at /dev/null so interpreter shutdown does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


class Reporter:
    """One-line status, warnings and errors on stderr (never stdout)."""

    def __init__(self, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.quiet = quiet
        self._stream = stream
        self._once: set[str] = set()

    @property
    def stream(self) -> IO[str]:
        return self._stream or sys.stderr

    def _emit(self, text: str) -> None:
        try:
            self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def info(self, text: str) -> None:
        if not self.quiet:
            self._emit(f"kalshi: {text}")

    def warn(self, text: str) -> None:
        self._emit(f"kalshi: warning: {text}")

    def warn_once(self, key: str, text: str) -> None:
        if key not in self._once:
            self._once.add(key)
            self.warn(text)

    def error(self, text: str) -> None:
        self._emit(f"kalshi: error: {text}")
