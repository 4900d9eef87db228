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
import heapq
from decimal import Decimal
from typing import Any

import orjson

from kalshi_cli.fixed import (
    CENT,
    ONE_CONTRACT,
    ONE_DOLLAR,
    FixedPointError,
    format_price,
    format_price_cached,
    format_size,
    format_size_cached,
    parse_price,
    parse_size,
)

__all__ = [
    "ONE_DOLLAR",
    "BookError",
    "BookState",
    "DeltaOutcome",
    "OrderBook",
    "format_price",
    "format_size",
    "parse_price",
    "parse_size",
]


class BookError(FixedPointError):
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
        except FixedPointError as exc:
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
            except FixedPointError as exc:
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
            level = frag[price] = orjson.dumps([format_price_cached(price), format_size_cached(ladder[price])])
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
    return [[format_price_cached(p), format_size_cached(side[p])] for p in prices]
