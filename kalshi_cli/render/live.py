"""The live terminal view of ``kalshi book``: a display pulling from state 12 times a second.

Frames only mutate state; this view reads it on its own timer, so drawing costs the same at
10 or 50,000 frames a second (redraws are dropped, never frames). It uses the alternate
screen and cbreak mode, and restores the terminal on exit, Ctrl-C or ``q``. Keys: ``q``
quits, space or ``n`` shows the next page of markets, ``p`` the previous one. Without a
usable terminal (``TERM=dumb``, stdin closed) it still draws, plainly, and keys are off.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, RenderableType

from kalshi_cli.book import OrderBook
from kalshi_cli.render.book_view import ViewStats, book_screen
from kalshi_cli.render.looplive import LoopLive, stdin_is_terminal
from kalshi_cli.session import SessionState

__all__ = ["BookLiveView", "stdin_is_terminal"]

KEYS_HINT = "q quit"


class BookLiveView(LoopLive):
    """``async with BookLiveView(handler, markets):`` draws until the block ends or ``q`` is hit.

    ``handler`` is the book feed's state: ``books`` (a BookSet), ``markets`` (ticker ->
    MarketStats), ``frames``, ``last_frame_at``, ``depth`` and optionally ``session`` and
    ``own_orders`` (ticker -> YES prices of the user's resting bids and asks, to mark them).
    ``layout`` is ``grid`` (side by side as the width allows) or ``stack``.
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
        layout: str = "grid",
    ) -> None:
        super().__init__(fps=fps, console=console, screen=not once, final_only=once)
        self.handler = handler
        self.markets = markets
        self.once = once
        self.dollars = dollars
        self.layout = layout
        self.stats = ViewStats()
        self.page = 0
        self._rate_mark = (time.monotonic(), 0)
        self._changed: dict[str, tuple[Any, float]] = {}  # ticker -> (book fingerprint, when it changed)

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

    def refresh_stats(self, now: float) -> None:
        """The footer's figures from the handler at ``now`` (monotonic): message rate (per second,
        over >= 1 s), connection state, last update, book states."""
        handler = self.handler
        mark_time, mark_frames = self._rate_mark
        if now - mark_time >= 1.0:
            self.stats.msg_rate = (handler.frames - mark_frames) / (now - mark_time)
            self._rate_mark = (now, handler.frames)
        session = getattr(handler, "session", None)
        self.stats.connection = session.state if session is not None else SessionState.CONNECTING
        self.stats.last_update = handler.last_frame_at
        self.stats.count_books(handler.books)

    def render(self) -> RenderableType:
        """Build the whole screen from current state."""
        now = time.monotonic()
        self.refresh_stats(now)
        handler = self.handler
        books = [handler.books.book(t) for t in self.markets]
        shown = [b if b is not None else OrderBook(t) for b, t in zip(books, self.markets, strict=True)]
        width = self.console.size.width
        keys = KEYS_HINT if self.reads_keys else ""
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
            own=getattr(handler, "own_orders", None),
            layout=self.layout,
        )

    def on_key(self, key: bytes) -> None:
        """Space or ``n``: the next page of markets; ``p``: the previous one; ``q`` quits."""
        if key in (b" ", b"n"):
            self.page += 1
        elif key == b"p":
            self.page -= 1
        else:
            super().on_key(key)
