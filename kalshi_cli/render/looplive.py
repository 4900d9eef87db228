"""A rich ``Live`` display redrawn from the event loop on a fixed beat.

Views read state that the stream mutates on the event loop; drawing there too (instead of in
rich's refresh thread) means a draw never sees a dict change size mid-iteration. Draws end on
a fixed beat, so the screen is never more than one period behind the stream; a draw that
overruns delays the next, so redraws are dropped, never frames.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from rich.console import Console, RenderableType
from rich.live import Live

__all__ = ["LoopLive"]


class LoopLive:
    """``async with view:`` shows ``view.render()`` and redraws it ``fps`` times a second."""

    def __init__(
        self, *, fps: float, console: Console | None = None, screen: bool = False, vertical_overflow: Any = "ellipsis"
    ) -> None:
        self.fps = fps
        self.console = console or Console()
        self._screen = screen
        self._overflow = vertical_overflow
        self._live: Live | None = None
        self._beat: asyncio.Task[None] | None = None

    def render(self) -> RenderableType:
        """The whole display, built from current state."""
        raise NotImplementedError

    def draw(self) -> None:
        """Build the display and put it on the terminal."""
        assert self._live is not None
        self._live.update(self.render(), refresh=True)

    async def __aenter__(self) -> LoopLive:
        self._live = Live(
            self.render(),
            console=self.console,
            auto_refresh=False,
            screen=self._screen,
            redirect_stderr=False,
            transient=False,
            vertical_overflow=self._overflow,
        )
        self._live.start(refresh=True)
        self._beat = asyncio.create_task(self._refresh_loop())
        return self

    async def _refresh_loop(self) -> None:
        """Redraw so that draws *end* one period apart: what changed just after a redraw is on
        screen one period later, however long a draw takes. A draw that takes more than half a
        period leaves the stream at least half a period before the next (redraws are dropped)."""
        loop = asyncio.get_running_loop()
        period = 1.0 / self.fps
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
