"""A display redrawn from the event loop on a fixed beat: live on a terminal, plain elsewhere.

Views read state that the stream mutates on the event loop; drawing there too (instead of in
rich's refresh thread) means a draw never sees a dict change size mid-iteration. Draws end on
a fixed beat, so the screen is never more than one period behind the stream; a draw that
overruns delays the next, so redraws are dropped, never frames.

Where a live redraw cannot work (``TERM=dumb``, not a terminal) the view is printed plainly,
whole, every ``plain_every`` seconds when it changed, and once more at the end, so such a
terminal still shows the state. ``final_only`` prints just that last one (``--once``): no
half-loaded frame is drawn, so none can be left over above the result.

One key map for every live view: ``q`` quits (``quit_event`` is set; the feed waits on it),
and a view adds its own keys in ``on_key``. Keys are read in cbreak mode from an open stdin on
a terminal only, and the terminal is restored on exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from typing import IO, Any

from rich.console import Console, RenderableType
from rich.live import Live

__all__ = ["LoopLive", "split_keys", "stdin_is_terminal"]


def stdin_is_terminal() -> bool:
    """True only for an open stdin on a terminal (``<&-`` leaves ``sys.stdin`` None)."""
    return _is_terminal(sys.stdin)


class LoopLive:
    """``async with view:`` shows ``view.render()`` and redraws it ``fps`` times a second."""

    def __init__(
        self,
        *,
        fps: float,
        console: Console | None = None,
        screen: bool = False,
        vertical_overflow: Any = "ellipsis",
        final_only: bool = False,
        plain_every: float = 2.0,
        print_final: bool = False,
    ) -> None:
        self.fps = fps
        self.console = console or Console()
        self.plain = final_only or not self.console.is_terminal or self.console.is_dumb_terminal
        self._screen = screen and not self.plain
        self._overflow = vertical_overflow
        self._final_only = final_only
        self._print_final = print_final
        self._plain_every = plain_every
        self._last_plain = ""
        self._live: Live | None = None
        self._beat: asyncio.Task[None] | None = None
        self.quit_requested = False
        self.quit_event = asyncio.Event()
        self._restore: Any = None  # (fd, saved termios, loop) while keys are read

    @property
    def height(self) -> int:
        """Lines a draw may take: all of them on the alternate screen, one less inline (a draw
        as tall as the terminal would scroll it, and the next redraw would leave a line behind)."""
        height = self.console.size.height
        return height if self._screen or self.plain else max(1, height - 1)

    def render(self) -> RenderableType:
        """The whole display, built from current state."""
        raise NotImplementedError

    def draw(self) -> None:
        """Build the display and put it on the terminal."""
        if self._live is not None:
            self._live.update(self.render(), refresh=True)
        elif not self._final_only:
            self._print_plain()

    def _print_plain(self, force: bool = False) -> None:
        with self.console.capture() as capture:
            self.console.print(self.render())
        text = capture.get()
        if force or text != self._last_plain:
            self._last_plain = text
            with contextlib.suppress(OSError, ValueError):
                self.console.file.write(text + "\n")
                self.console.file.flush()

    async def __aenter__(self) -> LoopLive:
        if not self.plain:
            self._live = Live(
                self.render(),
                console=self.console,
                auto_refresh=False,
                screen=self._screen,
                # stderr on the same terminal: its lines go above the display (a line written
                # under it would throw the redraw off by one and leave a stale line behind)
                redirect_stderr=_is_terminal(sys.stderr),
                transient=False,
                vertical_overflow=self._overflow,
            )
            self._live.start(refresh=True)
        period = 1.0 / self.fps if self._live is not None else self._plain_every
        if not self._final_only:
            self._beat = asyncio.create_task(self._refresh_loop(period))
            self._watch_keys()
        return self

    @property
    def reads_keys(self) -> bool:
        return self._restore is not None

    def on_key(self, key: bytes) -> None:
        """What a key does; ``q`` quits. Views add theirs and call this for the rest."""
        if key in (b"q", b"Q"):
            self.quit_requested = True
            self.quit_event.set()

    def _watch_keys(self) -> None:
        """Read single keys without echo; restored in ``_unwatch_keys``."""
        if self.plain or not stdin_is_terminal():
            return
        try:
            import termios
            import tty

            fd = sys.stdin.fileno()
            saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
            loop = asyncio.get_running_loop()
            loop.add_reader(fd, self._read_key, fd)
            self._restore = (fd, saved, loop)
        except (ImportError, OSError, NotImplementedError, ValueError):
            self._restore = None

    def _read_key(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            for key in split_keys(os.read(fd, 64)):
                self.on_key(key)

    def _unwatch_keys(self) -> None:
        if self._restore is None:
            return
        import termios

        fd, saved, loop = self._restore
        with contextlib.suppress(Exception):
            loop.remove_reader(fd)
        with contextlib.suppress(Exception):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        self._restore = None

    async def _refresh_loop(self, period: float) -> None:
        """Redraw so that draws *end* one period apart: what changed just after a redraw is on
        screen one period later, however long a draw takes. A draw that takes more than half a
        period leaves the stream at least half a period before the next (redraws are dropped)."""
        loop = asyncio.get_running_loop()
        last_end = loop.time()
        cost = 0.0
        while True:
            due = last_end + max(period - cost, period / 2)
            await asyncio.sleep(max(0.0, due - loop.time()))
            start = loop.time()
            self.draw()
            last_end = loop.time()
            cost = last_end - start

    async def __aexit__(self, *exc: object) -> None:
        self._unwatch_keys()
        if self._beat is not None:
            self._beat.cancel()
        if self._live is not None:
            with contextlib.suppress(Exception):
                self.draw()
            self._live.stop()
            if self._print_final:  # the alternate screen is gone: leave the last view on the terminal
                with contextlib.suppress(Exception):
                    self.console.print(self.render())
        else:
            with contextlib.suppress(Exception):
                self._print_plain(force=self._final_only)


#: one key in a read: an escape sequence (an arrow key, PgDn), a lone Esc, or any other byte
_KEY = re.compile(rb"\x1b\[[0-9;]*[~A-Za-z]|\x1bO[A-Za-z]|.", re.S)


def split_keys(data: bytes) -> list[bytes]:
    """The keys of one read, in order: an arrow key's ``ESC [ A`` is one key, not three."""
    return _KEY.findall(data)


def _is_terminal(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False
