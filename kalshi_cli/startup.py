"""SIGTERM and Ctrl-C never raise inside module code: they wait until it is done, then act.

An exception raised while a module's code runs can do worse than a traceback: inside an
extension module's initialisation it can crash the interpreter (orjson's segfaulted, and a
KeyboardInterrupt in the middle of its init killed the process without a word), and a
KeyboardInterrupt that leaves code run from a string (``eval``/``exec`` of source: typer
evaluates every annotation so, dataclasses and namedtuple build methods so) makes CPython end
a ``python -m`` run with SIGINT (-2) even after the CLI caught it and chose exit 130
(``_PyRuntime.signals.unhandled_keyboard_interrupt``, read by ``Py_RunMain``). Commands import
their heavy modules (feeds, orjson, websockets, cryptography, pyarrow) inside the command,
long after the app is loaded, so the hold cannot end when the app's modules are in.

So the console script installs one handler for both signals (``hold_signals``) that looks at
where the interpreter is. Outside module code it acts at once: Ctrl-C raises KeyboardInterrupt
(exit 130 through the CLI's boundary), SIGTERM raises SystemExit(0). Inside it (an importlib
frame, or a module-level frame other than the main script's: an import or a string's ``eval``) it
notes the signal and looks again every few milliseconds (SIGALRM), then raises the signal
again, for whichever handler is in place by then (a streaming command's own, which cancels
cleanly, see ``feeds.signals``; or this one). An interrupt Python could not raise (in a
weakref callback or ``__del__``: "Exception ignored") is taken back the same way instead of
being printed and lost. ``startup_done`` (called by the CLI once a command's module is loaded)
acts on a noted signal without waiting: exit 130 or 0, nothing written yet.

Before ``hold_signals`` runs, the interpreter's own handling applies (Ctrl-C kills it before
its handler is installed; KeyboardInterrupt in site's .pth processing or runpy). SIGINT is
held first, then SIGTERM, so a SIGTERM handler in place means both are held (the startup test
reads that from /proc).
"""

from __future__ import annotations

import signal
import sys

TYPE_CHECKING = False  # not typing's: importing typing here would widen the unheld window by ~3 ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType, TracebackType

__all__ = ["hold_signals", "in_module_code", "startup_done"]

_IMPORT_MACHINERY = frozenset({"importlib._bootstrap", "importlib._bootstrap_external"})
_RETRY_SECONDS = 0.005

_pending: list[int] = []  # signals noted while module code ran, first first
_previous_unraisable: list[Callable[[sys.UnraisableHookArgs], object]] = []  # the hook before hold_signals


def in_module_code(frame: FrameType | None) -> bool:
    """Whether ``frame`` or a caller of it is an import or module-level code other than the
    main script's (a module being imported, a string given to ``eval``/``exec``). The main
    script's frame is the one nothing called, or runpy did (``python -m``)."""
    while frame is not None:
        caller = frame.f_back
        if frame.f_globals.get("__name__") in _IMPORT_MACHINERY or (
            frame.f_code.co_name == "<module>" and caller is not None and caller.f_globals.get("__name__") != "runpy"
        ):
            return True
        frame = caller
    return False


def _act(signum: int) -> None:
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise SystemExit(0)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if in_module_code(frame):
        _note(signum)
    else:
        _act(signum)


def _note(signum: int) -> None:
    """Act on ``signum`` once module code is done (see the module docstring)."""
    _pending.append(signum)
    if signal.getsignal(signal.SIGALRM) is not _retry:  # not armed yet
        signal.signal(signal.SIGALRM, _retry)
        signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)


def _retry(signum: int, frame: FrameType | None) -> None:
    """SIGALRM while a signal waits: still in module code, look again later; else raise it again."""
    if _pending and in_module_code(frame):
        signal.setitimer(signal.ITIMER_REAL, _RETRY_SECONDS)
        return
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    if not _pending:  # startup_done acted on it first (this alarm was already on its way)
        return
    first = _pending[0]
    _pending.clear()
    signal.raise_signal(first)  # to the handler in place now: this one acts, a command's cancels


def _raised_here(tb: TracebackType | None) -> bool:
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is _act.__code__


def _unraisable(unraisable: sys.UnraisableHookArgs) -> None:
    """An interrupt of ours that Python could only print ("Exception ignored in ..."): note it."""
    exc = unraisable.exc_value
    if isinstance(exc, KeyboardInterrupt | SystemExit) and _raised_here(unraisable.exc_traceback):
        _note(signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM)
        return
    _previous_unraisable[0](unraisable)


def hold_signals() -> None:
    """Keep SIGTERM and Ctrl-C out of module code from here on (SIGINT first, see the module doc)."""
    if sys.platform == "win32":
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if ignored (nohup, `&`)
        signal.signal(signal.SIGINT, _on_signal)
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _on_signal)
    if not _previous_unraisable:
        _previous_unraisable.append(sys.unraisablehook)
        sys.unraisablehook = _unraisable


def startup_done() -> None:
    """The command's module is loaded: a signal that came while it imported ends the run now."""
    if not _pending:
        return
    first = _pending[0]
    _pending.clear()
    signal.setitimer(signal.ITIMER_REAL, 0)  # an alarm already on its way finds nothing to do
    raise SystemExit(130 if first == signal.SIGINT else 0)
