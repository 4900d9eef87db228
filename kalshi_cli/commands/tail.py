"""``kalshi tail``: stream any channels to the terminal or, as NDJSON, to a pipe."""

from __future__ import annotations

import difflib
import sys
from typing import Annotated, Any

import orjson
import typer

from kalshi_cli.commands.common import ConnectionArgs, connection_options, open_context
from kalshi_cli.commands.runner import run_main, run_stream
from kalshi_cli.errors import UsageError
from kalshi_cli.output import LineWriter
from kalshi_cli.protocol import CHANNELS, Head
from kalshi_cli.session import StreamDone, StreamHandler, Subscription

__all__ = ["build_subscriptions", "tail"]

# Names people type for channels: message types and old or plural forms.
_ALIASES = {
    "orderbook": "orderbook_delta",
    "orderbook_snapshot": "orderbook_delta",
    "book": "orderbook_delta",
    "trades": "trade",
    "tickers": "ticker",
    "fills": "fill",
    "market_position": "market_positions",
    "positions": "market_positions",
    "user_order": "user_orders",
    "orders": "user_orders",
    "lifecycle": "market_lifecycle_v2",
    "market_lifecycle": "market_lifecycle_v2",
}


def check_channel(name: str) -> str:
    """The channel name, or a ``UsageError`` with the closest real one."""
    if name in CHANNELS:
        return name
    guess = _ALIASES.get(name) or next(iter(difflib.get_close_matches(name, list(CHANNELS), n=1)), None)
    hint = f" Did you mean {guess!r}?" if guess else ""
    raise UsageError(f"unknown channel {name!r}.{hint} Channels: {', '.join(CHANNELS)}")


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; VALUE is read as JSON when it parses, else as a string."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            params[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            params[key] = value
    return params


def build_subscriptions(
    channels: list[str], markets: list[str], extra: dict[str, Any], *, default_markets: list[str] | None = None
) -> list[Subscription]:
    """One ``Subscription`` per channel, with the market filter where the channel takes one."""
    subs: list[Subscription] = []
    seen: set[str] = set()
    for name in channels:
        channel = check_channel(name)
        if channel in seen:
            continue
        seen.add(channel)
        info = CHANNELS[channel]
        params = dict(extra)
        chosen = markets
        if info.markets == "required" and not chosen:
            if default_markets:
                chosen = default_markets
            else:
                raise UsageError(f"{channel} needs at least one market: add -m TICKER")
        if chosen and info.markets in ("required", "optional", "ids-too"):
            params["market_tickers"] = list(chosen)
        subs.append(Subscription(channel, params))
    return subs


class TailHandler(StreamHandler):
    """Writes each data frame: as received (NDJSON) or as a readable line."""

    def __init__(self, *, as_json: bool, count: int | None) -> None:
        self.as_json = as_json
        self.remaining = count
        self.writer = LineWriter() if as_json else None
        self.console: Any = None
        if as_json:
            self.passthrough = self._pass_on
        else:
            from rich.console import Console

            self.console = Console(highlight=False, soft_wrap=True)

    def _pass_on(self, raw: bytes) -> None:
        """The session's fast path: the frame as received is the NDJSON line."""
        if b"\n" in raw:
            raw = _one_line(raw)
        self.writer.write_line(raw)  # type: ignore[union-attr]
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                raise StreamDone

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        if self.writer is not None:
            if b"\n" in raw:
                raw = _one_line(raw)
            self.writer.write_line(raw)
        else:
            from kalshi_cli.protocol import parse_frame
            from kalshi_cli.render.lines import format_line

            self.console.print(format_line(head.obj or parse_frame(raw)))
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                raise StreamDone

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()


def _one_line(raw: bytes) -> bytes:
    """A trailing newline is stripped; pretty-printed JSON is re-encoded on one line."""
    raw = raw.strip()
    return orjson.dumps(orjson.loads(raw)) if b"\n" in raw else raw


@connection_options
def tail(
    channels: Annotated[
        list[str], typer.Argument(help="Channels: trade, ticker, orderbook_delta, fill, ...", show_default=False)
    ],
    market: Annotated[
        list[str] | None,
        typer.Option("--market", "-m", metavar="TICKER", help="Market ticker filter (repeat for several)."),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json", help="NDJSON: each frame as received, one per line (the default when stdout is not a terminal)."
        ),
    ] = False,
    count: Annotated[int | None, typer.Option("--count", "-n", min=1, help="Exit after this many data frames.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            metavar="KEY=VALUE",
            help="Extra subscribe parameter, e.g. use_yes_price=true, "
            "send_initial_snapshot=true, index_ids='[\"BRTI\"]'.",
        ),
    ] = None,
    *,
    conn: ConnectionArgs,
) -> None:
    """Stream channels: readable lines on a terminal, NDJSON into a pipe.

    Every channel in Kalshi's API works, public and private. Only data goes to stdout;
    status, warnings and errors go to stderr. Sequence gaps are reported, order books are
    re-snapshotted, and dropped connections reconnect and resubscribe by themselves.

    Examples:

      kalshi tail trade --sim

      kalshi tail trade ticker -m KXHIGHNY-26NOV25-B52.5 --json | jq .msg.yes_price_dollars

      kalshi tail orderbook_delta -m KXBTCD-26NOV2517-T97999.99 --count 100 > book.ndjson
    """
    markets = list(market or [])
    extra = parse_params(list(param or []))
    for name in channels:
        check_channel(name)  # fail before connecting
    as_json = json_out or not sys.stdout.isatty()

    async def main() -> None:
        async with open_context(conn) as ctx:
            defaults = ctx.sim.tickers if ctx.sim is not None else None
            subs = build_subscriptions(channels, markets, extra, default_markets=defaults)
            handler = TailHandler(as_json=as_json, count=count)
            try:
                await run_stream(ctx, subs, handler, stale_after=conn.stale_after)
            finally:
                handler.close()

    run_main(main)
