"""Local Kalshi order books kept exact and honest, with no I/O (KALSHI_WS.md §6.1, §6.2, §7, §11).

Money never touches a float: prices are integers in units of $0.0001 (``"0.4400"`` -> 4400) and
sizes integers in 1/100 contract (``"95.50"`` -> 9550), the finest steps Kalshi emits. A value
finer than that is refused (``BookError``) instead of being rounded.

Both ladders hold resting BIDS. The NO ladder is always stored in NO-price terms, whatever the
subscription's ``use_yes_price`` says, so everything downstream has one convention.

A book never claims ``LIVE`` while it may differ from the exchange: any integrity doubt (a delta
before a snapshot, a level below zero, a crossed book, a clock going backwards, a seq gap the
caller reports) turns it ``STALE`` until a fresh snapshot arrives.
"""

from __future__ import annotations

import bisect
import enum
import functools
import heapq
import re
from decimal import Decimal
from typing import Any

import orjson

__all__ = [
    "ONE_DOLLAR",
    "BookError",
    "BookSet",
    "BookState",
    "DeltaOutcome",
    "OrderBook",
    "book_json_bytes",
    "book_json_line",
    "format_price",
    "format_size",
    "parse_price",
    "parse_size",
]

PRICE_PLACES = 4
SIZE_PLACES = 2
#: $1.00 in price units: a contract's payout, and the sum of a YES price and its NO price.
ONE_DOLLAR = 10**PRICE_PLACES
CENT = ONE_DOLLAR // 100
ONE_CONTRACT = 10**SIZE_PLACES


class BookError(ValueError):
    """A value or message the book cannot represent exactly or does not understand."""


class BookState(enum.Enum):
    """Whether a book may be trusted."""

    AWAITING_SNAPSHOT = "awaiting_snapshot"
    LIVE = "live"
    STALE = "stale"


class DeltaOutcome(enum.Enum):
    """What ``OrderBook.apply_delta`` did, so the caller can count, log and resync."""

    APPLIED = "applied"
    #: clock <= the snapshot just applied: the change is already inside it.
    SKIPPED_IN_SNAPSHOT = "skipped_in_snapshot"
    #: the book was already STALE; deltas wait for the next snapshot.
    IGNORED_STALE = "ignored_stale"
    #: this delta revealed an integrity problem; the book is now STALE (see ``stale_reason``).
    MARKED_STALE = "marked_stale"


# --- exact fixed-point parsing ---------------------------------------------------------------

_FIXED = re.compile(r"([+-]?)(\d+)(?:\.(\d+))?")


def _parse_fixed(text: Any, places: int, what: str, signed: bool) -> int:
    """Parse a decimal string into an integer count of 10**-places, refusing any rounding."""
    if type(text) is not str:
        raise BookError(f"{what} must be a decimal string, got {text!r}")
    m = _FIXED.fullmatch(text)
    if m is None:
        raise BookError(f"{what} is not a plain decimal: {text!r}")
    sign, whole, frac = m.groups()
    if sign and not signed:
        raise BookError(f"{what} must not carry a sign: {text!r}")
    frac = frac or ""
    if len(frac) > places:
        # Extra zeros are exact; anything else would need rounding, which we never do.
        if frac[places:].strip("0"):
            raise BookError(f"{what} {text!r} has more than {places} decimals")
        frac = frac[:places]
    value = int(whole + frac) * 10 ** (places - len(frac))
    return -value if sign == "-" else value


def parse_price(text: str) -> int:
    """``"0.4400"`` -> 4400 (units of $0.0001); 3-dp legacy strings work too."""
    return _parse_fixed(text, PRICE_PLACES, "price", signed=False)


def parse_size(text: str) -> int:
    """``"95.50"`` -> 9550, ``"-42.00"`` -> -4200 (units of 1/100 contract)."""
    return _parse_fixed(text, SIZE_PLACES, "size", signed=True)


def _format_fixed(value: int, places: int) -> str:
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def format_price(value: int) -> str:
    """4400 -> ``"0.4400"`` (Kalshi's 4-dp form; negative values get a ``-``)."""
    return _format_fixed(value, PRICE_PLACES)


def format_size(value: int) -> str:
    """9550 -> ``"95.50"``, -4200 -> ``"-42.00"``."""
    return _format_fixed(value, SIZE_PLACES)


# Hot path: a stream repeats the same few price and size strings over and over, so a dict
# lookup replaces the parse. The caches only hold values that parsed cleanly; they are
# bounded by being emptied when they grow large (a cheap, rare reset).
_CACHE_LIMIT = 1 << 16
_LEVEL_PRICE_CACHE: dict[str, int] = {}
_SIZE_CACHE: dict[str, int] = {}


def _level_price(text: Any) -> int:
    """A bid price string as price units, checked to lie strictly between $0 and $1."""
    try:
        return _LEVEL_PRICE_CACHE[text]
    except (KeyError, TypeError):
        pass
    value = parse_price(text)
    if not 0 < value < ONE_DOLLAR:
        raise BookError(f"price {text!r} is outside (0, 1)")
    if len(_LEVEL_PRICE_CACHE) >= _CACHE_LIMIT:
        _LEVEL_PRICE_CACHE.clear()
    _LEVEL_PRICE_CACHE[text] = value
    return value


def _size(text: Any) -> int:
    try:
        return _SIZE_CACHE[text]
    except (KeyError, TypeError):
        pass
    value = parse_size(text)
    if len(_SIZE_CACHE) >= _CACHE_LIMIT:
        _SIZE_CACHE.clear()
    _SIZE_CACHE[text] = value
    return value


def _delta_values(msg: dict[str, Any]) -> tuple[int, int]:
    """(price, delta) of a delta msg: fixed-point fields, else the legacy cents and count."""
    price_text = msg.get("price_dollars")
    price = _level_price(price_text) if price_text is not None else _cents_price(msg.get("price"))
    delta_text = msg.get("delta_fp")
    if delta_text is not None:
        return price, _size(delta_text)
    return price, _legacy_int(msg.get("delta"), "delta") * ONE_CONTRACT


def _legacy_int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise BookError(f"legacy {what} must be an integer, got {value!r}")
    return value


def _cents_price(value: Any) -> int:
    price = _legacy_int(value, "price") * CENT
    if not 0 < price < ONE_DOLLAR:
        raise BookError(f"legacy price {value!r} cents is outside (0, 100)")
    return price


def _snapshot_side(msg: dict[str, Any], side: str) -> list[tuple[int, int]]:
    """(price, size) pairs of one side, from the newest encoding the frame carries."""
    levels = msg.get(f"{side}_dollars_fp")
    if levels is not None:
        parse = _fp_level
    elif (levels := msg.get(f"{side}_dollars")) is not None:
        parse = _dollars_level
    elif (levels := msg.get(side)) is not None:
        parse = _cents_level
    else:
        return []
    if not isinstance(levels, list):
        raise BookError(f"{side} levels must be a list, got {type(levels).__name__}")
    out = []
    for level in levels:
        if not isinstance(level, list) or len(level) != 2:
            raise BookError(f"{side} level must be a [price, size] pair, got {level!r}")
        out.append(parse(level))
    return out


def _fp_level(level: list[Any]) -> tuple[int, int]:
    return _level_price(level[0]), _size(level[1])


def _dollars_level(level: list[Any]) -> tuple[int, int]:
    # 2025-era `*_dollars`: 3-dp price strings with integer contract counts.
    size = level[1]
    return _level_price(level[0]), (_size(size) if type(size) is str else _legacy_int(size, "count") * ONE_CONTRACT)


def _cents_level(level: list[Any]) -> tuple[int, int]:
    return _cents_price(level[0]), _legacy_int(level[1], "count") * ONE_CONTRACT


# --- one market -------------------------------------------------------------------------------

_AWAITING = BookState.AWAITING_SNAPSHOT
_LIVE = BookState.LIVE
_STALE = BookState.STALE
_APPLIED = DeltaOutcome.APPLIED
_SKIPPED = DeltaOutcome.SKIPPED_IN_SNAPSHOT
_IGNORED = DeltaOutcome.IGNORED_STALE
_MARKED = DeltaOutcome.MARKED_STALE


class OrderBook:
    """The resting bids of one market, fed by snapshots and deltas.

    ``yes`` and ``no`` map price units to size units; treat them as read-only (the book caches
    its best prices). NO prices are stored in NO-leg terms even when ``use_yes_price`` is set.
    """

    __slots__ = (
        "market_ticker",
        "market_id",
        "clock",
        "seq",
        "yes",
        "no",
        "state",
        "stale_reason",
        "use_yes_price",
        "skipped_deltas",
        "_best",
        "_fresh_snapshot",
        "_json",
        "_frag",
        "_order",
        "_parts",
        "_dirty",
    )

    def __init__(self, market_ticker: str, market_id: str | None = None, *, use_yes_price: bool = False):
        self.market_ticker = market_ticker
        self.market_id = market_id
        self.clock: int | None = None
        #: seq of the last frame applied (set by BookSet; None when fed directly).
        self.seq: int | None = None
        self.yes: dict[int, int] = {}
        self.no: dict[int, int] = {}
        self.state = _AWAITING
        self.stale_reason: str | None = None
        self.use_yes_price = use_yes_price
        #: deltas dropped because the snapshot already contained them (worth a log line).
        self.skipped_deltas = 0
        #: best [yes, no] bid prices, 0 for an empty side (no valid bid sits at $0).
        self._best = [0, 0]
        self._fresh_snapshot = False
        #: per side, (depth, encoded ladder) of the last ``ladder_json`` call; None once it changed.
        self._json: list[tuple[int | None, bytes] | None] = [None, None]
        #: per side, each level's encoded ``["price","size"]``, the sorted prices and their
        #: encodings in that order as of the last ``ladder_json``, and the prices deltas touched
        #: since then (their encodings are stale, and they may have come or gone).
        self._frag: list[dict[int, bytes]] = [{}, {}]
        self._order: list[list[int] | None] = [None, None]
        self._parts: list[list[bytes]] = [[], []]
        self._dirty: list[set[int]] = [set(), set()]

    # -- state ----------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        return self.state is _LIVE

    def mark_stale(self, reason: str) -> bool:
        """Stop trusting the book until the next snapshot; True if that changed its state.

        The first reason is kept: it names the root cause, later ones are consequences.
        """
        if self.state is _STALE:
            return False
        self.state = _STALE
        self.stale_reason = reason
        self._fresh_snapshot = False
        return True

    # -- snapshot -------------------------------------------------------------------------

    def apply_snapshot(self, msg: dict[str, Any]) -> None:
        """Replace both ladders with an ``orderbook_snapshot`` msg (current or legacy shape).

        A snapshot that cannot be read or is crossed leaves the book STALE, never half-built.
        """
        try:
            yes = _sum_levels(_snapshot_side(msg, "yes"), "yes")
            no = _sum_levels(_snapshot_side(msg, "no"), "no")
            clock = msg.get("clock")
            if clock is not None and (type(clock) is not int or clock < 0):
                raise BookError(f"snapshot clock must be a non-negative integer, got {clock!r}")
        except BookError as exc:
            self.mark_stale(f"unreadable snapshot: {exc}")
            return
        if self.use_yes_price:
            no = {ONE_DOLLAR - price: size for price, size in no.items()}
        self.yes, self.no = yes, no
        self._json = [None, None]
        self._frag = [{}, {}]
        self._order = [None, None]
        self._dirty = [set(), set()]
        self._best = [max(yes, default=0), max(no, default=0)]
        self.market_id = msg.get("market_id", self.market_id)
        self.clock = clock
        self.state = _LIVE
        self.stale_reason = None
        self._fresh_snapshot = True
        best_yes, best_no = self._best
        if best_yes + best_no > ONE_DOLLAR:
            self.mark_stale(f"crossed snapshot: yes bid {format_price(best_yes)} + no bid {format_price(best_no)} > 1")

    # -- delta ----------------------------------------------------------------------------

    def apply_delta(self, msg: dict[str, Any]) -> DeltaOutcome:
        """Apply one ``orderbook_delta`` msg: ``level[side][price] += delta``.

        Never raises for bad data: anything that leaves the book's truth in doubt marks it
        STALE and returns ``MARKED_STALE``.
        """
        state = self.state
        if state is not _LIVE:
            if state is _STALE:
                return _IGNORED
            self.mark_stale("delta before any snapshot")
            return _MARKED
        clock = msg.get("clock")
        if clock is not None:
            if type(clock) is not int:
                return self._stale(f"delta clock is not an integer: {clock!r}")
            book_clock = self.clock
            if book_clock is not None and clock <= book_clock:
                if self._fresh_snapshot:
                    self.skipped_deltas += 1
                    return _SKIPPED
                if clock < book_clock:
                    return self._stale(f"clock went backwards ({clock} < {book_clock})")
        try:  # fast path: both strings seen before (a stream repeats a few prices and sizes)
            price = _LEVEL_PRICE_CACHE[msg["price_dollars"]]
            delta = _SIZE_CACHE[msg["delta_fp"]]
        except (KeyError, TypeError):
            try:
                price, delta = _delta_values(msg)
            except BookError as exc:
                return self._stale(f"unreadable delta: {exc}")
        side = msg.get("side")
        if side == "yes":
            ladder = self.yes
            same, other = 0, 1
        elif side == "no":
            ladder = self.no
            same, other = 1, 0
            if self.use_yes_price:
                price = ONE_DOLLAR - price
        else:
            return self._stale(f"delta side must be 'yes' or 'no', got {side!r}")

        best = self._best
        old = ladder.get(price, 0)
        new = old + delta
        self._json[same] = None  # the encoded ladder catches up when next asked for (ladder_json)
        self._dirty[same].add(price)
        if new > 0:
            if price > best[same]:
                if price + best[other] > ONE_DOLLAR:
                    return self._stale(
                        f"crossed book: {side} bid {format_price(price)} against best other-side bid "
                        f"{format_price(best[other])}"
                    )
                best[same] = price
            ladder[price] = new
        elif new == 0:
            if old:
                del ladder[price]
                if price == best[same]:
                    best[same] = max(ladder, default=0)
        else:
            return self._stale(
                f"{side} level {format_price(price)} driven below zero ({format_size(old)} + {format_size(delta)})"
            )
        if clock is not None:
            self.clock = clock
        self._fresh_snapshot = False
        return _APPLIED

    def _stale(self, reason: str) -> DeltaOutcome:
        self.mark_stale(reason)
        return _MARKED

    # -- derived quotes (price units; None when the side is empty) --------------------------

    def best_yes_bid(self) -> int | None:
        return self._best[0] or None

    def best_no_bid(self) -> int | None:
        """Best NO bid in NO-leg terms."""
        return self._best[1] or None

    def best_yes_ask(self) -> int | None:
        """A NO bid at p is an offer to sell YES at 1 - p."""
        best_no = self._best[1]
        return ONE_DOLLAR - best_no if best_no else None

    def best_yes_bid_size(self) -> int | None:
        best_yes = self._best[0]
        return self.yes[best_yes] if best_yes else None

    def best_yes_ask_size(self) -> int | None:
        best_no = self._best[1]
        return self.no[best_no] if best_no else None

    def spread(self) -> int | None:
        bid, ask = self.best_yes_bid(), self.best_yes_ask()
        return None if bid is None or ask is None else ask - bid

    def mid(self) -> Decimal | None:
        """Exact mid in dollars; a Decimal because it can fall on a half tick ($0.00005)."""
        bid, ask = self.best_yes_bid(), self.best_yes_ask()
        return None if bid is None or ask is None else Decimal(bid + ask) / (2 * ONE_DOLLAR)

    def ladders(self, depth: int | None = None) -> tuple[list[list[str]], list[list[str]]]:
        """``(yes, no)`` exactly as a Kalshi ``orderbook_snapshot`` lists them.

        Price ascending (best bid last), NO prices in NO-leg terms; ``depth`` keeps the N best
        levels of each side.
        """
        return _ladder(self.yes, depth), _ladder(self.no, depth)

    def ladder_json(self, side: int, depth: int | None = None) -> bytes:
        """One ladder (0 = yes, 1 = no) as JSON bytes, re-encoded only after that side changed.

        Only the levels deltas touched since the last call are encoded again (a delta costs the
        book no more than noting its price), so a line after every delta re-encodes one level,
        and a line after a burst of deltas the levels the burst touched.
        """
        cached = self._json[side]
        if cached is not None and cached[0] == depth:
            return cached[1]
        ladder = self.no if side else self.yes
        order = self._order[side]
        dirty = self._dirty[side]
        frag = self._frag[side]
        for price in dirty:
            frag.pop(price, None)
        if order is None or len(dirty) > 8:  # (re)build: sort the prices, reuse each unchanged level
            order = self._order[side] = sorted(ladder)
            parts = self._parts[side] = [frag.get(price) or self._level_json(side, ladder, price) for price in order]
        else:  # a few levels changed, came or went: patch them in place
            parts = self._parts[side]
            for price in dirty:
                i = bisect.bisect_left(order, price)
                present = i < len(order) and order[i] == price
                if price in ladder:
                    if present:
                        parts[i] = self._level_json(side, ladder, price)
                    else:
                        order.insert(i, price)
                        parts.insert(i, self._level_json(side, ladder, price))
                elif present:
                    del order[i]
                    del parts[i]
        dirty.clear()
        if depth is not None:
            parts = parts[-depth:] if depth > 0 else []
        data = b"[" + b",".join(parts) + b"]"
        self._json[side] = (depth, data)
        return data

    def _level_json(self, side: int, ladder: dict[int, int], price: int) -> bytes:
        frag = self._frag[side]
        level = frag.get(price)
        if level is None:
            level = frag[price] = orjson.dumps([_price_text(price), _size_text(ladder[price])])
        return level

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.market_ticker!r}, {self.state.name}, clock={self.clock}, "
            f"yes={len(self.yes)} levels, no={len(self.no)} levels)"
        )


def _sum_levels(levels: list[tuple[int, int]], side: str) -> dict[int, int]:
    """Levels as a dict; a repeated price is summed (aggregation is what a level means)."""
    ladder: dict[int, int] = {}
    for price, size in levels:
        if size < 0:
            raise BookError(f"{side} level {format_price(price)} has negative size {format_size(size)}")
        ladder[price] = ladder.get(price, 0) + size
    return {price: size for price, size in ladder.items() if size}


def _ladder(side: dict[int, int], depth: int | None) -> list[list[str]]:
    prices = sorted(side) if depth is None else sorted(heapq.nlargest(depth, side))
    return [[_price_text(p), _size_text(side[p])] for p in prices]


# Formatting is memoised too: a book repeats the same prices and sizes line after line.
_price_text = functools.lru_cache(maxsize=_CACHE_LIMIT)(format_price)
_size_text = functools.lru_cache(maxsize=_CACHE_LIMIT)(format_size)


# --- all books of a stream --------------------------------------------------------------------


class BookSet:
    """Every book of a stream, keyed by market ticker, and which sid feeds which markets.

    The session code tracks ``seq`` and asks for snapshots; this class only keeps the books
    honest: it applies frames and marks books STALE when the caller reports a gap or reconnect.
    """

    def __init__(self, *, use_yes_price: bool = False):
        self.books: dict[str, OrderBook] = {}
        self.sid_markets: dict[int, set[str]] = {}
        #: how many times a STALE book came back LIVE through a snapshot.
        self.resync_count = 0
        self.use_yes_price = use_yes_price
        self._yes_price_sids: dict[int, bool] = {}
        #: ticker -> the sid feeding it (``sid_markets`` the other way round), checked per frame.
        self._sid_of: dict[str, int] = {}

    def set_use_yes_price(self, sid: int, use_yes_price: bool) -> None:
        """Declare how a sid prices its NO side (its subscribe had ``use_yes_price``)."""
        self._yes_price_sids[sid] = use_yes_price
        for ticker in self.sid_markets.get(sid, ()):
            self.books[ticker].use_yes_price = use_yes_price

    def watch(self, sid: int, tickers: list[str] | tuple[str, ...]) -> None:
        """Register markets subscribed on ``sid`` before their snapshots arrive.

        This way a gap that swallows a market's first snapshot still shows up in
        ``stale_markets``.
        """
        for ticker in tickers:
            self._book_for(sid, ticker)

    def book(self, ticker: str) -> OrderBook | None:
        return self.books.get(ticker)

    def _book_for(self, sid: Any, ticker: str) -> OrderBook:
        """The book of ``ticker``, created if new, and (for an int ``sid``) registered as fed by it."""
        book = self.books.get(ticker)
        if type(sid) is not int:
            if book is None:
                book = self.books[ticker] = OrderBook(ticker, use_yes_price=self.use_yes_price)
            return book
        if book is None:
            book = self.books[ticker] = OrderBook(ticker)
        markets = self.sid_markets.setdefault(sid, set())
        if ticker not in markets:
            for other in self.sid_markets.values():
                other.discard(ticker)
            markets.add(ticker)
        self._sid_of[ticker] = sid
        book.use_yes_price = self._yes_price_sids.get(sid, self.use_yes_price)
        return book

    def apply(self, obj: dict[str, Any]) -> OrderBook | None:
        """Apply a parsed ``orderbook_snapshot`` / ``orderbook_delta`` frame; the book it changed.

        That is the book of an applied delta, or of a snapshot that left it LIVE (its ``seq`` is
        now the frame's). None for anything else: another frame type, a delta skipped (already
        in the snapshot) or ignored (the book is STALE), or a frame that turned its book STALE;
        a frame whose market cannot be read could have touched any market of its sid, so the
        whole sid goes STALE.
        """
        kind = obj.get("type")
        if kind != "orderbook_delta" and kind != "orderbook_snapshot":
            return None
        sid = obj.get("sid")
        msg = obj.get("msg")
        ticker = msg.get("market_ticker") if isinstance(msg, dict) else None
        if type(ticker) is not str:
            if type(sid) is not int:
                raise BookError(f"{kind} frame without a sid or market ticker")
            self.mark_sid_stale(sid, f"{kind} frame without a market ticker")
            return None
        book = self.books.get(ticker)
        if book is None or self._sid_of.get(ticker) != sid:
            book = self._book_for(sid, ticker)
        if kind == "orderbook_delta":
            if book.apply_delta(msg) is not _APPLIED:
                return None
        else:
            before = book.state
            book.apply_snapshot(msg)
            if book.state is not _LIVE:
                return None
            if before is _STALE:
                self.resync_count += 1
        book.seq = obj.get("seq")
        return book

    def on_frame(self, obj: dict[str, Any]) -> list[str]:
        """``apply`` a frame; the tickers whose state (live, stale, awaiting) it changed.

        Other frame types are ignored.
        """
        kind = obj.get("type")
        if kind != "orderbook_delta" and kind != "orderbook_snapshot":
            return []
        msg = obj.get("msg")
        ticker = msg.get("market_ticker") if isinstance(msg, dict) else None
        if type(ticker) is not str:
            sid = obj.get("sid")
            if type(sid) is not int:
                raise BookError(f"{kind} frame without a sid or market ticker")
            return self.mark_sid_stale(sid, f"{kind} frame without a market ticker")
        book = self.books.get(ticker)
        before = _AWAITING if book is None else book.state
        self.apply(obj)
        return [ticker] if self.books[ticker].state is not before else []

    def mark_sid_stale(self, sid: int, reason: str) -> list[str]:
        """A seq gap on ``sid`` may have hit any of its markets: all of them go STALE."""
        return [t for t in sorted(self.sid_markets.get(sid, ())) if self.books[t].mark_stale(reason)]

    def mark_all_stale(self, reason: str) -> list[str]:
        """Reconnect: nothing is current any more, and the old sids mean nothing on the new socket.

        The sid map and per-sid ``use_yes_price`` settings are dropped; declare them again for
        the new sids (``set_use_yes_price``, ``watch``).
        """
        changed = [t for t, book in sorted(self.books.items()) if book.mark_stale(reason)]
        self.sid_markets.clear()
        self._sid_of.clear()
        self._yes_price_sids.clear()
        return changed

    def stale_markets(self, sid: int | None = None) -> list[str]:
        """Tickers to re-snapshot, sorted (all of them, or those fed by ``sid``)."""
        tickers = self.books if sid is None else self.sid_markets.get(sid, ())
        return sorted(t for t in tickers if self.books[t].state is _STALE)

    def counts(self) -> dict[BookState, int]:
        """How many books are in each state (for a status line)."""
        out = dict.fromkeys(BookState, 0)
        for book in self.books.values():
            out[book.state] += 1
        return out


# --- output -----------------------------------------------------------------------------------


def book_json_line(book: OrderBook, depth: int | None = None, ts_ms: int | None = None) -> dict[str, Any]:
    """The book as one NDJSON record in Kalshi's own snapshot vocabulary.

    Only a LIVE book may be emitted: a reader of the stream must never mistake a stale book
    for the market, so a non-LIVE book raises ``BookError`` instead of producing a line.
    """
    if book.state is not _LIVE:
        raise BookError(f"{book.market_ticker} is {book.state.value}; only live books are emitted")
    yes, no = book.ladders(depth)
    bid, ask = book.best_yes_bid(), book.best_yes_ask()
    return {
        "market_ticker": book.market_ticker,
        "market_id": book.market_id,
        "seq": book.seq,
        "clock": book.clock,
        "yes_dollars_fp": yes,
        "no_dollars_fp": no,
        "best_yes_bid": None if bid is None else format_price(bid),
        "best_yes_ask": None if ask is None else format_price(ask),
        "ts_ms": ts_ms,
    }


def book_json_bytes(book: OrderBook, depth: int | None = None, ts_ms: int | None = None) -> bytes:
    """``orjson.dumps(book_json_line(book, depth, ts_ms))``, byte for byte, built faster.

    The ladders come from ``OrderBook.ladder_json`` (cached per side until it changes), so a
    line costs a few small encodes instead of formatting and encoding every level again.
    """
    if book.state is not _LIVE:
        raise BookError(f"{book.market_ticker} is {book.state.value}; only live books are emitted")
    dumps = orjson.dumps
    bid, ask = book.best_yes_bid(), book.best_yes_ask()
    return b"".join(
        (
            b'{"market_ticker":',
            dumps(book.market_ticker),
            b',"market_id":',
            dumps(book.market_id),
            b',"seq":',
            dumps(book.seq),
            b',"clock":',
            dumps(book.clock),
            b',"yes_dollars_fp":',
            book.ladder_json(0, depth),
            b',"no_dollars_fp":',
            book.ladder_json(1, depth),
            b',"best_yes_bid":',
            b"null" if bid is None else dumps(_price_text(bid)),
            b',"best_yes_ask":',
            b"null" if ask is None else dumps(_price_text(ask)),
            b',"ts_ms":',
            dumps(ts_ms),
            b"}",
        )
    )
