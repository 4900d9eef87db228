"""Marks to market for ``kalshi positions``: each held market's YES mid, from ``ticker``.

The ``ticker`` channel rides a ``feeds.side`` session on the markets the table holds, started
again when that set changes; if it fails, one warning, and the unrealized P&L column says it
has no mark.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from kalshi_cli.feeds.context import StreamContext
from kalshi_cli.feeds.side import run_side, side_session
from kalshi_cli.portfolio import to_decimal
from kalshi_cli.protocol import TICKER, Head, parse_frame
from kalshi_cli.session import StreamHandler, Subscription

__all__ = ["TickerMarks", "follow_marks", "yes_mid"]

RECHECK = 1.0  # seconds between looks at which markets the table holds


def yes_mid(msg: Mapping[str, Any]) -> Decimal | None:
    """The middle of the best YES bid and ask, in dollars (None without both)."""
    bid, ask = to_decimal(msg.get("yes_bid_dollars")), to_decimal(msg.get("yes_ask_dollars"))
    return None if bid is None or ask is None else (bid + ask) / 2


class TickerMarks(StreamHandler):
    """``ticker`` frames -> ``marks[market] = YES mid``."""

    def __init__(self, marks: dict[str, Decimal]) -> None:
        self.marks = marks

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        if head.type != TICKER:
            return
        msg = (head.obj if head.obj is not None else parse_frame(raw)).get("msg")
        if isinstance(msg, dict) and isinstance(msg.get("market_ticker"), str):
            mid = yes_mid(msg)
            if mid is not None:
                self.marks[msg["market_ticker"]] = mid


async def follow_marks(ctx: StreamContext, held: Callable[[], set[str]], marks: dict[str, Decimal]) -> None:
    """Keep ``marks`` current for the markets ``held()`` names, until cancelled or failed."""
    markets: set[str] = set()
    stream: asyncio.Task[bool] | None = None
    try:
        while True:
            wanted = held()
            if wanted != markets:
                if stream is not None:
                    stream.cancel()
                markets, stream = wanted, None
                if markets:
                    params = {"market_tickers": sorted(markets), "send_initial_snapshot": True}
                    session = side_session(ctx, [Subscription(TICKER, params)], TickerMarks(marks))
                    stream = asyncio.ensure_future(run_side(session, ctx, "no marks for unrealized P&L"))
            if stream is not None and stream.done() and not stream.cancelled() and not stream.result():
                return  # warned once; the column says there is no mark
            await asyncio.sleep(RECHECK)
    finally:
        if stream is not None:
            stream.cancel()
