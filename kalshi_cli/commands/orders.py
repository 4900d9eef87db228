"""``kalshi orders``: your resting orders, seeded from REST, with changes as they happen."""

from __future__ import annotations

import sys
import time
from collections import deque
from datetime import datetime
from typing import Annotated, Any

import typer

from kalshi_cli.commands.common import ConnectionArgs, connection_options, open_context
from kalshi_cli.commands.private import SeededHandler, follow, rest_client
from kalshi_cli.commands.runner import run_main
from kalshi_cli.portfolio import rest_order_frame, to_decimal
from kalshi_cli.session import Subscription

__all__ = ["OrdersHandler", "describe_change", "orders"]


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

    channel = "user_orders"
    frame_type = "user_order"
    path = "/portfolio/orders"
    rows_key = "orders"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
        clock = datetime.fromtimestamp(ms / 1000).strftime("%H:%M:%S")
        left = to_decimal(msg.get("remaining_count_fp"))
        self.changes.append(
            f"{clock}  {what:<9} {msg.get('ticker', '?')} {msg.get('outcome_side', '?')} @ "
            f"{msg.get('yes_price_dollars', '?')}  filled {msg.get('fill_count_fp', '?')} of "
            f"{msg.get('initial_count_fp', '?')}"
            + (f", {left:f} left" if left else "")
            + f"  ({msg.get('client_order_id') or msg.get('order_id')})"
        )


@connection_options
def orders(
    market: Annotated[
        list[str] | None,
        typer.Option("--market", "-m", metavar="TICKER", help="Only these markets (repeat for several)."),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option("--json", help="NDJSON (the default when stdout is not a terminal): seed rows, then live frames."),
    ] = False,
    *,
    conn: ConnectionArgs,
) -> None:
    """Your resting orders, live: fills, cancels and amendments as they happen.

    The table is complete before the first change: it is loaded from the REST API
    (GET /portfolio/orders?status=resting) after subscribing to `user_orders`, and loaded
    again after every reconnect (the channel has no sequence numbers). With --json, each load
    prints one line per resting order in the WebSocket `user_order` frame shape with
    `"seed": true`, followed by the live `user_order` frames exactly as received (any status:
    resting, executed, canceled). Needs an API key.

    Examples:

      kalshi orders --sim

      kalshi orders -m KXHIGHNY-26AUG28-B84.5

      kalshi orders --json | jq -c '.msg | [.ticker, .status, .remaining_count_fp]'
    """
    markets = list(market or [])
    as_json = json_out or not sys.stdout.isatty()

    async def main() -> None:
        async with open_context(conn, need_key=True) as ctx:
            handler = OrdersHandler(rest_client(ctx), markets, as_json=as_json)
            subs = [Subscription("user_orders", {"market_tickers": markets} if markets else {})]
            view = None
            if not as_json:
                from kalshi_cli.render.portfolio import orders_view

                def view(_height: int) -> Any:
                    return orders_view(handler.rows, handler.changes, handler.state)

            await follow(ctx, subs, handler, stale_after=conn.stale_after, view=view)

    run_main(main)
