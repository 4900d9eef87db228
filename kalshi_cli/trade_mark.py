"""Whether a raw frame may be a public trade, without parsing it: the fast paths' test.

The trade backfill (``feeds.trades``) must see every trade frame (to drop one written twice);
every other frame can go straight out. ``"trade"`` (the type) is in every trade frame and in no
other frame's envelope, but searching a whole frame for it costs more than the rest of a frame's
way out, so where the frame begins with its type (Kalshi's order) one look at its start decides.
"""

from __future__ import annotations

from kalshi_cli.protocol import TRADE

__all__ = ["TRADE_FIRST", "TRADE_MARK", "TYPE_FIRST", "may_be_trade"]

TRADE_MARK = f'"{TRADE}"'.encode()
TYPE_FIRST = b'{"type":"'
TRADE_FIRST = TYPE_FIRST + TRADE.encode() + b'"'


def may_be_trade(raw: bytes) -> bool:
    """True for every trade frame (and, where the type is not first, any frame holding the mark).

    The fast paths inline this expression (a call per frame costs as much as the test)."""
    return raw.startswith(TRADE_FIRST) if raw.startswith(TYPE_FIRST) else raw.find(TRADE_MARK) >= 0
