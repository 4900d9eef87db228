"""``kalshi positions``: your market positions, seeded from REST and kept live (``feeds.positions``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kalshi_cli.feeds.context import ConnectionArgs

from kalshi_cli.commands.common import OnceOption, SeededJsonOption, SeededMarketsOption, connection_options

__all__ = ["positions"]


@connection_options
def positions(
    market: SeededMarketsOption = None,
    json_out: SeededJsonOption = False,
    once: OnceOption = False,
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

      kalshi positions --sim --once --json

      kalshi positions -m KXHIGHNY-26AUG28-B84.5 -m KXHIGHNY-26AUG28-B86.5

      kalshi positions --json | jq -c 'select(.seed | not) | .msg | [.market_ticker, .position_fp]'
    """
    from kalshi_cli import environment
    from kalshi_cli.feeds import positions as feed

    settings = feed.PositionsSettings(markets=list(market or []), json_out=json_out, once=once, conn=conn)
    feed.run(settings, environment.current())
