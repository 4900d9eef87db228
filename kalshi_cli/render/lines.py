"""One readable, coloured line per message for ``kalshi tail`` on a terminal.

Pure: a parsed frame in, a ``rich.text.Text`` out, never wider than ``width``. Fixed columns
(time, a five-letter channel tag, the ticker padded to one width, then the channel's fields)
so lines scan down the screen; at 80 columns the ticker is shortened from the middle, on a
wide terminal it is whole. Each channel shows what a trader scans for (a trade: taker side,
yes price, size); its fields are kept in order of use and the least useful left out when the
width is short, never cut. Unknown types get a compact summary so nothing is hidden.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from rich.text import Text

from kalshi_cli.fixed import format_price, parse_price
from kalshi_cli.protocol import (
    FILL,
    MARKET_LIFECYCLE,
    MARKET_POSITION,
    ORDERBOOK_DELTA,
    ORDERBOOK_SNAPSHOT,
    TICKER,
    TRADE,
    USER_ORDER,
)
from kalshi_cli.render import style
from kalshi_cli.render.fit import Field, fit_fields, shorten_middle
from kalshi_cli.render.words import side_price, trade_words

__all__ = ["TAGS", "format_line", "ticker_width"]

_SIDE_STYLE = {"yes": style.YES, "no": style.NO, "bid": style.BID, "ask": style.ASK}
#: the channel tag column: five letters for the types a trader reads most.
TAGS = {
    TRADE: "TRADE",
    TICKER: "TICK",
    ORDERBOOK_SNAPSHOT: "SNAP",
    ORDERBOOK_DELTA: "DELTA",
    FILL: "FILL",
    MARKET_POSITION: "POS",
    USER_ORDER: "ORDER",
    MARKET_LIFECYCLE: "LIFE",
    "multivariate_market_lifecycle": "MVLIF",
    "event_lifecycle": "EVENT",
}
_TAG_WIDTH = 5
_CLOCK_WIDTH = 12
#: cells the fields keep at 80 columns; what is left (24) is the ticker's.
_FIELDS_AT_80 = 36
_TICKER_MAX = 48  # multivariate tickers run to 47


def ticker_width(width: int) -> int:
    """The ticker column for a terminal ``width`` wide: 12 at 60, 24 at 80, whole from 104."""
    return max(12, min(_TICKER_MAX, width - _CLOCK_WIDTH - _TAG_WIDTH - 4 - _FIELDS_AT_80))


def _clock(frame: dict[str, Any], msg: dict[str, Any]) -> str:
    ms = msg.get("ts_ms") or frame.get("sending_ts_ms")
    if not isinstance(ms, int):
        ts = msg.get("ts")
        ms = ts * 1000 if isinstance(ts, int) else int(time.time() * 1000)
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"


def _g(msg: dict[str, Any], key: str, default: str = "-") -> str:
    value = msg.get(key)
    return default if value is None else str(value)


def format_line(frame: dict[str, Any], *, width: int = 80) -> Text:
    """The terminal line for one data frame, at most ``width`` cells."""
    kind = str(frame.get("type", "?"))
    raw_msg = frame.get("msg")
    msg: dict[str, Any] = raw_msg if isinstance(raw_msg, dict) else {}
    market = str(msg.get("market_ticker") or msg.get("ticker") or msg.get("event_ticker") or "")
    tw = ticker_width(width)
    line = Text(no_wrap=True, overflow="crop", end="")
    line.append(_clock(frame, msg), style=style.DIM)
    line.append(f" {TAGS.get(kind, kind[:_TAG_WIDTH].upper()):<{_TAG_WIDTH}}", style="bold cyan")
    line.append(f" {shorten_middle(market, tw):<{tw}}", style="bold")
    render = _RENDERERS.get(kind)
    fields = render(msg) if render is not None else [Field(kind, "cyan"), *_compact(msg)]
    line.append("  ")
    line.append_text(fit_fields(fields, max(0, width - len(line.plain)), strict=True))
    line.rstrip()
    return line


def _side(side: str, priority: int = 0) -> Field:
    return Field(f"{side.upper():<3}", _SIDE_STYLE.get(side, ""), priority)


def _own_price(msg: dict[str, Any], side: str) -> str:
    """The price of the side itself (a NO at yes 0.4400 costs 0.5600), else the yes price."""
    price = side_price(msg, side)
    return f"yes {_g(msg, 'yes_price_dollars')}" if price is None else format_price(parse_price(str(price)))


def _trade(m: dict[str, Any]) -> list[Field]:
    fields = [
        _side(_g(m, "taker_outcome_side", _g(m, "taker_side"))),
        Field(f"yes {_g(m, 'yes_price_dollars'):>6}", "bold"),
        Field(f"x{_g(m, 'count_fp'):>9}"),
    ]
    if m.get("is_block_trade"):
        fields.append(Field("block", "magenta", 1))
    return fields


def _ticker(m: dict[str, Any]) -> list[Field]:
    return [
        Field(f"{_g(m, 'yes_bid_dollars')}", style.BID, sep="  "),
        Field(f"x{_g(m, 'yes_bid_size_fp')}", style.DIM, 3, sep=" "),
        Field(f"/ {_g(m, 'yes_ask_dollars')}", style.ASK, sep=" "),
        Field(f"x{_g(m, 'yes_ask_size_fp')}", style.DIM, 3, sep=" "),
        Field(f"last {_g(m, 'price_dollars')}", "bold", 1),
        Field(f"vol {_g(m, 'volume_fp')}", "", 4),
        Field(f"oi {_g(m, 'open_interest_fp')}", "", 5),
    ]


def _best(levels: Any) -> Decimal | None:
    try:
        return max(Decimal(str(level[0])) for level in levels) if levels else None
    except (ArithmeticError, TypeError, IndexError, ValueError):
        return None


def _snapshot(m: dict[str, Any]) -> list[Field]:
    yes = m.get("yes_dollars_fp") or []
    no = m.get("no_dollars_fp") or []
    best_bid, best_no = _best(yes), _best(no)
    return [
        Field(f"bid {'-' if best_bid is None else best_bid}", style.BID),
        Field(f"ask {'-' if best_no is None else Decimal(1) - best_no}", style.ASK),
        Field(f"{len(yes)} yes / {len(no)} no levels", "", 1),
        Field(f"clock {_g(m, 'clock')}", style.DIM, 2),
    ]


def _delta(m: dict[str, Any]) -> list[Field]:
    delta = _g(m, "delta_fp")
    fields = [
        _side(_g(m, "side")),
        Field(f"{_g(m, 'price_dollars'):>6}"),
        Field(f"{delta:>9}", style.SELL if delta.startswith("-") else style.BUY),
        Field(f"clock {_g(m, 'clock')}", style.DIM, 2),
    ]
    if m.get("client_order_id"):
        fields.insert(3, Field(f"yours {m['client_order_id']}", "yellow", 1))
    return fields


def _fill(m: dict[str, Any]) -> list[Field]:
    verb, side = trade_words(m)
    fields = [
        Field(f"{verb:<4}", style.SELL if verb == "sell" else style.BUY),
        _side(side),
        Field(f"{_g(m, 'count_fp')} @ {_own_price(m, side)}", "bold", sep=" "),
        Field(f"pos {_g(m, 'post_position_fp')}", "", 1) if "post_position_fp" in m else None,
        Field(f"fee {_g(m, 'fee_cost')}", "", 2),
        Field("taker" if m.get("is_taker") else "maker", style.DIM, 3),
    ]
    return [f for f in fields if f is not None]


def _position(m: dict[str, Any]) -> list[Field]:
    return [
        Field(f"pos {_g(m, 'position_fp')}", "bold"),
        Field(f"cost {_g(m, 'position_cost_dollars')}", "", 1),
        Field(f"pnl {_g(m, 'realized_pnl_dollars')}", "", 2),
        Field(f"fees {_g(m, 'fees_paid_dollars')}", "", 3),
    ]


def _order(m: dict[str, Any]) -> list[Field]:
    verb, side = trade_words(m)
    fields = [
        Field(f"{_g(m, 'status')}", "bold"),
        Field(verb, style.SELL if verb == "sell" else style.BUY),
        _side(side),
        Field(f"@ {_own_price(m, side)}", "", sep=" "),
        Field(f"filled {_g(m, 'fill_count_fp')}/{_g(m, 'initial_count_fp')}", "", 1),
    ]
    if m.get("last_update_reason"):
        fields.append(Field(f"({m['last_update_reason']})", style.DIM, 2))
    return fields


def _lifecycle(m: dict[str, Any]) -> list[Field]:
    fields = [Field(f"{_g(m, 'event_type')}", "bold yellow")]
    for i, key in enumerate(("result", "settlement_value", "close_ts", "is_deactivated")):
        if key in m:
            fields.append(Field(f"{key}={m[key]}", style.DIM, 1 + i))
    return fields


def _compact(m: dict[str, Any]) -> list[Field]:
    """Every other field as ``key=value``, in order, later ones left out first."""
    fields: list[Field] = []
    for key, value in m.items():
        if key in ("market_ticker", "ticker"):
            continue
        if isinstance(value, dict | list):
            value = "{…}" if isinstance(value, dict) else f"[{len(value)}]"
        fields.append(Field(f"{key}={value}", "", 1 + len(fields), sep=" "))
    return fields


_RENDERERS = {
    TRADE: _trade,
    TICKER: _ticker,
    ORDERBOOK_SNAPSHOT: _snapshot,
    ORDERBOOK_DELTA: _delta,
    FILL: _fill,
    MARKET_POSITION: _position,
    USER_ORDER: _order,
    MARKET_LIFECYCLE: _lifecycle,
    "multivariate_market_lifecycle": _lifecycle,
}
