"""``kalshi export``: recordings to Parquet or CSV tables (``kalshi_cli.export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kalshi_cli.commands.common import market_option

__all__ = ["export"]


def export(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE|DIR...",
            help="Recordings: 'kalshi record' files (.ndjson, .ndjson.gz; a directory means its files in "
            "name order) or 'kalshi tail --json' captures, read in the order given.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", metavar="DIR", help="Directory for the tables (new or empty).", show_default=False),
    ],
    fmt: Annotated[
        str,
        typer.Option("--format", metavar="parquet|csv", help="Parquet (the [parquet] extra) or CSV (no extra)."),
    ] = "parquet",
    tables: Annotated[
        list[str] | None,
        typer.Option(
            "--tables",
            metavar="NAME,...",
            help="Only these tables: trades, book_top, book_snapshots, deltas, tickers, lifecycle, fills, "
            "orders, positions, continuity.  [default: all]",
            show_default=False,
        ),
    ] = None,
    every: Annotated[
        str,
        typer.Option("--every", metavar="PERIOD", help="book_snapshots: the books every PERIOD of exchange time."),
    ] = "1s",
    depth: Annotated[int, typer.Option("--depth", metavar="N", min=1, help="book_snapshots: levels per side.")] = 10,
    since: Annotated[
        str | None,
        typer.Option(
            "--from", metavar="TIME", help="Rows from this exchange time (ISO 8601 UTC or Unix ms).", show_default=False
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--to", metavar="TIME", help="Rows before this exchange time.", show_default=False),
    ] = None,
    market: Annotated[list[str] | None, market_option("Only these markets (repeat for several).")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the tables of an output directory that has some.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr (warnings still show).")] = False,
) -> None:
    """Turn recordings into Parquet or CSV tables: trades, book tops, snapshots, continuity.

    One directory per table, partitioned by UTC date (OUT/trades/date=2026-12-04/part-0.parquet):
    trades (each once), book_top (best bid and ask after every change, from the rebuilt exact
    book), book_snapshots (the top --depth levels every --every), deltas (the raw book frames),
    tickers, lifecycle, your fills, orders and positions when recorded, and continuity (every
    connect, disconnect, gap, stale and fresh book, with the markets not to trust until when,
    named as in --continuity output). Prices and
    sizes are exact decimals, never floats; times are UTC with milliseconds, exchange time and
    receive time both. A row never comes from a stale book. docs/EXPORT.md has the schemas.

    Examples:

      kalshi export data/ -o research/

      kalshi export data/ -o csv/ --format csv --tables trades,book_top,continuity

      kalshi export capture.ndjson -o trades/ --tables trades --from 1795615200000
    """
    from kalshi_cli.errors import UsageError
    from kalshi_cli.export import ExportSettings, run_export
    from kalshi_cli.export.settings import FORMATS, parse_every, parse_tables
    from kalshi_cli.output import Reporter
    from kalshi_cli.times import parse_time

    if fmt not in FORMATS:
        raise UsageError(f"--format expects parquet or csv; got {fmt!r}")
    settings = ExportSettings(
        paths=list(files),
        out=out,
        format=fmt,
        tables=parse_tables(list(tables or [])),
        every_ms=parse_every(every),
        depth=depth,
        from_ms=parse_time(since, "--from") if since is not None else None,
        to_ms=parse_time(until, "--to") if until is not None else None,
        markets=list(market or []),
        overwrite=overwrite,
    )
    reporter = Reporter(quiet=quiet)
    summary = run_export(settings, reporter)
    written = ", ".join(f"{name} {n:,}" for name, n in summary.rows.items() if n)
    reporter.info(
        f"exported {summary.lines:,} lines from {summary.files} file{'' if summary.files == 1 else 's'} "
        f"in {summary.seconds:.1f}s to {out} ({fmt}): {written or 'no rows'}"
    )
