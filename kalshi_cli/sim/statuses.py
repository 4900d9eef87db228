"""Which simulated events trade: one lifecycle state per event, shared by the REST catalogue and
the exchange's WebSocket side, so a market the catalogue lists as closed or settled also stays
quiet on the wire (a snapshot, then nothing), as on Kalshi.

The state is a hash of the event ticker, never a draw from the exchange's random stream, so a
seed keeps its story; the first ``ALWAYS_OPEN`` markets' events and every market named on the
command line always trade (small simulators, the default five included, are all open).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from .catalog import NAMED_SUBTITLE, MarketSpec

__all__ = ["ALWAYS_OPEN", "LIVE", "event_hash", "event_states"]

#: The first markets listed whose events always trade.
ALWAYS_OPEN = 10
#: An event that trades (its markets ``active``, or ``inactive`` while paused).
LIVE = "live"


def event_hash(text: str) -> int:
    return zlib.crc32(text.encode())


def _fixed_state(event_ticker: str) -> str:
    roll = event_hash(event_ticker) % 100
    if roll < 5:
        return "initialized"
    if roll < 12:
        return "closed"
    if roll < 15:
        return "determined"
    if roll < 24:
        return "finalized"
    return LIVE


def event_states(specs: Iterable[MarketSpec]) -> dict[str, str]:
    """Event ticker -> ``LIVE`` or its fixed market status, for markets in listing order."""
    protected: set[str] = set()
    events: dict[str, None] = {}
    for i, spec in enumerate(specs):
        events[spec.event_ticker] = None
        if i < ALWAYS_OPEN or spec.subtitle == NAMED_SUBTITLE:
            protected.add(spec.event_ticker)
    return {e: LIVE if e in protected else _fixed_state(e) for e in events}
