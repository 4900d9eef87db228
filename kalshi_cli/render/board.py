"""The board of ``kalshi book EVENT``: every strike of an event on one screen, a row each.

Pure, like ``book_view``: state in (books, market stats, what REST said about each market),
a renderable out. Rows are sorted by strike (``strike_key``: Kalshi's ``floor_strike``, else
the number in the ticker's last part, ``B52.5``, ``T106249.99``), numbered from 1 so a key
opens one, and show the best YES bid and ask, the last trade, the volume and how long ago the
book changed. Columns fit the width without cutting a number (``fit.fit_table``); rows that do
not fit the height scroll with the highlighted one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from kalshi_cli.book import BookState, OrderBook
from kalshi_cli.fixed import FixedPointError, format_price, format_size, parse_price, parse_size
from kalshi_cli.market_stats import MarketStats
from kalshi_cli.render import style
from kalshi_cli.render.book_view import ViewStats, footer
from kalshi_cli.render.fit import Cell, Column, Field, fit_fields, fit_table
from kalshi_cli.render.ladder import age_text, cents, plain_size

__all__ = ["BOARD_KEYS", "board_order", "board_screen", "strike_key", "visible_rows"]

#: the keys line of the board
BOARD_KEYS = "↑↓ move  enter/1-9 open  q quit"
_STRIKE = re.compile(r"[A-Z]*(-?\d+(?:\.\d+)?)")
_COLUMNS = (
    Column("#", right=True),
    Column("strike", shrink=True, min_width=6),
    Column("yes means", priority=5),
    Column("bid", right=True),
    Column("ask", right=True),
    Column("last", right=True, priority=1),
    Column("volume", right=True, priority=2, short="vol"),
    Column("age", right=True, priority=3),
)
_STATE_CELL = {BookState.STALE: ("STALE", style.STALE), BookState.AWAITING_SNAPSHOT: ("…", style.DIM)}


def strike_key(ticker: str, market: Mapping[str, Any] | None = None) -> tuple[int, float, str]:
    """Sort key: numeric strikes first, low to high (``floor_strike``, else the ticker's), then by name."""
    for field in ("floor_strike", "cap_strike"):
        value = (market or {}).get(field)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (0, float(value), ticker)
    found = _STRIKE.fullmatch(ticker.rsplit("-", 1)[-1])
    if found:
        return (0, float(found.group(1)), ticker)
    return (1, 0.0, ticker)


def board_order(tickers: Sequence[str], markets: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The tickers in board order (by strike), each once."""
    return sorted(dict.fromkeys(tickers), key=lambda t: strike_key(t, markets.get(t)))


def visible_rows(count: int, selected: int, room: int) -> range:
    """The rows shown in ``room`` lines: a window that keeps ``selected`` in view."""
    room = max(1, room)
    if count <= room:
        return range(count)
    start = min(max(0, selected - room // 2), count - room)
    return range(start, start + room)


def _price(value: int | None, dollars: bool) -> str:
    if value is None:
        return "—"
    return format_price(value) if dollars else cents(value)


def _rest_int(market: Mapping[str, Any] | None, key: str, parse: Any) -> int | None:
    text = (market or {}).get(key)
    if text is None:
        return None
    try:
        value: int = parse(text)
    except (FixedPointError, TypeError, ValueError):
        return None
    return value


def _row(
    n: int,
    book: OrderBook,
    stats: MarketStats | None,
    market: Mapping[str, Any] | None,
    age: float | None,
    dollars: bool,
) -> list[Cell]:
    ticker = book.market_ticker
    strike = ticker.rsplit("-", 1)[-1] if "-" in ticker else ticker
    label = " ".join(str((market or {}).get("yes_sub_title") or "").split())
    state = _STATE_CELL.get(book.state)
    if state is not None:
        bid: Cell = state
        ask: Cell = state
    else:
        bid = (_price(book.best_yes_bid(), dollars), style.BID)
        ask = (_price(book.best_yes_ask(), dollars), style.ASK)
    last = stats.last_price if stats is not None and stats.last_price is not None else None
    if last is None:
        last = _rest_int(market, "last_price_dollars", parse_price)
    volume = stats.volume if stats is not None and stats.volume is not None else None
    if volume is None:
        volume = _rest_int(market, "volume_fp", parse_size)
    if last == 0 and not volume:  # REST's zero for a market that never traded
        last = None
    shown_volume = "—" if volume is None else format_size(volume) if dollars else plain_size(volume)
    return [
        (str(n), style.DIM),
        (strike, "bold"),
        (label, ""),
        bid,
        ask,
        (_price(last, dollars), ""),
        (shown_volume, ""),
        ("—" if age is None else age_text(age), style.DIM),
    ]


def board_screen(
    books: Sequence[OrderBook],
    markets: Mapping[str, MarketStats],
    info: Mapping[str, Mapping[str, Any]],
    stats: ViewStats,
    width: int,
    height: int,
    now: float | None = None,
    *,
    title: str = "",
    selected: int = 0,
    ages: Mapping[str, float] | None = None,
    dollars: bool = False,
    keys: str = "",
    typed: str = "",
) -> RenderableType:
    """The board: a title line, a header, one row per book (in the order given), the footer.

    ``info`` holds what REST said of each market (its ``yes_sub_title``, and the last price and
    volume until the stream brings its own); ``ages`` the ``time.monotonic()`` each book last
    changed; ``selected`` the highlighted row; ``typed`` the digits of a row number being typed.
    """
    now = time.monotonic() if now is None else now
    count = len(books)
    selected = min(max(0, selected), max(0, count - 1))
    rows = [
        _row(
            i + 1,
            b,
            markets.get(b.market_ticker),
            info.get(b.market_ticker),
            None if ages is None or b.market_ticker not in ages else max(0.0, now - ages[b.market_ticker]),
            dollars,
        )
        for i, b in enumerate(books)
    ]
    room = max(1, height - 3)  # the title, the header and the footer
    window = visible_rows(count, selected, room)
    table = fit_table(_COLUMNS, rows, width)
    lines = [table[0]]
    for i in window:
        line = table[i + 1]
        if i == selected:
            line.pad_right(width - line.cell_len)
            line.stylize("reverse")
        lines.append(line)
    head = [Field(f" {title}" if title else " board", "bold")]
    head.append(Field(f"{count} markets", style.DIM, 4))
    if count > len(window):
        head.append(Field(f"rows {window.start + 1}-{window.stop} of {count}", style.DIM, 2))
    if typed:
        head.append(Field(f"open #{typed}_", "bold", 0))
    elif keys:
        head.append(Field(keys, style.DIM, 3, sep="   "))
    top = fit_fields(head, width, strict=True)
    body = Text("\n", no_wrap=True, overflow="crop").join([top, *lines])
    return Group(body, footer(stats, now, width=width))
