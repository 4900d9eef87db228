"""A synthetic but valid Kalshi feed for benchmarks: frames in the current shapes, pre-encoded.

The mix is ~70% ``orderbook_delta``, 20% ``ticker``, 10% ``trade`` over ``markets`` markets, in
the envelope order of ``shared/protocol/examples`` (``type``, ``sending_ts_ms``, ``sid``,
``seq``, ``msg``). One *cycle* of frames is built once; it can repeat forever because every
market's deltas in a cycle are a random walk followed by the same walk undone in reverse, so
the books return to their snapshots, never go below zero and never cross (YES and NO bids both
stay at or under $0.45). ``seq`` (per sid) and ``clock`` keep increasing across cycles: they are
``%d`` slots filled per block, so a block costs one C-level ``bytes % tuple``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import orjson

SIDS = {"orderbook_delta": 1, "ticker": 2, "trade": 3, "fill": 4}
SEQUENCED = {1, 3}
CLOCK_BASE = 10_000_000  # 8 digits for the first 90M frames: clock slots keep their width
TS_MS = 1787925912345


def tickers(markets: int) -> list[str]:
    return [f"KXBENCH-26DEC31-B{50 + i}.5" for i in range(markets)]


def market_id(ticker: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, ticker))


def _price(cents_tenth: int) -> str:
    # prices in $0.001 steps so a few sub-cent levels appear, formatted with 4 dp like Kalshi
    return f"0.{cents_tenth * 10:04d}"


def _size(hundredths: int) -> str:
    sign = "-" if hundredths < 0 else ""
    whole, frac = divmod(abs(hundredths), 100)
    return f"{sign}{whole}.{frac:02d}"


@dataclass
class Book:
    yes: dict[str, int]
    no: dict[str, int]


def initial_books(markets: int, seed: int = 7) -> dict[str, Book]:
    rng = random.Random(seed)
    books = {}
    for t in tickers(markets):
        yes = {_price(p): rng.randrange(1, 500) * 100 for p in rng.sample(range(100, 450, 10), 15)}
        no = {_price(p): rng.randrange(1, 500) * 100 for p in rng.sample(range(100, 450, 10), 15)}
        books[t] = Book(yes, no)
    return books


def snapshot_frames(markets: int, sid: int = 1) -> list[bytes]:
    """The snapshots (seq 1..markets on ``sid``), as the frames a subscribe answers with."""
    out = []
    for i, (t, book) in enumerate(initial_books(markets).items()):
        msg = {
            "market_ticker": t,
            "market_id": market_id(t),
            "clock": CLOCK_BASE,
            "yes_dollars_fp": [[p, _size(s)] for p, s in sorted(book.yes.items())],
            "no_dollars_fp": [[p, _size(s)] for p, s in sorted(book.no.items())],
        }
        out.append(
            orjson.dumps({"type": "orderbook_snapshot", "sending_ts_ms": TS_MS, "sid": sid, "seq": i + 1, "msg": msg})
        )
    return out


def _walk(book: Book, steps: int, rng: random.Random) -> list[tuple[str, str, int]]:
    """``steps`` valid deltas (side, price, delta) from ``book``; the book is left unchanged."""
    levels = {"yes": dict(book.yes), "no": dict(book.no)}
    prices = [_price(p) for p in range(100, 450, 5)]
    out = []
    for _ in range(steps):
        side = rng.choice(("yes", "no"))
        price = rng.choice(prices)
        have = levels[side].get(price, 0)
        if have and rng.random() < 0.5:
            delta = -rng.randrange(1, have + 1) if have > 1 else -have
            if rng.random() < 0.2:
                delta = -have  # remove the level
        else:
            delta = rng.choice((100, 500, 2500, 4200, 9550, 12000, 25))
        levels[side][price] = have + delta
        if levels[side][price] == 0:
            del levels[side][price]
        out.append((side, price, delta))
    return out


@dataclass
class Template:
    """One frame: static bytes, or bytes with ``%d`` slots for (sid, offset) values."""

    body: bytes  # '%' escaped, with %d where a counter goes
    slots: list[tuple[str, int]]  # ("seq1" | "seq3" | "clock", offset from the block's base)


def build_cycle(
    channels: set[str], markets: int, *, seed: int = 11, deltas_per_market: int = 70
) -> tuple[list[Template], dict[str, int]]:
    """One repeatable cycle of frames for the subscribed ``channels``.

    Returns the templates and how much each counter advances per cycle. ``fill`` (a private
    channel, alone) gives a feed of fills instead: see ``fill_cycle``.
    """
    if "fill" in channels:
        return fill_cycle(markets, seed=seed, frames=deltas_per_market * markets)
    rng = random.Random(seed)
    names = tickers(markets)
    books = initial_books(markets)
    half = deltas_per_market // 2
    per_market = {}
    for t in names:
        fwd = _walk(books[t], half, rng)
        back = [(side, price, -delta) for side, price, delta in reversed(fwd)]
        per_market[t] = fwd + back
    # interleave markets at random, keeping each market's own order
    pending = [t for t in names for _ in per_market[t]]
    rng.shuffle(pending)
    cursors = dict.fromkeys(names, 0)
    deltas = []
    for t in pending:
        deltas.append((t, per_market[t][cursors[t]]))
        cursors[t] += 1
    n_delta = len(deltas)
    n_ticker = n_delta * 2 // 7
    n_trade = n_delta // 7
    kinds = ["d"] * n_delta + ["k"] * n_ticker + ["t"] * n_trade
    rng.shuffle(kinds)
    templates: list[Template] = []
    counters = {"seq1": 0, "seq3": 0, "clock": 0}
    di = 0
    for kind in kinds:
        if kind == "d":
            if "orderbook_delta" not in channels:
                di += 1
                continue
            t, (side, price, delta) = deltas[di]
            di += 1
            msg = (
                b'{"market_ticker":"%s","market_id":"%s","clock":%%d,"price_dollars":"%s","delta_fp":"%s",'
                b'"side":"%s","ts":"2026-08-28T14:05:12.345Z","ts_ms":%d}'
            ) % (t.encode(), market_id(t).encode(), price.encode(), _size(delta).encode(), side.encode(), TS_MS)
            body = (b'{"type":"orderbook_delta","sending_ts_ms":%d,"sid":1,"seq":%%d,"msg":' % TS_MS) + msg + b"}"
            slots = [("seq1", counters["seq1"]), ("clock", counters["clock"])]
            counters["seq1"] += 1
            counters["clock"] += 1
        elif kind == "k":
            if "ticker" not in channels:
                continue
            t = rng.choice(names)
            msg = {
                "market_id": market_id(t),
                "market_ticker": t,
                "price_dollars": "0.4400",
                "yes_bid_dollars": "0.4300",
                "yes_ask_dollars": "0.4500",
                "volume_fp": "18422.00",
                "open_interest_fp": "9311.00",
                "dollar_volume": 7854,
                "dollar_open_interest": 4003,
                "yes_bid_size_fp": "95.50",
                "yes_ask_size_fp": "60.00",
                "last_trade_size_fp": "42.00",
                "ts": TS_MS // 1000,
                "ts_ms": TS_MS,
                "time": "2026-08-28T14:05:12.345Z",
            }
            body = orjson.dumps({"type": "ticker", "sending_ts_ms": TS_MS, "sid": 2, "msg": msg})
            body = body.replace(b"%", b"%%")
            slots = []
        else:
            if "trade" not in channels:
                continue
            t = rng.choice(names)
            msg = {
                # unique per frame (the trade's seq spliced in): consumers dedupe trades by trade_id
                "trade_id": "TRADE-ID-SLOT",
                "market_ticker": t,
                "yes_price_dollars": "0.4400",
                "no_price_dollars": "0.5600",
                "count_fp": "42.00",
                "taker_side": "no",
                "taker_outcome_side": "no",
                "taker_book_side": "ask",
                "is_block_trade": False,
                "ts": TS_MS // 1000,
                "ts_ms": TS_MS,
            }
            head = b'{"type":"trade","sending_ts_ms":%d,"sid":3,"seq":%%d,"msg":' % TS_MS
            body = head + orjson.dumps(msg).replace(b"%", b"%%").replace(b"TRADE-ID-SLOT", b"bench-%d") + b"}"
            slots = [("seq3", counters["seq3"]), ("seq3", counters["seq3"])]
            counters["seq3"] += 1
        templates.append(Template(body, slots))
    return templates, counters


def fill_cycle(markets: int, *, seed: int = 11, frames: int = 1400) -> tuple[list[Template], dict[str, int]]:
    """Your fills (``fill``, no seq), each with its own trade and order id (consumers dedupe by them)."""
    rng = random.Random(seed)
    names = tickers(markets)
    templates = []
    for i in range(frames):
        t = rng.choice(names)
        side = rng.choice(("yes", "no"))
        msg = {
            "trade_id": "TRADE-ID-SLOT",
            "order_id": "ORDER-ID-SLOT",
            "client_order_id": f"bench-{i % 97}",
            "market_ticker": t,
            "exchange_index": 0,
            "is_taker": bool(i % 2),
            "side": side,
            "yes_price_dollars": "0.4400",
            "count_fp": f"{1 + i % 50}.00",
            "fee_cost": "0.181104",
            "action": rng.choice(("buy", "sell")),
            "ts": TS_MS // 1000,
            "ts_ms": TS_MS,
            "post_position_fp": "142.00",
            "purchased_side": side,
            "outcome_side": side,
            "book_side": "bid",
        }
        body = orjson.dumps({"type": "fill", "sid": 4, "msg": msg}).replace(b"%", b"%%")
        body = body.replace(b"TRADE-ID-SLOT", b"bench-fill-%d").replace(b"ORDER-ID-SLOT", b"bench-order-%d")
        templates.append(Template(body, [("seq3", i), ("seq3", i)]))
    return templates, {"seq1": 0, "seq3": frames, "clock": 0}


def ws_header(length: int) -> bytes:
    """An unmasked server text frame header (FIN + opcode 1)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 65536:
        return bytes((0x81, 126)) + length.to_bytes(2, "big")
    return bytes((0x81, 127)) + length.to_bytes(8, "big")


class Encoder:
    """Turns cycles of templates into ready-to-send WebSocket bytes, block by block."""

    def __init__(
        self,
        templates: list[Template],
        advance: dict[str, int],
        *,
        seq_start: dict[str, int],
        clock_start: int = CLOCK_BASE + 1,
    ) -> None:
        self.templates = templates
        self.advance = advance
        self.base = {"seq1": seq_start.get("seq1", 1), "seq3": seq_start.get("seq3", 1), "clock": clock_start}
        self.slots = [s for t in templates for s in t.slots]
        self._compiled: dict[tuple[int, ...], bytes] = {}

    def _digits(self, key: str, n: int) -> tuple[int, int]:
        lo = self.base[key]
        return len(str(lo)), len(str(lo + max(n - 1, 0)))

    def next_block(self) -> tuple[bytes, int]:
        """The next full cycle as WebSocket frames, and how many frames it holds."""
        widths = []
        uniform = True
        for key in ("seq1", "seq3", "clock"):
            a, b = self._digits(key, self.advance[key])
            uniform &= a == b
            widths.append(a)
        base = self.base
        values = tuple(base[k] + off for k, off in self.slots)
        if uniform:
            key = tuple(widths)
            template = self._compiled.get(key)
            if template is None:
                parts = []
                for t in self.templates:
                    size = len(t.body) - 2 * len(t.slots) - t.body.count(b"%%")
                    size += sum(widths[("seq1", "seq3", "clock").index(k)] for k, _ in t.slots)
                    parts.append(ws_header(size).replace(b"%", b"%%") + t.body)
                template = self._compiled[key] = b"".join(parts)
            data = template % values
        else:  # a digit boundary inside this block: encode frame by frame
            parts = []
            i = 0
            for t in self.templates:
                n = len(t.slots)
                body = t.body % values[i : i + n]
                i += n
                parts.append(ws_header(len(body)) + body)
            data = b"".join(parts)
        for k in base:
            base[k] += self.advance[k]
        return data, len(self.templates)

    def frames(self, block: bytes) -> list[bytes]:
        """Split encoded WebSocket bytes back into payloads (for checks, not the hot path)."""
        out, i = [], 0
        while i < len(block):
            n = block[i + 1] & 0x7F
            i += 2
            if n == 126:
                n = int.from_bytes(block[i : i + 2], "big")
                i += 2
            elif n == 127:
                n = int.from_bytes(block[i : i + 8], "big")
                i += 8
            out.append(block[i : i + n])
            i += n
        return out
