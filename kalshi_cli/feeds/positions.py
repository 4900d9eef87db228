"""The ``positions`` feed: your market positions, seeded from REST and kept live from the socket."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kalshi_cli.environment import Environment
from kalshi_cli.feeds.context import ConnectionArgs, StreamContext
from kalshi_cli.feeds.private import SeededHandler, follow
from kalshi_cli.portfolio import rest_position_frame, to_decimal
from kalshi_cli.protocol import MARKET_POSITION, MARKET_POSITIONS
from kalshi_cli.rest import RestClient
from kalshi_cli.sinks import Sink

__all__ = ["PositionsHandler", "PositionsSettings", "run"]


@dataclass
class PositionsSettings:
    markets: list[str] = field(default_factory=list)
    json_out: bool = False
    once: bool = False  # print the REST load and exit
    conn: ConnectionArgs = field(default_factory=ConnectionArgs)


class PositionsHandler(SeededHandler):
    """``market_positions`` frames over a ``GET /portfolio/positions`` seed, one row per market."""

    channel = MARKET_POSITIONS
    frame_type = MARKET_POSITION
    path = "/portfolio/positions"
    rows_key = "market_positions"
    what = "positions"

    def __init__(self, sink: Sink, rest: RestClient, markets: list[str]) -> None:
        super().__init__(sink, rest, markets)
        self.rows: dict[str, dict[str, Any]] = {}
        self.marks: dict[str, Decimal] = {}  # market -> YES mid, for the unrealized P&L column

    def held(self) -> set[str]:
        """The markets with a position, to mark to market."""
        return {self.ticker_of(m) for m in self.rows.values() if to_decimal(m.get("position_fp"))}

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


def run(settings: PositionsSettings, env: Environment) -> None:
    """Follow your positions until stopped."""

    def view(handler: PositionsHandler) -> Callable[[int], Any]:
        from kalshi_cli.render.portfolio import positions_view

        return lambda _height: positions_view(handler.rows, handler.state, marks=handler.marks)

    def make(sink: Sink, rest: RestClient) -> PositionsHandler:
        return PositionsHandler(sink, rest, settings.markets)

    async def marks(handler: PositionsHandler, ctx: StreamContext) -> None:
        from kalshi_cli.feeds.marks import follow_marks

        await follow_marks(ctx, handler.held, handler.marks)

    follow(settings.conn, env, settings.json_out, make, view, once=settings.once, side=marks)
