"""Books rebuilt from a recording, and the tables drawn from them: book_top, book_snapshots, deltas.

The books are the client's own (``bookset.BookSet`` over ``book.OrderBook``: exact integers,
its gap and clock rules), fed frame by frame as recorded. What the recording says about the
stream is applied too: a seq gap (recorded as a ``kalshi_cli.meta`` gap line, or seen in the
frames' seq) makes its sid's books stale, a connect/disconnect makes every book stale, and a
stale book takes no delta until its next snapshot. A row is written only from a LIVE book.

``book_top`` has a row per exchange action that changed a market's best bid or ask. One action
can change several levels with deltas that share a ``clock`` (KALSHI_WS.md §6.2); the levels
in between are no state the exchange was ever in, so a row is written when the action is
complete: at the next frame on the same sid (or a meta line, a ``book_snapshots`` instant, the
end). An action cut short by a gap is not written (its missing deltas may be the rest of it).
``book_snapshots`` takes every live book at each multiple of ``--every`` (exchange time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kalshi_cli.book import BookState, DeltaOutcome
from kalshi_cli.bookset import BookSet
from kalshi_cli.continuity import CONNECT, DISCONNECT, GAP, RECONNECT, RESUBSCRIBE, STALE, SUBSCRIBED
from kalshi_cli.export.continuity import Continuity
from kalshi_cli.export.tables import TableBuffer
from kalshi_cli.export.values import PRICES, SIZES, scaled
from kalshi_cli.fixed import CENT, ONE_CONTRACT, ONE_DOLLAR
from kalshi_cli.protocol import ORDERBOOK_DELTA, channel_of_type

__all__ = ["Books"]


def _text(value: Any) -> str | None:
    return value if type(value) is str else None


_LIVE = BookState.LIVE
_STALE = BookState.STALE
_APPLIED = DeltaOutcome.APPLIED
#: an exchange action being applied: (ticker, clock, ts, recv_ts, seq) of its latest frame, and
#: whether it is a snapshot (whole by itself, whatever follows).
Group = tuple[str, Any, int, Any, Any, bool]


def _legacy(msg: dict[str, Any], price: int | None, size: int | None) -> tuple[int | None, int | None]:
    """A pre-2026 delta's integer cents and contract count, where the fixed-point strings are missing."""
    if price is None and type(msg.get("price")) is int:
        price = msg["price"] * CENT
    if size is None and type(msg.get("delta")) is int:
        size = msg["delta"] * ONE_CONTRACT
    return price, size


class Books:
    """Every market's book, its seq bookkeeping, and the rows the book tables get from it."""

    def __init__(
        self,
        continuity: Continuity,
        *,
        top: TableBuffer | None,
        snapshots: TableBuffer | None,
        deltas: TableBuffer | None,
        depth: int,
        every_ms: int,
        markets: set[str] | None = None,
        build: bool = True,
    ) -> None:
        self.build = build  # False: only the deltas table (a pass that rebuilds no book)
        self.set = BookSet()
        self.continuity = continuity
        self.top = top
        self.snapshots = snapshots
        self.deltas = deltas
        self.depth = depth
        self.every_ms = every_ms
        self.only = markets
        #: sid -> last seq, this connection (the run loop reads and updates it in place: never rebound)
        self.seq: dict[int, int] = {}
        self.groups: dict[Any, Group] = {}  # sid -> the action being applied on it
        self.last_top: dict[str, tuple[Any, ...]] = {}
        self.updated: dict[str, int] = {}  # ticker -> exchange time of its last applied frame
        self.subs: dict[int, tuple[str, list[str]]] = {}  # sid -> (channel, markets), from the meta lines
        self.next_grid: int | None = None
        self._seen_gap: tuple[int, int] | None = None  # (sid, seq) of the last gap noted from the data
        self.apply_known: Callable[..., None] | None = None  # set by delta_handler

    # --- seq and meta ------------------------------------------------------------------------

    def check_seq(self, kind: str, sid: Any, seq: Any, rt: int) -> None:
        """A frame's seq against its sid's last: a jump is a gap, a step back a new connection."""
        if type(sid) is not int or type(seq) is not int:
            return
        last = self.seq.get(sid)
        self.seq[sid] = seq
        if last is None or seq == last + 1:
            return
        if seq > last + 1:
            self._seen_gap = (sid, seq)
            channel = self.subs.get(sid, (channel_of_type(kind), []))[0]
            self._gap(rt, channel, sid, seq - last - 1, f"seq {seq} after {last}", "data")
        else:
            self.seq.clear()
            self.seq[sid] = seq
            self._all_stale(rt, RECONNECT, f"seq went back from {last} to {seq}", "data")

    def meta(self, obj: dict[str, Any], rt: int) -> None:
        """A ``kalshi_cli.meta`` line: what the recorder knew about the stream."""
        event = obj.get("event")
        sid = obj.get("sid") if type(obj.get("sid")) is int else None
        channel = _text(obj.get("channel"))
        if event == SUBSCRIBED and sid is not None and channel is not None:
            markets = obj.get("markets")
            self.subs[sid] = (channel, [m for m in markets if type(m) is str] if isinstance(markets, list) else [])
        elif event == CONNECT:
            conn = obj.get("connection")
            self.continuity.connection = conn if type(conn) is int else (self.continuity.connection or 0) + 1
            self.seq.clear()
            self.subs.clear()
            self._all_stale(rt, CONNECT, _text(obj.get("url")), "recorder")
        elif event == DISCONNECT:
            self._all_stale(rt, DISCONNECT, _text(obj.get("reason")), "recorder")
        elif event == GAP and sid is not None:
            seq = obj.get("seq")
            missing = obj.get("missing") if type(obj.get("missing")) is int else None
            if type(seq) is int:
                if self._seen_gap == (sid, seq):
                    return  # the data showed this gap already
                self.seq[sid] = seq - 1  # the frame that shows the gap follows: it is in order now
            self._gap(rt, channel, sid, missing, None, "recorder")
        elif event == RESUBSCRIBE and sid is not None:
            self._close_group(sid, write=False)
            stale = self.set.mark_sid_stale(sid, "resubscribed") if channel == ORDERBOOK_DELTA else []
            markets = self.subs.get(sid, ("", []))[1]
            self.continuity.event(
                rt,
                RESUBSCRIBE,
                books=stale,
                markets=markets,
                channel=channel,
                sid=sid,
                reason=_text(obj.get("reason")),
            )

    def _gap(
        self, rt: int, channel: str | None, sid: int, missing: int | None, reason: str | None, source: str
    ) -> None:
        stale: list[str] = []
        if channel == ORDERBOOK_DELTA:
            self._close_group(sid, write=False)  # its missing frames may be the rest of the action
            stale = self.set.mark_sid_stale(sid, f"seq gap ({missing} missing)")
        markets = self.subs.get(sid, ("", []))[1]
        self.continuity.event(
            rt,
            GAP,
            books=stale,
            markets=markets,
            channel=channel,
            sid=sid,
            missing=missing,
            reason=reason,
            source=source,
        )

    def _all_stale(self, rt: int, event: str, reason: str | None, source: str) -> None:
        self.close_groups()
        stale = self.set.mark_all_stale(reason or event)
        self.continuity.event(rt, event, books=stale, reason=reason, source=source)

    # --- frames ------------------------------------------------------------------------------

    def frame(
        self, obj: dict[str, Any], kind: str, msg: dict[str, Any], ts: int, recv: Any, rt: int, rows: bool = True
    ) -> None:
        """Apply one ``orderbook_snapshot``/``orderbook_delta`` frame and write what it changed
        (``rows``: its deltas rows too; False when the caller wrote them)."""
        ticker = msg.get("market_ticker")
        if type(ticker) is not str:
            ticker = None  # BookSet marks the sid's books stale for it
        sid = obj.get("sid")
        if type(sid) is not int:
            sid = None
        clock = msg.get("clock")
        delta = kind == ORDERBOOK_DELTA
        groups = self.groups
        group = groups.get(sid)
        if group is not None and not (delta and group[0] == ticker and group[1] == clock):
            self._close_group(sid, write=True)  # (before -m: another market's frame ends the action too)
        if self.only is not None and ticker not in self.only and ticker is not None:
            return
        seq = obj.get("seq")
        deltas = self.deltas
        if deltas is not None and rows:
            if delta:  # (inline: the most common row of all)
                price = PRICES[msg.get("price_dollars")]
                size = SIZES[msg.get("delta_fp")]
                if price is None or size is None:
                    price, size = _legacy(msg, price, size)
                side, coid = msg.get("side"), msg.get("client_order_id")
                deltas.append((ts, recv, ticker, sid, seq, clock, "delta", side, price, size, coid))
            else:
                self._snapshot_rows(msg, ts, recv, sid, seq, clock, ticker)
        if not self.build:
            return
        books = self.set.books
        book = books.get(ticker) if ticker is not None else None
        before = book.state if book is not None else None
        applied = self.set.apply(obj)
        if applied is None:
            book = books.get(ticker) if ticker is not None else None
            if book is not None and book.state is _STALE and before is not _STALE:
                self._close_group(sid, write=False)
                self.continuity.event(
                    rt, STALE, books=[book.market_ticker], sid=sid, reason=book.stale_reason, source="data"
                )
            return
        ticker = applied.market_ticker
        if not delta and before is _STALE:
            self.continuity.fresh(rt, ticker)
        self.updated[ticker] = ts
        groups[sid] = (ticker, clock, ts, recv, seq, not delta)

    def delta_handler(self) -> Callable[[dict[str, Any], dict[str, Any], int, Any, int], None]:
        """``frame`` for an ``orderbook_delta`` (seven frames in ten): the common case in fewer steps.

        A closure over the dicts it touches (never rebound: ``BookSet`` clears its maps in place),
        so a delta costs no attribute lookups. A delta on the sid that feeds its market's book
        goes to that book straight (what ``BookSet.apply`` does for it), and the action it ends
        is closed here (``_close_group``'s whole-action path, inline); anything else (no book
        yet, another sid, a missing ticker or sid) takes ``frame``, as does every delta read as
        a dict by a pass that writes the deltas table or rebuilds nothing.
        """
        frame = self.frame
        if not self.build:
            return lambda obj, msg, ts, recv, rt: frame(obj, ORDERBOOK_DELTA, msg, ts, recv, rt)
        books, sid_markets = self.set.books, self.set.sid_markets
        groups, updated, last_top, only = self.groups, self.updated, self.last_top, self.only
        top = self.top.append if self.top is not None else None
        close, event = self._close_group, self.continuity.event

        def delta(obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any, rt: int) -> None:
            sid = obj.get("sid")
            book = books.get(ticker) if type(ticker := msg.get("market_ticker")) is str else None
            if book is None or type(sid) is not int:
                frame(obj, ORDERBOOK_DELTA, msg, ts, recv, rt)
            else:
                applied(book, sid, obj.get("seq"), msg, ts, recv, rt, obj)

        def applied(book: Any, sid: int, seq: Any, msg: dict[str, Any], ts: int, recv: Any, rt: int, obj: Any) -> None:
            """A delta for a market with a book, on an int sid (``obj``: its frame, or None: rebuilt if needed)."""
            ticker = book.market_ticker  # (the same string)
            clock = msg.get("clock")
            group = groups.get(sid)
            if group is not None and (group[0] != ticker or group[1] != clock):
                # the action before is whole (before -m: another market's frame ends it too)
                del groups[sid]
                ended = books.get(group[0])
                if top is not None and ended is not None and ended.state is _LIVE:
                    now = ended.top()
                    if last_top.get(group[0]) != now:
                        last_top[group[0]] = now
                        bid, bid_size, ask, ask_size = now
                        spread = ask - bid if bid is not None and ask is not None else None
                        top((group[2], group[3], group[0], group[1], group[4], bid, bid_size, ask, ask_size, spread))
            if only is not None and ticker not in only:
                return
            if ticker not in sid_markets.get(sid, ()):  # (its action was closed above: no group now)
                frame(
                    obj or {"type": ORDERBOOK_DELTA, "sid": sid, "seq": seq, "msg": msg},
                    ORDERBOOK_DELTA,
                    msg,
                    ts,
                    recv,
                    rt,
                    False,
                )
                return
            before = book.state
            if book.apply_delta(msg) is _APPLIED:
                book.seq = seq
                updated[ticker] = ts
                groups[sid] = (ticker, clock, ts, recv, seq, False)
            elif book.state is _STALE and before is not _STALE:
                close(sid, write=False)
                event(rt, STALE, books=[ticker], sid=sid, reason=book.stale_reason, source="data")

        self.apply_known = applied  # (typedrows: a typed delta, its frame built only if ``frame`` needs it)
        if self.deltas is not None:
            return lambda obj, msg, ts, recv, rt: frame(obj, ORDERBOOK_DELTA, msg, ts, recv, rt)
        return delta

    def delta_row_handler(self) -> Callable[[dict[str, Any], dict[str, Any], int, Any, int], None]:
        """``frame`` for an ``orderbook_delta`` in a pass that rebuilds no book: its deltas row only
        (a closure, as ``delta_handler``)."""
        only, deltas = self.only, self.deltas
        if deltas is None:
            return lambda obj, msg, ts, recv, rt: None
        append = deltas.append

        def delta_row(obj: dict[str, Any], msg: dict[str, Any], ts: int, recv: Any, rt: int) -> None:
            g = msg.get
            ticker = g("market_ticker")
            if type(ticker) is not str:
                ticker = None
            elif only is not None and ticker not in only:
                return
            sid = obj.get("sid")
            price = PRICES[g("price_dollars")]
            size = SIZES[g("delta_fp")]
            if price is None or size is None:
                price, size = _legacy(msg, price, size)
            if type(sid) is not int:
                sid = None
            append(
                (
                    ts,
                    recv,
                    ticker,
                    sid,
                    obj.get("seq"),
                    g("clock"),
                    "delta",
                    g("side"),
                    price,
                    size,
                    g("client_order_id"),
                )
            )

        return delta_row

    def _close_group(self, sid: Any, *, write: bool) -> None:
        """The action on ``sid`` is over: its row, if it changed the top (``write``: it is whole; a
        snapshot always is)."""
        group = self.groups.pop(sid, None)
        if group is None or self.top is None:
            return
        ticker, clock, ts, recv, seq, whole = group
        if not (write or whole):
            return
        book = self.set.books.get(ticker)
        if book is None or book.state is not _LIVE:
            return
        top = book.top()
        if self.last_top.get(ticker) == top:
            return
        self.last_top[ticker] = top
        bid, bid_size, ask, ask_size = top
        spread = ask - bid if bid is not None and ask is not None else None
        self.top.append((ts, recv, ticker, clock, seq, bid, bid_size, ask, ask_size, spread))

    def close_groups(self) -> None:
        for sid in list(self.groups):
            self._close_group(sid, write=True)

    def _snapshot_rows(
        self, msg: dict[str, Any], ts: int, recv: Any, sid: Any, seq: Any, clock: Any, ticker: Any
    ) -> None:
        table = self.deltas
        assert table is not None
        levels = 0
        for side in ("yes", "no"):
            ladder = msg.get(f"{side}_dollars_fp")
            for level in ladder if isinstance(ladder, list) else ():
                if isinstance(level, list) and len(level) == 2:
                    price, size = scaled(level[0], 4), scaled(level[1], 2)
                    table.append((ts, recv, ticker, sid, seq, clock, "snapshot", side, price, size, None))
                    levels += 1
        if not levels:  # an empty book is a fact too
            table.append((ts, recv, ticker, sid, seq, clock, "snapshot", None, None, None, None))

    # --- book_snapshots ---------------------------------------------------------------------------

    def grid(self, ts: int, recv: Any = None) -> None:
        """A frame's exchange time reached the next ``--every`` instant: take the books (before
        the frame; ``recv``, its receive time, is when the recording knew the instant was past)."""
        every = self.every_ms
        due = self.next_grid
        self.next_grid = (ts // every + 1) * every
        table = self.snapshots
        if due is None or table is None:
            return
        self.close_groups()
        live = [b for _, b in sorted(self.set.books.items()) if b.state is _LIVE]
        if not live:
            return
        depth = max(self.depth, 0)
        while due <= ts:
            if table.lo <= due < table.hi:
                for book in live:
                    ticker, yes, no = book.market_ticker, book.yes, book.no
                    head = (due, recv, self.updated.get(ticker), ticker, book.clock, book.seq)
                    for n, price in enumerate(sorted(yes, reverse=True)[:depth], 1):  # (C: a ladder is short)
                        table.append((*head, "bid", n, price, yes[price]))
                    for n, price in enumerate(sorted(no, reverse=True)[:depth], 1):
                        table.append((*head, "ask", n, ONE_DOLLAR - price, no[price]))
            table.flush_if_full()
            due += every
