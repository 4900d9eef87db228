"""Letting go of a pipe: a server that prints its URL must not hold up ``$(kalshi sim | head -1)``.

A shell waits for every process of a pipeline, so closing stdout is not enough: the process
that was started must end. When stdout is a pipe (or a socket), the server therefore runs
in a child process from the start, and the process the shell started only relays: it
prints the URL the child sends it, forwards SIGINT/SIGTERM/SIGHUP, and ends with the
child's status. When nobody reads its stdout any more (``head -1`` has its line), it tells
the child to carry on alone, says so on stderr with the pid to stop it with, and exits 0;
the pipeline returns and the server keeps serving, writing nothing more (its stdin, stdout
and stderr then point at /dev/null, so no reader waits on them). Should the relay die without a word
(SIGKILL), the child notices the control pipe closing and stops too, so no server is left
behind by accident. On a terminal or a file nothing forks: the URL is printed and fd 1 is
pointed at /dev/null, the server's stdout carries nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import stat
import sys
import threading
from collections.abc import Callable

__all__ = ["Announce", "serve_detachable"]

#: Called by the server once it listens, with its URL (from inside its event loop).
Announce = Callable[[str], None]
_DETACH = b"d"
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def serve_detachable(serve: Callable[[Announce], None], *, name: str = "kalshi") -> int | None:
    """Run ``serve(announce)`` so that a pipe on stdout is released once its reader has the URL.

    Returns the status the calling process should exit with when it only relayed for a
    child (the child ran ``serve``), or None when ``serve`` ran in this process (also in the
    child: it then carries on as a server would, and exits as it does).
    """
    if not _stdout_is_a_pipe() or threading.active_count() > 1 or not hasattr(os, "fork"):
        serve(_print_and_release)
        return None
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    ready_r, ready_w = os.pipe()
    control_r, control_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the server
        os.close(ready_r)
        os.close(control_w)
        os.setsid()  # signals from the terminal reach the relay, which forwards them
        _release_stdout()
        serve(_child_announce(ready_w, control_r))
        return None
    os.close(ready_w)
    os.close(control_r)
    return _relay(pid, ready_r, control_w, name)


def _stdout_is_a_pipe() -> bool:
    try:
        mode = os.fstat(sys.stdout.fileno()).st_mode
    except (AttributeError, OSError, ValueError):  # replaced by a test runner, or closed
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _release_stdout() -> None:
    """Point fd 1 at /dev/null: whoever reads our stdout sees its end, nothing else is written there."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    _to_devnull(fd)


def _to_devnull(*fds: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in fds:
            os.dup2(null, fd)
    finally:
        os.close(null)


def _print_and_release(url: str) -> None:
    print(url, flush=True)
    _release_stdout()


def _child_announce(ready_w: int, control_r: int) -> Announce:
    """The child's announce: hand the URL to the relay, then watch the control pipe."""

    def announce(url: str) -> None:
        os.write(ready_w, url.encode() + b"\n")
        os.close(ready_w)
        loop = asyncio.get_running_loop()

        def on_control() -> None:
            data = b""
            with contextlib.suppress(OSError):
                data = os.read(control_r, 16)
            loop.remove_reader(control_r)
            os.close(control_r)
            if _DETACH in data:  # alone now: hold none of the relay's pipes (a reader would wait for their end)
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
                _to_devnull(0, 2)
            else:  # the relay died without a word: stop as if told to
                os.kill(os.getpid(), signal.SIGTERM)

        loop.add_reader(control_r, on_control)

    return announce


def _relay(pid: int, ready_r: int, control_w: int, name: str) -> int:
    """Print the child's URL, forward signals, and end with it, or leave it serving once unread."""
    previous = {sig: signal.getsignal(sig) for sig in _FORWARDED}
    forwarded: list[int] = []

    def forward(signum: int, frame: object) -> None:
        forwarded.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in _FORWARDED:
        signal.signal(sig, forward)
    try:
        url = _read_line(ready_r)
        if not url:  # the child failed before it listened; it said why on stderr
            return _wait(pid)
        try:
            os.write(sys.stdout.fileno(), url)
        except BrokenPipeError:
            return _detach(pid, control_w, name)
        watch = select.poll()
        watch.register(sys.stdout.fileno(), 0)  # POLLERR/POLLHUP only: the reader has gone
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return _exit_status(status)
            gone = watch.poll(200)
            if forwarded:  # told to stop (Ctrl-C also ends the pipe's reader): wait, never detach
                return _wait(pid)
            if gone:
                return _detach(pid, control_w, name)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _read_line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            return b""
        data += chunk
    os.close(fd)
    return data


def _detach(pid: int, control_w: int, name: str) -> int:
    os.write(control_w, _DETACH)
    os.close(control_w)
    sys.stderr.write(f"{name}: serving in the background (pid {pid}); stop it with: kill {pid}\n")
    sys.stderr.flush()
    return 0


def _wait(pid: int) -> int:
    return _exit_status(os.waitpid(pid, 0)[1])


def _exit_status(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
