"""Local Kalshi order books kept exact and honest, with no I/O (KALSHI_WS.md §6.1, §6.2, §7, §11).

Money never touches a float: prices are integers in units of $0.0001 (``"0.4400"`` -> 4400) and
sizes integers in 1/100 contract (``"95.50"`` -> 9550), the finest steps Kalshi emits, parsed by
``fixed``. A value finer than that is refused (``BookError``) instead of being rounded.

Both ladders hold resting BIDS. The NO ladder is always stored in NO-price terms, whatever the
subscription's ``use_yes_price`` says, so everything downstream has one convention.

A book never claims ``LIVE`` while it may differ from the exchange: any integrity doubt (a delta
before a snapshot, a level below zero, a crossed book, a snapshot listing a price twice, a clock
going backwards in a delta or a snapshot, a seq gap the caller reports) turns it ``STALE`` until
a fresh snapshot arrives. Lines are encoded from books by ``encoders``; the books of a stream,
keyed by market and sid, are a ``bookset.BookSet``.
"""

from __future__ import annotations

import enum
import heapq
from decimal import Decimal
from typing import Any

from kalshi_cli.fixed import (
    ONE_CONTRACT,
    ONE_DOLLAR,
    PRICE_CACHE,
    SIZE_CACHE,
    FixedPointError,
    format_price,
    format_price_cached,
    format_size,
    format_size_cached,
    parse_bid_price,
    parse_cents_price,
    parse_legacy_int,
    parse_size_cached,
)

__all__ = ["BookError", "BookState", "DeltaOutcome", "OrderBook"]


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
    #: clock <= the snapshot just applied, taken as a change already inside it (only with
    #: ``skip_contained``; otherwise such a delta marks the book STALE).
    SKIPPED_IN_SNAPSHOT = "skipped_in_snapshot"
    #: the book was already STALE; deltas wait for the next snapshot.
    IGNORED_STALE = "ignored_stale"
    #: this delta revealed an integrity problem; the book is now STALE (see ``stale_reason``).
    MARKED_STALE = "marked_stale"


def _delta_values(msg: dict[str, Any]) -> tuple[int, int]:
    """(price, delta) of a delta msg: fixed-point fields, else the legacy cents and count."""
    price_text = msg.get("price_dollars")
    price = parse_bid_price(price_text) if price_text is not None else parse_cents_price(msg.get("price"))
    delta_text = msg.get("delta_fp")
    if delta_text is not None:
        return price, parse_size_cached(delta_text)
    return price, parse_legacy_int(msg.get("delta"), "delta") * ONE_CONTRACT


def _snapshot_side(msg: dict[str, Any], side: str) -> dict[int, int]:
    """One side's levels as {price: size}, from the newest encoding the frame carries.

    Each level is one aggregated price (§6.1): a price listed twice or a negative size means the
    frame is not a book, so it is refused rather than summed or guessed at. Empty levels drop out.
    """
    levels = msg.get(f"{side}_dollars_fp")
    if levels is not None:
        parse = _fp_level
    elif (levels := msg.get(f"{side}_dollars")) is not None:
        parse = _dollars_level
    elif (levels := msg.get(side)) is not None:
        parse = _cents_level
    else:
        return {}
    if not isinstance(levels, list):
        raise BookError(f"{side} levels must be a list, got {type(levels).__name__}")
    ladder: dict[int, int] = {}
    for level in levels:
        if not isinstance(level, list) or len(level) != 2:
            raise BookError(f"{side} level must be a [price, size] pair, got {level!r}")
        price, size = parse(level)
        if price in ladder:
            raise BookError(f"{side} level {format_price(price)} is listed twice")
        if size < 0:
            raise BookError(f"{side} level {format_price(price)} has negative size {format_size(size)}")
        ladder[price] = size
    return {price: size for price, size in ladder.items() if size}


def _fp_level(level: list[Any]) -> tuple[int, int]:
    return parse_bid_price(level[0]), parse_size_cached(level[1])


def _dollars_level(level: list[Any]) -> tuple[int, int]:
    # 2025-era `*_dollars`: 3-dp price strings with integer contract counts.
    size = level[1]
    count = parse_size_cached(size) if type(size) is str else parse_legacy_int(size, "count") * ONE_CONTRACT
    return parse_bid_price(level[0]), count


def _cents_level(level: list[Any]) -> tuple[int, int]:
    return parse_cents_price(level[0]), parse_legacy_int(level[1], "count") * ONE_CONTRACT


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

    ``skip_contained`` (§11 step 4): a delta at or below the clock of the snapshot just applied
    is skipped as a change the snapshot already holds. That is right for copies from another
    connection; on the snapshot's own connection such a delta is a fault or follows maintenance
    (which lowers the clock), and skipping it would lose a change, so ``BookSet`` (one
    connection) turns it off and the book goes STALE instead.
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
        "skip_contained",
        "snapshots",
        "touched",
        "encoded",
        "_best",
        "_fresh_snapshot",
    )

    def __init__(
        self,
        market_ticker: str,
        market_id: str | None = None,
        *,
        use_yes_price: bool = False,
        skip_contained: bool = True,
    ):
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
        self.skip_contained = skip_contained
        #: snapshots applied: an encoding made before the latest one describes other ladders.
        self.snapshots = 0
        #: per side (0 = yes, 1 = no), the prices deltas changed since an encoder last caught up:
        #: a delta costs the book no more than noting its price (see ``encoders.ladder_json``).
        self.touched: tuple[set[int], set[int]] = (set(), set())
        #: the encoder's cache of this book's ladders (owned by ``encoders``; opaque here).
        self.encoded: object = None
        #: best [yes, no] bid prices, 0 for an empty side (no valid bid sits at $0).
        self._best = [0, 0]
        self._fresh_snapshot = False

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

        A snapshot that cannot be read, is crossed, or is older than the LIVE book it would
        replace (its ``clock`` went back: maintenance or a fault, §7) leaves the book STALE,
        never half-built. A book that is not LIVE takes any readable snapshot: that is how it
        recovers, also across a maintenance window that set the clock back.
        """
        try:
            yes = _snapshot_side(msg, "yes")
            no = _snapshot_side(msg, "no")
            clock = msg.get("clock")
            if clock is not None and (type(clock) is not int or clock < 0):
                raise BookError(f"snapshot clock must be a non-negative integer, got {clock!r}")
        except FixedPointError as exc:
            self.mark_stale(f"unreadable snapshot: {exc}")
            return
        if self.state is _LIVE and clock is not None and self.clock is not None and clock < self.clock:
            self.mark_stale(f"snapshot clock went backwards ({clock} < {self.clock})")
            return
        if self.use_yes_price:
            no = {ONE_DOLLAR - price: size for price, size in no.items()}
        self.yes, self.no = yes, no
        self.snapshots += 1
        self.touched = (set(), set())
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
        STALE and returns ``MARKED_STALE``. Clocks (§6.2, §7): a delta may share the clock of
        the delta before it (one exchange action); one below the book's clock went back (a fault
        or maintenance: STALE); one at or below the snapshot just applied is skipped or marks the
        book STALE (``skip_contained``).
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
                    if self.skip_contained:
                        return _SKIPPED
                    return self._stale(f"delta clock {clock} is not after its snapshot's ({book_clock})")
                if clock < book_clock:
                    return self._stale(f"delta clock went backwards ({clock} < {book_clock})")
        try:  # fast path: both strings seen before (a stream repeats a few prices and sizes)
            price = PRICE_CACHE[msg["price_dollars"]]
            delta = SIZE_CACHE[msg["delta_fp"]]
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
        self.touched[same].add(price)
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

    def top(self) -> tuple[int | None, int | None, int | None, int | None]:
        """(best yes bid, its size, best yes ask, its size) in one call: the export asks after every action."""
        best_yes, best_no = self._best
        return (
            best_yes or None,
            self.yes[best_yes] if best_yes else None,
            ONE_DOLLAR - best_no if best_no else None,
            self.no[best_no] if best_no else None,
        )

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

    def __repr__(self) -> str:
        return (
            f"OrderBook({self.market_ticker!r}, {self.state.name}, clock={self.clock}, "
            f"yes={len(self.yes)} levels, no={len(self.no)} levels)"
        )


def _ladder(side: dict[int, int], depth: int | None) -> list[list[str]]:
    prices = sorted(side) if depth is None else sorted(heapq.nlargest(depth, side))
    return [[format_price_cached(p), format_size_cached(side[p])] for p in prices]
