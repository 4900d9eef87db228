"""One market's price ladder as plain lines: pure, state in, ``Text`` lines of a fixed count out.

YES asks (implied by NO bids) above YES bids, each level with its size and the cumulative
size from the touch outward; the best bid and ask stand out, the spread and mid sit between
them. Prices are in cents by default (``dollars=True`` gives the exchange's ``0.4500``
strings). Columns are chosen by width, never cut: the bar goes first, then the cumulative
size; price and size always stay. Every ladder of a given depth has the same number of lines,
so panels side by side line up.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal

from rich.text import Text

from kalshi_cli.book import BookState, OrderBook
from kalshi_cli.fixed import CENT, ONE_DOLLAR, format_price, format_size
from kalshi_cli.market_stats import MarketStats
from kalshi_cli.render import style
from kalshi_cli.render.fit import Field, fit_fields

__all__ = ["LADDER_EXTRA_LINES", "age_text", "cents", "clip_words", "ladder_lines", "last_trade", "plain_size"]

#: lines a ladder takes besides its 2*depth level rows: the header, the spread row, the last line.
LADDER_EXTRA_LINES = 3
_BAR_EIGHTHS = " ▏▎▍▌▋▊▉"
#: one ladder level: price, size and cumulative size as shown, the size, and whether it is the user's
_Row = tuple[str, str, str, int, bool]
_GAP = "  "


def cents(value: int) -> str:
    """A price in $0.0001 units as cents, exactly: 4500 -> ``45``, 4550 -> ``45.5``, 5 -> ``0.05``."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), CENT)
    return f"{sign}{whole}" if not frac else f"{sign}{whole}.{frac:02d}".rstrip("0")


def plain_size(value: int) -> str:
    """A size in 1/100 contract, exactly, without a ``.00`` for whole contracts: 17100 -> ``171``."""
    text = format_size(value)
    return text[:-3] if text.endswith(".00") else text


def clip_words(text: str, width: int) -> str:
    """``text`` in ``width`` cells, whole words only (a number is never cut), ``…`` if shortened."""
    if len(text) <= width:
        return text
    words = text.split(" ")
    while words and len(" ".join(words)) + 2 > width:
        words.pop()
    return (" ".join(words) + " …") if words else "…"[:width]


def _mid_text(mid: Decimal | None, dollars: bool) -> str:
    if mid is None:
        return "—"
    if dollars:
        exponent = mid.as_tuple().exponent
        return f"{mid:.{4 if isinstance(exponent, int) and exponent >= -4 else 5}f}"
    text = f"{mid * 100:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _bar(size: int, largest: int, width: int) -> str:
    """A bar proportional to ``size`` in eighths of a cell (integers only, never empty)."""
    eighths = max(1, size * width * 8 // max(1, largest))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_BAR_EIGHTHS[rest] if rest else "")


def age_text(seconds: float) -> str:
    """A short age: ``250ms``, ``4.2s``, ``37s``, ``12m``, ``3h``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 100:
        return f"{seconds:.0f}s"
    if seconds < 6000:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def last_trade(market: MarketStats | None, now_ms: int | None, dollars: bool = False) -> list[Field]:
    """``last 45 ×42 YES 3s``: price, size, taker side (when the stats know it) and age."""
    if market is None or market.last_price is None:
        return [Field("last —", style.DIM)]
    price = format_price(market.last_price) if dollars else cents(market.last_price)
    fields = [Field(f"last {price}", "bold", sep=" ")]
    if market.last_size is not None:
        size = format_size(market.last_size) if dollars else plain_size(market.last_size)
        fields.append(Field(f"×{size}", "", 1, sep=" "))
    side = getattr(market, "last_side", None)  # the taker side, where the stats record it
    if side in ("yes", "no"):
        fields.append(Field(side.upper(), style.YES if side == "yes" else style.NO, 2, sep=" "))
    if market.last_trade_ts_ms is not None and now_ms is not None:
        fields.append(Field(age_text(max(0, now_ms - market.last_trade_ts_ms) / 1000), style.DIM, 3, sep=" "))
    return fields


def ladder_lines(
    book: OrderBook,
    depth: int,
    width: int,
    *,
    market: MarketStats | None = None,
    dollars: bool = False,
    now_ms: int | None = None,
    own: tuple[Collection[int], Collection[int]] | None = None,
) -> list[Text]:
    """``2 * depth + LADDER_EXTRA_LINES`` lines, none wider than ``width``.

    ``own`` holds the YES prices of the user's resting (bids, asks); their levels are marked
    ``•`` after the price.
    """
    live = book.state is BookState.LIVE
    no_prices = sorted(book.no, reverse=True)[:depth]  # best NO bid = best (lowest) YES ask
    asks = [(ONE_DOLLAR - p, book.no[p]) for p in no_prices]  # best ask first
    bids = [(p, book.yes[p]) for p in sorted(book.yes, reverse=True)[:depth]]
    price_text = format_price if dollars else cents
    size_text = format_size if dollars else plain_size

    def cells(levels: Sequence[tuple[int, int]], mine: Collection[int]) -> list[_Row]:
        out, total = [], 0
        for price, size in levels:
            total += size
            out.append((price_text(price), size_text(size), size_text(total), size, price in mine))
        return out

    own_bids, own_asks = own if own is not None else ((), ())
    ask_rows, bid_rows = cells(asks, own_asks), cells(bids, own_bids)
    rows = ask_rows + bid_rows
    unit = "$" if dollars else "¢"
    pw = max([len(unit), *(len(r[0]) for r in rows)])
    sw = max([len("size"), *(len(r[1]) for r in rows)])
    cw = max([len("cum"), *(len(r[2]) for r in rows)])
    with_cum = pw + sw + cw + 2 * len(_GAP) <= width
    used = pw + sw + len(_GAP) + ((cw + len(_GAP)) if with_cum else 0)
    bar_width = min(24, width - used - len(_GAP))
    largest = max((r[3] for r in rows), default=1)

    def level(row: _Row | None, side_style: str, best_style: str, best: bool) -> Text:
        if row is None:
            return Text("", end="")
        line = Text(f"{row[0]:>{pw}}", style=(best_style if best else side_style) if live else style.DIM, end="")
        line.append("•" if row[4] else " ", style=style.OWN)  # the user's own order rests here
        text = f"{_GAP[1:]}{row[1]:>{sw}}" + (f"{_GAP}{row[2]:>{cw}}" if with_cum else "")
        line.append(text, style=(best_style if best else side_style) if live else style.DIM)
        if bar_width >= 3:
            line.append(_GAP + _bar(row[3], largest, bar_width), style=side_style if live else style.DIM)
        return line

    header = f"{unit:>{pw}}{_GAP}{'size':>{sw}}" + (f"{_GAP}{'cum':>{cw}}" if with_cum else "")
    lines = [Text(header, style=style.DIM, end="")]
    padded_asks: list[_Row | None] = [None] * (depth - len(ask_rows)) + ask_rows[::-1]
    for i, row in enumerate(padded_asks):
        lines.append(level(row, style.ASK, style.BEST_ASK, i == depth - 1))
    lines.append(_spread_line(book, width, dollars))
    padded_bids: list[_Row | None] = [*bid_rows, *([None] * (depth - len(bid_rows)))]
    for i, row in enumerate(padded_bids):
        lines.append(level(row, style.BID, style.BEST_BID, i == 0))
    if live:
        lines.append(fit_fields(last_trade(market, now_ms, dollars), width))
    else:
        reason = book.stale_reason if book.state is BookState.STALE else "waiting for the snapshot"
        banner = style.STALE if book.state is BookState.STALE else style.AWAITING
        lines.append(Text(clip_words(reason or "stale", width), style=banner))
    for line in lines:
        line.no_wrap, line.overflow = True, "crop"
    return lines


def _spread_line(book: OrderBook, width: int, dollars: bool) -> Text:
    spread = book.spread()
    spread_text = "—" if spread is None else (format_price(spread) if dollars else cents(spread))
    mid = _mid_text(book.mid(), dollars)
    for label in ("spread ", "sp "):
        line = fit_fields([Field(f"{label}{spread_text}", "bold"), Field(f"mid {mid}", "bold", 1)], width)
        if "mid" in line.plain:
            return line
    return line
