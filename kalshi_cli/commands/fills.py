"""``kalshi fills``: your executions, live and gap-free across reconnects (``feeds.fills``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kalshi_cli.feeds.context import ConnectionArgs

from kalshi_cli.commands.common import AllInSeriesOption, connection_options, market_option

__all__ = ["fills"]


@connection_options
def fills(
    market: Annotated[
        list[str] | None,
        market_option("Only these markets (repeat for several)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="WHEN",
            help="Print fills from this time first: 1h, 30m, 2d, an ISO time "
            "(2026-08-28T14:00:00Z; no offset = local time) or Unix ms.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="NDJSON, one fill per line (the default when stdout is not a terminal).")
    ] = False,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Exit after this many fills.")] = None,
    all_in_series: AllInSeriesOption = False,
    *,
    conn: ConnectionArgs,
) -> None:
    """Your fills as they happen, each exactly once, even across reconnects.

    On a terminal: a live table (time, market, outcome side, buy/sell, yes price, size, fee,
    maker/taker, position after) and running totals per market (bought, sold, average yes
    price, fees, net position). With --json (or into a pipe): one line per fill, the WebSocket
    `fill` frame exactly as received; a fill fetched from the REST API (from --since, or made
    while the connection was down) has the same shape, no `sid`, no `post_position_fp`, and
    `"backfill": true` at the top level. Needs an API key.

    Examples:

      kalshi fills --sim

      kalshi fills --since 1h -m KXHIGHNY-26AUG28-B84.5

      kalshi fills --since 2026-08-28T00:00:00Z --json | jq -c '.msg | [.market_ticker, .count_fp, .yes_price_dollars]'
    """
    from kalshi_cli import environment
    from kalshi_cli.feeds import fills as feed
    from kalshi_cli.portfolio import parse_since

    since_ms = parse_since(since) if since is not None else None
    settings = feed.FillsSettings(
        markets=list(market or []),
        since_ms=since_ms,
        json_out=json_out,
        count=count,
        all_in_series=all_in_series,
        conn=conn,
    )
    feed.run(settings, environment.current())
