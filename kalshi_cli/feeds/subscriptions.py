"""Subscriptions from what users type: channel names (with forgiving aliases), KEY=VALUE
parameters, market filters. Shared by ``tail`` and ``record``."""

from __future__ import annotations

import difflib
from typing import Any

import orjson

from kalshi_cli.errors import UsageError
from kalshi_cli.protocol import (
    CHANNELS,
    FILL,
    MARKET_LIFECYCLE,
    MARKET_POSITION,
    MARKET_POSITIONS,
    ORDERBOOK_DELTA,
    ORDERBOOK_SNAPSHOT,
    TICKER,
    TRADE,
    USER_ORDER,
    USER_ORDERS,
)
from kalshi_cli.session import Subscription

__all__ = ["build_subscriptions", "check_channel", "parse_params"]

# Names people type for channels: message types and old or plural forms.
_ALIASES = {
    "orderbook": ORDERBOOK_DELTA,
    ORDERBOOK_SNAPSHOT: ORDERBOOK_DELTA,
    "book": ORDERBOOK_DELTA,
    "trades": TRADE,
    "tickers": TICKER,
    "fills": FILL,
    MARKET_POSITION: MARKET_POSITIONS,
    "positions": MARKET_POSITIONS,
    USER_ORDER: USER_ORDERS,
    "orders": USER_ORDERS,
    "lifecycle": MARKET_LIFECYCLE,
    "market_lifecycle": MARKET_LIFECYCLE,
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
