"""What a ``--redundant`` connection that passes frames on reads of one: the merge's fields only.

Why: with N connections each frame arrives N times, and the merge needs of a book or trade
frame only ``type``, ``sid``, ``seq`` and ``msg``'s ``market_ticker``, ``clock`` and
``trade_id``; ``orjson.loads`` builds the whole frame each time (most of a copy's cost).
``merge_loads`` has msgspec (the ``[fast]`` extra) decode just those into a small dict, and
still checks that the whole frame is JSON (``framehead``'s contract: msgspec does not check
the strings it skips, so the frame's UTF-8 is checked here) and that the fields have the types
the merge reads (else the frame is parsed whole). Any other frame (a ticker, whose content is
its key; a reply; unusual envelopes) is ``orjson.loads``'s, as is everything without msgspec.

Only for a handler that takes the bytes (``tail --json``, ``record``): a partial dict must never
be encoded or handed on (``RedundantSession.deliver`` parses the bytes again to restamp one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import orjson

from kalshi_cli.framehead import FAST, is_utf8

__all__ = ["FAST", "merge_loads"]

#: The frames ``merge_loads`` reads in part: those of the merge's keyed hot paths, in Kalshi's
#: envelope order (``type`` first); any other start is parsed whole.
PARTIAL_STARTS = (b'{"type":"orderbook_delta"', b'{"type":"orderbook_snapshot"', b'{"type":"trade"')

merge_loads: Callable[[bytes], Any] = orjson.loads  # without msgspec: every frame whole

if FAST:
    import msgspec

    _Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]

    class _Msg(TypedDict):
        market_ticker: NotRequired[str]
        clock: NotRequired[_Count]
        trade_id: NotRequired[str]

    class _Frame(TypedDict):
        type: Literal["orderbook_delta", "orderbook_snapshot", "trade"]
        sid: _Count
        seq: NotRequired[_Count]
        msg: NotRequired[_Msg]

    _decode = msgspec.json.Decoder(_Frame).decode
    _errors = (msgspec.DecodeError, RecursionError)

    def _merge_loads(raw: bytes) -> Any:
        """``raw`` for the merge: its fields the merge reads, or the whole frame (see above)."""
        if raw.startswith(PARTIAL_STARTS):
            try:
                obj = _decode(raw)
            except _errors:
                return orjson.loads(raw)  # not what the merge reads, or not JSON: judged whole
            if raw.isascii() or is_utf8(raw):
                return obj
        return orjson.loads(raw)

    merge_loads = _merge_loads
