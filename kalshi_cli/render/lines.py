"""One readable, coloured line per message for ``kalshi tail`` on a terminal.

Pure: a parsed frame in, a ``rich.text.Text`` out. Each channel shows what a trader scans
for (a trade: time, market, taker side, yes price, size); unknown types get a compact
summary so nothing is hidden.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from rich.text import Text

__all__ = ["format_line"]

_SIDE_STYLE = {"yes": "bold green", "no": "bold red", "bid": "green", "ask": "red"}


def _clock(frame: dict[str, Any], msg: dict[str, Any]) -> str:
    ms = msg.get("ts_ms") or frame.get("sending_ts_ms")
    if not isinstance(ms, int):
        ts = msg.get("ts")
        ms = ts * 1000 if isinstance(ts, int) else int(time.time() * 1000)
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"


def _g(msg: dict[str, Any], key: str, default: str = "-") -> str:
    value = msg.get(key)
    return default if value is None else str(value)


def format_line(frame: dict[str, Any]) -> Text:
    """The terminal line for one data frame."""
    kind = str(frame.get("type", "?"))
    msg = frame.get("msg") if isinstance(frame.get("msg"), dict) else {}
    market = str(msg.get("market_ticker") or msg.get("ticker") or msg.get("event_ticker") or "")
    line = Text()
    line.append(_clock(frame, msg), style="dim")
    line.append(f" {kind.upper():<20}", style="bold cyan")
    line.append(f" {market}", style="bold")
    render = _RENDERERS.get(kind)
    if render is not None:
        render(line, msg)
    else:
        line.append("  " + _compact(msg), style="")
    return line


def _side(line: Text, side: str) -> None:
    line.append(f" {side.upper():<3}", style=_SIDE_STYLE.get(side, ""))


def _trade(line: Text, m: dict[str, Any]) -> None:
    line.append("  taker")
    _side(line, _g(m, "taker_outcome_side", _g(m, "taker_side")))
    line.append(f"  yes {_g(m, 'yes_price_dollars')}", style="bold")
    line.append(f"  x {_g(m, 'count_fp')}")
    if m.get("is_block_trade"):
        line.append("  block", style="magenta")


def _ticker(line: Text, m: dict[str, Any]) -> None:
    line.append(f"  bid {_g(m, 'yes_bid_dollars')}", style="green")
    line.append(f" x {_g(m, 'yes_bid_size_fp')}", style="dim")
    line.append(f"  ask {_g(m, 'yes_ask_dollars')}", style="red")
    line.append(f" x {_g(m, 'yes_ask_size_fp')}", style="dim")
    line.append(f"  last {_g(m, 'price_dollars')}", style="bold")
    line.append(f"  vol {_g(m, 'volume_fp')}  oi {_g(m, 'open_interest_fp')}")


def _snapshot(line: Text, m: dict[str, Any]) -> None:
    yes = m.get("yes_dollars_fp") or []
    no = m.get("no_dollars_fp") or []
    line.append(f"  {len(yes)} yes / {len(no)} no levels")
    best_bid = _best(yes)
    best_no = _best(no)
    if best_bid is not None:
        line.append(f"  bid {best_bid}", style="green")
    if best_no is not None:
        line.append(f"  ask {Decimal(1) - best_no}", style="red")
    line.append(f"  clock {_g(m, 'clock')}", style="dim")


def _best(levels: Any) -> Decimal | None:
    try:
        return max(Decimal(str(level[0])) for level in levels) if levels else None
    except (ArithmeticError, TypeError, IndexError, ValueError):
        return None


def _delta(line: Text, m: dict[str, Any]) -> None:
    _side(line, _g(m, "side"))
    delta = _g(m, "delta_fp")
    line.append(f"  {_g(m, 'price_dollars')}")
    line.append(f"  {delta}", style="green" if not delta.startswith("-") else "red")
    line.append(f"  clock {_g(m, 'clock')}", style="dim")
    if m.get("client_order_id"):
        line.append(f"  your order {m['client_order_id']}", style="yellow")


def _fill(line: Text, m: dict[str, Any]) -> None:
    action = _g(m, "action", "")
    line.append(f"  {action}" if action else "")
    _side(line, _g(m, "outcome_side", _g(m, "side")))
    line.append(f"  {_g(m, 'count_fp')} @ yes {_g(m, 'yes_price_dollars')}", style="bold")
    line.append(f"  fee {_g(m, 'fee_cost')}")
    line.append("  taker" if m.get("is_taker") else "  maker", style="dim")
    if "post_position_fp" in m:
        line.append(f"  pos {_g(m, 'post_position_fp')}")


def _position(line: Text, m: dict[str, Any]) -> None:
    line.append(f"  pos {_g(m, 'position_fp')}", style="bold")
    line.append(f"  cost {_g(m, 'position_cost_dollars')}  pnl {_g(m, 'realized_pnl_dollars')}")
    line.append(f"  fees {_g(m, 'fees_paid_dollars')}")


def _order(line: Text, m: dict[str, Any]) -> None:
    line.append(f"  {_g(m, 'status')}", style="bold")
    _side(line, _g(m, "outcome_side"))
    line.append(f" {_g(m, 'book_side')}  yes {_g(m, 'yes_price_dollars')}")
    line.append(f"  filled {_g(m, 'fill_count_fp')}/{_g(m, 'initial_count_fp')}")
    if m.get("last_update_reason"):
        line.append(f"  ({m['last_update_reason']})", style="dim")


def _lifecycle(line: Text, m: dict[str, Any]) -> None:
    line.append(f"  {_g(m, 'event_type')}", style="bold yellow")
    for key in ("result", "settlement_value", "close_ts", "is_deactivated"):
        if key in m:
            line.append(f"  {key}={m[key]}", style="dim")


def _compact(m: dict[str, Any], limit: int = 160) -> str:
    parts = []
    for key, value in m.items():
        if key in ("market_ticker", "ticker"):
            continue
        if isinstance(value, dict | list):
            value = "{…}" if isinstance(value, dict) else f"[{len(value)}]"
        parts.append(f"{key}={value}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_RENDERERS = {
    "trade": _trade,
    "ticker": _ticker,
    "orderbook_snapshot": _snapshot,
    "orderbook_delta": _delta,
    "fill": _fill,
    "market_position": _position,
    "user_order": _order,
    "market_lifecycle_v2": _lifecycle,
    "multivariate_market_lifecycle": _lifecycle,
}
