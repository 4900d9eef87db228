"""The user's resting orders for ``kalshi book`` to mark on its ladders, on a session of their own.

The book is public; ``user_orders`` is private, so the marks ride a ``feeds.side`` session: if
it fails (error 9: the key lacks the entitlement, the server refuses the key), one warning says
so, the marks go, and the public book goes on untouched.
Resting orders are seeded from ``GET /portfolio/orders?status=resting`` and then followed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kalshi_cli.errors import KalshiCliError
from kalshi_cli.feeds.context import StreamContext
from kalshi_cli.feeds.private import rest_client
from kalshi_cli.feeds.side import run_side, side_session
from kalshi_cli.fixed import FixedPointError, parse_price
from kalshi_cli.portfolio import rest_order_frame
from kalshi_cli.protocol import USER_ORDER, USER_ORDERS, Head, parse_frame
from kalshi_cli.rest import RestError
from kalshi_cli.session import StreamHandler, Subscription

__all__ = ["Marks", "OwnOrders", "follow_own_orders", "marks_of"]

_MISSING = "your resting orders are not marked on the book"

#: ticker -> (YES prices of the user's resting bids, YES prices of their resting asks)
Marks = dict[str, tuple[frozenset[int], frozenset[int]]]


def _is_bid(msg: Mapping[str, Any]) -> bool:
    """A YES bid (buy yes): ``book_side`` bid ≡ outcome yes; older frames only say ``side``."""
    book_side = msg.get("book_side")
    if book_side in ("bid", "ask"):
        return bool(book_side == "bid")
    return bool((msg.get("outcome_side") or msg.get("side")) == "yes")


def marks_of(orders: Iterable[Mapping[str, Any]]) -> Marks:
    """Where each resting order sits on its market's YES ladder (unreadable prices are skipped)."""
    sides: dict[str, tuple[set[int], set[int]]] = {}
    for msg in orders:
        try:
            price = parse_price(str(msg.get("yes_price_dollars")))
        except FixedPointError:
            continue
        bids, asks = sides.setdefault(str(msg.get("ticker")), (set(), set()))
        (bids if _is_bid(msg) else asks).add(price)
    return {ticker: (frozenset(b), frozenset(a)) for ticker, (b, a) in sides.items()}


class OwnOrders(StreamHandler):
    """Follows ``user_orders`` and hands ``publish`` the marks after every change."""

    def __init__(self, markets: list[str], publish: Callable[[Marks], None]) -> None:
        self.markets = set(markets)
        self.publish = publish
        self.resting: dict[str, dict[str, Any]] = {}  # order_id -> its latest resting msg
        self.seen: set[str] | None = set()  # until seeded: ids the stream spoke of (newer than REST)

    def seed(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """The REST view of resting orders, which may be older than what the stream said since."""
        seen, self.seen = self.seen or set(), None
        for row in rows:
            msg = rest_order_frame(row)["msg"]
            order_id = str(msg.get("order_id"))
            if order_id not in seen and msg.get("status") == "resting":
                self._keep(order_id, msg)
        self.publish(marks_of(self.resting.values()))

    def update(self, msg: Mapping[str, Any]) -> None:
        order_id = str(msg.get("order_id"))
        if self.seen is not None:
            self.seen.add(order_id)
        if msg.get("status") == "resting":
            self._keep(order_id, msg)
        else:
            self.resting.pop(order_id, None)
        self.publish(marks_of(self.resting.values()))

    def _keep(self, order_id: str, msg: Mapping[str, Any]) -> None:
        if not self.markets or msg.get("ticker") in self.markets:
            self.resting[order_id] = dict(msg)

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        if head.type == USER_ORDER:
            obj = head.obj if head.obj is not None else parse_frame(raw)
            if isinstance(obj.get("msg"), dict):
                self.update(obj["msg"])


async def follow_own_orders(ctx: StreamContext, markets: list[str], publish: Callable[[Marks], None]) -> None:
    """Keep ``publish``-ing the user's resting orders on ``markets`` until cancelled; on failure,
    warn once and publish no marks (never raises a stream or REST error)."""
    handler = OwnOrders(markets, publish)
    session = side_session(ctx, [Subscription(USER_ORDERS, {"market_tickers": list(markets)})], handler)
    stream = asyncio.ensure_future(run_side(session, ctx, _MISSING))
    try:
        try:
            handler.seed(await rest_client(ctx).paginate("/portfolio/orders", "orders", [("status", "resting")]))
        except RestError:
            handler.seed(())  # no REST view: orders placed before now show once they change
        except KalshiCliError as exc:  # the key was refused
            ctx.reporter.warn(f"{_MISSING}: {exc}")
            publish({})
            return
        if not await stream:
            publish({})
    finally:
        stream.cancel()
