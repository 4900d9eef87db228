"""The ``orders`` feed: your resting orders, seeded from REST, with changes as they happen."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kalshi_cli.environment import Environment
from kalshi_cli.feeds.context import ConnectionArgs
from kalshi_cli.feeds.private import SeededHandler, follow
from kalshi_cli.portfolio import rest_order_frame, to_decimal
from kalshi_cli.protocol import USER_ORDER, USER_ORDERS
from kalshi_cli.rest import RestClient
from kalshi_cli.sinks import Sink

__all__ = ["OrdersHandler", "OrdersSettings", "describe_change", "run"]


@dataclass
class OrdersSettings:
    markets: list[str] = field(default_factory=list)
    json_out: bool = False
    once: bool = False  # print the REST load and exit
    conn: ConnectionArgs = field(default_factory=ConnectionArgs)


def describe_change(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """What one ``user_order`` update did: placed, filled, partly filled, canceled, amended."""
    status = after.get("status")
    filled = to_decimal(after.get("fill_count_fp"))
    was_filled = to_decimal(before.get("fill_count_fp")) if before else None
    if status == "executed":
        return "filled"
    if status == "canceled":
        return "canceled"
    if before is None:
        return "placed" if not filled else "partly filled"
    if filled is not None and was_filled is not None and filled > was_filled:
        return "partly filled"
    reason = after.get("last_update_reason")
    if reason in ("Amend", "Decrease") or any(
        before.get(k) != after.get(k) for k in ("yes_price_dollars", "initial_count_fp", "remaining_count_fp")
    ):
        return "amended"
    return str(status or "updated")


class OrdersHandler(SeededHandler):
    """``user_orders`` frames over a ``GET /portfolio/orders?status=resting`` seed."""

    channel = USER_ORDERS
    frame_type = USER_ORDER
    path = "/portfolio/orders"
    rows_key = "orders"
    what = "orders"

    def __init__(self, sink: Sink, rest: RestClient, markets: list[str]) -> None:
        super().__init__(sink, rest, markets)
        self.rows: dict[str, dict[str, Any]] = {}
        self.changes: deque[str] = deque(maxlen=10)

    def params(self) -> list[tuple[str, Any]]:
        return [("status", "resting"), *super().params()]

    def seed_frame(self, row: dict[str, Any]) -> dict[str, Any]:
        return rest_order_frame(row)

    def ticker_of(self, msg: dict[str, Any]) -> str:
        return str(msg.get("ticker"))

    def reset(self, frames: list[dict[str, Any]]) -> None:
        fresh = {str(f["msg"].get("order_id")): f["msg"] for f in frames if f["msg"].get("status") == "resting"}
        if self.seeds:  # a reload after a reconnect: say what changed while we were away
            for order_id, msg in self.rows.items():
                if order_id not in fresh:
                    self._note(msg, "no longer resting (changed while disconnected)")
        self.rows = fresh

    def apply(self, obj: dict[str, Any]) -> None:
        msg = obj.get("msg")
        if not isinstance(msg, dict):
            return
        order_id = str(msg.get("order_id"))
        before = self.rows.get(order_id)
        if msg.get("status") == "resting":
            self.rows[order_id] = msg
        else:
            self.rows.pop(order_id, None)
        self._note(msg, describe_change(before, msg))

    def _note(self, msg: dict[str, Any], what: str) -> None:
        ms = msg.get("last_updated_ts_ms") or int(time.time() * 1000)
        from kalshi_cli.render.words import order_change

        clock = datetime.fromtimestamp(ms / 1000).strftime("%H:%M:%S")
        self.changes.append(order_change(msg, what, clock))


def run(settings: OrdersSettings, env: Environment) -> None:
    """Follow your resting orders until stopped."""

    def view(handler: OrdersHandler) -> Callable[[int], Any]:
        from kalshi_cli.render.portfolio import orders_view

        return lambda _height: orders_view(handler.rows, handler.changes, handler.state)

    def make(sink: Sink, rest: RestClient) -> OrdersHandler:
        return OrdersHandler(sink, rest, settings.markets)

    follow(settings.conn, env, settings.json_out, make, view, once=settings.once)
