"""``kalshi positions``: your market positions, seeded from REST and kept live from the socket."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from kalshi_cli.commands.common import ConnectionArgs, connection_options, open_context
from kalshi_cli.commands.private import SeededHandler, follow, rest_client
from kalshi_cli.commands.runner import run_main
from kalshi_cli.portfolio import rest_position_frame
from kalshi_cli.session import Subscription

__all__ = ["PositionsHandler", "positions"]


class PositionsHandler(SeededHandler):
    """``market_positions`` frames over a ``GET /portfolio/positions`` seed, one row per market."""

    channel = "market_positions"
    frame_type = "market_position"
    path = "/portfolio/positions"
    rows_key = "market_positions"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows: dict[str, dict[str, Any]] = {}

    def seed_frame(self, row: dict[str, Any]) -> dict[str, Any]:
        return rest_position_frame(row)

    def ticker_of(self, msg: dict[str, Any]) -> str:
        return str(msg.get("market_ticker"))

    def reset(self, frames: list[dict[str, Any]]) -> None:
        self.rows = {self.ticker_of(f["msg"]): f["msg"] for f in frames}

    def apply(self, obj: dict[str, Any]) -> None:
        msg = obj.get("msg")
        if isinstance(msg, dict):
            key = self.ticker_of(msg)
            if msg.get("subaccount"):
                key += f" (sub {msg['subaccount']})"
            self.rows[key] = msg


@connection_options
def positions(
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
    """Your positions per market (position, cost, realized P&L, fees), live.

    The table is complete before the first change: it is loaded from the REST API
    (GET /portfolio/positions) after subscribing to `market_positions`, and loaded again after
    every reconnect (the channel has no sequence numbers, so changes while disconnected
    would be lost otherwise). With --json, each load prints one line per market in the
    WebSocket `market_position` frame shape with `"seed": true` (cost is REST's
    `market_exposure_dollars`), followed by the live `market_position` frames exactly as
    received. Needs an API key.

    Examples:

      kalshi positions --sim

      kalshi positions -m KXHIGHNY-26AUG28-B84.5 -m KXHIGHNY-26AUG28-B86.5

      kalshi positions --json | jq -c 'select(.seed | not) | .msg | [.market_ticker, .position_fp]'
    """
    markets = list(market or [])
    as_json = json_out or not sys.stdout.isatty()

    async def main() -> None:
        async with open_context(conn, need_key=True) as ctx:
            handler = PositionsHandler(rest_client(ctx), markets, as_json=as_json)
            subs = [Subscription("market_positions", {"market_tickers": markets} if markets else {})]
            view = None
            if not as_json:
                from kalshi_cli.render.portfolio import positions_view

                def view(_height: int) -> Any:
                    return positions_view(handler.rows, handler.state)

            await follow(ctx, subs, handler, stale_after=conn.stale_after, view=view)

    run_main(main)
