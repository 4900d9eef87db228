"""Terminal views of order books: rich renderables built from state, never from frames.

The stream updates ``OrderBook``/``MarketStats``/``ViewStats`` as frames arrive; these
functions only read that state, so a ``rich.live.Live(get_renderable=...)`` refresh (~12/s)
costs the same whatever the message rate. A STALE or AWAITING book is drawn dimmed under a
loud title so it can never pass for the current market.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from kalshi_cli.book import BookState, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.fixed import ONE_DOLLAR, format_price, format_size
from kalshi_cli.market_stats import MarketStats
from kalshi_cli.session import SessionState

__all__ = ["ViewStats", "book_panel", "book_screen", "footer"]


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

_BAR_EIGHTHS = " ▏▎▍▌▋▊▉"
#: lines a panel takes besides its 2*depth ladder rows: borders, header, spread row, best and last
#: lines, and the STALE / AWAITING banner.
PANEL_OVERHEAD = 7
MIN_PANEL_WIDTH = 36


def _bar(size: int, largest: int, width: int) -> str:
    """A bar proportional to ``size`` in eighths of a cell (integers only, never empty)."""
    eighths = max(1, size * width * 8 // largest)
    full, rest = divmod(eighths, 8)
    return "█" * full + (_BAR_EIGHTHS[rest] if rest else "")


def _price(value: int | None) -> str:
    return "—" if value is None else format_price(value)


def _size(value: int | None) -> str:
    return "—" if value is None else format_size(value)


def _mid(value: Decimal | None) -> str:
    if value is None:
        return "—"
    places = 4 if value.as_tuple().exponent >= -4 else 5  # a mid can fall on a half tick
    return f"{value:.{places}f}"


def book_panel(
    book: OrderBook, *, depth: int = 10, market: MarketStats | None = None, width: int | None = None
) -> RenderableType:
    """The price ladder of one market: YES asks (implied by NO bids) above YES bids."""
    live = book.state is BookState.LIVE
    bid_prices = sorted(book.yes, reverse=True)[:depth]
    no_prices = sorted(book.no, reverse=True)[:depth]  # best NO bid = best (lowest) YES ask
    asks = [(ONE_DOLLAR - p, book.no[p]) for p in reversed(no_prices)]  # highest ask first
    bids = [(p, book.yes[p]) for p in bid_prices]
    largest = max((s for _, s in asks + bids), default=1)
    bar_width = max(4, (width or 48) - 26)

    # Plain fixed-width Text rows, not a rich Table: a nested Table costs ~10x more to render,
    # and the view redraws 12 times a second.
    ask_style, bid_style = ("red", "green") if live else ("dim", "dim")
    rows = [(price, format_price(price), format_size(size), size) for price, size in asks + bids]
    size_width = max([len("size"), *(len(size_text) for _, _, size_text, _ in rows)])
    spread = book.spread()
    spread_text = _price(spread)
    size_width = max(size_width, len(spread_text))
    prefix = 4 + 6 + 2 + size_width + 2  # "ask " + price + gap + size + gap
    room = max(4, (width - 4 if width else 48) - prefix)  # the panel border and padding take 4
    bar_width = min(bar_width, room)
    table = [Text(f"{'':3} {'price':>6}  {'size':>{size_width}}", style="dim", no_wrap=True, overflow="crop")]
    for i, (_, price_text, size_text, size) in enumerate(rows):
        label, style = ("ask", ask_style) if i < len(asks) else ("bid", bid_style)
        line = f"{label:3} {price_text:>6}  {size_text:>{size_width}}  {_bar(size, largest, bar_width)}"
        table.append(Text(line, style=style, no_wrap=True, overflow="crop"))
        if i == len(asks) - 1:
            table.append(_spread_row(spread_text, size_width, book))
    if not asks:
        table.insert(1, _spread_row(spread_text, size_width, book))

    dim = "" if live else "dim"
    best = Text.assemble(
        ("bid ", "green" if live else "dim"),
        f"{_size(book.best_yes_bid_size())}@{_price(book.best_yes_bid())}",
        ("  ask ", "red" if live else "dim"),
        f"{_size(book.best_yes_ask_size())}@{_price(book.best_yes_ask())}",
        style=dim,
        no_wrap=True,
        overflow="ellipsis",
    )
    if market is None:
        market = MarketStats()
    last = Text(f"last {_size(market.last_size)}@{_price(market.last_price)}", style=dim, no_wrap=True)
    totals = f"vol {_size(market.volume)}  OI {_size(market.open_interest)}"
    lines: list[Text] = [*table, best, last]
    if live:
        title, border = Text(book.market_ticker, style="bold"), "blue"
    elif book.state is BookState.STALE:
        title, border = Text(f"STALE {book.market_ticker}", style="bold red"), "red"
        reason = Text(f"STALE: {book.stale_reason}", style="bold red", no_wrap=True, overflow="ellipsis")
        lines.insert(0, reason)
    else:
        title, border = Text(f"AWAITING {book.market_ticker}", style="bold yellow"), "yellow"
        lines.insert(0, Text("AWAITING SNAPSHOT", style="bold yellow", no_wrap=True))
    # One multi-line Text: rich renders it several times faster than a Group of one Text per row.
    return Panel(
        Text("\n", no_wrap=True, overflow="crop").join(lines),
        title=title,
        title_align="left",
        subtitle=Text(totals, style=dim),
        subtitle_align="right",
        border_style=border,
        width=width,
    )


def _spread_row(spread_text: str, size_width: int, book: OrderBook) -> Text:
    return Text.assemble(
        (f"{'':3} {'spread':>6}", "bold"),
        f"  {spread_text:>{size_width}}  ",
        (f"mid {_mid(book.mid())}", "bold"),
        no_wrap=True,
        overflow="crop",
    )


# --- footer and screen ------------------------------------------------------------------------


def _age(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.0f}m"


def footer(stats: ViewStats, now: float | None = None) -> Text:
    """One status line: connection, book states, resyncs, message rate, age of the last update."""
    now = time.monotonic() if now is None else now
    age = "no data yet" if stats.last_update is None else f"{_age(max(0.0, now - stats.last_update))} ago"
    connected = stats.connection is SessionState.STREAMING
    return Text.assemble(
        (f" {stats.connection.value} ", "bold green" if connected else "bold red"),
        "  books: ",
        (f"{stats.books_live} live", "green"),
        " ",
        (f"{stats.books_stale} stale", "bold red" if stats.books_stale else ""),
        " ",
        (f"{stats.books_awaiting} awaiting", "yellow" if stats.books_awaiting else ""),
        f"  resyncs {stats.resync_count}  {stats.msg_rate:,.0f} msg/s  {age}",
        no_wrap=True,
        overflow="ellipsis",
    )


def book_screen(
    books: Iterable[OrderBook] | Mapping[str, OrderBook],
    markets: Mapping[str, MarketStats],
    stats: ViewStats,
    depth: int,
    width: int,
    height: int,
    now: float | None = None,
) -> RenderableType:
    """Several books side by side or stacked, ladders shortened to fit ``width`` x ``height``.

    Markets that still do not fit are named in a "+N more" line rather than overflowing.
    """
    book_list = list(books.values() if isinstance(books, Mapping) else books)
    columns = max(1, min(len(book_list), width // MIN_PANEL_WIDTH))
    room = max(1, height - 1)  # the footer takes one line
    shown_rows, fit_depth = _fit(len(book_list), columns, room, depth)
    if shown_rows * columns < len(book_list):  # a "+N more" line is needed too
        shown_rows, fit_depth = _fit(len(book_list), columns, room - 1, depth)
    shown = book_list[: shown_rows * columns]
    hidden = book_list[len(shown) :]

    panel_width = width // columns
    grid = Table.grid(expand=True)
    for _ in range(columns):
        grid.add_column(ratio=1)
    for start in range(0, len(shown), columns):
        row = [
            book_panel(b, depth=fit_depth, market=markets.get(b.market_ticker), width=panel_width)
            for b in shown[start : start + columns]
        ]
        grid.add_row(*row, *([""] * (columns - len(row))))
    parts: list[RenderableType] = [grid] if shown else [Text("no markets yet", style="dim")]
    if hidden:
        names = ", ".join(b.market_ticker for b in hidden)
        parts.append(Text(f" +{len(hidden)} more: {names}", style="dim", no_wrap=True, overflow="ellipsis"))
    parts.append(footer(stats, now))
    return Group(*parts)


def _fit(count: int, columns: int, room: int, depth: int) -> tuple[int, int]:
    """(rows of panels to show, ladder depth) so ``count`` books fit in ``room`` lines."""
    rows = math.ceil(count / columns)
    shown_rows = min(rows, max(1, room // (PANEL_OVERHEAD + 2)))  # at least one level a side
    fit_depth = max(1, min(depth, (room // max(1, shown_rows) - PANEL_OVERHEAD) // 2))
    return shown_rows, fit_depth
