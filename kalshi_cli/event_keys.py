"""Which exchange event a frame is: one key, the same on every connection.

Two connections carrying the same subscriptions deliver the same exchange events under
different ``sid``/``seq`` numbers; a key names the event itself, so a merge of redundant
connections (``redundant``) and a de-duplicating bus (``Nats-Msg-Id``) keep each event once.
A key is built only from identifiers the exchange stamps (KALSHI_WS.md §6); where a message has
none, ``key`` returns ``None`` and the bus never de-duplicates the frame; a merge of redundant
connections keys those by content instead (``ContentKeyer``, see ``redundant_merge``).

| type | key |
|---|---|
| ``orderbook_delta`` | ``d:TICKER:CLOCK:N``, the N-th delta (from 0) of that exchange clock (§6.2, §11.7) |
| ``orderbook_snapshot`` | ``s:TICKER:CLOCK`` (a snapshot holds exactly the changes up to its clock) |
| ``trade`` | ``t:TRADE_ID`` |
| ``fill`` | ``f:TRADE_ID:ORDER_ID`` (a self-trade fills two orders under one trade id) |
| ``user_order`` | ``u:ORDER_ID:LAST_UPDATED_TS_MS:STATUS:FILL_COUNT:REMAINING_COUNT:YES_PRICE`` (1) |
| ``order_group_updates`` | ``g:ORDER_GROUP_ID:EVENT_TYPE:TS_MS:CONTRACTS_LIMIT`` |
| ``market_lifecycle_v2``, ``multivariate_market_lifecycle`` | ``l:TICKER:EVENT_TYPE`` (2) |
| ``rfq_created``, ``rfq_deleted``, ``rfq_batch_created``, ``rfq_batch_deleted`` | ``c:TYPE:ID`` |
| ``quote_created``, ``quote_accepted`` | ``c:TYPE:QUOTE_ID`` |
| ``quote_executed`` | ``c:TYPE:QUOTE_ID:ORDER_ID`` (each side gets its own order id) |
| ``batch_quote_created`` | ``c:TYPE:BATCH_QUOTE_ID:CREATED_TS`` (a batch quote is resent) |
| ``batch_quote_accepted``, ``batch_quote_executed`` | ``c:TYPE:BATCH_QUOTE_ID`` |
| ``rfq_batch_best_quotes`` | ``c:TYPE:RFQ_BATCH_ID:VERSION`` (the exchange's version counter) |
| ``rfq_batch_executed`` | ``c:TYPE:RFQ_BATCH_ID`` |
| ``cfbenchmarks_value`` | ``x:TYPE:INDEX_ID:RECEIVED_AT`` |
| ``cfbenchmarks_value_5hz``, ``pyth_value`` | ``x:TYPE:INDEX_ID_OR_UNDERLYING:SOURCE_TS_MS`` |
| ``ticker``, ``market_position``, ``event_lifecycle``, ``event_fee_update``, list replies | none (3), (4) |

(1) An order update has no id of its own: its time (empty when absent, it is optional) and the
state every update changes; two updates that leave an order in the very same state share a key.
(2) Only the events that happen once per market (``created``, ``determined``, ``settled``);
``close_date_updated`` adds its ``close_ts``; the others (pauses, metadata, price levels) have
no identifier and get none. (3) Full-state messages with no id of their own. (4) ``--redundant``
only: ``ContentKeyer``, the type and msg as canonical JSON (keys sorted) and, from the second time
one connection shows the same content, its count; never a bus key (it names a content, not an event).
A field a key needs that is missing from the frame means no key.

Deltas need state: several deltas of one exchange action share a ``clock`` and arrive in the
same order on every connection, so the N-th of a group is the same event everywhere. That
count is only sure from a known start: a snapshot of the market, or a higher clock on a sid
whose ``seq`` had no gap since. After a gap, a repeat, a restarted ``seq`` or a clock that goes
down, the market's current group is unsure and its deltas get no key (``None``) until a
snapshot or a higher clock; a wrong key would make a de-duplicator drop a real change, no key
only costs a duplicate. Hence one ``EventKeyer`` per connection, fed every data frame of it in
order. Clocks are per market and reset across exchange maintenance, so a key is unique within
one stretch of a market's clock, which outlasts any de-duplication window.

Keys are short printable ASCII with no spaces (a NATS header value): the fields are joined by
``:`` and every character outside ``A-Z a-z 0-9 . _ -`` is percent-encoded, so no two different
field lists give one key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "CONTENT_KEPT",
    "CONTENT_TYPES",
    "ContentKeyer",
    "KEYED_TYPES",
    "SNAPSHOT_POS",
    "EventKeyer",
    "delta_position",
    "encode_field",
    "mark_lost",
    "after_snapshot",
    "unknown_group",
]

_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]")
#: The second half of a snapshot's position (``EventKeyer.place``): it holds every delta of its clock.
SNAPSHOT_POS: Final = 1 << 62
# A market's clock group on one connection is ``[clock, pos]``; ``pos`` is the position of the
# last delta within the group at ``clock``, or one of these marks:
_AFTER_SNAPSHOT: Final = -1  # right after a snapshot: no delta at its clock is valid
_UNSURE: Final = -2  # the group at ``clock`` may have lost deltas; a higher clock is sure
_LOST: Final = -3  # frames may have been lost since: the next delta's group is unsure


def unknown_group() -> list[int]:
    """A market's group state before anything is known (joined mid-stream)."""
    return [0, _LOST]


def after_snapshot(clock: int) -> list[int]:
    """A market's group state right after a snapshot at ``clock``."""
    return [clock, _AFTER_SNAPSHOT]


def mark_lost(group: list[int]) -> None:
    """Frames may have been lost (a seq gap): the next delta's group is unsure."""
    group[1] = _LOST


def delta_position(group: list[int], clock: int) -> int | None:
    """The position of a delta at ``clock`` within its clock's group (advancing ``group``), or
    ``None`` when it cannot be sure (see the module docstring)."""
    current, pos = group
    if clock > current:
        if pos == _LOST:  # this clock's group may have begun unseen
            group[0] = clock
            group[1] = _UNSURE
            return None
        group[0] = clock
        group[1] = 0
        return 0
    if clock == current and pos >= 0:
        group[1] = pos = pos + 1
        return pos
    if pos == _LOST or (clock < current and pos != _AFTER_SNAPSHOT):
        group[0] = clock  # frames lost, or maintenance lowered the clock: unsure until it moves on
        group[1] = _UNSURE
    return None  # at or below the snapshot's clock (a fault), or the unsure group


def encode_field(value: object) -> str:
    """One key field: ``str(value)`` with every unsafe character as ``%XX`` of its UTF-8."""
    text = value if type(value) is str else str(value)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), text)


def _join(*fields: object) -> str | None:
    if any(f is None for f in fields):
        return None
    return ":".join(encode_field(f) for f in fields)


def _lifecycle(msg: Mapping[str, Any]) -> str | None:
    event = msg.get("event_type")
    if event in ("created", "determined", "settled"):
        return _join("l", msg.get("market_ticker"), event)
    if event == "close_date_updated":
        return _join("l", msg.get("market_ticker"), event, msg.get("close_ts"))
    return None


def _fields(*names: str) -> Callable[[str, Mapping[str, Any]], str | None]:
    """A keyer for a communications/reference type: its type, then ``msg[name]`` for each name."""

    def key(kind: str, msg: Mapping[str, Any]) -> str | None:
        return _join("x" if kind in _PREFIXED else "c", kind, *(msg.get(n) for n in names))

    return key


_PREFIXED: Final = frozenset(("cfbenchmarks_value", "cfbenchmarks_value_5hz", "pyth_value"))

_STATELESS: Final[dict[str, Callable[[str, Mapping[str, Any]], str | None]]] = {
    "trade": lambda _k, m: _join("t", m.get("trade_id")),
    "fill": lambda _k, m: _join("f", m.get("trade_id"), m.get("order_id")),
    "user_order": lambda _k, m: _join(
        "u",
        m.get("order_id"),
        m.get("last_updated_ts_ms", ""),
        m.get("status"),
        m.get("fill_count_fp"),
        m.get("remaining_count_fp"),
        m.get("yes_price_dollars"),
    ),
    "order_group_updates": lambda _k, m: _join(
        "g",
        m.get("order_group_id"),
        m.get("event_type"),
        m.get("ts_ms"),
        m.get("contracts_limit_fp", ""),
    ),
    "market_lifecycle_v2": lambda _k, m: _lifecycle(m),
    "multivariate_market_lifecycle": lambda _k, m: _lifecycle(m),
    "rfq_created": _fields("id"),
    "rfq_deleted": _fields("id"),
    "rfq_batch_created": _fields("id"),
    "rfq_batch_deleted": _fields("id"),
    "quote_created": _fields("quote_id"),
    "quote_accepted": _fields("quote_id"),
    "quote_executed": _fields("quote_id", "order_id"),
    "batch_quote_created": _fields("batch_quote_id", "created_ts"),
    "batch_quote_accepted": _fields("batch_quote_id"),
    "batch_quote_executed": _fields("batch_quote_id"),
    "rfq_batch_best_quotes": _fields("rfq_batch_id", "version"),
    "rfq_batch_executed": _fields("rfq_batch_id"),
    "cfbenchmarks_value": _fields("index_id", "received_at"),
    "cfbenchmarks_value_5hz": _fields("index_id", "source_ts_ms"),
    "pyth_value": _fields("underlying_ticker", "source_ts_ms"),
}


class EventKeyer:
    """The event keys of one connection's frames, fed in the order they arrived.

    Stateful only for book deltas: per market the current ``clock`` and the position of the
    last delta within it, and per sid the last ``seq`` (a gap makes that sid's markets unsure).
    Memory is one entry per market and sid subscribed. ``place`` is ``key`` for a merge of
    book frames: the market and the frame's position in its clock, no string built.
    """

    __slots__ = ("_books", "_market_sid", "_seqs")

    def __init__(self) -> None:
        self._books: dict[str, list[int]] = {}  # ticker -> [clock, pos]
        self._market_sid: dict[str, object] = {}
        self._seqs: dict[object, int] = {}

    def key(self, frame: Mapping[str, Any]) -> str | None:
        """The key of ``frame`` (a parsed server envelope), or ``None`` when it has none."""
        kind = frame.get("type")
        msg = frame.get("msg")
        if type(kind) is not str or (type(msg) is not dict and not isinstance(msg, Mapping)):
            return None
        if kind == "trade":  # the busiest keyed type: its fast path
            trade_id = msg.get("trade_id")
            if type(trade_id) is str and _UNSAFE.search(trade_id) is None:
                return "t:" + trade_id
        elif kind == "orderbook_delta" or kind == "orderbook_snapshot":
            sid = frame.get("sid")
            seq = frame.get("seq")  # seq matters only to the delta groups of a book sid
            if type(seq) is int and sid is not None:
                self._observe_seq(sid, seq)
            placed = self._place(kind, sid, msg)
            if placed is None:
                return None
            ticker, (clock, pos) = placed
            if pos == SNAPSHOT_POS:
                return f"s:{encode_field(ticker)}:{clock}"
            return f"d:{encode_field(ticker)}:{clock}:{pos}"
        keyer = _STATELESS.get(kind)
        return keyer(kind, msg) if keyer is not None else None

    def place(self, frame: Mapping[str, Any]) -> tuple[str, tuple[int, int]] | None:
        """For a book frame: its market and position, ``(clock, n)`` for the n-th delta of a clock,
        ``(clock, SNAPSHOT_POS)`` for a snapshot (it holds every delta of its clock); ``None``
        when unsure (or not a book frame with a clock). Keeps the same state as ``key``."""
        msg = frame.get("msg")
        if type(msg) is not dict and not isinstance(msg, Mapping):
            return None
        sid = frame.get("sid")
        seq = frame.get("seq")
        if type(seq) is int and sid is not None:
            last = self._seqs.get(sid)
            if last is not None and seq == last + 1:
                self._seqs[sid] = seq
            else:
                self._observe_seq(sid, seq)
        return self._place(frame.get("type"), sid, msg)

    def reset(self) -> None:
        """Forget every group position (the connection was replaced): deltas wait for snapshots."""
        for group in self._books.values():
            mark_lost(group)
        self._seqs.clear()

    def _observe_seq(self, sid: object, seq: int) -> None:
        last = self._seqs.get(sid)
        self._seqs[sid] = seq
        if last is None or seq == last + 1:
            return
        # a gap, a repeat or a restart: any market of this sid may have lost part of a group
        for ticker, owner in self._market_sid.items():
            if owner == sid:
                mark_lost(self._books[ticker])

    def _place(self, kind: object, sid: object, msg: Mapping[str, Any]) -> tuple[str, tuple[int, int]] | None:
        ticker = msg.get("market_ticker")
        clock = msg.get("clock")
        if type(ticker) is not str or type(clock) is not int:
            return None
        if self._market_sid.get(ticker) != sid:
            self._market_sid[ticker] = sid
        if kind == "orderbook_snapshot":
            self._books[ticker] = after_snapshot(clock)
            return ticker, (clock, SNAPSHOT_POS)
        if kind != "orderbook_delta":
            return None
        group = self._books.get(ticker)
        if group is None:
            group = self._books[ticker] = unknown_group()
        pos = delta_position(group, clock)
        return None if pos is None else (ticker, (clock, pos))


#: The message types that can have a key (a type not here never has one).
KEYED_TYPES: Final = frozenset((*_STATELESS, "orderbook_delta", "orderbook_snapshot"))

#: The message types without an exchange identifier (or only for some events: lifecycle) that a
#: merge of redundant connections keys by content (``ContentKeyer``; never a bus key).
CONTENT_TYPES: Final = frozenset(
    (
        "ticker",
        "market_position",
        "event_lifecycle",
        "event_fee_update",
        "market_lifecycle_v2",
        "multivariate_market_lifecycle",
    )
)


CONTENT_KEPT: Final = 10_000  # contents a ``ContentKeyer`` counts (as ``redundant_lineup.SEEN_KEPT``)


class ContentKeyer:
    """Content keys of one connection's frames on one subscription, fed in the order they arrived.

    The same content on every connection is the same update, except that content may recur
    (an update leaving the very same state as an earlier one): so the key is the content and how
    many times this connection showed it before (from the second time), the n-th showing
    being the same update on every connection that saw the earlier ones. Counts the last
    ``CONTENT_KEPT`` contents; kept across reconnects (a connection back numbers on).
    """

    __slots__ = ("_dumps", "_shown", "_sort")

    def __init__(self) -> None:
        import orjson  # loaded already wherever frames are parsed

        self._dumps = orjson.dumps
        self._sort = orjson.OPT_SORT_KEYS
        self._shown: dict[bytes, int] = {}

    def key(self, frame: Mapping[str, Any]) -> bytes | tuple[bytes, int] | None:
        """The content key of ``frame``: the content, or ``(content, n)`` for its n-th repeat;
        ``None`` when its type is not one of ``CONTENT_TYPES``."""
        kind = frame.get("type")
        msg = frame.get("msg")
        if kind not in CONTENT_TYPES or type(msg) is not dict:
            return None
        return self.count(self._dumps((kind, msg), option=self._sort))

    def count(self, content: bytes) -> bytes | tuple[bytes, int]:
        """The key of a frame whose content (type and msg as canonical JSON) is ``content``."""
        shown = self._shown
        times = shown.pop(content, 0)
        shown[content] = times + 1  # the most recent last: the one not shown for longest goes first
        if not times:
            if len(shown) > CONTENT_KEPT:
                del shown[next(iter(shown))]
            return content
        return content, times
