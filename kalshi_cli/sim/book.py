"""One market's resting bids: YES and NO ladders with a FIFO queue per price level.

Queues (not just totals) are kept so a taker consumes orders in time priority and we know
when the simulated user's own order is hit. Owner ``None`` is anonymous liquidity.
"""

from __future__ import annotations

from typing import Any

#: One resting order in a level's queue: ``[owner, size]`` (mutable: a partial fill shrinks it).
QueuedOrder = list[Any]

SIDES = ("yes", "no")


class Book:
    """Bids per side: price -> list of ``[owner, size]`` in arrival order (sizes > 0)."""

    __slots__ = ("sides",)

    def __init__(self) -> None:
        self.sides: dict[str, dict[int, list[QueuedOrder]]] = {"yes": {}, "no": {}}

    def best(self, side: str) -> int | None:
        levels = self.sides[side]
        return max(levels) if levels else None

    def size_at(self, side: str, price: int) -> int:
        return sum(int(o[1]) for o in self.sides[side].get(price, ()))

    def levels(self, side: str) -> list[tuple[int, int]]:
        """Aggregated ``(price, size)`` ascending by price."""
        return [(p, sum(o[1] for o in q)) for p, q in sorted(self.sides[side].items())]

    def room(self, side: str) -> int:
        """Highest price a new bid on ``side`` may rest at without crossing (>= 1 cent gap)."""
        other = self.best("no" if side == "yes" else "yes")
        return 9_900 - (other or 0)

    def add(self, side: str, price: int, size: int, owner: str | None = None) -> None:
        self.sides[side].setdefault(price, []).append([owner, size])

    def cancel_anonymous(self, side: str, price: int, size: int) -> int:
        """Remove up to ``size`` of anonymous liquidity at a level, newest first; return removed."""
        queue = self.sides[side].get(price, [])
        removed = 0
        for order in reversed(queue):
            if removed == size:
                break
            if order[0] is None:
                take = min(order[1], size - removed)
                order[1] -= take
                removed += take
        self._compact(side, price)
        return removed

    def remove_owner(self, side: str, price: int, owner: str) -> int:
        """Remove one owner's order from a level; return its size."""
        queue = self.sides[side].get(price, [])
        size = sum(int(o[1]) for o in queue if o[0] == owner)
        queue[:] = [o for o in queue if o[0] != owner]
        self._compact(side, price)
        return size

    def take(self, side: str, price: int, size: int) -> list[tuple[str | None, int]]:
        """Consume up to ``size`` at one level in FIFO order; return ``(owner, taken)`` pieces."""
        queue = self.sides[side].get(price, [])
        pieces: list[tuple[str | None, int]] = []
        left = size
        for order in queue:
            if left == 0:
                break
            taken = min(order[1], left)
            order[1] -= taken
            left -= taken
            pieces.append((order[0], taken))
        self._compact(side, price)
        return pieces

    def _compact(self, side: str, price: int) -> None:
        queue = self.sides[side].get(price)
        if queue is None:
            return
        queue[:] = [o for o in queue if o[1] > 0]
        if not queue:
            del self.sides[side][price]
