"""The redundant connections' fast lane: the merge's common frame taken without a parse or a call.

Why: with N connections every frame arrives N times, and the general way in (``receive_into``,
``merge_loads`` into a dict, ``Merger.route``, ``RedundantSession.deliver``, the handler's
``passthrough``) costs ~3 us a frame, most of ``tail --json --redundant 2``'s CPU. When frames are
passed on as received (and msgspec is installed), each connection's frames go through ``Lane``:

* A book or trade frame is read in part by msgspec (its head and the merge's fields, with
  ``framehead``'s checks: the values ``merge_loads`` would read). Any other is parsed by orjson,
  a content type's key dumped from the parse, and that reading is kept by the frame's bytes
  (``CACHE_KEPT``): a ticker has no seq, so another connection's copy may be the same bytes.
  (Sequenced frames are not kept: their seq differs between connections that subscribed apart.)
* The client's checks (known sid, data type, next seq) and the merge's common cases are inlined:
  a book delta that is the chain's next or a copy at or below it; a trade or ticker that is new
  (delivered) or a copy (dropped) while nobody joins, takes over or is vouched for on its
  subscription. They change exactly the state the general way changes, in its order.
* Delivered frames whose numbers are the merged stream's go to the handler in runs
  (``passthrough_batch``; those of a ``passthrough_apart`` type one by one), as ``fastlane`` does.

Anything else (a frame the reader declines, an unknown sid, a reply, out of order; a snapshot,
a delta the chain must hold, a subscription being lined up; a frame to restamp) takes the general
way, after the frames before it were handed on: the same frame judged the same way. The lane
looks the client's sids up again after each of those (and each batch): as with
``passthrough_batch``, the handler's ``passthrough`` must not resubscribe.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from typing import Annotated, Any, Protocol

import msgspec
import orjson
from msgspec import UNSET, UnsetType

from kalshi_cli.client import MASK, SKIP_FRAME, KalshiClient
from kalshi_cli.event_keys import CONTENT_TYPES, SNAPSHOT_POS, ContentKeyer, encode_field
from kalshi_cli.events import Event, Subscription
from kalshi_cli.framehead import is_utf8
from kalshi_cli.protocol import DATA_TYPES
from kalshi_cli.redundant_books import BookMerge, Item
from kalshi_cli.redundant_heads import PARTIAL_STARTS
from kalshi_cli.redundant_lineup import SEEN_KEPT, TAG_BITS, TAG_MASK
from kalshi_cli.redundant_merge import BOOK, CONTENT, KEYED, Merger
from kalshi_cli.seq import SeqWindow

__all__ = ["CACHE_KEPT", "Lane", "MergedStream", "Reading", "read_frame"]

CACHE_KEPT = 8192  # readings kept by bytes (far above the lag between connections); then all are dropped
_LOST = -3  # event_keys' mark: frames may have been lost, the next delta's group is unsure
_PARTIAL_TYPES = frozenset(("orderbook_delta", "orderbook_snapshot", "trade"))  # redundant_heads' in part
_Count = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
_OTHER, _BOOK, _KEYED, _CONTENT = 0, 1, 2, 3
_KINDS = {BOOK: _BOOK, KEYED: _KEYED, CONTENT: _CONTENT}


class _Msg(msgspec.Struct, gc=False):
    """The merge's fields (absent: ``UNSET``; null is declined, as ``merge_loads``' TypedDict does)."""

    market_ticker: str | UnsetType = UNSET
    clock: _Count | UnsetType = UNSET
    trade_id: str | UnsetType = UNSET


class _Frame(msgspec.Struct, gc=False):
    type: str
    sid: _Count
    seq: _Count | UnsetType = UNSET
    msg: _Msg | UnsetType = UNSET


_decode = msgspec.json.Decoder(_Frame).decode
_errors = (msgspec.DecodeError, RecursionError)

#: A frame's reading: its head and merge fields, its content key, and the parse the general way
#: gets (``None``: ``merge_loads`` would read it in part; it is read again if needed).
Reading = tuple[_Frame, bytes | None, dict[str, Any] | None]


def read_frame(raw: bytes) -> Reading | None:
    """``raw`` read for the lane, or ``None`` (the general way judges it). Accepted only where the
    general way accepts it too and reads the same values: a book or trade frame that
    ``merge_loads`` reads in part with msgspec (the same fields, the same types), any other with
    orjson's parse (whose ``msg`` gives a content type's key); UTF-8 and the size checked."""
    if len(raw) > SKIP_FRAME:
        return None
    try:
        head = _decode(raw)
    except _errors:
        return None
    if not (raw.isascii() or is_utf8(raw)):
        return None
    kind = head.type
    if kind in _PARTIAL_TYPES and raw.startswith(PARTIAL_STARTS):
        return head, None, None
    try:
        obj = orjson.loads(raw)
    except ValueError:  # (a number past a double: msgspec skips it, orjson refuses)
        return None
    content = None
    if kind in CONTENT_TYPES and type(whole := obj.get("msg")) is dict:
        content = orjson.dumps((kind, whole), option=orjson.OPT_SORT_KEYS)  # ContentKeyer's content
    return head, content, obj


class MergedStream(Protocol):
    """What the lane needs of ``RedundantSession``: the merged stream's seq per subscription, its
    count of frames delivered, and its general delivery (which restamps)."""

    merged_seq: list[int]
    frames: int

    def deliver(self, sub: int, item: Item) -> None: ...


Route = Callable[[int, dict[str, Any], bytes | None], None]
#: A sid's entry in the lane's table (``Lane._table``).
_Entry = tuple[int, SeqWindow, int, bool, BookMerge | None, dict[str, Any], set[int]]


class Lane:
    """Connection ``conn``'s way into ``merger`` (see the module docstring). ``routes`` are the
    general way per subscription (``Merger.route``), ``cache`` the readings shared by every
    connection's lane, ``loads`` the general way's parse; ``pass_on``, ``pass_batch`` and
    ``apart`` the handler's (``StreamHandler.passthrough``...)."""

    def __init__(
        self,
        client: KalshiClient,
        conn: int,
        merger: Merger,
        stream: MergedStream,
        subs: list[Subscription],
        routes: list[Route],
        cache: dict[bytes, Reading],
        loads: Callable[[bytes], Any],
        handler: tuple[Callable[[bytes], None], Callable[[list[bytes]], None], Container[str]],
    ) -> None:
        self.client = client
        self.conn = conn
        self.merger = merger
        self.stream = stream
        self.index = {id(sub): i for i, sub in enumerate(subs)}
        self.routes = routes
        self.cache = cache
        self.loads = loads
        self.pass_on, self.pass_batch, self.apart = handler
        #: per subscription, how the lane takes its frames (the merge's kind)
        self.kinds = [_KINDS.get(kind, _OTHER) for kind in merger.kinds]
        self.fast = 0  # frames the lane took through, client to handler (tests: the lane is taken)

    def receive(
        self, frames: Iterable[bytes], on_frame: Callable[[bytes, dict[str, Any], Subscription], None]
    ) -> Iterator[Event | bytes]:
        """``client.receive_into(frames, on_frame, loads)``, the common frames taken through the merge
        here; everything else is yielded (or handed to ``on_frame``) as ``receive_into`` does."""
        client, conn, merger, stream = self.client, self.conn, self.merger, self.stream
        routes, loads, slow = self.routes, self.loads, client.receive_into
        cache, get, read, kept = self.cache, self.cache.get, read_frame, CACHE_KEPT
        decode, errors, utf8, partial, partial_types = _decode, _errors, is_utf8, PARTIAL_STARTS, _PARTIAL_TYPES
        pass_on, pass_batch, apart = self.pass_on, self.pass_batch, self.apart
        joining, anchored = merger.joining, merger.anchored
        vouched, taking, seen, seen_order = merger.vouched, merger.taking_over, merger.seen, merger.seen_order
        era, last_era, tags = merger.era, merger.last_era, merger.tags
        contents: list[ContentKeyer] = merger.contents[conn]
        merged = stream.merged_seq
        mask, unset, skip = MASK, UNSET, SKIP_FRAME
        table = self._table()
        out: list[bytes] = []
        keep = out.append
        passed = delivered = fast = 0
        try:
            for raw in frames:
                head: _Frame | None = None
                content = obj = entry = None
                if raw.startswith(partial) and len(raw) <= skip:  # a book or trade frame, read in part
                    try:
                        head = decode(raw)
                    except errors:
                        pass
                    if head is not None and (head.type not in partial_types or not (raw.isascii() or utf8(raw))):
                        head = None
                    entry = table.get(head.sid) if head is not None else None  # (a data type, then)
                if head is None:  # another frame (a ticker's reading, a parse and a dump, is kept: no seq)
                    reading = get(raw)
                    if reading is None:
                        reading = read(raw)
                        if reading is not None and not raw.startswith(partial):
                            if len(cache) >= kept:
                                cache.clear()
                            cache[raw] = reading
                    if reading is not None:
                        head, content, obj = reading
                    entry = table.get(head.sid) if head is not None and head.type in DATA_TYPES else None
                if entry is None or head is None:  # declined, a reply, a sid not (yet) known
                    if out:
                        pass_batch(out)
                        out = []
                        keep = out.append
                    yield from slow((raw,), on_frame, loads)  # the reference judges it
                    table = self._table()
                    continue
                sub, window, how, as_merged, book, tracks, subscribed = entry
                kind, seq = head.type, head.seq
                if seq is not unset:
                    if seq != window.last + 1:
                        if out:
                            pass_batch(out)
                            out = []
                            keep = out.append
                        yield from slow((raw,), on_frame, loads)
                        table = self._table()
                        continue
                    window.last = seq  # (receive_into's in-order case)
                    window.ring[seq & mask] = (seq, raw)
                passed += 1
                taken: bool | None = None  # None: the general way; else delivered or not
                if how == _BOOK:  # (book_route and BookMerge.frame, the common delta inline)
                    msg = head.msg
                    if kind == "orderbook_delta" and msg is not unset and book is not None:
                        clock, ticker = msg.clock, msg.market_ticker
                        if type(clock) is int and type(ticker) is str:
                            if conn not in subscribed:
                                taken = False  # (the route drops it)
                            elif (track := tracks.get(ticker)) is not None:
                                group = track.group
                                current, last = group
                                if clock > current:  # (event_keys.delta_position, the sure cases)
                                    pos = -1 if last == _LOST else 0
                                else:
                                    pos = last + 1 if clock == current and last >= 0 else -1
                                if pos >= 0:
                                    chain = track.chain
                                    at = chain.pos
                                    position = (clock, pos)
                                    if position <= at or chain.needs:  # a copy: its place noted
                                        group[0], group[1] = clock, pos
                                        track.anchor = position
                                        taken = False
                                        if position == at and chain.by & 0xFF != conn:  # COPY
                                            book.copy_of = chain.by
                                            if any(joining):
                                                merger._aligned(conn, chain.by)
                                    elif not track.held and not chain.held and (anchor := track.anchor) is not None:
                                        if anchor == at or (
                                            at[1] == SNAPSHOT_POS and pos == 0 and anchor <= at and clock > at[0]
                                        ):  # the chain's next (redundant_books._follows); else held, generally
                                            group[0], group[1] = clock, pos
                                            chain.pos = track.anchor = position
                                            chain.by = book.tags[conn]
                                            taken = True
                elif how and not joining[sub] and not vouched[sub] and taking[sub] is None:
                    key: str | bytes | tuple[bytes, int] | None = None
                    if how == _KEYED:
                        msg = head.msg
                        if kind == "trade" and msg is not unset and type(trade_id := msg.trade_id) is str:
                            key = "t:" + encode_field(trade_id)  # (EventKeyer.key of a trade)
                    elif content is not None:
                        key = contents[sub].count(content)
                    if key is not None:  # (Merger.keyed, with nobody joining this subscription)
                        merger.placed = True
                        seen_s = seen[sub]
                        was = seen_s.get(key)
                        if was is not None:  # a copy
                            taken = False
                            if was >> TAG_BITS >= last_era[sub] and any(joining):
                                merger._aligned(conn, was & TAG_MASK)
                        elif conn not in anchored[sub]:
                            taken = False  # not in line, not joining: not its to say
                        else:  # (KeyedLineUp._deliver_keyed)
                            e = last_era[sub] = era[sub]
                            seen_s[key] = e << TAG_BITS | tags[conn]
                            order = seen_order[sub]
                            order.append(key)
                            if len(order) > SEEN_KEPT:
                                seen_s.pop(order.popleft(), None)
                            taken = True
                if taken is None:  # the general way, as receive_into hands it on
                    if out:
                        pass_batch(out)
                        out = []
                        keep = out.append
                    routes[sub](conn, loads(raw) if obj is None else obj, raw)
                    table = self._table()
                    continue
                fast += 1
                if not taken:
                    continue
                if as_merged and (seq is unset or seq == merged[sub] + 1):  # its numbers: as received
                    if seq is not unset:
                        merged[sub] = seq
                    delivered += 1
                    if merger.waiting:  # (what follows a delivery in book_route and Merger.keyed)
                        merger._news(conn)
                    if kind not in apart:
                        keep(raw)
                        continue
                    if out:
                        pass_batch(out)
                        out = []
                        keep = out.append
                    pass_on(raw)
                    continue
                if out:
                    pass_batch(out)
                    out = []
                    keep = out.append
                stream.deliver(sub, (loads(raw) if obj is None else obj, raw))  # restamped
                if merger.waiting:
                    merger._news(conn)
                table = self._table()
            if out:
                pass_batch(out)
        finally:
            client.frames += passed
            stream.frames += delivered
            self.fast += fast

    def _table(self) -> dict[int, _Entry]:
        """The client's sids now: each one's subscription (its place), seq window, merge kind, whether
        the sid is the merged stream's (``sub + 1``), and for a book its merge, this connection's
        tracks and the connections subscribed."""
        index, kinds, merger, conn = self.index, self.kinds, self.merger, self.conn
        table: dict[int, _Entry] = {}
        for sid, (sub, window) in self.client._lanes.items():
            i = index[id(sub)]
            book = merger.books[i]
            tracks = book.tracks[conn] if book is not None else {}
            table[sid] = (i, window, kinds[i], sid == i + 1, book, tracks, merger.on[i])
        return table
