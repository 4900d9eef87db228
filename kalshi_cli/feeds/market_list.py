"""The ``markets`` run: page ``GET /markets`` (public, unsigned), match and sort locally, print,
and remember what was seen in the local catalogue (``kalshi_cli.catalogue``).

Without ``--sort`` the markets are printed page by page as they arrive and paging stops as
soon as ``--limit`` of them matched; a sort has to see every market the filters return. A
terminal gets the table (the first ``TERMINAL_LIMIT`` unless ``--limit``), a pipe NDJSON, one
market object per line as the API sent it. Every page read is merged into the cache;
``--refresh`` first reloads the whole open catalogue (every open market and event) and
replaces the cache with it. A listing of one series or event read to its end stands for it
in the cache (``S`` / ``E`` entries: ``book EVENT`` then asks REST nothing), once it holds
every market the resolver counts as open, paused ones included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.catalogue import Catalogue, env_name_for
from kalshi_cli.catalogue_save import CachedLines, read_cached, save_catalogue
from kalshi_cli.environment import Environment
from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import ConnectionArgs
from kalshi_cli.market_names import OPEN_STATUSES
from kalshi_cli.market_query import matcher, sort_markets
from kalshi_cli.output import LineWriter, Reporter
from kalshi_cli.rest import RestClient, RestError

__all__ = ["MAX_PAGES", "PAGE_SIZE", "TERMINAL_LIMIT", "MarketsSettings", "page_through", "run"]

PAGE_SIZE = 1000  # Kalshi's largest page of markets
EVENTS_PAGE_SIZE = 200  # ... and of events
MAX_PAGES = 500  # a runaway guard: half a million markets
TERMINAL_LIMIT = 50  # rows a terminal table shows without --limit


@dataclass
class MarketsSettings:
    query: list[str] = field(default_factory=list)
    series: str | None = None
    event: str | None = None
    status: str | None = "open"  # the API's status parameter; None: every status
    sort: str | None = None
    limit: int | None = None
    json_out: bool = False
    refresh: bool = False
    conn: ConnectionArgs = field(default_factory=ConnectionArgs)

    def params(self) -> dict[str, str]:
        found = {"series_ticker": self.series, "event_ticker": self.event, "status": self.status}
        return {k: v for k, v in found.items() if v}


@contextlib.asynccontextmanager
async def rest_endpoint(conn: ConnectionArgs, reporter: Reporter) -> AsyncIterator[tuple[str, str]]:
    """``(REST base URL, cache env name)`` for the connection flags; ``--sim`` runs the simulator."""
    from kalshi_cli.config import resolve_endpoint, rest_from_ws, select_profile

    if conn.replay:
        raise UsageError("--replay serves a recording, which has no market list; use --sim, --env or --url")
    url_flag = conn.url if conn.url and conn.url != os.environ.get("KALSHI_WS_URL") else None
    if conn.sim:
        if url_flag:
            raise UsageError("--sim and --url both name a server; use one")
        from kalshi_cli.sim import SimServer

        server = SimServer()
        url = await server.start()
        reporter.info(f"simulated exchange at {url}")
        try:
            yield rest_from_ws(url), "sim"
        finally:
            await server.stop()
        return
    profile = select_profile(conn.profile, os.environ)
    endpoint = resolve_endpoint(
        env_flag=conn.env, url_flag=conn.url, environ=os.environ, profile=profile[1] if profile else None
    )
    for note in endpoint.notes:
        reporter.warn(note)
    yield endpoint.rest_url, env_name_for(endpoint.env, endpoint.ws_url)


async def page_through(
    client: RestClient,
    path: str,
    key: str,
    params: dict[str, str],
    *,
    page_size: Callable[[], int],
    on_page: Callable[[list[dict[str, Any]]], bool],
    prefetch: bool = False,
) -> bool:
    """GET ``path`` page by page (filters repeated, cursor followed) until the cursor is empty or
    ``on_page(rows)`` returns False. Returns whether the list was read to its end.

    With ``prefetch``, the next page is asked for before ``on_page`` handles this one, so the
    printing overlaps the server's work on the next page.
    """

    def ask(cursor: str) -> Coroutine[Any, Any, dict[str, Any]]:
        return client.get(path, {**params, "limit": str(page_size()), **({"cursor": cursor} if cursor else {})})

    seen: set[str] = set()
    pending: asyncio.Task[dict[str, Any]] | None = None
    try:
        for n in range(MAX_PAGES):
            body = await (pending if pending is not None else ask(""))
            pending = None
            rows = body.get(key)
            if rows is None:  # Kalshi sends null for an empty list
                rows = []
            if not isinstance(rows, list):
                raise RestError(f"GET {client.base_path}{path}: unexpected reply ({key!r} is not a list)")
            cursor = body.get("cursor") or ""
            last = not isinstance(cursor, str) or not cursor
            repeated = not last and cursor in seen
            if not last and not repeated:
                seen.add(cursor)
                if prefetch and n + 1 < MAX_PAGES:
                    pending = asyncio.ensure_future(ask(cursor))
                    await asyncio.sleep(0)  # let it send the request before this page is handled
            more = on_page([r for r in rows if isinstance(r, dict)])
            if last:
                return True
            if repeated:
                client.reporter.warn(f"GET {client.base_path}{path}: the server repeated a page cursor; stopping there")
                return False
            if not more:
                return False
            if pending is None:
                pending = asyncio.ensure_future(ask(cursor))
    finally:
        if pending is not None:
            _discard(pending)
    client.reporter.warn(
        f"GET {client.base_path}{path}: stopped after {MAX_PAGES} pages; narrow it with --series, --event or --status"
    )
    return False


def _discard(task: asyncio.Task[Any]) -> None:
    """Drop a request no longer wanted, its failure included (never 'exception was never retrieved')."""
    task.cancel()
    task.add_done_callback(lambda t: t.cancelled() or t.exception())


async def _reload(client: RestClient) -> tuple[Catalogue, list[dict[str, Any]]]:
    """The whole open catalogue (``--refresh``): every open market and every open event."""
    fresh = Catalogue()
    markets: list[dict[str, Any]] = []

    def keep(rows: list[dict[str, Any]]) -> bool:
        markets.extend(rows)
        fresh.remember_markets(rows)
        return True

    def keep_events(rows: list[dict[str, Any]]) -> bool:
        fresh.remember_events(rows)
        return True

    await page_through(
        client, "/markets", "markets", {"status": "open"}, page_size=lambda: PAGE_SIZE, on_page=keep, prefetch=True
    )
    await page_through(
        client,
        "/events",
        "events",
        {"status": "open"},
        page_size=lambda: EVENTS_PAGE_SIZE,
        on_page=keep_events,
        prefetch=True,
    )
    by_series: dict[str, list[str]] = {}
    for ticker, e in fresh.events.items():
        by_series.setdefault(str(e.get("series_ticker") or ""), []).append(ticker)
    for series, events in by_series.items():  # every open event was listed: each series is known whole
        fresh.remember_series(series, events)
    return fresh, markets


async def _open_ones_listed(
    client: RestClient,
    settings: MarketsSettings,
    seen: Catalogue,
    note: Callable[[list[dict[str, Any]]], None],
) -> bool:
    """Whether a listing read to its end holds every market of its series or events that the
    resolver counts as open (``OPEN_STATUSES``: trading or paused), so that the cache can stand
    for them. ``--status open`` (the default) matches only trading markets: the paused ones are
    asked for here (usually an empty page) and remembered, not printed."""
    words = None if settings.status is None else set(settings.status.split(","))
    if words is None or {"open", "paused"} <= words:
        return True
    if "open" not in words:
        return False

    def keep(rows: list[dict[str, Any]]) -> bool:
        seen.remember_markets(rows)
        note(rows)
        return True

    paused = {**settings.params(), "status": "paused"}
    return await page_through(client, "/markets", "markets", paused, page_size=lambda: PAGE_SIZE, on_page=keep)


def _events_listed(settings: MarketsSettings, seen: Catalogue, cached: CachedLines | None) -> list[dict[str, Any]]:
    """The events of ``--event`` (a comma list), each now known whole: as the run or the cache
    knows it (title, series), else only its ticker (a market listing carries no event object)."""
    import orjson

    events = []
    for ticker in dict.fromkeys(t for t in (settings.event or "").split(",") if t):
        event = seen.events.get(ticker)
        line = cached.others.get(b"E\t" + ticker.encode()) if cached is not None else None
        if event is None and line is not None:
            with contextlib.suppress(ValueError, IndexError):
                event = orjson.loads(line.split(b"\t", 4)[4])
        events.append(event if isinstance(event, dict) else {"event_ticker": ticker})
    return events


def run(settings: MarketsSettings, env: Environment) -> None:
    """List the markets ``settings`` asks for; a note on stderr when none match (exit 0)."""
    from kalshi_cli.feeds.signals import run_main
    from kalshi_cli.sinks import OutputKind, choose

    kind = choose(settings.json_out, env, OutputKind.VIEW)
    table = kind is OutputKind.VIEW
    limit = settings.limit if settings.limit is not None else TERMINAL_LIMIT if table else None
    matches = matcher(settings.query)
    reporter = Reporter(quiet=settings.conn.quiet, stream=env.stderr)

    async def main() -> None:
        import orjson

        writer = None if table else LineWriter(env.stdout)
        shown: list[dict[str, Any]] = []  # kept only for a sort or the table; NDJSON goes out as it comes
        keep = table or settings.sort is not None
        matched = printed = 0

        def take(rows: list[dict[str, Any]]) -> bool:
            nonlocal matched, printed
            found = [m for m in rows if matches(m)] if settings.query else rows
            matched += len(found)
            if settings.sort is not None:
                shown.extend(found)
                return True
            if limit is not None:
                found = found[: max(0, limit - printed)]
            printed += len(found)
            if keep:
                shown.extend(found)
            if writer is not None and found:
                writer.write_line(b"\n".join(map(orjson.dumps, found)))  # a page's lines in one write
            return limit is None or printed < limit

        def page_size() -> int:
            if settings.sort is not None or settings.query or limit is None:
                return PAGE_SIZE
            return max(1, min(PAGE_SIZE, limit - printed))

        async with rest_endpoint(settings.conn, reporter) as (rest_url, env_name):
            client = RestClient(rest_url, None, reporter=reporter, tries=3)
            seen = Catalogue()  # this run's pages, cut for the cache as they come
            cached: CachedLines | None = None  # the cache's lines, read while the next page is on its way
            open_events: set[str] = set()  # --series: the events with an open market

            def note_open(rows: list[dict[str, Any]]) -> None:
                if settings.series:
                    open_events.update(str(m.get("event_ticker")) for m in rows if m.get("status") in OPEN_STATUSES)

            def read(rows: list[dict[str, Any]]) -> bool:
                nonlocal cached
                more = take(rows)
                seen.remember_markets(rows)
                note_open(rows)
                if cached is None and prefetching and not settings.refresh:
                    cached = read_cached(env_name)
                return more

            complete = False
            if settings.refresh:
                fresh, everything = await _reload(client)
                if settings.params() == {"status": "open"}:
                    complete = True
                    take(everything)
                seen = fresh  # the pages read below add to the reloaded catalogue
            prefetching = settings.sort is not None or limit is None
            if not complete:
                complete = await page_through(
                    client,
                    "/markets",
                    "markets",
                    settings.params(),
                    page_size=page_size,
                    on_page=read,
                    prefetch=prefetching,
                )
            if settings.sort is not None:
                shown[:] = sort_markets(shown, settings.sort)[:limit]
                printed = len(shown)
                if writer is not None:
                    for m in shown:
                        writer.write_line(orjson.dumps(m))
            if writer is not None:
                writer.flush()
                _release(env)
            if table and shown:
                _print_table(shown, settings, env)
            # the data is out; then the cache: a refresh replaces it, any other run adds what it read.
            # A whole listing of one series or event(s) stands for it (the resolver answers from it)
            whole = complete and bool(settings.series) != bool(settings.event)
            if whole and await _open_ones_listed(client, settings, seen, note_open):
                if settings.series:
                    seen.remember_series(settings.series, open_events)  # all of its open events listed
                else:
                    if cached is None and not settings.refresh:
                        cached = read_cached(env_name)
                    seen.remember_events(_events_listed(settings, seen, cached))
            seen.fetched_at = time.time()
            save_catalogue(env_name, seen, warn=reporter.warn, merge=not settings.refresh, cached=cached)
        _report(reporter, printed, matched, complete, table and settings.limit is None)

    import gc

    gc.disable()  # pages of plain dicts make no cycles; the collector would only walk them again and again
    try:
        run_main(main)
    finally:
        gc.enable()


def _release(env: Environment) -> None:
    """Close the data's pipe once every line is out (fd 1 then points at /dev/null), so a reader
    downstream sees its end while the cache is saved."""
    from kalshi_cli.output import silence_stdout

    try:
        is_fd1 = env.stdout.fileno() == 1
    except (OSError, ValueError, AttributeError):  # not a file descriptor (captured in process)
        return
    if is_fd1:
        silence_stdout()


def _print_table(shown: list[dict[str, Any]], settings: MarketsSettings, env: Environment) -> None:
    from kalshi_cli.render.markets_table import markets_table
    from kalshi_cli.sinks import view_console

    console = view_console(settings.conn.color, env)
    for line in markets_table(shown, console.size.width, time.time()):
        console.print(line)


def _report(reporter: Reporter, shown: int, matched: int, complete: bool, default_limit: bool) -> None:
    if matched == 0:
        reporter.warn("no market matches (try another word, --status all, or fewer filters)")
    elif default_limit and (matched > shown or not complete):
        more = f"of {matched} " if complete else ""
        reporter.info(f"showing {shown} {more}markets; --limit N shows more")
