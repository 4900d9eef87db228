"""``kalshi markets``: find markets over Kalshi's REST catalogue (``feeds.market_list``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kalshi_cli.feeds.context import ConnectionArgs

from kalshi_cli.commands.common import connection_options
from kalshi_cli.completers import complete_event, complete_series

__all__ = ["markets"]


@connection_options
def markets(
    query: Annotated[
        list[str] | None,
        typer.Argument(help="Words every listed market must contain (ticker, title or strike).", show_default=False),
    ] = None,
    series: Annotated[
        str | None,
        typer.Option(
            "--series", metavar="SERIES", help="Only this series (e.g. KXHIGHNY).", autocompletion=complete_series
        ),
    ] = None,
    event: Annotated[
        str | None,
        typer.Option(
            "--event", metavar="EVENT", help="Only this event (e.g. KXHIGHNY-26DEC05).", autocompletion=complete_event
        ),
    ] = None,
    status: Annotated[
        str,
        typer.Option(
            "--status",
            metavar="WORD",
            help="open, closed, settled, unopened, paused or all (comma-separated for several).",
        ),
    ] = "open",
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            metavar="KEY",
            help="volume or open_interest (largest first), close (soonest first), spread (tightest first).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option("--limit", metavar="N", min=1, help="At most N markets.  [default: 50 on a terminal, else all]"),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="NDJSON, one market per line as the API sent it (the default in a pipe).")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Reload the whole open catalogue into the local cache first.")
    ] = False,
    *,
    conn: ConnectionArgs,
) -> None:
    """Find markets: by words, series, event or status; a table on a terminal, NDJSON into a pipe.

    Lists markets from Kalshi's public REST API (GET /markets, paged up to 1000 at a time; no
    API key needed). --series, --event and --status filter on the server; QUERY words are
    matched here, over what the filters returned (the API has no text search): every word must
    occur in the ticker, title or strike, in any case. A terminal gets a table (ticker, strike
    and title, YES bid and ask in cents, last, volume, open interest, time to close); a pipe
    gets one market object per line, exactly the fields the API returned. No match is a note on
    stderr and exit 0; a REST failure is one line and exit 4.

    Every run remembers the markets it read in the local cache ($XDG_CACHE_HOME/kalshi, per
    environment), which shell completion of tickers reads; --refresh reloads every open market
    and event into it first.

    Examples:

      kalshi markets --sim

      kalshi markets bitcoin --sim --sort volume --limit 5

      kalshi markets --sim --json | jq -r .ticker

      kalshi markets --series KXBTCD --sort close

      kalshi markets --event KXBTCD-26DEC2517 --status all --json
    """
    from kalshi_cli import environment
    from kalshi_cli.errors import UsageError
    from kalshi_cli.feeds import market_list as feed
    from kalshi_cli.market_query import SORTS, parse_status

    try:
        api_status = parse_status(status)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if sort is not None and sort not in SORTS:
        raise UsageError(f"--sort expects one of {', '.join(SORTS)}; got {sort!r}")
    settings = feed.MarketsSettings(
        query=list(query or []),
        series=series.strip().upper() if series else None,
        event=event.strip().upper() if event else None,
        status=api_status,
        sort=sort,
        limit=limit,
        json_out=json_out,
        refresh=refresh,
        conn=conn,
    )
    feed.run(settings, environment.current())
