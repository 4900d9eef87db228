"""Terminal views of order books: rich renderables built from state, never from frames.

The stream updates ``OrderBook``/``MarketStats``/``ViewStats`` as frames arrive; these
functions only read that state, so a ``rich.live.Live(get_renderable=...)`` refresh (~12/s)
costs the same whatever the message rate. A STALE or AWAITING book is drawn dimmed under a
loud title so it can never pass for the current market. The screen is laid out for the
terminal it is drawn on: as many markets side by side as fit, as many levels as the height
allows, and a page line for the markets that still do not fit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from kalshi_cli.book import BookState, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.market_stats import MarketStats
from kalshi_cli.render import style
from kalshi_cli.render.fit import Field, fit_fields, shorten_middle
from kalshi_cli.render.ladder import LADDER_EXTRA_LINES, age_text, ladder_lines, plain_size
from kalshi_cli.session import SessionState

__all__ = [
    "MIN_PANEL_WIDTH",
    "PANEL_OVERHEAD",
    "ViewStats",
    "age_text",
    "book_panel",
    "book_screen",
    "footer",
    "panel_lines",
]


# --- state the caller keeps -------------------------------------------------------------------


@dataclass(slots=True)
class ViewStats:
    """Connection-level facts for the footer; the caller fills them (see ``count_books``)."""

    connection: SessionState = SessionState.CONNECTING
    msg_rate: float = 0.0
    #: ``time.monotonic()`` of the last frame received, None before the first.
    last_update: float | None = None
    books_live: int = 0
    books_stale: int = 0
    books_awaiting: int = 0
    resync_count: int = 0

    def count_books(self, books: BookSet) -> None:
        counts = books.counts()
        self.books_live = counts[BookState.LIVE]
        self.books_stale = counts[BookState.STALE]
        self.books_awaiting = counts[BookState.AWAITING_SNAPSHOT]
        self.resync_count = books.resync_count


# --- one book ---------------------------------------------------------------------------------

#: lines a panel takes besides its 2*depth ladder rows: two borders and the ladder's own extras.
PANEL_OVERHEAD = LADDER_EXTRA_LINES + 2
#: the narrowest panel: borders, padding, a cents price and a size of six digits.
MIN_PANEL_WIDTH = 20
_STATE_LABEL = {
    BookState.LIVE: ("LIVE", style.LIVE, "blue"),
    BookState.STALE: ("STALE", style.STALE, "red"),
    BookState.AWAITING_SNAPSHOT: ("AWAITING", style.AWAITING, "yellow"),
}


def _title(book: OrderBook, width: int) -> Text:
    """The ticker, shortened from the middle to fit (the state is on the bottom border)."""
    _, label_style, _ = _STATE_LABEL[book.state]
    return Text(shorten_middle(book.market_ticker, width), style="bold" if book.is_live else label_style, end="")


def panel_lines(
    book: OrderBook,
    *,
    depth: int = 10,
    market: MarketStats | None = None,
    width: int | None = None,
    dollars: bool = False,
    age: float | None = None,
    now_ms: int | None = None,
    fixed_depth: bool = False,
    own: tuple[Collection[int], Collection[int]] | None = None,
) -> list[Text]:
    """The price ladder of one market in a titled box ``width`` wide, as lines.

    ``depth`` levels a side at most (exactly, padded, with ``fixed_depth``, so panels side by
    side line up); ``age`` is the seconds since this market's book last changed; ``own`` the
    YES prices of the user's resting (bids, asks), marked on their levels.
    """
    width = width or 48
    if not fixed_depth:
        depth = max(1, min(depth, max(len(book.yes), len(book.no))))
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    inner = width - 4  # borders and padding
    label, label_style, border = _STATE_LABEL[book.state]
    lines = ladder_lines(book, depth, inner, market=market, dollars=dollars, now_ms=now_ms, own=own)
    totals = [Field(label, label_style)]
    if age is not None:  # how long since this market's book changed
        totals.append(Field(age_text(age), style.DIM, 1, sep=" "))
    if market is not None and market.volume is not None:
        totals.append(Field(f"vol {plain_size(market.volume)}", style.DIM, 2))
    if market is not None and market.open_interest is not None:
        totals.append(Field(f"OI {plain_size(market.open_interest)}", style.DIM, 3))
    return _boxed(lines, width, _title(book, width - 6), fit_fields(totals, width - 6), border)


def book_panel(book: OrderBook, **kwargs: Any) -> RenderableType:
    """``panel_lines`` as one renderable (the same keyword arguments)."""
    return Text("\n", no_wrap=True, overflow="crop").join(panel_lines(book, **kwargs))


def _boxed(lines: Sequence[Text], width: int, title: Text, subtitle: Text, border: str) -> list[Text]:
    """``lines`` in a rounded box with ``title`` top left and ``subtitle`` bottom right.

    Drawn as plain Text rows rather than a rich Panel: the view redraws 12 times a second and
    a Panel (with its Padding) costs most of a redraw."""
    inner = width - 4
    top = Text(end="")  # a Text's own style would colour all it holds: the border is a span
    top.append("╭─ ", style=border)
    top.append_text(title)
    top.append(" " + "─" * max(0, width - 5 - title.cell_len) + "╮", style=border)
    out = [top]
    for line in lines:
        row = Text(end="")
        row.append("│ ", style=border)
        row.append_text(line[:inner] if line.cell_len > inner else line)
        row.append(" " * max(0, inner - line.cell_len) + " │", style=border)
        out.append(row)
    bottom = Text(end="")
    bottom.append("╰" + "─" * max(0, width - 5 - subtitle.cell_len) + " ", style=border)
    bottom.append_text(subtitle)
    bottom.append(" ─╯" if subtitle.plain else "──╯", style=border)
    out.append(bottom)
    return out


# --- footer and screen ------------------------------------------------------------------------


def footer(stats: ViewStats, now: float | None = None, *, width: int = 200, keys: str = "") -> Text:
    """One status line: connection, book states, resyncs, message rate, age of the last update.

    Fits ``width``: the least useful facts are left out first, trouble (stale, awaiting) last.
    """
    now = time.monotonic() if now is None else now
    age = "no data yet" if stats.last_update is None else f"{age_text(max(0.0, now - stats.last_update))} ago"
    connected = stats.connection is SessionState.STREAMING
    state = getattr(stats.connection, "value", stats.connection)  # a plain string from a stand-in session
    fields = [
        Field(f" {state}", "bold green" if connected else "bold red"),
        Field(f"{stats.books_live} live", "green", 3),
        Field(
            f"{stats.books_stale} stale",
            "bold red" if stats.books_stale else "",
            0 if stats.books_stale else 5,
            " ",
        ),
        Field(
            f"{stats.books_awaiting} awaiting",
            "yellow" if stats.books_awaiting else "",
            0 if stats.books_awaiting else 6,
            " ",
        ),
        Field(f"resyncs {stats.resync_count}", "bold red" if stats.resync_count else "", 7),
        Field(f"{stats.msg_rate:,.0f} msg/s", "", 4),
        Field(age, "", 1),
    ]
    if keys:
        fields.append(Field(keys, style.DIM, 8))
    return fit_fields(fields, width)


def _layout(count: int, width: int, room: int, cap: int) -> tuple[int, int, int]:
    """(columns, rows of panels, ladder depth) showing the most markets, then the most levels
    (up to ``cap``), then the most side by side."""
    best: tuple[int, int, int] | None = None
    best_score: tuple[int, int, int] = (0, 0, 0)
    for columns in range(1, max(1, min(count, width // MIN_PANEL_WIDTH)) + 1):
        needed = math.ceil(count / columns)
        for rows in range(needed, 0, -1):
            more = 1 if rows * columns < count else 0  # the page line
            depth = ((room - more) // rows - PANEL_OVERHEAD) // 2
            if depth >= 1:
                score = (min(count, rows * columns), min(depth, cap), columns)
                if best is None or score > best_score:
                    best, best_score = (columns, rows, min(depth, cap)), score
                break
    return best if best is not None else (1, 1, 1)


def book_screen(
    books: Iterable[OrderBook] | Mapping[str, OrderBook],
    markets: Mapping[str, MarketStats],
    stats: ViewStats,
    depth: int | None,
    width: int,
    height: int,
    now: float | None = None,
    *,
    dollars: bool = False,
    ages: Mapping[str, float] | None = None,
    page: int = 0,
    now_ms: int | None = None,
    keys: str = "",
    own: Mapping[str, tuple[Collection[int], Collection[int]]] | None = None,
    layout: str = "grid",
) -> RenderableType:
    """Several books side by side or stacked, ladders as deep as ``width`` x ``height`` allows.

    ``depth`` caps the levels a side (None: as many as fit and the books have); ``ages`` holds
    the ``time.monotonic()`` each market last changed; ``own`` per market the YES prices of
    the user's resting (bids, asks). ``layout`` ``grid`` puts as many side by side as suit the
    width, ``stack`` one above the other. Markets that do not fit are paged (``page``) and
    counted on a page line rather than overflowing.
    """
    now = time.monotonic() if now is None else now
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    book_list = list(books.values() if isinstance(books, Mapping) else books)
    if not book_list:
        return Group(Text("no markets yet", style="dim"), footer(stats, now, width=width, keys=keys))
    levels = max(max(len(b.yes), len(b.no)) for b in book_list)
    cap = max(1, min(levels, depth if depth is not None else levels))
    columns, rows, fit_depth = _layout(len(book_list), width if layout == "grid" else 1, height - 1, cap)
    per_page = columns * rows
    pages = math.ceil(len(book_list) / per_page)
    page %= pages
    shown = book_list[page * per_page : (page + 1) * per_page]
    widths = [width // columns + (1 if i < width % columns else 0) for i in range(columns)]
    screen_rows: list[Text] = []
    for start in range(0, len(shown), columns):
        boxes = []
        for b, w in zip(shown[start : start + columns], widths, strict=False):
            age = None if ages is None or b.market_ticker not in ages else max(0.0, now - ages[b.market_ticker])
            boxes.append(
                panel_lines(
                    b,
                    depth=fit_depth,
                    market=markets.get(b.market_ticker),
                    width=w,
                    dollars=dollars,
                    age=age,
                    now_ms=now_ms,
                    fixed_depth=True,
                    own=None if own is None else own.get(b.market_ticker),
                )
            )
        for i in range(max(len(box) for box in boxes)):
            row = Text(end="")
            for box in boxes:
                row.append_text(box[i])
            screen_rows.append(row)
    # One multi-line Text: rich renders it several times faster than a Group of one Text per row.
    parts: list[RenderableType] = [Text("\n", no_wrap=True, overflow="crop").join(screen_rows)]
    if pages > 1:
        parts.append(_page_line(book_list, shown, page, pages, width))
    parts.append(footer(stats, now, width=width, keys=keys))
    return Group(*parts)


def _page_line(all_books: Sequence[OrderBook], shown: Sequence[OrderBook], page: int, pages: int, width: int) -> Text:
    """``page 1/3 (space: next)  +5 more: KXA-1, KXB-2``: whole tickers only, as many as fit."""
    hidden = [b.market_ticker for b in all_books if b not in shown]
    fields = [Field(f" page {page + 1}/{pages} (space: next)", style.DIM), Field(f"+{len(hidden)} more:", style.DIM)]
    fields += [Field(name, style.DIM, 1 + i, sep=" " if i == 0 else ", ") for i, name in enumerate(hidden)]
    line = fit_fields(fields, width)
    line.end = "\n"  # the footer follows on its own line
    return line
