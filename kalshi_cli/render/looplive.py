"""A display redrawn from the event loop on a fixed beat: live on a terminal, plain elsewhere.

Views read state that the stream mutates on the event loop; drawing there too (instead of in
rich's refresh thread) means a draw never sees a dict change size mid-iteration. Draws end on
a fixed beat, so the screen is never more than one period behind the stream; a draw that
overruns delays the next, so redraws are dropped, never frames.

Where a live redraw cannot work (``TERM=dumb``, not a terminal) the view is printed plainly,
whole, every ``plain_every`` seconds when it changed, and once more at the end, so such a
terminal still shows the state. ``final_only`` prints just that last one (``--once``): no
half-loaded frame is drawn, so none can be left over above the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import IO, Any

from rich.console import Console, RenderableType
from rich.live import Live

__all__ = ["LoopLive"]


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
        return self

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


def _is_terminal(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False
