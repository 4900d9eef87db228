"""``kalshi book``: exact live order books that heal themselves, drawn or as NDJSON (``feeds.book``)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kalshi_cli.feeds.context import ConnectionArgs

from kalshi_cli.commands.common import (
    AllInSeriesOption,
    BusDurableOption,
    BusSinceOption,
    BusSourceOption,
    ContinuityOption,
    RedundantOption,
    StatsOption,
    connection_options,
)
from kalshi_cli.completers import complete_ticker

__all__ = ["Layout", "book"]


class Layout(StrEnum):
    grid = "grid"
    stack = "stack"


@connection_options
def book(
    tickers: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME...",
            help="Market, event or series tickers, or kalshi.com market pages.",
            show_default=False,
            autocompletion=complete_ticker,
        ),
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth", "-d", min=1, help="Levels per side (view: as many as the terminal height allows; JSON: all)."
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="NDJSON: a line per market with its book after each "
            "change or burst of changes (the default when stdout is not a "
            "terminal).",
        ),
    ] = False,
    every: Annotated[
        bool,
        typer.Option(
            "--every",
            help="With --json: a line after every applied frame, "
            "even in a burst (slower; for when each intermediate state "
            "matters).",
        ),
    ] = False,
    once: Annotated[bool, typer.Option("--once", help="Print each market's first complete book and exit.")] = False,
    yes_price: Annotated[
        bool,
        typer.Option(
            "--use-yes-price", help="Subscribe with use_yes_price (NO side quoted in yes-leg prices on the wire)."
        ),
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", metavar="SECONDS", min=1, help="Give up when a market has no book after this long."),
    ] = 10.0,
    dollars: Annotated[
        bool, typer.Option("--dollars", help="Prices as the exchange's dollar strings (0.4500), not cents.")
    ] = False,
    layout: Annotated[
        Layout,
        typer.Option("--layout", help="Markets side by side as the width allows (grid) or one per row (stack)."),
    ] = Layout.grid,
    all_in_series: AllInSeriesOption = False,
    continuity: ContinuityOption = False,
    stats: StatsOption = False,
    redundant: RedundantOption = 1,
    source: BusSourceOption = None,
    durable: BusDurableOption = None,
    since: BusSinceOption = None,
    *,
    conn: ConnectionArgs,
) -> None:
    """Watch live order books: exact, self-healing, several markets at once.

    The book is rebuilt from Kalshi's snapshot and deltas with exact arithmetic. Any doubt (a
    seq gap, a level below zero, a crossed book, a clock going back, a reconnect) marks the
    book STALE and it is re-snapshotted; a stale book is never shown or printed as current.
    On a terminal: a ladder per market, redrawn 12 times a second, as many levels as the height
    allows, your resting orders marked when signed in; space/n/p page markets, q or Ctrl-C quits.
    With --json --continuity, lines of their own say which markets went stale (and why) and
    when each is fresh again; --stats ends the run with how old the frames were on arrival.

    A name may be a market ticker, an event ticker (its open markets; how many is said on
    stderr), a series ticker (with --all-in-series: its open events' markets) or a kalshi.com
    market or event page, in any case; an unknown one gets the closest known tickers. Names are
    looked up in the local market cache first, else asked of Kalshi's REST API once each.
    An event or series name, or more than 6 markets, shows a board on a terminal instead: a row
    per market sorted by strike (bid, ask, last, volume, age); up/down (or k/j) and Enter, or
    the row's number, open that market's full ladder, and b or Esc goes back to the board.
    --json stays a line per market, as for tickers.

    Examples:

      kalshi book --sim

      kalshi book KXHIGHNY-26NOV25-B52.5 KXHIGHNY-26NOV25-B54.5 --depth 5

      kalshi book KXBTCD-26NOV2517-T97999.99 --json | jq -c '[.best_yes_bid, .best_yes_ask]'

      kalshi book KXBTCD-26NOV2517-T97999.99 --once --json > snapshot.json

      kalshi book KXBTCD-26NOV2517-T97999.99 --json --continuity --stats > books.ndjson

      kalshi book KXBTCD-26DEC2517 --sim

      kalshi book https://kalshi.com/markets/kxbtcd/bitcoin-price-abovebelow/kxbtcd-26dec2517 --sim --once --json
    """
    from kalshi_cli import environment
    from kalshi_cli.feeds import book as feed

    settings = feed.BookSettings(
        tickers=list(tickers or []),
        depth=depth,
        json_out=json_out,
        every=every,
        once=once,
        use_yes_price=yes_price,
        wait=wait,
        dollars=dollars,
        layout=layout.value,
        all_in_series=all_in_series,
        continuity=continuity,
        stats=stats,
        redundant=redundant,
        source=source,
        durable=durable,
        since=since,
        conn=conn,
    )
    feed.run(settings, environment.current())
