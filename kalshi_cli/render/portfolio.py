"""Terminal tables for ``kalshi fills``, ``positions`` and ``orders``, and a small live view.

The ``*_view`` functions are pure: state in, a rich renderable out. ``LiveTable`` redraws one
from the event loop a few times a second (state is only touched on the loop), on the normal
screen so the last table stays visible after exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from kalshi_cli.portfolio import FillTotals, fill_outcome, to_decimal
from kalshi_cli.render.looplive import LoopLive

__all__ = ["LiveTable", "fills_view", "orders_view", "positions_view"]


def _clock(ms: int | None) -> str:
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000).strftime("%H:%M:%S.%f")[:-3]


def _num(value: Any, places: int | None = None, sign: bool = False) -> str:
    d = value if isinstance(value, Decimal) else to_decimal(value)
    if d is None:
        return "—"
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places))
    text = f"{d:+f}" if sign and d != 0 else f"{d:f}"
    if "." in text and places is None:
        text = text.rstrip("0").rstrip(".")
    return text


def _status(text: str) -> Text:
    return Text(text, style="dim")


def fills_view(rows: list[dict[str, Any]], totals: FillTotals, status: str, height: int) -> RenderableType:
    """Recent fills (newest at the bottom) over per-market running totals."""
    fills = Table(title="Your fills", title_justify="left", expand=False, pad_edge=False)
    for name, justify in (
        ("time", "left"),
        ("market", "left"),
        ("side", "left"),
        ("b/s", "left"),
        ("yes px", "right"),
        ("size", "right"),
        ("fee", "right"),
        ("m/t", "left"),
        ("pos after", "right"),
    ):
        fills.add_column(name, justify=justify, no_wrap=True)
    room = max(3, height - len(totals.markets) - 12)
    for row in rows[-room:]:
        msg = row["msg"]
        fills.add_row(
            _clock(row["ms"]) + (" *" if row["backfill"] else ""),
            str(msg.get("market_ticker", "?")),
            fill_outcome(msg),
            str(msg.get("action") or "—"),
            _num(msg.get("yes_price_dollars"), 4),
            _num(msg.get("count_fp")),
            _num(msg.get("fee_cost")),
            "taker" if msg.get("is_taker") else "maker",
            _num(row["post"]) if row["post"] is not None else "—",
        )
    sums = Table(title="Totals per market", title_justify="left", pad_edge=False)
    for name in ("market", "fills", "bought", "sold", "avg yes px", "fees", "net position"):
        sums.add_column(name, justify="left" if name == "market" else "right", no_wrap=True)
    for market, t in sorted(totals.markets.items()):
        avg = t.average_yes_price
        net = _num(t.position) if t.position is not None else f"{_num(t.delta, sign=True)} (change)"
        sums.add_row(
            market,
            str(t.fills),
            _num(t.bought),
            _num(t.sold),
            _num(avg, 4) if avg is not None else "—",
            _num(t.fees, 4),
            net,
        )
    note = "  * = fetched from the REST API (made while not connected, or before start)"
    return Group(fills, sums, _status(status + note))


def positions_view(rows: Mapping[str, Mapping[str, Any]], status: str) -> RenderableType:
    """One row per market: position, cost, realized P&L, fees."""
    table = Table(title="Your positions", title_justify="left", pad_edge=False)
    for name in ("market", "position", "side", "cost", "realized P&L", "fees", "volume"):
        table.add_column(name, justify="left" if name in ("market", "side") else "right", no_wrap=True)
    for market, msg in sorted(rows.items()):
        pos = to_decimal(msg.get("position_fp"))
        side = "—" if not pos else ("YES" if pos > 0 else "NO")
        table.add_row(
            market,
            _num(pos.copy_abs() if pos is not None else None),
            side,
            _num(msg.get("position_cost_dollars")),
            _num(msg.get("realized_pnl_dollars"), sign=True),
            _num(msg.get("fees_paid_dollars")),
            _num(msg.get("volume_fp")),
            style="dim" if not pos else None,
        )
    if not rows:
        table.add_row("(no positions)", "", "", "", "", "", "")
    return Group(table, _status(status))


def orders_view(rows: Mapping[str, Mapping[str, Any]], changes: Iterable[str], status: str) -> RenderableType:
    """Resting orders, then the latest changes (filled, canceled, amended)."""
    table = Table(title="Your resting orders", title_justify="left", pad_edge=False)
    for name in ("market", "side", "yes px", "remaining", "filled", "of", "client order id", "placed"):
        table.add_column(
            name, justify="right" if name in ("yes px", "remaining", "filled", "of") else "left", no_wrap=True
        )
    ordered = sorted(rows.values(), key=lambda m: (str(m.get("ticker")), m.get("created_ts_ms") or 0))
    for msg in ordered:
        table.add_row(
            str(msg.get("ticker", "?")),
            f"{msg.get('outcome_side', '?')} {msg.get('book_side', '')}",
            _num(msg.get("yes_price_dollars"), 4),
            _num(msg.get("remaining_count_fp")),
            _num(msg.get("fill_count_fp")),
            _num(msg.get("initial_count_fp")),
            str(msg.get("client_order_id") or "—"),
            _clock(msg.get("created_ts_ms")),
        )
    if not rows:
        table.add_row("(no resting orders)", "", "", "", "", "", "", "")
    recent = Text("\n".join(changes) or "(no changes yet)")
    return Group(table, Text("Changes", style="bold"), recent, _status(status))


class LiveTable(LoopLive):
    """``async with LiveTable(render):`` redraw ``render(height)`` ``fps`` times a second until the block ends."""

    def __init__(
        self, render: Callable[[int], RenderableType], *, fps: float = 4.0, console: Console | None = None
    ) -> None:
        super().__init__(fps=fps, console=console, vertical_overflow="crop")
        self._render = render

    def render(self) -> RenderableType:
        return self._render(self.console.size.height)
