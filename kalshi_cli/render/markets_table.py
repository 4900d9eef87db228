"""The ``kalshi markets`` table: one line per market, fitted to the terminal's width.

Columns: ticker, the market (strike, then title), YES bid and ask in cents, last price,
volume, open interest, when it closes. The ticker stays whole (it is what a user copies)
while it can: a narrow terminal loses the title's last words and whole columns first (open
interest, then last, volume, close), then the market text; only then does the ticker
shorten, from the middle, keeping its strike (``render.fit``). No number is ever cut.
Pure: markets and the time in, lines out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.text import Text

from kalshi_cli.market_query import close_ts, to_decimal
from kalshi_cli.render import style
from kalshi_cli.render.fit import Cell, Column, fit_table
from kalshi_cli.render.ladder import clip_words

__all__ = ["cents", "closes_in", "contracts", "markets_table"]

_NONE: Cell = ("—", style.DIM)
_GAP = 2
_LABEL_MIN = 12
_TICKER_MIN = 14
# optional columns in the order they are kept: (key, header)
_OPTIONAL = (("closes", "closes"), ("volume", "volume"), ("last", "last"), ("oi", "OI"))
_DISPLAY = (("last", "last"), ("volume", "volume"), ("oi", "OI"), ("closes", "closes"))
_NOT_TRADING = {"initialized": "unopened", "closed": "closed", "determined": "closed", "finalized": "settled"}


def cents(value: Any, *, no_quote: Decimal | None = None) -> Cell:
    """A dollar price as cents (``0.4200`` -> ``42¢``, ``0.4250`` -> ``42.5¢``); 0 (or ``no_quote``) is ``—``."""
    d = to_decimal(value)
    if d is None or d <= 0 or (no_quote is not None and d >= no_quote):
        return _NONE
    text = f"{d * 100:f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return (f"{text}¢", "")


def contracts(value: Any) -> Cell:
    """A contract count, whole and grouped (``23715.00`` -> ``23,715``; millions as ``1.23M``)."""
    d = to_decimal(value)
    if d is None:
        return _NONE
    if d >= 1_000_000:
        return (f"{(d / 1_000_000).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}M", "")
    return (f"{d.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}", "" if d else style.DIM)


def closes_in(market: Mapping[str, Any], now: float) -> Cell:
    """How long until the market closes (``3h12m``, ``2d4h``), or its state when it does not trade."""
    status = str(market.get("status") or "")
    if status in _NOT_TRADING:
        return (_NOT_TRADING[status], style.DIM)
    close = close_ts(market)
    if close is None:
        return _NONE
    left = int(close - now)
    if left <= 0:
        return ("closing", style.DIM)
    days, rest = divmod(left, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = f"{days}d{hours}h" if days >= 1 else f"{hours}h{minutes:02d}m" if hours else f"{max(minutes, 1)}m"
    if days >= 10:
        text = f"{days}d"
    return (text + (" paused" if status == "inactive" else ""), "")


def _label(market: Mapping[str, Any]) -> str:
    """The strike (``yes_sub_title``) then the title, as Kalshi's pages show a market of an event."""
    strike = " ".join(str(market.get("yes_sub_title") or "").split())
    title = " ".join(str(market.get("title") or "").split())
    if strike and title and strike.lower() not in title.lower():
        return f"{strike} · {title}"
    return title or strike


def _fit_label(label: str, width: int) -> str:
    """The market text in ``width`` cells, whole words; the strike whole rather than cut short."""
    if len(label) <= width:
        return label
    clipped = clip_words(label, width)
    strike = label.split(" · ", 1)[0]
    return strike if " · " in label and len(clipped) - 2 < len(strike) <= width else clipped


def _cells(market: Mapping[str, Any], now: float) -> dict[str, Cell]:
    return {
        "ticker": (str(market.get("ticker") or "?"), "bold"),
        "bid": cents(market.get("yes_bid_dollars")),
        "ask": cents(market.get("yes_ask_dollars"), no_quote=Decimal(1)),
        "market": (_label(market), ""),
        "closes": closes_in(market, now),
        "volume": contracts(market.get("volume_fp")),
        "last": cents(market.get("last_price_dollars")),
        "oi": contracts(market.get("open_interest_fp")),
    }


def _natural(header: str, rows: Sequence[dict[str, Cell]], key: str) -> int:
    return max([len(header), *(len(r[key][0]) for r in rows)])


def markets_table(markets: Sequence[Mapping[str, Any]], width: int, now: float) -> list[Text]:
    """A header and one line per market, none wider than ``width``."""
    rows = [_cells(m, now) for m in markets]
    ticker_w = _natural("ticker", rows, "ticker")
    label_w = _natural("market", rows, "market")
    fixed = [("bid", "bid"), ("ask", "ask")]
    used = sum(_natural(h, rows, k) + _GAP for k, h in fixed)
    # the ticker stays whole (it is what a user copies) while the market text keeps its minimum
    kept: list[tuple[str, str]] = []
    for key, header in _OPTIONAL:
        extra = _natural(header, rows, key) + _GAP
        if ticker_w + used + extra + _GAP + _LABEL_MIN <= width:
            kept.append((key, header))
            used += extra
    room = width - used - _GAP  # for the ticker and the market text
    show_label = room - ticker_w >= _LABEL_MIN
    if show_label:
        ticker_cols, label_cols = ticker_w, min(label_w, room - ticker_w)
    else:
        ticker_cols, label_cols = max(min(ticker_w, room + _GAP), _TICKER_MIN), 0
    shown = {key for key, _ in kept}
    order = [("ticker", "ticker"), ("market", "market"), *fixed, *((k, h) for k, h in _DISPLAY if k in shown)]
    if not show_label:
        order.remove(("market", "market"))
    keys = [k for k, _ in order]
    columns = [
        Column(h, shrink=True, min_width=ticker_cols) if k == "ticker" else Column(h, right=k != "market")
        for k, h in order
    ]
    table = []
    for r in rows:
        cells = [r[k] for k in keys]
        if show_label:
            text, st = r["market"]
            cells[keys.index("market")] = (_fit_label(text, label_cols), st)
        table.append(cells)
    return fit_table(columns, table, width, gap=_GAP)
