"""Signals that arrive while the command's modules import: noted, then acted on once they are loaded.

A signal that lands while modules are still importing must not raise there: a Python exception
raised inside an extension module's initialisation can crash the interpreter (orjson's does,
with a segfault), and otherwise it prints a traceback for a Ctrl-C. So until the command's
modules are loaded, a signal is only noted (``hold_signals``); ``startup_done`` (called by the
CLI once they are) then exits cleanly, 0 after SIGTERM and 130 after Ctrl-C, as nothing has
been written yet. Streaming commands install their own handlers later (``feeds.runner``).
"""

from __future__ import annotations

import signal
import sys

__all__ = ["hold_signals", "startup_done"]

_noted: list[int] = []


def _note(signum: int, frame: object) -> None:
    _noted.append(signum)


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(0)


def hold_signals() -> None:
    """Note SIGTERM and SIGINT instead of acting on them, until ``startup_done``."""
    if sys.platform == "win32":
        return
    signal.signal(signal.SIGTERM, _note)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if ignored (nohup, `&`)
        signal.signal(signal.SIGINT, _note)


def startup_done() -> None:
    """The command's modules are loaded: act on a signal noted meanwhile, then stop holding them."""
    if sys.platform == "win32":
        return
    if signal.getsignal(signal.SIGTERM) is _note:
        signal.signal(signal.SIGTERM, _terminate)
    if signal.getsignal(signal.SIGINT) is _note:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if _noted:
        raise SystemExit(130 if _noted[0] == signal.SIGINT else 0)
