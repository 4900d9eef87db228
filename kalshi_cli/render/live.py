"""The live terminal view of ``kalshi book``: a rich ``Live`` pulling from state 12 times a second.

Frames only mutate state; this view reads it on its own timer, so drawing costs the same at
10 or 50,000 frames a second (redraws are dropped, never frames). It uses the alternate
screen and cbreak mode, and restores the terminal on exit, Ctrl-C or ``q``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import Any

from rich.console import Console, RenderableType

from kalshi_cli.render.book_view import ViewStats, book_screen
from kalshi_cli.render.looplive import LoopLive
from kalshi_cli.session import SessionState

__all__ = ["BookLiveView"]


class BookLiveView(LoopLive):
    """``async with BookLiveView(handler, markets):`` draws until the block ends or ``q`` is hit."""

    def __init__(
        self, handler: Any, markets: list[str], *, once: bool = False, fps: float = 12.0, console: Console | None = None
    ) -> None:
        super().__init__(fps=fps, console=console, screen=not once)
        self.handler = handler
        self.markets = markets
        self.once = once
        self.stats = ViewStats()
        self.quit_requested = False
        self._rate_mark = (time.monotonic(), 0)
        self._restore: Any = None
        self.quit_event = asyncio.Event()

    def render(self) -> RenderableType:
        """Build the whole screen from current state."""
        handler = self.handler
        now = time.monotonic()
        mark_time, mark_frames = self._rate_mark
        if now - mark_time >= 1.0:
            self.stats.msg_rate = (handler.frames - mark_frames) / (now - mark_time)
            self._rate_mark = (now, handler.frames)
        session = getattr(handler, "session", None)
        self.stats.connection = session.state if session is not None else SessionState.CONNECTING
        self.stats.last_update = handler.last_frame_at
        self.stats.count_books(handler.books)
        books = [handler.books.book(t) for t in self.markets]
        from kalshi_cli.book import OrderBook

        shown = [b if b is not None else OrderBook(t) for b, t in zip(books, self.markets, strict=True)]
        size = self.console.size
        return book_screen(shown, handler.markets, self.stats, handler.depth or 10, size.width, size.height, now)

    async def __aenter__(self) -> BookLiveView:
        await super().__aenter__()
        self._watch_keys()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await super().__aexit__(*exc)
        self._unwatch_keys()

    def _watch_keys(self) -> None:
        """Read single keys (q quits) without echo; restored in ``_unwatch_keys``."""
        if self.once or not sys.stdin.isatty():
            return
        try:
            import termios
            import tty

            fd = sys.stdin.fileno()
            saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
            loop = asyncio.get_running_loop()
            loop.add_reader(fd, self._on_key, fd)
            self._restore = (fd, saved, loop)
        except (ImportError, OSError, NotImplementedError, ValueError):
            self._restore = None

    def _on_key(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            if os.read(fd, 1) in (b"q", b"Q"):
                self.quit_requested = True
                self.quit_event.set()

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
