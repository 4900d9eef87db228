"""A deterministic model of the exchange: books, trades, lifecycle and one user's orders.

Pure (no I/O, no wall clock unless one is injected) so tests can replay it: the same seed
gives the same events. ``step()`` performs one exchange action and returns what every
connection should hear about it, as ``Event`` values the protocol engine routes to
subscriptions. Payloads are the current fixed-point shapes of KALSHI_WS.md §6.
"""

from __future__ import annotations

import random
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any

from kalshi_cli.fixed import ONE_DOLLAR, format_price, format_size

from .account import Account, Order
from .book import SIDES
from .catalog import MarketSpec, make_specs, spec_for
from .model import Event, Market, lifecycle_event, trade_msg
from .statuses import LIVE, event_states
from .times import rfc3339_ms

__all__ = ["VIRTUAL_EPOCH_MS", "Event", "Exchange", "Market"]

#: Trades kept for ``GET /markets/trades`` (hours of activity at the default rate).
TRADE_HISTORY = 100_000
#: 2026-11-25T14:00:00Z, the start of virtual time when no clock is injected.
VIRTUAL_EPOCH_MS = 1_795_615_200_000


class Exchange:
    """Markets, their books and clocks, and the simulated user, driven one action at a time."""

    def __init__(
        self,
        seed: int = 0,
        n_markets: int = 5,
        now_ms: Callable[[], int] | None = None,
        extra_tickers: tuple[str, ...] = (),
    ) -> None:
        """``extra_tickers``: markets to list after the ``n_markets`` generated ones (seeded too)."""
        if not 1 <= n_markets <= 20_000:
            raise ValueError("n_markets must be between 1 and 20000")
        self._rng = random.Random(seed)
        self._now_fn = now_ms
        self._virtual_ms = VIRTUAL_EPOCH_MS
        self._ids = 0
        self.markets: dict[str, Market] = {}
        rng = self._rng
        for spec in make_specs(rng, n_markets):
            self._list(spec)
        self.account = Account(self._uuid())
        #: The public tape, oldest first: every ``trade`` msg published (REST serves it too).
        self.trades: deque[dict[str, Any]] = deque(maxlen=TRADE_HISTORY)
        self._coid_prefix = f"{rng.getrandbits(32):08x}"
        self._seed_books(n_markets)
        # named markets last, so the generated ones keep the seed's story
        for ticker in dict.fromkeys(extra_tickers):
            if ticker not in self.markets:
                self._seed_book(self._list(spec_for(ticker)))
        self._by_id = {m.market_id: m for m in self.markets.values()}
        #: event -> ``statuses.LIVE`` or the catalogue's fixed status (closed, settled, not open yet)
        self.event_states = event_states(m.spec for m in self.markets.values())
        self._newsworthy = [m for m in self.markets.values() if self.event_states[m.spec.event_ticker] == LIVE]
        for m in self.markets.values():
            if self.event_states[m.spec.event_ticker] != LIVE:  # not trading: no orders rest, no news
                m.active = False
                m.book = type(m.book)()

    # --- public views ------------------------------------------------------------------------

    @property
    def tickers(self) -> list[str]:
        return list(self.markets)

    @property
    def market_ids(self) -> dict[str, str]:
        """ticker -> market_id."""
        return {t: m.market_id for t, m in self.markets.items()}

    def ticker_of_id(self, market_id: str) -> str | None:
        m = self._by_id.get(market_id)
        return m.spec.ticker if m else None

    def snapshot_msg(self, ticker: str) -> dict[str, Any]:
        """The ``orderbook_snapshot`` msg (§6.1): ascending levels, a side's key absent when empty."""
        m = self.markets[ticker]
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": m.market_id, "clock": m.clock}
        for side in SIDES:
            levels = m.book.levels(side)
            if levels:
                msg[f"{side}_dollars_fp"] = [[format_price(p), format_size(s)] for p, s in levels]
        return msg

    true_book = snapshot_msg

    def ticker_msg(self, ticker: str) -> dict[str, Any]:
        """The ``ticker`` msg (§6.3): full market state."""
        m = self.markets[ticker]
        ts = self.now_ms()
        return {
            "market_id": m.market_id,
            "market_ticker": ticker,
            **self._ticker_state(m),
            "ts": ts // 1000,
            "ts_ms": ts,
            "time": rfc3339_ms(ts),
        }

    def fills(self) -> list[dict[str, Any]]:
        """Every fill of the user, oldest first (each with ``ts_ms``)."""
        return list(self.account.fills)

    def orders(self) -> list[dict[str, Any]]:
        """Current state of every order the user ever placed."""
        return [self.account.order_msg(o) for o in self.account.orders.values()]

    def positions(self) -> list[dict[str, Any]]:
        """Current position in every market the user ever traded."""
        return [self.account.position_msg(t) for t in self.account.positions]

    def now_ms(self) -> int:
        return self._now_fn() if self._now_fn else self._virtual_ms

    # --- driving -------------------------------------------------------------------------------

    def step(self) -> list[Event]:
        """Perform one random exchange action and return its events (in publication order)."""
        self._virtual_ms += self._rng.randint(20, 400)
        actions = (self._add, self._cancel, self._trade, self._user_place, self._user_cancel, self._lifecycle)
        for _ in range(20):
            action = self._rng.choices(actions, weights=(34, 20, 26, 8, 4, 8))[0]
            events = action()
            if events:
                return events
        return []

    def maintenance(self, ticker: str) -> list[Event]:
        """Exchange maintenance on one market: its clock goes down; a fresh snapshot is published."""
        m = self.markets[ticker]
        m.clock = self._rng.randint(1, max(1, m.clock // 2))
        return [Event("orderbook_snapshot", ticker, self.snapshot_msg(ticker))]

    # --- actions ---------------------------------------------------------------------------------

    def _add(self) -> list[Event]:
        m = self._pick_active()
        if m is None:
            return []
        side = self._rng.choice(SIDES)
        top = self._top(m, side)
        if top < 100:
            return []
        n = self._rng.randint(1, 3)
        prices = sorted({max(100, top - 100 * self._rng.randint(0, 10)) for _ in range(n)})
        return self._book_action(m, [(side, p, self._size()) for p in prices])

    def _cancel(self) -> list[Event]:
        m = self._pick_active()
        if m is None:
            return []
        side = self._rng.choice(SIDES)
        anon = [(p, sum(o[1] for o in q if o[0] is None)) for p, q in sorted(m.book.sides[side].items())]
        anon = [(p, s) for p, s in anon if s > 0]
        if not anon:
            return []
        chosen = self._rng.sample(anon, min(len(anon), self._rng.randint(1, 2)))
        changes = []
        for p, s in sorted(chosen):
            amount = s if self._rng.random() < 0.5 else self._rng.randint(1, s)
            changes.append((side, p, -amount))
        return self._book_action(m, changes)

    def _book_action(
        self, m: Market, changes: list[tuple[str, int, int]], coid: str | None = None, owner: str | None = None
    ) -> list[Event]:
        """Apply level changes as one exchange action (one clock); deltas then a ticker if it moved."""
        before = self._ticker_state(m)
        self._advance(m)
        events = []
        for side, price, delta in changes:
            if delta > 0:
                m.book.add(side, price, delta, owner)
            elif owner is not None:
                m.book.remove_owner(side, price, owner)
            else:
                m.book.cancel_anonymous(side, price, -delta)
            events.append(self._delta(m, side, price, delta, coid))
        return events + self._ticker_if_changed(m, before)

    def _trade(self) -> list[Event]:
        m = self._pick_active()
        if m is None:
            return []
        hit = self._rng.choice(SIDES)  # the bid ladder the taker sells into
        levels = m.book.levels(hit)[::-1]
        if not levels:
            return []
        depth = sum(s for _, s in levels[: self._rng.randint(1, 3)])
        want = min(depth, self._size())
        before = self._ticker_state(m)
        self._advance(m)
        ts = self.now_ms()
        deltas, trades, private = [], [], []
        for price, size in levels:
            if want == 0:
                break
            taken = min(size, want)
            want -= taken
            pieces = m.book.take(hit, price, taken)
            deltas.append(self._delta(m, hit, price, -taken, None))
            trade_id = self._uuid()
            yes_price = price if hit == "yes" else ONE_DOLLAR - price
            trade = trade_msg(m.spec.ticker, trade_id, hit, price, taken, ts)
            self.trades.append(trade)
            trades.append(Event("trade", m.spec.ticker, trade))
            m.last_price, m.last_size = yes_price, taken
            m.volume += taken
            m.notional += taken * yes_price
            if self._rng.random() < 0.6:
                m.open_interest += taken
            else:
                m.open_interest = max(0, m.open_interest - taken)
            for owner, count in pieces:
                if owner is not None:
                    private += self._user_fill(self.account.orders[owner], count, trade_id, ts)
        return deltas + trades + private + self._ticker_if_changed(m, before)

    def _user_fill(self, o: Order, count: int, trade_id: str, ts: int) -> list[Event]:
        fill = self.account.fill(o, count, trade_id, ts)
        return [
            Event("fill", o.ticker, fill),
            Event("user_order", o.ticker, self.account.order_msg(o)),
            Event("market_position", o.ticker, self.account.position_msg(o.ticker)),
        ]

    def _user_place(self) -> list[Event]:
        m = self._pick_active()
        if m is None or len(self.account.resting()) >= 8:
            return []
        side = self._rng.choice(SIDES)
        top = self._top(m, side)
        if top < 100:
            return []
        price = max(100, top - 100 * self._rng.randint(0, 3))
        o = self._new_order(m, side, price, self._size())
        events = self._book_action(m, [(side, price, o.initial)], coid=o.client_order_id, owner=o.order_id)
        return events[:1] + [Event("user_order", o.ticker, self.account.order_msg(o))] + events[1:]

    def _user_cancel(self) -> list[Event]:
        resting = [o for o in self.account.resting() if self.markets[o.ticker].active]
        if not resting:
            return []
        o = self._rng.choice(resting)
        m = self.markets[o.ticker]
        left = o.remaining
        self.account.cancel(o, self.now_ms())
        events = self._book_action(m, [(o.side, o.price, -left)], coid=o.client_order_id, owner=o.order_id)
        return events[:1] + [Event("user_order", o.ticker, self.account.order_msg(o))] + events[1:]

    def _lifecycle(self) -> list[Event]:
        if not self._newsworthy:
            return []
        return [lifecycle_event(self._rng, self._rng.choice(self._newsworthy))]

    # --- helpers ---------------------------------------------------------------------------------

    def _list(self, spec: MarketSpec) -> Market:
        m = self.markets[spec.ticker] = Market(spec, self._uuid(), close_ts=VIRTUAL_EPOCH_MS // 1000 + 86_400)
        return m

    def _seed_books(self, n: int) -> None:
        """Give markets a history: resting liquidity and clocks; the last of 3+ stays untouched."""
        rng = self._rng
        seeded = list(self.markets.values())[: n - 1 if n >= 3 else n]
        for m in seeded:
            self._seed_book(m)
        for m in seeded[:3]:
            side = rng.choice(SIDES)
            price = max(100, m.book.room(side) - 100 * rng.randint(1, 3))
            o = self._new_order(m, side, price, self._size(), created=VIRTUAL_EPOCH_MS - 60_000)
            m.book.add(side, price, o.initial, o.order_id)

    def _seed_book(self, m: Market) -> None:
        """Resting liquidity around a random mid, a clock, and a trading history."""
        rng = self._rng
        mid = rng.randint(15, 85) * 100
        for side, top in (("yes", mid - 100), ("no", ONE_DOLLAR - mid - 100)):
            for k in range(rng.randint(2, 6)):
                if top - 100 * k >= 100:
                    m.book.add(side, top - 100 * k - 100 * rng.randint(0, 1) * k, self._size())
        m.clock = rng.randint(1_000_000, 9_000_000)
        m.last_price = mid
        m.volume = rng.randint(1_000, 50_000) * 100
        m.open_interest = m.volume // 2
        m.notional = m.volume * mid

    def _new_order(self, m: Market, side: str, price: int, size: int, created: int | None = None) -> Order:
        o = Order(
            self._uuid(),
            f"{self._coid_prefix}-mm-{len(self.account.orders) + 1:06d}",
            m.spec.ticker,
            side,
            price,
            size,
            created if created is not None else self.now_ms(),
        )
        self.account.orders[o.order_id] = o
        return o

    def _delta(self, m: Market, side: str, price: int, delta: int, coid: str | None) -> Event:
        ts = self.now_ms()
        msg: dict[str, Any] = {
            "market_ticker": m.spec.ticker,
            "market_id": m.market_id,
            "clock": m.clock,
            "price_dollars": format_price(price),
            "delta_fp": format_size(delta),
            "side": side,
        }
        if coid:
            msg["client_order_id"] = coid
        msg["ts"] = rfc3339_ms(ts)
        msg["ts_ms"] = ts
        return Event("orderbook_delta", m.spec.ticker, msg)

    def _ticker_state(self, m: Market) -> dict[str, Any]:
        yb, nb = m.book.best("yes"), m.book.best("no")
        return {
            "price_dollars": format_price(m.last_price),
            "yes_bid_dollars": format_price(yb or 0),
            "yes_ask_dollars": format_price(ONE_DOLLAR - (nb or 0)),
            "volume_fp": format_size(m.volume),
            "open_interest_fp": format_size(m.open_interest),
            "dollar_volume": m.notional // 1_000_000,
            "dollar_open_interest": m.open_interest * m.last_price // 1_000_000,
            "yes_bid_size_fp": format_size(m.book.size_at("yes", yb) if yb else 0),
            "yes_ask_size_fp": format_size(m.book.size_at("no", nb) if nb else 0),
            "last_trade_size_fp": format_size(m.last_size),
        }

    def _ticker_if_changed(self, m: Market, before: dict[str, Any]) -> list[Event]:
        if self._ticker_state(m) == before:
            return []
        return [Event("ticker", m.spec.ticker, self.ticker_msg(m.spec.ticker))]

    def _top(self, m: Market, side: str) -> int:
        """Best price a new bid may take: just under the other side, or near mid when it is empty."""
        if m.book.best("no" if side == "yes" else "yes") is None:
            return min(m.book.room(side), self._rng.randint(25, 70) * 100)
        return m.book.room(side)

    def _advance(self, m: Market) -> None:
        m.clock += self._rng.randint(1, 7)

    def _pick_active(self) -> Market | None:
        active = [m for m in self.markets.values() if m.active]
        return self._rng.choice(active) if active else None

    def _size(self) -> int:
        size = self._rng.randint(1, 400) * 100
        if self._rng.random() < 0.15:
            size += self._rng.choice((25, 50, 75))
        return size

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
