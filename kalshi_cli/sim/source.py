"""What the protocol engine and the server read from an exchange: the ``MarketSource`` role.

Two things play it: the simulated ``market.Exchange`` (a moving market) and the replay's
``ReplayExchange`` (the market a recording describes). Naming the role as a Protocol lets
the server compose either one, typed, instead of a subclass swapping its exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["MarketSource"]


class MarketSource(Protocol):
    """The market state a connection's engine serves subscriptions from."""

    @property
    def tickers(self) -> list[str]:
        """Every market, in a stable order (what a filterless subscribe covers)."""
        ...

    @property
    def markets(self) -> Mapping[str, object]:
        """The markets whose order book can be served (snapshots are sent for these only)."""
        ...

    def ticker_of_id(self, market_id: str) -> str | None:
        """The ticker of a ``market_id``, if known."""
        ...

    def snapshot_msg(self, ticker: str) -> dict[str, Any]:
        """The ``orderbook_snapshot`` msg of one market in ``markets``."""
        ...

    def ticker_msg(self, ticker: str) -> dict[str, Any] | None:
        """The ``ticker`` msg of one market, or None when its state is unknown."""
        ...
