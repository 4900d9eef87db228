"""The live board of ``kalshi book EVENT``: the board, and any one market's ladder on a key.

A ``BookLiveView`` (same state, same 12-a-second redraw, same terminal handling) that draws
``render.board`` until a market is opened: Enter on the highlighted row (↑/↓ or k/j move it;
PgUp/PgDn, space a screen), or its number (digits then Enter; a number no longer row could
start opens at once). The opened market gets the full ladder view; ``b``, Esc or Backspace go
back to the board, with the same row highlighted. ``q`` quits from both.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from kalshi_cli.book import OrderBook
from kalshi_cli.render import style
from kalshi_cli.render.board import BOARD_KEYS, board_order, board_screen, visible_rows
from kalshi_cli.render.live import BookLiveView

__all__ = ["BACK_KEYS", "BOARD_ABOVE", "BoardLiveView", "pick_view"]

#: keys that leave a market's ladder for the board
BACK_KEYS = frozenset({b"b", b"B", b"\x1b", b"\x7f", b"\x08", b"\x1b[D"})
_UP = frozenset({b"\x1b[A", b"\x1bOA", b"k"})
_DOWN = frozenset({b"\x1b[B", b"\x1bOB", b"j"})
_PAGE_UP = frozenset({b"\x1b[5~", b"p"})
_PAGE_DOWN = frozenset({b"\x1b[6~", b" ", b"n"})
_ENTER = frozenset({b"\r", b"\n", b"\x1b[C", b"o"})
_LADDER_HINT = " b: back to the board   q: quit"


class BoardLiveView(BookLiveView):
    """``async with BoardLiveView(handler, markets, info=...)``: the board until a market is opened.

    ``markets`` in board order; ``info`` what REST said of each (labels, last, volume);
    ``title`` names the event(s).
    """

    def __init__(
        self,
        handler: Any,
        markets: list[str],
        *,
        info: Mapping[str, Mapping[str, Any]] | None = None,
        title: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, list(markets), **kwargs)
        self.board = list(markets)
        self.info = info or {}
        self.title = title
        self.selected = 0
        self.opened: str | None = None
        self.typed = ""

    @property
    def height(self) -> int:
        """The ladder gives up a line to the way back."""
        return super().height - (1 if self.opened is not None else 0)

    def render(self) -> RenderableType:
        if self.opened is not None:
            self.markets = [self.opened]
            return Group(Text(_LADDER_HINT, style=style.DIM, no_wrap=True, overflow="crop"), super().render())
        now = time.monotonic()
        self.refresh_stats(now)
        handler = self.handler
        books = [handler.books.book(t) or OrderBook(t) for t in self.board]
        return board_screen(
            books,
            handler.markets,
            self.info,
            self.stats,
            self.console.size.width,
            self.height,
            now,
            title=self.title,
            selected=self.selected,
            ages=self._ages(books, now),
            dollars=self.dollars,
            keys=BOARD_KEYS if self.reads_keys else "",
            typed=self.typed,
        )

    # --- keys ------------------------------------------------------------------------------------

    def open(self, row: int) -> None:
        """Show row ``row``'s (0-based) ladder."""
        if 0 <= row < len(self.board):
            self.selected = row
            self.opened = self.board[row]
            self.page = 0

    def back(self) -> None:
        self.opened = None
        self.markets = list(self.board)

    def on_key(self, key: bytes) -> None:
        if self.opened is not None:
            if key in BACK_KEYS:
                self.back()
            elif key in (b"q", b"Q"):
                super().on_key(key)
            return
        if key.isdigit() and len(key) == 1:
            self._digit(key.decode())
        elif key in _ENTER:
            row = int(self.typed) - 1 if self.typed else self.selected
            self.typed = ""
            self.open(row)
        elif key in _UP or key in _DOWN:
            self.typed = ""
            step = -1 if key in _UP else 1
            self.selected = max(0, min(len(self.board) - 1, self.selected + step))
        elif key in _PAGE_UP or key in _PAGE_DOWN:
            room = len(visible_rows(len(self.board), self.selected, self.height - 3))
            step = -room if key in _PAGE_UP else room
            self.selected = max(0, min(len(self.board) - 1, self.selected + step))
        elif key in BACK_KEYS:
            self.typed = ""
        else:
            super().on_key(key)

    def _digit(self, digit: str) -> None:
        """Digits build a row number; it opens as soon as no longer number could be a row."""
        typed = (self.typed + digit).lstrip("0")
        if not typed or int(typed) > len(self.board):
            self.typed = ""
            return
        if int(typed) * 10 > len(self.board):
            self.typed = ""
            self.open(int(typed) - 1)
        else:
            self.typed = typed


#: more markets than this named one by one get the board too (three ladders fill 80x24)
BOARD_ABOVE = 6


def pick_view(
    handler: Any,
    markets: list[str],
    *,
    info: Mapping[str, Mapping[str, Any]],
    events: list[str],
    **kwargs: Any,
) -> BookLiveView:
    """The board when an event or series was named, or more than ``BOARD_ABOVE`` markets; else ladders."""
    if not events and len(markets) <= BOARD_ABOVE:
        return BookLiveView(handler, markets, **kwargs)
    title = events[0] if len(events) == 1 else f"{events[0]} +{len(events) - 1} events" if events else ""
    return BoardLiveView(handler, board_order(markets, info), info=info, title=title, **kwargs)
