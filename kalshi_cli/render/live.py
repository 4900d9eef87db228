"""The live terminal view of ``kalshi book``: a display pulling from state 12 times a second.

Frames only mutate state; this view reads it on its own timer, so drawing costs the same at
10 or 50,000 frames a second (redraws are dropped, never frames). It uses the alternate
screen and cbreak mode, and restores the terminal on exit, Ctrl-C or ``q``. Keys: ``q``
quits, space or ``n`` shows the next page of markets, ``p`` the previous one. Without a
usable terminal (``TERM=dumb``, stdin closed) it still draws, plainly, and keys are off.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import Any

from rich.console import Console, RenderableType

from kalshi_cli.book import OrderBook
from kalshi_cli.render.book_view import ViewStats, book_screen
from kalshi_cli.render.looplive import LoopLive
from kalshi_cli.session import SessionState

__all__ = ["BookLiveView", "stdin_is_terminal"]

KEYS_HINT = "q quit"


def stdin_is_terminal() -> bool:
    """True only for an open stdin on a terminal (``<&-`` leaves ``sys.stdin`` None)."""
    stdin = sys.stdin
    try:
        return stdin is not None and stdin.isatty()
    except (ValueError, OSError):  # closed or detached
        return False


class BookLiveView(LoopLive):
    """``async with BookLiveView(handler, markets):`` draws until the block ends or ``q`` is hit.

    ``handler`` is the book feed's state: ``books`` (a BookSet), ``markets`` (ticker ->
    MarketStats), ``frames``, ``last_frame_at``, ``depth`` and optionally ``session``.
    """

    def __init__(
        self,
        handler: Any,
        markets: list[str],
        *,
        once: bool = False,
        fps: float = 12.0,
        console: Console | None = None,
        dollars: bool = False,
    ) -> None:
        super().__init__(fps=fps, console=console, screen=not once, final_only=once)
        self.handler = handler
        self.markets = markets
        self.once = once
        self.dollars = dollars
        self.stats = ViewStats()
        self.quit_requested = False
        self.page = 0
        self._rate_mark = (time.monotonic(), 0)
        self._restore: Any = None
        self._changed: dict[str, tuple[Any, float]] = {}  # ticker -> (book fingerprint, when it changed)
        self.quit_event = asyncio.Event()

    def _ages(self, books: list[OrderBook], now: float) -> dict[str, float]:
        """When each market's book last changed, as seen by the view (seq, clock or state moved)."""
        out = {}
        for book in books:
            mark = (book.seq, book.clock, book.state)
            seen = self._changed.get(book.market_ticker)
            if seen is None or seen[0] != mark:
                seen = self._changed[book.market_ticker] = (mark, now)
            if book.seq is not None or book.clock is not None:
                out[book.market_ticker] = seen[1]
        return out

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
        shown = [b if b is not None else OrderBook(t) for b, t in zip(books, self.markets, strict=True)]
        width = self.console.size.width
        keys = KEYS_HINT if self._restore is not None else ""
        return book_screen(
            shown,
            handler.markets,
            self.stats,
            handler.depth,
            width,
            self.height,
            now,
            dollars=self.dollars,
            ages=self._ages(shown, now),
            page=self.page,
            keys=keys,
        )

    async def __aenter__(self) -> BookLiveView:
        await super().__aenter__()
        self._watch_keys()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await super().__aexit__(*exc)
        self._unwatch_keys()

    def _watch_keys(self) -> None:
        """Read single keys without echo; restored in ``_unwatch_keys``."""
        if self.once or self.plain or not stdin_is_terminal():
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

    def on_key(self, key: bytes) -> None:
        """What a key does: ``q`` quits, space/``n`` and ``p`` page through the markets."""
        if key in (b"q", b"Q"):
            self.quit_requested = True
            self.quit_event.set()
        elif key in (b" ", b"n"):
            self.page += 1
        elif key == b"p":
            self.page -= 1

    def _on_key(self, fd: int) -> None:
        with contextlib.suppress(OSError):
            self.on_key(os.read(fd, 1))

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
