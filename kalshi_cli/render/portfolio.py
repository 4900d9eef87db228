"""Terminal tables for ``kalshi fills``, ``positions`` and ``orders``, and a small live view.

The ``*_view`` functions are pure: state in, a renderable out that lays itself out for the
width it is drawn at (columns dropped least useful first, tickers shortened from the middle,
never a number cut). Wording is the trader's (``render.words``): ``sell YES`` at the YES
price, ``buy NO`` at the NO price, a position of ``360 NO``; money is dollars to 4 places
everywhere. ``LiveTable`` redraws a view from the event loop a few times a second, and
prints the last one on exit so it stays visible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.text import Text

from kalshi_cli.portfolio import FillTotals, to_decimal
from kalshi_cli.render import style
from kalshi_cli.render.fit import Cell, Column, fit_table
from kalshi_cli.render.ladder import clip_words
from kalshi_cli.render.looplive import LoopLive
from kalshi_cli.render.words import count_text as _count
from kalshi_cli.render.words import side_price, trade_words

__all__ = ["LiveTable", "fills_view", "money", "orders_view", "positions_view"]

_PLACES = Decimal("0.0001")
_NONE: Cell = ("—", style.DIM)


def _clock(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000).strftime("%H:%M:%S.%f")[:-3]


def money(value: Any, *, sign: bool = False) -> str:
    """Dollars to 4 places, the one convention for costs, fees and P&L (half-up, as Kalshi)."""
    d = value if isinstance(value, Decimal) else to_decimal(value)
    if d is None:
        return "—"
    d = d.quantize(_PLACES, rounding=ROUND_HALF_UP)
    return f"{d:+f}" if sign and d != 0 else f"{d:f}"


def _price(value: Decimal | None) -> Cell:
    return _NONE if value is None else (f"{value.quantize(_PLACES):f}", "bold")


def _side(side: str) -> Cell:
    return (side.upper(), style.YES if side == "yes" else style.NO if side == "no" else "")


def _holding(position: Decimal | None) -> Cell:
    """``142 YES`` / ``360 NO`` / ``flat``: a NO position is held, not negative."""
    if position is None:
        return _NONE
    if position == 0:
        return ("flat", style.DIM)
    side = "YES" if position > 0 else "NO"
    return (f"{_count(position.copy_abs())} {side}", style.YES if position > 0 else style.NO)


@dataclass(slots=True)
class _Block:
    """Lines of a view; ``trim`` > 0 lets them go (lowest rank first) when the height is short,
    oldest first or from the end, keeping ``keep`` and saying how many are not shown."""

    lines: list[Text]
    trim: int = 0
    oldest_first: bool = False
    keep: int = 1


def _fit_height(blocks: Sequence[_Block], height: int | None) -> list[Text]:
    total = sum(len(b.lines) for b in blocks)
    for rank in sorted({b.trim for b in blocks if b.trim}):
        for b in (b for b in blocks if b.trim == rank):
            excess = total - (height or total)
            if excess <= 0 or len(b.lines) <= b.keep:
                continue
            cut = min(len(b.lines) - b.keep, excess + 1)  # one more line for the note
            if cut > 1:
                b.lines = b.lines[cut:] if b.oldest_first else b.lines[:-cut]
                note = Text(f"(+{cut} more not shown)", style=style.DIM, end="")
                b.lines = [note, *b.lines] if b.oldest_first else [*b.lines, note]
                total -= cut - 1
    return [line for b in blocks for line in b.lines]


class _Fitted:
    """A renderable laid out at draw time for the width (and, on the alternate screen, the
    height) rich gives it."""

    def __init__(self, build: Callable[[int], list[_Block]]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        for line in _fit_height(self.build(options.max_width), options.height or options.max_height):
            line.no_wrap, line.overflow, line.end = True, "crop", "\n"
            yield line


def _table(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int, trim: int, empty: str
) -> list[_Block]:
    """A table as blocks: its header always, its rows trimmed from the end (rank ``trim``)."""
    header, *lines = fit_table(columns, rows, width)
    return [_Block([header]), _Block(lines or [Text(empty, style=style.DIM, end="")], trim)]


def _heading(text: str) -> Text:
    return Text(text, style="bold underline", end="")


def _status(text: str, width: int) -> Text:
    return Text(clip_words(text, width), style=style.DIM, end="")


# --- fills ---------------------------------------------------------------------------------------

_FILL_COLUMNS = (
    Column("time", priority=3),
    Column("market", shrink=True),
    Column("trade"),
    Column("price", right=True),
    Column("qty", right=True),
    Column("fee", right=True, priority=4),
    Column("maker/taker", short="m/t", priority=5),
    Column("position", right=True, priority=2, short="pos"),
)
_TOTAL_COLUMNS = (
    Column("market", shrink=True),
    Column("fills", right=True, priority=4),
    Column("buys", right=True, priority=2),
    Column("sells", right=True, priority=2),
    Column("avg yes", right=True, priority=3),
    Column("fees", right=True, priority=5),
    Column("position", right=True),
)


def _fill_row(row: Mapping[str, Any]) -> list[Cell]:
    msg = row["msg"]
    verb, side = trade_words(msg)
    post = row["post"]
    return [
        (_clock(row["ms"]) + (" *" if row["backfill"] else ""), style.DIM if row["backfill"] else ""),
        (str(msg.get("market_ticker", "?")), ""),
        (f"{verb} {side.upper()}", style.SELL if verb == "sell" else style.BUY),
        _price(side_price(msg, side)),
        (_count(msg.get("count_fp")), ""),
        (money(msg.get("fee_cost")), ""),
        ("taker" if msg.get("is_taker") else "maker", style.DIM),
        _holding(to_decimal(post)) if post is not None else _NONE,
    ]


def fills_view(rows: list[dict[str, Any]], totals: FillTotals, status: str, height: int) -> RenderableType:
    """Recent fills (newest at the bottom) over per-market running totals, ``height`` lines."""
    sums: list[list[Cell]] = []
    for market, t in sorted(totals.markets.items()):
        avg = t.average_yes_price
        held = _holding(t.position) if t.position is not None else (f"{_count(t.delta)} (change)", "")
        sums.append(
            [
                (market, ""),
                (str(t.fills), ""),
                (_count(t.bought), style.BUY),
                (_count(t.sold), style.SELL),
                _price(avg) if avg is not None else _NONE,
                (money(t.fees), ""),
                held,
            ]
        )
    room = max(1, height - len(sums) - 6)  # two headings, two header rows, the status, a spare
    recent = [_fill_row(r) for r in rows[-room:]]
    note = "  (* = fetched from the REST API: made while not connected, or before the start)"

    def build(width: int) -> list[_Block]:
        fills_table = _table(_FILL_COLUMNS, recent, width, 1, "(no fills yet)")
        fills_table[1].oldest_first = True  # the newest fills stay
        return [
            _Block([_heading("Your fills")]),
            *fills_table,
            _Block([_heading("Totals per market")]),
            *_table(_TOTAL_COLUMNS, sums, width, 2, "(none yet)"),
            _Block([_status(status + (note if any(r["backfill"] for r in rows[-room:]) else ""), width)]),
        ]

    return _Fitted(build)


# --- positions -----------------------------------------------------------------------------------


def _unrealized(msg: Mapping[str, Any], position: Decimal | None, mark: Any) -> Cell:
    """Value at the mark (the YES mid) less the cost: ``q x mark`` for YES, ``q x (1 - mark)`` for NO."""
    yes_mark = to_decimal(mark)
    cost = to_decimal(msg.get("position_cost_dollars"))
    if yes_mark is None or cost is None or not position:
        return _NONE
    value = position * yes_mark if position > 0 else -position * (Decimal(1) - yes_mark)
    pnl = value - cost.copy_abs()
    return (money(pnl, sign=True), style.BUY if pnl > 0 else style.SELL if pnl < 0 else "")


def positions_view(
    rows: Mapping[str, Mapping[str, Any]], status: str, *, marks: Mapping[str, Any] | None = None
) -> RenderableType:
    """One row per market: holding, cost, unrealized P&L (when ``marks`` has the market's YES
    mid, in dollars), realized P&L, fees, volume."""
    columns = [
        Column("market", shrink=True),
        Column("position"),
        Column("cost", right=True, priority=1),
        Column("realized P&L", right=True, priority=2, short="real."),
        Column("fees", right=True, priority=4),
        Column("volume", right=True, priority=5, short="vol"),
    ]
    with_marks = bool(marks) and any(m in (marks or {}) for m in rows)
    if with_marks:
        columns.insert(3, Column("unrealized P&L", right=True, priority=1, short="unreal."))
    table: list[list[Cell]] = []
    for market, msg in sorted(rows.items()):
        pos = to_decimal(msg.get("position_fp"))
        pnl = to_decimal(msg.get("realized_pnl_dollars"))
        cells = [
            (market, style.DIM if not pos else ""),
            _holding(pos),
            (money(msg.get("position_cost_dollars")), ""),
            (money(pnl, sign=True), style.BUY if pnl and pnl > 0 else style.SELL if pnl and pnl < 0 else ""),
            (money(msg.get("fees_paid_dollars")), ""),
            (_count(msg.get("volume_fp")), ""),
        ]
        if with_marks:
            cells.insert(3, _unrealized(msg, pos, (marks or {}).get(market)))
        table.append(cells)

    def build(width: int) -> list[_Block]:
        return [
            _Block([_heading("Your positions")]),
            *_table(columns, table, width, 1, "(no positions)"),
            _Block([_status(status, width)]),
        ]

    return _Fitted(build)


# --- orders --------------------------------------------------------------------------------------

_ORDER_COLUMNS = (
    Column("market", shrink=True),
    Column("order"),
    Column("price", right=True),
    Column("left", right=True),
    Column("filled", right=True, priority=2),
    Column("of", right=True, priority=3),
    Column("client order id", priority=5, short="client id"),
    Column("placed", priority=4),
)


def _order_row(msg: Mapping[str, Any]) -> list[Cell]:
    verb, side = trade_words(msg)
    return [
        (str(msg.get("ticker", "?")), ""),
        (f"{verb} {side.upper()}", style.SELL if verb == "sell" else style.BUY),
        _price(side_price(msg, side)),
        (_count(msg.get("remaining_count_fp")), "bold"),
        (_count(msg.get("fill_count_fp")), ""),
        (_count(msg.get("initial_count_fp")), ""),
        (str(msg.get("client_order_id") or "—"), style.DIM),
        (_clock(msg.get("created_ts_ms")), style.DIM),
    ]


def orders_view(rows: Mapping[str, Mapping[str, Any]], changes: Iterable[str], status: str) -> RenderableType:
    """Resting orders (each at its own side's price), then the latest changes."""
    ordered = sorted(rows.values(), key=lambda m: (str(m.get("ticker")), m.get("created_ts_ms") or 0))
    table = [_order_row(m) for m in ordered]
    recent: Sequence[str] = list(changes)

    def build(width: int) -> list[_Block]:
        log = [Text(clip_words(c, width), end="") for c in recent] or [Text("(no changes yet)", style=style.DIM)]
        return [
            _Block([_heading("Your resting orders")]),
            *_table(_ORDER_COLUMNS, table, width, 2, "(no resting orders)"),
            _Block([_heading("Changes")]),
            _Block(log, 1, oldest_first=True, keep=4),  # the latest changes stay
            _Block([_status(status, width)]),
        ]

    return _Fitted(build)


class LiveTable(LoopLive):
    """``async with LiveTable(render):`` redraw ``render(height)`` ``fps`` times a second until the block ends."""

    def __init__(
        self, render: Callable[[int], RenderableType], *, fps: float = 4.0, console: Console | None = None
    ) -> None:
        # The alternate screen, then the last table printed on the normal one: a line another
        # part writes to the terminal meanwhile (a reconnect notice) cannot leave a stale copy.
        super().__init__(fps=fps, console=console, screen=True, vertical_overflow="crop", print_final=True)
        self._render = render

    def render(self) -> RenderableType:
        return self._render(self.height)
