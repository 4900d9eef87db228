"""The export's quick reading of the three common frames (msgspec, in the ``[parquet]`` extra).

``orjson.loads`` builds a dict of every field; a msgspec decoder into typed Structs reads only
the fields a table needs, checks their types in C, and costs about half. It is a shortcut, never
another meaning: a line it does not take exactly as declared (a value of another type, an int
beyond 64 bits, malformed JSON, another frame type) is read by orjson and the dict path
instead, as without msgspec, so every table holds the same rows either way. A field absent and
a field null both read None, as ``dict.get`` reads them.

``decoder(kinds)`` is None without msgspec (the export then runs on orjson alone, slower).
``TradeSeq`` is a trade read for its seq and times alone (the book pass, which writes no trades).
(No ``from __future__ import annotations`` here: msgspec reads the Structs' annotations, which
name local types.)
"""

from collections.abc import Callable
from typing import Annotated, Any, ClassVar

__all__ = ["Decoder", "decoder", "frame_classes"]

#: decodes one line into a Struct, or raises ``errors``
Decoder = tuple[Callable[[bytes], Any], type[Exception], tuple[bytes, ...]]

_CLASSES: dict[str, Any] | None = None


def frame_classes() -> dict[str, Any] | None:
    """name -> Struct class (built once), or None without msgspec."""
    global _CLASSES
    if _CLASSES is None:
        try:
            _CLASSES = _define()
        except ImportError:
            return None
    return _CLASSES


def decoder(kinds: list[str]) -> Decoder | None:
    """A decoder for the named Structs (``"delta"``, ``"ticker"``, ``"trade"``, ``"trade_seq"``):
    (decode, its error, the line prefixes worth trying it on); None without msgspec or kinds."""
    classes = frame_classes()
    if classes is None or not kinds:
        return None
    import msgspec

    chosen = [classes[k] for k in kinds]
    union: Any = chosen[0]
    for cls in chosen[1:]:
        union = union | cls
    prefixes = tuple(b'{"type":"%s"' % cls.__struct_config__.tag.encode() for cls in chosen)
    return msgspec.json.Decoder(union).decode, msgspec.DecodeError, prefixes


def _define() -> dict[str, Any]:
    import msgspec

    #: an int that fits int64: a larger one reads as orjson reads it (a float past u64), so the dict path takes it
    Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
    Str = str | None
    Num = Int | None

    class DeltaMsg(msgspec.Struct, gc=False):
        market_ticker: Str = None
        price_dollars: Str = None
        delta_fp: Str = None
        side: Str = None
        clock: Num = None
        client_order_id: Str = None
        ts_ms: Num = None
        price: Num = None  # pre-2026 integer cents and count
        delta: Num = None

    class Delta(msgspec.Struct, tag="orderbook_delta", tag_field="type", gc=False):
        kind: ClassVar[str] = "orderbook_delta"
        sid: Num = None
        seq: Num = None
        msg: DeltaMsg | None = None
        sending_ts_ms: Num = None
        recv_ts_ms: Num = None

    class TickerMsg(msgspec.Struct, gc=False):
        market_ticker: Str = None
        price_dollars: Str = None
        yes_bid_dollars: Str = None
        yes_ask_dollars: Str = None
        yes_bid_size_fp: Str = None
        yes_ask_size_fp: Str = None
        last_trade_size_fp: Str = None
        volume_fp: Str = None
        open_interest_fp: Str = None
        dollar_volume: Num = None
        dollar_open_interest: Num = None
        ts_ms: Num = None

    class Ticker(msgspec.Struct, tag="ticker", tag_field="type", gc=False):
        kind: ClassVar[str] = "ticker"
        sid: Num = None
        seq: Num = None
        msg: TickerMsg | None = None
        sending_ts_ms: Num = None
        recv_ts_ms: Num = None

    class TradeMsg(msgspec.Struct, gc=False):
        market_ticker: Str = None
        trade_id: Str = None
        taker_outcome_side: Str = None
        taker_side: Str = None
        taker_book_side: Str = None
        yes_price_dollars: Str = None
        no_price_dollars: Str = None
        count_fp: Str = None
        is_block_trade: bool | None = None
        ts_ms: Num = None

    class Trade(msgspec.Struct, tag="trade", tag_field="type", gc=False):
        kind: ClassVar[str] = "trade"
        sid: Num = None
        seq: Num = None
        msg: TradeMsg | None = None
        backfill: bool | None = None
        sending_ts_ms: Num = None
        recv_ts_ms: Num = None

    class TimeMsg(msgspec.Struct, gc=False):
        ts_ms: Num = None

    class TradeSeq(msgspec.Struct, tag="trade", tag_field="type", gc=False):
        kind: ClassVar[str] = "trade"
        sid: Num = None
        seq: Num = None
        msg: TimeMsg | None = None
        sending_ts_ms: Num = None
        recv_ts_ms: Num = None

    return {"delta": Delta, "ticker": Ticker, "trade": Trade, "trade_seq": TradeSeq}
