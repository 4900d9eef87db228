"""``kalshi orders``: your resting orders, seeded from REST, with changes as they happen (``feeds.orders``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kalshi_cli.feeds.context import ConnectionArgs

from kalshi_cli.commands.common import OnceOption, SeededJsonOption, SeededMarketsOption, connection_options

__all__ = ["orders"]


@connection_options
def orders(
    market: SeededMarketsOption = None,
    json_out: SeededJsonOption = False,
    once: OnceOption = False,
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

      kalshi orders --sim --once --json

      kalshi orders -m KXHIGHNY-26AUG28-B84.5

      kalshi orders --json | jq -c '.msg | [.ticker, .status, .remaining_count_fp]'
    """
    from kalshi_cli import environment
    from kalshi_cli.feeds import orders as feed

    settings = feed.OrdersSettings(markets=list(market or []), json_out=json_out, once=once, conn=conn)
    feed.run(settings, environment.current())
