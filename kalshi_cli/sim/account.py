"""The simulated signed-in user: resting orders, fills and positions.

Kept apart from the book so the private channels (``fill``, ``user_orders``,
``market_positions``) and a later REST layer read one consistent history. Every money
amount is in microdollars, every count in centi-contracts (see ``fixed.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.fixed import ONE_DOLLAR, format_micro, format_micro4, format_price, format_size

from .times import rfc3339_ms

MAKER_FEE_RATE = 175  # 0.0175 as 1/10000


def maker_fee(count: int, yes_price: int) -> int:
    """Kalshi's maker fee 0.0175 x C x P x (1-P), in microdollars, rounded up."""
    return int(-(-MAKER_FEE_RATE * count * yes_price * (ONE_DOLLAR - yes_price) // 100_000_000))


@dataclass(slots=True)
class Order:
    """One of the user's limit orders (always a bid: buy YES or buy NO)."""

    order_id: str
    client_order_id: str
    ticker: str
    side: str  # book ladder: "yes" (buy yes) or "no" (buy no)
    price: int  # price on its own ladder
    initial: int
    created_ms: int
    filled: int = 0
    status: str = "resting"
    maker_cost: int = 0
    maker_fees: int = 0
    updated_ms: int = 0
    reason: str | None = None

    @property
    def remaining(self) -> int:
        return 0 if self.status != "resting" else self.initial - self.filled

    @property
    def yes_price(self) -> int:
        return self.price if self.side == "yes" else ONE_DOLLAR - self.price


@dataclass(slots=True)
class Position:
    """Net position in one market: + long YES, - long NO; ``cost`` is the open basis."""

    position: int = 0
    cost: int = 0
    realized: int = 0
    fees: int = 0
    open_fees: int = 0
    volume: int = 0


@dataclass
class Account:
    """Orders, fills and positions of the one simulated user."""

    user_id: str
    orders: dict[str, Order] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    positions: dict[str, Position] = field(default_factory=dict)

    def resting(self) -> list[Order]:
        return [o for o in self.orders.values() if o.status == "resting"]

    def order_msg(self, o: Order) -> dict[str, Any]:
        """The ``user_order`` msg (§6.13) for the order's current state."""
        yes = o.side == "yes"
        msg: dict[str, Any] = {
            "order_id": o.order_id,
            "user_id": self.user_id,
            "ticker": o.ticker,
            "exchange_index": 0,
            "status": o.status,
            "side": o.side,
            "is_yes": yes,
            "outcome_side": o.side,
            "book_side": "bid" if yes else "ask",
            "yes_price_dollars": format_price(o.yes_price),
            "fill_count_fp": format_size(o.filled),
            "remaining_count_fp": format_size(o.remaining),
            "initial_count_fp": format_size(o.initial),
            "taker_fill_cost_dollars": format_micro(0),
            "maker_fill_cost_dollars": format_micro(o.maker_cost),
            "taker_fees_dollars": format_micro(0),
            "maker_fees_dollars": format_micro(o.maker_fees),
            "client_order_id": o.client_order_id,
            "created_time": rfc3339_ms(o.created_ms),
            "created_ts_ms": o.created_ms,
        }
        if o.updated_ms:
            msg["last_update_time"] = rfc3339_ms(o.updated_ms)
            msg["last_updated_ts_ms"] = o.updated_ms
        if o.reason:
            msg["last_update_reason"] = o.reason
        msg["subaccount_number"] = 0
        return msg

    def position_msg(self, ticker: str) -> dict[str, Any]:
        """The ``market_position`` msg (§6.6)."""
        p = self.positions.setdefault(ticker, Position())
        return {
            "user_id": self.user_id,
            "market_ticker": ticker,
            "position_fp": format_size(p.position),
            "position_cost_dollars": format_micro4(p.cost),
            "realized_pnl_dollars": format_micro4(p.realized),
            "fees_paid_dollars": format_micro4(p.fees),
            "position_fee_cost_dollars": format_micro4(p.open_fees),
            "volume_fp": format_size(p.volume),
        }

    def cancel(self, o: Order, ts_ms: int) -> None:
        o.status = "canceled"
        o.updated_ms = ts_ms
        o.reason = None

    def fill(self, o: Order, count: int, trade_id: str, ts_ms: int) -> dict[str, Any]:
        """Record a maker fill of ``count`` on ``o``; return the ``fill`` msg (§6.5)."""
        paid = count * o.price  # microdollars
        fee = maker_fee(count, o.yes_price)
        o.filled += count
        o.maker_cost += paid
        o.maker_fees += fee
        o.updated_ms = ts_ms
        o.reason = "Trade"
        if o.filled == o.initial:
            o.status = "executed"
        self._apply(o.ticker, 1 if o.side == "yes" else -1, count, o.price, fee)
        msg = {
            "trade_id": trade_id,
            "order_id": o.order_id,
            "client_order_id": o.client_order_id,
            "market_ticker": o.ticker,
            "exchange_index": 0,
            "is_taker": False,
            "side": o.side,
            "yes_price_dollars": format_price(o.yes_price),
            "count_fp": format_size(count),
            "fee_cost": format_micro(fee),
            "action": "buy",
            "ts": ts_ms // 1000,
            "ts_ms": ts_ms,
            "post_position_fp": format_size(self.positions[o.ticker].position),
            "purchased_side": o.side,
            "outcome_side": o.side,
            "book_side": "bid" if o.side == "yes" else "ask",
        }
        self.fills.append(msg)
        return msg

    def _apply(self, ticker: str, direction: int, count: int, paid: int, fee: int) -> None:
        """Buy ``count`` contracts of one outcome at ``paid`` each; netting closes the other outcome."""
        p = self.positions.setdefault(ticker, Position())
        p.volume += count
        p.fees += fee
        if p.position * direction >= 0:
            p.position += direction * count
            p.cost += count * paid
            p.open_fees += fee
            return
        held = abs(p.position)
        closing = min(count, held)
        basis = p.cost * closing // held
        basis_fees = p.open_fees * closing // held
        # One YES plus one NO always pays $1.00: that pair is closed at a profit of 1 - costs.
        p.realized += closing * ONE_DOLLAR - closing * paid - basis - basis_fees
        p.cost -= basis
        p.open_fees -= basis_fees
        p.position += direction * closing
        rest = count - closing
        if rest:
            p.position += direction * rest
            p.cost += rest * paid
            p.open_fees += fee
