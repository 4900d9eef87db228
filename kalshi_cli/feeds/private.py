"""What ``fills``, ``positions`` and ``orders`` share: a REST client for the stream's environment,
the seed-then-follow handler, the one 404 policy, and running with a live table.

The private channels carry no ``seq``, so a dropped connection loses frames silently. Each
feed therefore subscribes first and buffers, fetches the REST view, and only then applies
the buffer; after every reconnect (or lost subscription) it does it again. A server without
Kalshi's REST API (404, e.g. a relay or a WebSocket-only test server) gets one warning that
says what may be missing, and the live stream goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from kalshi_cli.environment import Environment
from kalshi_cli.feeds.context import ConnectionArgs, StreamContext, open_context
from kalshi_cli.feeds.markets import resolve_markets
from kalshi_cli.feeds.runner import FeedHandler, finish_on_quit, run_feed, run_main
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import Head, parse_frame
from kalshi_cli.rest import RestClient, RestError
from kalshi_cli.session import Subscription
from kalshi_cli.sinks import OutputKind, Sink, choose, open_sink, view_console

__all__ = ["PrivateHandler", "SeededHandler", "follow", "no_rest_api", "rest_client"]

H = TypeVar("H", bound="PrivateHandler")


def rest_client(ctx: StreamContext) -> RestClient:
    """A signed REST client for the same environment (and key) as the WebSocket."""
    creds = ctx.credentials
    signer = None
    if creds is not None:
        from kalshi_cli.auth import auth_headers

        def signer(method: str, path: str) -> dict[str, str]:
            return auth_headers(creds.key_id, creds.key, method=method, path=path)

    return RestClient(ctx.endpoint.rest_url, signer, reporter=ctx.reporter)


def no_rest_api(exc: RestError, reporter: Reporter, missing: str) -> bool:
    """Is ``exc`` a 404 without Kalshi's error body (no REST API there)? Then warn once, saying
    what may be ``missing``, and let the caller go on with the live stream."""
    if exc.http_status != 404:
        return False
    reporter.warn_once(f"no-rest:{missing}", f"{exc}; the server has no Kalshi REST API: {missing}")
    return True


class PrivateHandler(FeedHandler):
    """A private feed's handler: a sink, a REST client, and the state the live table shows.

    Subclasses name their ``channel``; ``markets`` filters it (all markets when empty).
    """

    channel = ""

    def __init__(self, sink: Sink, rest: RestClient, markets: list[str]) -> None:
        super().__init__()
        self.sink = sink
        self.rest = rest
        self.markets = markets
        self.state = "connecting"

    def write(self, raw: bytes | None, frame: dict[str, Any]) -> None:
        """A frame as received (``raw``) or as built from REST (``frame``)."""
        if raw is not None:
            self.sink.frame(raw)
        else:
            self.sink.obj(frame)

    def on_disconnected(self, reason: str) -> None:
        self.state = f"reconnecting ({reason})"

    def close(self) -> None:
        self.sink.flush()

    @staticmethod
    def frame_obj(raw: bytes, head: Head) -> dict[str, Any]:
        return head.obj if head.obj is not None else parse_frame(raw)


class SeededHandler(PrivateHandler):
    """Seed rows from REST, then follow a channel; re-seed on every (re)subscription.

    Subclasses set ``channel``, ``frame_type``, ``path``, ``rows_key`` and ``what`` and
    implement ``seed_frame`` (REST row -> WS-shaped frame), ``ticker_of``, ``reset`` and ``apply``.
    """

    frame_type = ""
    path = ""
    rows_key = ""
    what = ""  # what the table may miss without REST, e.g. "positions"

    def __init__(self, sink: Sink, rest: RestClient, markets: list[str]) -> None:
        super().__init__(sink, rest, markets)
        self.seeding = True
        self.seeds = 0
        self.once = False  # --once: the run ends when the first load is in
        self.buffer: list[tuple[bytes, dict[str, Any]]] = []
        self._seed_task: asyncio.Task[None] | None = None

    # --- to implement -------------------------------------------------------------------------

    def params(self) -> list[tuple[str, Any]]:
        return [("ticker", self.markets[0])] if len(self.markets) == 1 else []

    def seed_frame(self, row: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def ticker_of(self, msg: dict[str, Any]) -> str:
        raise NotImplementedError

    def reset(self, frames: list[dict[str, Any]]) -> None:
        """Replace the state with the seed frames."""
        raise NotImplementedError

    def apply(self, obj: dict[str, Any]) -> None:
        """Apply one live frame to the state."""
        raise NotImplementedError

    # --- stream callbacks -----------------------------------------------------------------------

    def on_connected(self, url: str) -> None:
        self.seeding = True
        self.state = "subscribing"

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        if sub.channel == self.channel:
            self.seeding = True

    def on_subscribed(self, sub: Subscription) -> None:
        if sub.channel != self.channel:
            return
        self.seeding = True
        self.state = "loading from the REST API"
        if self._seed_task is not None and not self._seed_task.done():
            self._seed_task.cancel()
        self._seed_task = self.spawn(self._seed())

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        if head.type != self.frame_type:
            return
        obj = self.frame_obj(raw, head)
        if self.seeding:
            self.buffer.append((raw, obj))
            return
        self._live(raw, obj)

    # --- seeding --------------------------------------------------------------------------------

    async def _seed(self) -> None:
        try:
            rows = await self.rest.paginate(self.path, self.rows_key, self.params())
        except RestError as exc:
            missing = f"{self.what} that did not change since the stream started are not shown"
            if not no_rest_api(exc, self.session.reporter, missing):
                raise
        else:
            frames = [self.seed_frame(r) for r in rows]
            if self.markets:
                wanted = set(self.markets)
                frames = [f for f in frames if self.ticker_of(f["msg"]) in wanted]
            self.reset(frames)
            for frame in frames:
                self.write(None, frame)
        buffered, self.buffer = self.buffer, []
        for raw, obj in buffered:
            self._live(raw, obj)
        self.seeding = False
        self.seeds += 1
        self.state = "live"
        if self.once:
            self.finish()

    def _live(self, raw: bytes, obj: dict[str, Any]) -> None:
        self.apply(obj)
        self.write(raw, obj)


def follow(
    conn: ConnectionArgs,
    env: Environment,
    json_out: bool,
    make: Callable[[Sink, RestClient], H],
    view: Callable[[H], Callable[[int], Any]],
    *,
    once: bool = False,
    side: Callable[[H, StreamContext], Coroutine[Any, Any, None]] | None = None,
    all_in_series: bool | None = None,
) -> None:
    """Run a private feed: ``make(sink, rest)`` builds its handler, which names its channel and
    markets; on a terminal, ``view(handler)`` (terminal height -> renderable) is drawn live until
    ``q``. With ``once`` (a ``SeededHandler``), the run ends when the REST load is in, and on a
    terminal the table is printed once then. ``side(handler, ctx)`` runs beside a live table.
    The handler's markets are resolved first (``feeds.markets``; ``all_in_series`` as there)."""
    kind = choose(json_out, env, OutputKind.VIEW)

    async def main() -> None:
        async with open_context(conn, need_key=True, env=env) as ctx:
            handler = make(open_sink(kind, env), rest_client(ctx))
            handler.markets = await resolve_markets(ctx, handler.markets, all_in_series=all_in_series)
            if isinstance(handler, SeededHandler):
                handler.once = once
            sub = Subscription(handler.channel, {"market_tickers": handler.markets} if handler.markets else {})
            live = None
            if kind is OutputKind.VIEW and not once:
                from kalshi_cli.render.portfolio import LiveTable

                live = LiveTable(view(handler), console=view_console(conn.color, env))
                handler.spawn(finish_on_quit(live, handler))
                if side is not None:
                    handler.spawn(side(handler, ctx))
            await run_feed(ctx, [sub], handler, stale_after=conn.stale_after, connect_tries=conn.tries(), view=live)
            if kind is OutputKind.VIEW and once:
                console = view_console(conn.color, env)
                console.print(view(handler)(console.size.height))

    run_main(main)
