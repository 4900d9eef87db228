"""Kalshi WebSocket protocol facts and frame handling, with no I/O.

Everything here takes bytes or dicts and returns values: the channel table, command
builders, a reader for the envelope of a server frame and plain-English error sentences
(sequence checks are in ``seq``). ``client.py`` drives it; the simulator uses the same
tables so both sides agree on the contract (``shared/protocol/KALSHI_WS.md``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from kalshi_cli.seq import SeqTracker

__all__ = [
    "FILL",
    "MARKET_LIFECYCLE",
    "MARKET_POSITION",
    "MARKET_POSITIONS",
    "ORDERBOOK_DELTA",
    "ORDERBOOK_SNAPSHOT",
    "TICKER",
    "TRADE",
    "USER_ORDER",
    "USER_ORDERS",
    "CHANNELS",
    "DATA_TYPES",
    "ERROR_TEXTS",
    "TERMINAL_ERROR_CODES",
    "WS_PATH",
    "ChannelInfo",
    "FrameError",
    "Head",
    "SeqTracker",
    "channel_of_type",
    "describe_error",
    "encode_command",
    "read_head",
]

WS_PATH = "/trade-api/ws/v2"

# Channel names (what a subscribe names) and the message types the code branches on (§3).
ORDERBOOK_DELTA = "orderbook_delta"  # the channel, and the type of its delta frames
ORDERBOOK_SNAPSHOT = "orderbook_snapshot"
TICKER = "ticker"
TRADE = "trade"
FILL = "fill"
MARKET_POSITIONS = "market_positions"
MARKET_POSITION = "market_position"
USER_ORDERS = "user_orders"
USER_ORDER = "user_order"
MARKET_LIFECYCLE = "market_lifecycle_v2"


@dataclass(frozen=True)
class ChannelInfo:
    """What a channel emits and how it is filtered (KALSHI_WS.md §3)."""

    name: str
    types: tuple[str, ...]
    sequenced: bool
    private: bool
    markets: str  # "required", "optional", "ids-too" (ticker), "none", "index_ids", "underlyings"


CHANNELS: dict[str, ChannelInfo] = {
    c.name: c
    for c in (
        ChannelInfo("orderbook_delta", ("orderbook_snapshot", "orderbook_delta"), True, True, "required"),
        ChannelInfo("ticker", ("ticker",), False, False, "ids-too"),
        ChannelInfo("trade", ("trade",), True, False, "optional"),
        ChannelInfo("fill", ("fill",), False, True, "optional"),
        ChannelInfo("market_positions", ("market_position",), False, True, "optional"),
        ChannelInfo(
            "market_lifecycle_v2",
            ("market_lifecycle_v2", "event_lifecycle", "event_fee_update"),
            True,
            False,
            "none",
        ),
        ChannelInfo(
            "multivariate_market_lifecycle",
            ("multivariate_market_lifecycle", "event_lifecycle"),
            True,
            False,
            "none",
        ),
        ChannelInfo(
            "communications",
            (
                "rfq_created",
                "rfq_deleted",
                "quote_created",
                "quote_accepted",
                "quote_executed",
                "rfq_batch_created",
                "rfq_batch_deleted",
                "batch_quote_created",
                "rfq_batch_best_quotes",
                "batch_quote_accepted",
                "rfq_batch_executed",
                "batch_quote_executed",
            ),
            True,
            True,
            "none",
        ),
        ChannelInfo("order_group_updates", ("order_group_updates",), True, True, "none"),
        ChannelInfo("user_orders", ("user_order",), False, True, "optional"),
        ChannelInfo(
            "cfbenchmarks_value",
            ("cfbenchmarks_value", "cfbenchmarks_value_indexlist"),
            True,
            True,
            "index_ids",
        ),
        ChannelInfo(
            "cfbenchmarks_value_5hz",
            ("cfbenchmarks_value_5hz", "cfbenchmarks_value_5hz_indexlist"),
            True,
            True,
            "index_ids",
        ),
        ChannelInfo("pyth_value", ("pyth_value", "pyth_value_underlying_list"), True, True, "underlyings"),
    )
}

#: Every message type that carries data (not a command reply).
DATA_TYPES: frozenset[str] = frozenset(t for c in CHANNELS.values() for t in c.types)

_TYPE_TO_CHANNEL: dict[str, str] = {}
for _c in CHANNELS.values():
    for _t in _c.types:
        _TYPE_TO_CHANNEL.setdefault(_t, _c.name)


def channel_of_type(msg_type: str) -> str | None:
    """The channel that emits ``msg_type`` (``event_lifecycle`` maps to ``market_lifecycle_v2``)."""
    return _TYPE_TO_CHANNEL.get(msg_type)


# --- commands -------------------------------------------------------------------------------


def encode_command(cmd_id: int, cmd: str, params: dict[str, Any] | None = None) -> bytes:
    """One client command as the JSON text Kalshi expects (§4.1)."""
    body: dict[str, Any] = {"id": cmd_id, "cmd": cmd}
    if params is not None:
        body["params"] = params
    return orjson.dumps(body)


# --- reading server frames --------------------------------------------------------------------


class FrameError(ValueError):
    """A frame that is not a JSON object with a string ``type``."""


@dataclass(slots=True)
class Head:
    """The envelope of a server frame: enough to route it and check its sequence.

    ``obj`` is the fully parsed frame when the fast path could not be used (or was not
    needed); ``None`` means only the envelope was read and the frame bytes are untouched.
    """

    type: str
    sid: int | None
    seq: int | None
    id: int | None
    obj: dict[str, Any] | None


# Kalshi's frames are compact and put the envelope before "msg":
#   {"type":"trade","sid":3,"seq":17,"msg":{...}}
#   {"type":"orderbook_delta","sending_ts_ms":1787925912347,"sid":1,"seq":2,"msg":{...}}  (examples' order)
# Reading that prefix costs far less than parsing the frame (~0.4 us against ~10 us for the general
# prefix reader below on a 350-byte frame). Only data types take this path; replies are parsed whole.
_FAST = re.compile(
    rb'\{"type":"([a-z_0-9]+)",(?:"sending_ts_ms":\d+,)?"sid":(\d+),(?:"seq":(\d+),)?(?:"sending_ts_ms":\d+,)?"msg":'
)
_PREFIX = re.compile(rb'\{\s*((?:"[A-Za-z_]+"\s*:\s*(?:-?\d+|"[a-z_0-9]*")\s*,\s*)*)"msg"\s*:')
_PAIR = re.compile(rb'"([A-Za-z_]+)"\s*:\s*(?:(-?\d+)|"([a-z_0-9]*)")')
_DATA_NAMES: dict[bytes, str] = {t.encode(): t for t in DATA_TYPES}


def read_head(raw: bytes) -> Head:
    """Read the envelope of one server frame without checking the rest of it.

    For frames that were checked before (recordings, tests); the live stream is parsed whole,
    and checked, by ``client.KalshiClient``, which hands consumers a ``Head`` with ``obj`` set.

    Raises:
        FrameError: the frame is not a JSON object with a string ``type``.
    """
    m = _FAST.match(raw)
    if m is not None and raw[-1:] == b"}":
        kind, sid, seq = m.groups()
        name = _DATA_NAMES.get(kind)
        if name is not None:
            if seq is not None:
                return Head(name, int(sid), int(seq), None, None)
            if b'"seq"' not in raw:  # a seq after "msg" would be missed: such frames go the slow way
                return Head(name, int(sid), None, None, None)
    m = _PREFIX.match(raw)
    if m is not None and raw.rstrip().endswith(b"}"):
        fields: dict[bytes, Any] = {}
        for key, num, text in _PAIR.findall(m[1]):
            fields[key] = int(num) if num else text
        msg_type = fields.get(b"type")
        if isinstance(msg_type, bytes):
            sid, seq, cid = fields.get(b"sid"), fields.get(b"seq"), fields.get(b"id")
            if all(v is None or isinstance(v, int) for v in (sid, seq, cid)):
                return Head(msg_type.decode(), sid, seq, cid, None)
    return head_of(parse_frame(raw))


def parse_frame(raw: bytes | str) -> dict[str, Any]:
    """Parse a whole frame; raise ``FrameError`` if it is not a JSON object with a ``type``."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FrameError(f"not valid JSON ({exc})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise FrameError("not a JSON object with a string 'type'")
    return obj


def head_of(obj: dict[str, Any]) -> Head:
    """The envelope of an already parsed frame."""

    def as_int(key: str) -> int | None:
        v = obj.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    return Head(obj["type"], as_int("sid"), as_int("seq"), as_int("id"), obj)


# --- errors ------------------------------------------------------------------------------------

#: Kalshi's own short text for each error code (§9).
ERROR_TEXTS: dict[int, str] = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    6: "Already subscribed",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    9: "Authentication required",
    10: "Channel error",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    16: "Market not found",
    17: "Internal error",
    18: "Command timeout",
    19: "shard_factor must be > 0",
    20: "shard_factor is required when shard_key is set",
    21: "shard_key must be >= 0 and < shard_factor",
    22: "shard_factor must be <= 100",
    23: "Match IDs required",
    24: "Index IDs required",
    25: "Subscription buffer overflow",
    26: "Subscription market limit exceeded",
    27: "Too many requests",
    28: "Underlying tickers required",
}

#: Codes after which the subscription is gone and must be made again.
TERMINAL_ERROR_CODES = frozenset({10, 17, 25})

_SENTENCES: dict[int, str] = {
    1: "the server could not read a command we sent",
    2: "a command was missing its parameters",
    3: "a subscribe command named no channels",
    4: "an unsubscribe command named no subscriptions",
    5: "the server does not know that command",
    6: "that channel is already subscribed",
    7: "the server does not know that subscription id",
    8: "the server does not know that channel",
    9: "this channel needs authentication or an entitlement your API key does not have",
    10: "the server's channel failed and dropped the subscription",
    11: "a parameter was malformed (for example a market id that is not a UUID)",
    12: "an update must name exactly one subscription",
    13: "that action is not supported on this subscription",
    14: "this channel needs at least one market ticker (-m TICKER)",
    15: "an update command named no action",
    16: "the market does not exist",
    17: "the server hit an internal error",
    18: "the server timed out handling a command",
    19: "shard_factor must be greater than 0",
    20: "shard_key needs shard_factor",
    21: "shard_key must be at least 0 and below shard_factor",
    22: "shard_factor must be at most 100",
    23: "match ids are required",
    24: "index ids are required (cfbenchmarks channels)",
    25: "we read too slowly and the server dropped the subscription (data was lost)",
    26: "the subscription would exceed the server's per-subscription market limit",
    27: "too many commands: the server is rate limiting this subscription",
    28: "underlying tickers are required (pyth_value)",
}


def describe_error(msg: Any) -> str:
    """A plain sentence for an error frame's ``msg`` that keeps Kalshi's code and text."""
    if not isinstance(msg, dict):
        return f"server error: {msg!r}"
    code = msg.get("code")
    text = msg.get("msg") or (ERROR_TEXTS.get(code, "") if isinstance(code, int) else "")
    sentence = (
        _SENTENCES.get(code, "the server reported an error")
        if isinstance(code, int)
        else ("the server reported an error")
    )
    markets = msg.get("market_tickers") or msg.get("market_ticker") or msg.get("market_id")
    if isinstance(markets, list):
        markets = ", ".join(str(m) for m in markets)
    where = f" [{markets}]" if markets else ""
    return f"{sentence}{where} (Kalshi error {code}: {text})"
