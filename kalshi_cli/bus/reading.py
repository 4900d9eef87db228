"""``tail --from`` and ``book --from``: a bus stream into the same handlers and sinks as a live run.

No Kalshi connection is made: ``--sim``, ``--replay`` and an explicit ``--url`` are refused with
``--from``, and ``--durable``/``--since`` need it. ``tail`` writes each message as published (the
recorded line: the frame as received plus ``recv_ts_ms``); ``book`` rebuilds books by clock
(``books.MergedBookSet``), each from its market's latest safe snapshot (``bookstart``), and
prints them as a live run does. Both follow the stream until stopped; ``--count`` and ``--once``
end them.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from kalshi_cli.bus.connect import import_nats
from kalshi_cli.bus.consumer import BusReader
from kalshi_cli.bus.subjects import filter_subjects
from kalshi_cli.bus.target import BusTarget, parse_target
from kalshi_cli.errors import UsageError
from kalshi_cli.events import SessionState, Subscription
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import DATA_TYPES, ORDERBOOK_DELTA, TICKER, TRADE, Head

__all__ = ["BusSession", "check_bus_flags", "follow_bus"]


def check_bus_flags(source: str | None, durable: str | None, since: str | None, conn: Any) -> BusTarget | None:
    """The ``--from`` target, or None; one line for flags that do not go with it (exit 2)."""
    if source is None:
        for flag, value in (("--durable", durable), ("--since", since)):
            if value is not None:
                raise UsageError(f"{flag} reads a bus stream: it needs --from nats://HOST:PORT/STREAM")
        return None
    url_flag = conn.url if conn.url and conn.url != os.environ.get("KALSHI_WS_URL") else None
    for flag, given in (("--sim", conn.sim), ("--replay", bool(conn.replay)), ("--url", bool(url_flag))):
        if given:
            raise UsageError(f"--from reads a bus stream instead of connecting to Kalshi; drop {flag}")
    if durable is not None and not durable.replace("_", "").replace("-", "").isalnum():
        raise UsageError(f"--durable: a consumer name is letters, digits, '_' or '-'; got {durable!r}")
    target = parse_target(source, option="--from")
    import_nats()  # one line naming the extra, before anything starts
    return target


def refuse_live_only(settings: Any) -> None:
    """Flags about a live connection's own stream mean nothing for a bus stream: one line each."""
    for flag, given in (
        ("--redundant", getattr(settings, "redundant", 1) > 1),
        ("--continuity", getattr(settings, "continuity", False)),
        ("--stats", getattr(settings, "stats", False)),
    ):
        if given:
            raise UsageError(f"{flag} is about live connections; a bus stream (--from) was merged by its recorders")


class BusSession:
    """What a feed handler asks of its session, for a run fed by the bus: a reporter and a state.

    There is no Kalshi connection to re-snapshot or resubscribe: a stale book waits for the next
    snapshot in the stream (recorders ask for one after every gap).
    """

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.state = SessionState.CONNECTING
        self.ready_at: float | None = None  # time.monotonic() when the stream was found

    def request_snapshot(self, sub: Any, tickers: Any) -> None:
        """Nothing to ask: the recorders re-snapshot."""

    def resubscribe(self, sub: Any, reason: str) -> None:
        """Nothing to resubscribe."""

    def reconnect(self, reason: str) -> None:
        """Nothing to reconnect."""


def book_subscription(markets: list[str]) -> Subscription:
    return Subscription(ORDERBOOK_DELTA, {"market_tickers": list(markets)})


async def follow_bus(
    target: BusTarget,
    handler: Any,
    *,
    channels: list[str],
    markets: list[str],
    book_markets: list[str] | None = None,
    durable: str | None,
    since: str | None,
    conn: Any,
    reporter: Reporter,
    ticks: Sequence[tuple[float, Callable[[], None]]] = (),
    view: Any = None,
) -> None:
    """Feed ``handler`` (a ``FeedHandler``: ``on_data``, ``passthrough``, ``done``) from the stream."""
    from kalshi_cli.portfolio import parse_since
    from kalshi_cli.session import StreamDone

    since_ms = parse_since(since) if since is not None else None
    session = BusSession(reporter)
    handler.session = session
    reader = BusReader(
        target,
        filter_subjects(None, channels, markets),
        durable=durable,
        since_ms=since_ms,
        tries=conn.tries(),
        on_event=reporter.info,
        on_warn=reporter.warn,
        on_ready=lambda: setattr(session, "ready_at", time.monotonic()),
        book_markets=book_markets,
    )
    sub = book_subscription(markets)
    subs = {name: Subscription(name, {"market_tickers": list(markets)}) for name in (ORDERBOOK_DELTA, TICKER, TRADE)}
    passthrough = handler.passthrough
    on_data = handler.on_data

    loads = orjson.loads
    skipped = [0]

    def emit(raw: bytes) -> None:
        # Every message is checked as a live frame is (a JSON object with a data type): the bus
        # may carry other publishers' messages; one that is not a frame is skipped with a warning.
        try:
            obj = loads(raw)
            kind = obj.get("type") if type(obj) is dict else None
        except orjson.JSONDecodeError:
            kind = None
        if kind not in DATA_TYPES:
            skipped[0] += 1
            reporter.warn_once("bus-not-a-frame", "skipping bus messages that are not Kalshi data frames")
            return
        if session.state is not SessionState.STREAMING:
            session.state = SessionState.STREAMING
        if passthrough is not None:
            passthrough(raw)
            return
        on_data(raw, Head(kind, obj.get("sid"), obj.get("seq"), None, obj), subs.get(kind, sub))

    async def every(seconds: float, call: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(seconds)
            call()

    import contextlib

    async with contextlib.AsyncExitStack() as stack:
        if view is not None:
            await stack.enter_async_context(view)
        reading = asyncio.ensure_future(reader.run(emit))
        finished = asyncio.ensure_future(handler.done.wait())
        side = [asyncio.ensure_future(every(s, c)) for s, c in ticks]
        try:
            await asyncio.wait([reading, finished, *side], return_when=asyncio.FIRST_COMPLETED)
        finally:
            pending = [t for t in (reading, finished, *side, *handler.tasks) if not t.done()]
            for task in pending:
                task.cancel()
            try:
                await asyncio.gather(*pending, return_exceptions=True)
            finally:
                await reader.close()
                handler.close()
        if handler.failure is not None:
            raise handler.failure
        for task in (reading, *side):
            if task.done() and not task.cancelled():
                exc = task.exception()
                if isinstance(exc, StreamDone):
                    return
                if exc is not None:
                    raise exc


def run_tail(settings: Any, env: Any, make_handler: Callable[..., Any]) -> None:
    """``kalshi tail [CHANNEL...] --from nats://...``: the stream's messages as recorded (no channel:
    every channel), to the sink."""
    from kalshi_cli.feeds.runner import run_main
    from kalshi_cli.feeds.subscriptions import check_channel
    from kalshi_cli.sinks import OutputKind, choose, open_sink

    conn = settings.conn
    target = check_bus_flags(settings.source, settings.durable, settings.since, conn)
    assert target is not None
    refuse_live_only(settings)
    channels = [check_channel(name) for name in settings.channels]
    kind = choose(settings.json_out, env, OutputKind.LINES)
    reporter = Reporter(quiet=conn.quiet, stream=env.stderr)

    async def main() -> None:
        handler = make_handler(open_sink(kind, env, conn.color), count=settings.count, clock=env.clock)
        await follow_bus(
            target,
            handler,
            channels=channels,
            markets=list(settings.markets),
            durable=settings.durable,
            since=settings.since,
            conn=conn,
            reporter=reporter,
        )

    run_main(main)


def has_book(books: Any, ticker: str) -> bool:
    """A book was built for ``ticker`` (a stale one counts: it waits for the next snapshot)."""
    from kalshi_cli.book import BookState

    book = books.book(ticker)
    return book is not None and not (book.state is BookState.AWAITING_SNAPSHOT and book.clock is None)


def no_snapshot_message(missing: list[str], settings: Any, stream: str) -> str:
    """Why ``book --from`` has no book after ``--wait``: where the reading started had no snapshot."""
    it = "it" if len(missing) == 1 else "them"
    if settings.durable is not None:
        where = f"after where durable consumer {settings.durable} resumed"
    elif settings.since is not None:
        where = f"since --since {settings.since}"
    else:
        where = "(is 'kalshi record orderbook_delta ... --sink' recording it into this stream?)"
    names = ", ".join(missing)
    return f"no order book for {names} after {settings.wait:.0f}s: stream {stream} holds no snapshot of {it} {where}"


def run_book(settings: Any, env: Any, make_handler: Callable[..., Any]) -> None:
    """``kalshi book TICKER... --from nats://...``: books rebuilt from the stream, shown as live."""
    from kalshi_cli.bus.books import MergedBookSet
    from kalshi_cli.feeds.markets import check_tickers
    from kalshi_cli.feeds.runner import finish_on_quit, run_main
    from kalshi_cli.sinks import OutputKind, choose, open_sink, view_console

    conn = settings.conn
    target = check_bus_flags(settings.source, settings.durable, settings.since, conn)
    assert target is not None
    refuse_live_only(settings)
    markets = list(dict.fromkeys(settings.tickers))
    if not markets:
        raise UsageError("name at least one market: kalshi book TICKER [TICKER...] --from nats://...")
    check_tickers(markets)
    kind = choose(settings.json_out, env, OutputKind.VIEW)
    reporter = Reporter(quiet=conn.quiet, stream=env.stderr)

    async def main() -> None:
        handler = make_handler(
            markets,
            open_sink(kind, env),
            depth=settings.depth,
            once=settings.once,
            every=settings.every,
            # the bus check below owns --wait: the handler's own (a wrong ticker's message, timed
            # from its start) must not race it on a slow machine
            snapshot_timeout=math.inf,
            clock=env.clock,
        )
        handler.books = MergedBookSet()

        def check_health() -> None:
            # --wait counts from the stream being read, and a market without a book is the stream's
            # (no snapshot recorded where the reading started), not a wrong ticker's as live
            ready_at = handler.session.ready_at
            if ready_at is None:
                return
            missing = [t for t in markets if not has_book(handler.books, t)]
            if missing and time.monotonic() - ready_at > settings.wait:
                raise UsageError(no_snapshot_message(missing, settings, target.stream))
            handler.check_health()

        ticks: list[tuple[float, Callable[[], None]]] = [(1.0, check_health)]
        view = None
        if kind is OutputKind.VIEW:
            from kalshi_cli.render.live import BookLiveView

            view = BookLiveView(
                handler,
                markets,
                once=settings.once,
                dollars=settings.dollars,
                layout=settings.layout,
                console=view_console(conn.color, env),
            )
            handler.spawn(finish_on_quit(view, handler))
            if settings.once:
                ticks.append((1.0, lambda: handler.finish() if handler.all_live() else None))
        await follow_bus(
            target,
            handler,
            channels=[ORDERBOOK_DELTA, *([TICKER, TRADE] if view is not None else [])],
            markets=markets,
            book_markets=markets,
            durable=settings.durable,
            since=settings.since,
            conn=conn,
            reporter=reporter,
            ticks=ticks,
            view=view,
        )

    run_main(main)
