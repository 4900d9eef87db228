"""A trade frame's ``type``, ``trade_id`` and ``ts_ms``, read fast or declined: the dedupe's reader.

Why: the trade backfill (``feeds.trades``) looks at every trade frame for its id and time only;
``orjson.loads`` builds the whole frame for them (0.6-0.9 µs), msgspec (the ``[fast]`` extra)
decodes the three into a small struct and skips the rest, still checking that the whole frame is
JSON, in a third of that. Without msgspec ``FAST`` is False and the caller keeps its orjson path.

The contract, for any bytes ``raw`` (``framehead``'s conventions): ``read_trade(raw)`` is either
``None`` (declined: the caller parses with orjson and judges the frame) or a key whose ``type``,
``msg.trade_id`` and ``msg.ts_ms`` are what ``orjson.loads(raw)`` holds there. Only Kalshi's
common shape is read: a JSON object with a string ``type`` and an object ``msg`` holding a
non-empty string ``trade_id`` and an integer ``ts_ms`` in 0..2**63-1. Anything else (a bool, a
float, a missing field, bytes that are not UTF-8) is declined, so the reference path decides
every odd frame as it always has. framehead's one known difference holds here too: a number past
a double's range in a skipped field is valid JSON that orjson refuses and msgspec skips.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Protocol

from kalshi_cli.framehead import is_utf8

__all__ = ["FAST", "TradeKey", "TradeKeyError", "decode_trade", "read_trade"]

_MAX = 2**63 - 1


class TradeMsg(Protocol):
    @property
    def trade_id(self) -> str: ...
    @property
    def ts_ms(self) -> int: ...


class TradeKey(Protocol):
    """What the dedupe reads of a frame; the rest is written as received."""

    @property
    def type(self) -> str: ...
    @property
    def msg(self) -> TradeMsg: ...


def _no_reader(raw: bytes) -> TradeKey:
    raise ValueError("no fast reader without msgspec")


try:
    import msgspec
except ImportError:  # pragma: no cover - the [fast] extra is in [test]
    FAST = False
    #: ``raw``'s key, unchecked for UTF-8 (the caller tests ``raw.isascii() or is_utf8(raw)``);
    #: raises ``TradeKeyError`` for anything ``read_trade`` declines (everything, without msgspec).
    decode_trade: Callable[[bytes], TradeKey] = _no_reader
    TradeKeyError: tuple[type[Exception], ...] = (ValueError,)
else:

    class _Msg(msgspec.Struct, gc=False):
        trade_id: Annotated[str, msgspec.Meta(min_length=1)]
        ts_ms: Annotated[int, msgspec.Meta(ge=0, le=_MAX)]

    class _Frame(msgspec.Struct, gc=False):
        type: str
        msg: _Msg

    FAST = True
    decode_trade = msgspec.json.Decoder(_Frame).decode
    TradeKeyError = (msgspec.DecodeError, RecursionError)  # (ValidationError is a DecodeError; deep nesting)


def read_trade(raw: bytes) -> TradeKey | None:
    """``raw``'s key, or ``None`` when the frame is not one the reader vouches for (see above)."""
    try:
        key = decode_trade(raw)
    except TradeKeyError:
        return None
    return key if raw.isascii() or is_utf8(raw) else None
