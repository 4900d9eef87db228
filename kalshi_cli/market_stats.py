"""What the book view shows beside the ladder: last trade, volume and open interest per market.

Plain state, updated from ``ticker`` and ``trade`` msgs by the book feed and read by the view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kalshi_cli.fixed import CENT, ONE_CONTRACT, FixedPointError, parse_price, parse_size

__all__ = ["MarketStats"]


@dataclass(slots=True)
class MarketStats:
    """Last trade (and its taker side), volume and open interest of one market, from ``ticker`` and ``trade`` msgs.

    Values are exact integers (price in $0.0001, sizes in 1/100 contract); None = not seen yet.
    A field that fails to parse is left as it was rather than guessed.
    """

    market_ticker: str | None = None
    last_price: int | None = None
    last_size: int | None = None
    volume: int | None = None
    open_interest: int | None = None
    last_trade_ts_ms: int | None = None
    last_side: str | None = None  # the last trade's taker side, "yes" or "no"

    def update_from_ticker(self, msg: Mapping[str, Any]) -> None:
        """``ticker`` carries the full state each time (current fields, else legacy integers)."""
        self.market_ticker = msg.get("market_ticker", self.market_ticker)
        self.last_price = _read(msg, "price_dollars", parse_price, "price", CENT, self.last_price)
        self.volume = _read(msg, "volume_fp", parse_size, "volume", ONE_CONTRACT, self.volume)
        self.open_interest = _read(
            msg, "open_interest_fp", parse_size, "open_interest", ONE_CONTRACT, self.open_interest
        )
        self.last_size = _read(msg, "last_trade_size_fp", parse_size, None, 1, self.last_size)

    def update_from_trade(self, msg: Mapping[str, Any]) -> None:
        """A trade sets last price/size; volume stays the ticker's (it already counts the trade)."""
        self.market_ticker = msg.get("market_ticker", self.market_ticker)
        self.last_price = _read(msg, "yes_price_dollars", parse_price, "yes_price", CENT, self.last_price)
        self.last_size = _read(msg, "count_fp", parse_size, "count", ONE_CONTRACT, self.last_size)
        ts_ms = msg.get("ts_ms")
        if type(ts_ms) is int:
            self.last_trade_ts_ms = ts_ms
        side = msg.get("taker_outcome_side") or msg.get("taker_side")  # the second is deprecated
        self.last_side = side if side in ("yes", "no") else None


def _read(
    msg: Mapping[str, Any],
    key: str,
    parse: Callable[[Any], int],
    legacy_key: str | None,
    legacy_scale: int,
    old: int | None,
) -> int | None:
    """The fixed-point field, else the legacy integer one scaled, else ``old`` (never a guess)."""
    text = msg.get(key)
    if text is not None:
        try:
            return parse(text)
        except FixedPointError:
            return old
    legacy = msg.get(legacy_key) if legacy_key else None
    if isinstance(legacy, int) and not isinstance(legacy, bool):
        return legacy * legacy_scale
    return old
