"""Property tests: the integer book matches a plain Decimal model, and never claims LIVE wrongly.

The last test plays a server whose books evolve by snapshots and deltas over a network that
drops, repeats and reorders frames, and whose seq restarts or reuses old numbers, and checks that
every line the book feed would print is a state the server's book really passed through.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_cli.book import BookError, BookState, DeltaOutcome, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.encoders import book_json_bytes, book_json_line

FAST = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A few prices so levels collide often; sub-cent ones included. Written in 2-, 3- or 4-dp forms.
PRICE_UNITS = [1, 100, 3800, 4250, 4300, 4400, 4401, 5000, 5500, 5600, 6000, 9999]


@st.composite
def price_text(draw) -> str:
    units = draw(st.sampled_from(PRICE_UNITS))
    text = f"{Decimal(units) / 10000:.4f}"
    for _ in range(2):  # trailing zeros are optional on the wire ("0.440", "0.44")
        if text.endswith("0") and draw(st.booleans()):
            text = text[:-1]
    return text


def size_text(hundredths: int) -> str:
    return f"{Decimal(hundredths) / 100:.2f}"


sizes = st.integers(min_value=1, max_value=5000).map(size_text)
deltas = st.integers(min_value=-3000, max_value=3000).filter(bool).map(size_text)
levels = st.lists(st.tuples(price_text(), sizes), max_size=6, unique_by=lambda level: Decimal(level[0]))
snapshots = st.fixed_dictionaries({"yes": levels, "no": levels})
delta_ops = st.tuples(st.sampled_from(["yes", "no"]), price_text(), deltas)
ops = st.lists(st.one_of(delta_ops, snapshots), max_size=40)


def as_ladder(side: dict[Decimal, Decimal]) -> list[list[str]]:
    return [[f"{p:.4f}", f"{s:.2f}"] for p, s in sorted(side.items())]


def is_crossed(model: dict[str, dict[Decimal, Decimal]]) -> bool:
    return max(model["yes"], default=0) + max(model["no"], default=0) > 1


@FAST
@given(first=snapshots, steps=ops, use_yes_price=st.booleans())
def test_book_matches_decimal_model(first, steps, use_yes_price):
    book = OrderBook("T", use_yes_price=use_yes_price)
    model: dict[str, dict[Decimal, Decimal]] = {}
    alive = False
    clock = 0

    def no_terms(text: str) -> Decimal:
        return 1 - Decimal(text) if use_yes_price else Decimal(text)

    for step in [first, *steps]:
        clock += 1
        if isinstance(step, dict):
            book.apply_snapshot(
                {
                    "market_ticker": "T",
                    "clock": clock,
                    "yes_dollars_fp": [list(level) for level in step["yes"]],
                    "no_dollars_fp": [list(level) for level in step["no"]],
                }
            )
            model = {
                "yes": {Decimal(p): Decimal(s) for p, s in step["yes"]},
                "no": {no_terms(p): Decimal(s) for p, s in step["no"]},
            }
            alive = not is_crossed(model)
        else:
            side, price, change = step
            book.apply_delta(
                {
                    "market_ticker": "T",
                    "clock": clock,
                    "side": side,
                    "price_dollars": price,
                    "delta_fp": change,
                }
            )
            if alive:
                level = no_terms(price) if side == "no" else Decimal(price)
                new = model[side].get(level, Decimal(0)) + Decimal(change)
                if new < 0:
                    alive = False
                elif new == 0:
                    model[side].pop(level, None)
                else:
                    model[side][level] = new
                    alive = not is_crossed(model)
        assert (book.state is BookState.LIVE) == alive, book.stale_reason
        # top() (the export's one-call quote) is the four quote methods, whatever the state
        assert book.top() == (
            book.best_yes_bid(),
            book.best_yes_bid_size(),
            book.best_yes_ask(),
            book.best_yes_ask_size(),
        )
        if alive:
            assert book.ladders() == (as_ladder(model["yes"]), as_ladder(model["no"]))
            yes, no = model["yes"], model["no"]
            bid, ask = max(yes, default=None), max(no, default=None)
            assert book.top() == (
                int(bid * 10_000) if bid is not None else None,
                int(yes[bid] * 100) if bid is not None else None,
                10_000 - int(ask * 10_000) if ask is not None else None,
                int(no[ask] * 100) if ask is not None else None,
            )
            # The fast line (per-side cached encodings) equals encoding the plain line, after
            # every step and for alternating depths, so a stale cache cannot go unnoticed.
            for depth in (None, 2, None):
                assert book_json_bytes(book, depth, clock) == orjson.dumps(book_json_line(book, depth, clock))


# YES bids <= 0.45 and NO bids <= 0.54 never cross: bursts of deltas keep the book live.
BURST_PRICES = {
    "yes": [100, 1000, 2500, 3000, 3300, 4000, 4200, 4250, 4400, 4499, 4500],
    "no": [100, 1500, 3000, 4999, 5000, 5100, 5300, 5400],
}
bursts = st.lists(
    st.lists(
        st.tuples(st.sampled_from(["yes", "no"]), st.integers(0, 10), st.integers(-400, 400).filter(bool)), max_size=25
    ),
    max_size=8,
)


@FAST
@given(bursts=bursts, depth=st.sampled_from([None, 1, 3]))
def test_a_line_after_a_burst_of_deltas_equals_the_plain_encoding(bursts, depth):
    """Encoded ladders catch up on whatever a burst did: sizes changed, levels come and gone."""
    book = OrderBook("T")
    book.apply_snapshot(
        {
            "market_ticker": "T",
            "clock": 0,
            "yes_dollars_fp": [["0.2500", "3.00"], ["0.4000", "1.00"]],
            "no_dollars_fp": [["0.5000", "2.00"]],
        }
    )
    model = {"yes": {2500: 300, 4000: 100}, "no": {5000: 200}}
    assert book_json_bytes(book, depth, 0) == orjson.dumps(book_json_line(book, depth, 0))
    clock = 0
    for burst in bursts:
        for side, i, change in burst:
            price = BURST_PRICES[side][i % len(BURST_PRICES[side])]
            change = max(change, -model[side].get(price, 0))  # never below zero
            if not change:
                continue
            clock += 1
            assert (
                book.apply_delta(
                    {
                        "market_ticker": "T",
                        "clock": clock,
                        "side": side,
                        "price_dollars": f"{Decimal(price) / 10000:.4f}",
                        "delta_fp": size_text(change),
                    }
                )
                is DeltaOutcome.APPLIED
            )
            model[side][price] = model[side].get(price, 0) + change
            if not model[side][price]:
                del model[side][price]
        assert book.yes == model["yes"] and book.no == model["no"]
        assert book_json_bytes(book, depth, clock) == orjson.dumps(book_json_line(book, depth, clock))


# --- a hostile stream: every printed book is a true state of the server's book -------------------

# sid 1 feeds A and B, sid 2 feeds C. YES bids <= 0.45 and NO bids <= 0.50 never cross.
SID_OF = {"A": 1, "B": 1, "C": 2}
MARKETS = sorted(SID_OF)
YES_PRICES = [100, 2500, 4000, 4499, 4500]
NO_PRICES = [100, 3000, 4999, 5000]

Ladder = tuple[tuple[str, str], ...]
TrueState = tuple[int, Ladder, Ladder]  # (clock, yes, no) as an encoded line lists them


def side_text(levels: dict[int, int]) -> list[list[str]]:
    return [[f"{p / 10000:.4f}", size_text(s)] for p, s in sorted(levels.items())]


@st.composite
def server_run(draw) -> tuple[list[dict], dict[str, set[TrueState]], dict[str, dict[str, dict[int, int]]]]:
    """The frames a server sends, every state each market's book passed through, the final books.

    Events: exchange actions (one or two deltas sharing a clock), get_snapshot replies,
    maintenance (a market's clock goes down, §6.2) and seq reuse on a sid (a restart at 1, or new
    content under a number already used, §7).
    """
    truth: dict[str, dict[str, dict[int, int]]] = {m: {"yes": {}, "no": {}} for m in MARKETS}
    clocks = dict.fromkeys(MARKETS, 0)
    seqs = {1: 0, 2: 0}
    frames: list[dict] = []
    states: dict[str, set[TrueState]] = {m: set() for m in MARKETS}

    def record(market: str) -> None:
        yes, no = (tuple(map(tuple, side_text(truth[market][s]))) for s in ("yes", "no"))
        states[market].add((clocks[market], yes, no))

    def emit(market: str, kind: str, msg: dict) -> None:
        sid = SID_OF[market]
        seqs[sid] += 1
        frames.append({"type": kind, "sid": sid, "seq": seqs[sid], "msg": msg})

    def snapshot(market: str) -> None:
        msg = {"market_ticker": market, "market_id": market.lower(), "clock": clocks[market]}
        for side in ("yes", "no"):
            if truth[market][side]:  # key absent for an empty side, unsorted like a careless server
                msg[f"{side}_dollars_fp"] = [[f"{p / 10000:.4f}", size_text(s)] for p, s in truth[market][side].items()]
        emit(market, "orderbook_snapshot", msg)

    for market in MARKETS:
        for side, prices in (("yes", YES_PRICES), ("no", NO_PRICES)):
            for price in draw(st.lists(st.sampled_from(prices), max_size=3, unique=True)):
                truth[market][side][price] = draw(st.integers(1, 500))
        record(market)
        snapshot(market)
    for _ in range(draw(st.integers(min_value=0, max_value=45))):
        event = draw(st.sampled_from(["action"] * 7 + ["snapshot", "maintenance", "reuse_seq"]))
        market = draw(st.sampled_from(MARKETS))
        if event == "snapshot":
            snapshot(market)
        elif event == "maintenance":
            clocks[market] = draw(st.integers(0, clocks[market]))
            record(market)
        elif event == "reuse_seq":
            sid = SID_OF[market]
            seqs[sid] = draw(st.integers(0, seqs[sid]))  # the next frame is numbered this + 1
        else:
            clocks[market] += draw(st.integers(1, 3))
            for _ in range(draw(st.integers(1, 2))):
                side = draw(st.sampled_from(["yes", "no"]))
                price = draw(st.sampled_from(YES_PRICES if side == "yes" else NO_PRICES))
                old = truth[market][side].get(price, 0)
                change = draw(st.integers(-old, 2000).filter(bool))
                if old + change:
                    truth[market][side][price] = old + change
                else:
                    del truth[market][side][price]
                record(market)  # each delta of an action is a state the server's book passes through
                msg = {
                    "market_ticker": market,
                    "market_id": market.lower(),
                    "clock": clocks[market],
                    "side": side,
                    "price_dollars": f"{price / 10000:.4f}",
                    "delta_fp": size_text(change),
                    "ts_ms": len(frames),  # no two changes are the same bytes, even under one seq
                }
                emit(market, "orderbook_delta", msg)
    return frames, states, truth


def perturb(frames: list[dict], faults: list[str]) -> list[dict]:
    """What a hostile network delivers: frames dropped, repeated, or swapped with the next.

    A lost or reordered frame is reported to the client as a gap (``{"gap": sid}``) where it
    happened: seq alone cannot see it when it lines up with the server reusing numbers (a
    drop of seq 4 followed by a new frame numbered 4 looks dense), and no client could.
    """
    out: list[dict] = []
    i = 0
    while i < len(frames):
        fault = faults[i] if i < len(faults) else "ok"
        if fault == "dup":
            out += [frames[i], frames[i]]
        elif fault == "swap" and i + 1 < len(frames):
            out += [{"gap": frames[i]["sid"]}, {"gap": frames[i + 1]["sid"]}, frames[i + 1], frames[i]]
            i += 1
        elif fault == "drop":
            out.append({"gap": frames[i]["sid"]})
        else:
            out.append(frames[i])
        i += 1
    return out


class Client:
    """The client's contract with the book (§7), as the feed honours it.

    A reported gap marks every book of its sid STALE. A frame numbered last + 1 on its sid is
    applied. Any other number (a gap, a repeat, a step back, a restart) marks every book of the
    sid STALE, and that number is the new baseline; an exact repeat may instead be dropped
    quietly. Whether the frame that broke the sequence is then applied as well is the feed's
    choice: the book must stay honest either way.
    """

    def __init__(self, *, apply_breaking_frame: bool, quiet_repeats: bool) -> None:
        self.books = BookSet()
        for sid in (1, 2):
            self.books.watch(sid, [m for m in MARKETS if SID_OF[m] == sid])
        self.last = {1: 0, 2: 0}
        self.seen: dict[tuple[int, int], bytes] = {}
        self.apply_breaking_frame = apply_breaking_frame
        self.quiet_repeats = quiet_repeats
        #: books that may not be LIVE: their sid broke and no snapshot has reached them since.
        self.must_be_stale: set[str] = set()

    def broken(self, sid: int, why: str) -> None:
        self.books.mark_sid_stale(sid, why)
        self.must_be_stale |= {m for m in MARKETS if SID_OF[m] == sid}

    def deliver(self, frame: dict) -> OrderBook | None:
        if "gap" in frame:
            self.broken(frame["gap"], "frames lost")
            return None
        sid, seq = frame["sid"], frame["seq"]
        content = orjson.dumps(frame)
        repeat = self.seen.get((sid, seq)) == content
        in_order = seq == self.last[sid] + 1
        self.seen[(sid, seq)] = content
        if not in_order:
            if repeat and self.quiet_repeats:
                return None
            self.last[sid] = seq
            self.broken(sid, f"seq {seq} on sid {sid}")
            if not self.apply_breaking_frame:
                return None
        self.last[sid] = seq
        if frame["type"] == "orderbook_snapshot":
            self.must_be_stale.discard(frame["msg"]["market_ticker"])
        return self.books.apply(frame)


def printed_state(line: bytes) -> tuple[str, TrueState]:
    obj = orjson.loads(line)
    assert obj["market_id"] == obj["market_ticker"].lower()
    yes, no = (tuple(map(tuple, obj[k])) for k in ("yes_dollars_fp", "no_dollars_fp"))
    return obj["market_ticker"], (obj["clock"], yes, no)


def check_honest(client: Client) -> None:
    """A book whose sid broke is not LIVE until a snapshot reaches it; a book not LIVE is never encoded."""
    for market in MARKETS:
        book = client.books.book(market)
        assert book is not None
        if book.state is BookState.LIVE:
            assert market not in client.must_be_stale, (market, book.stale_reason)
            continue
        assert market not in client.must_be_stale or book.state is BookState.STALE
        with pytest.raises(BookError):
            book_json_bytes(book)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    run=server_run(),
    faults=st.lists(st.sampled_from(["ok", "ok", "ok", "drop", "dup", "swap"]), max_size=120),
    bursts=st.lists(st.booleans(), max_size=120),
    apply_breaking_frame=st.booleans(),
    quiet_repeats=st.booleans(),
)
def test_every_printed_book_is_a_true_state_of_the_server(run, faults, bursts, apply_breaking_frame, quiet_repeats):
    frames, states, final = run
    delivered = perturb(frames, faults)
    # Two feeds on the same frames: a line per applied frame (--every), and a line per changed
    # market when a burst ends (the default), so both encoder paths are checked.
    every = Client(apply_breaking_frame=apply_breaking_frame, quiet_repeats=quiet_repeats)
    burst = Client(apply_breaking_frame=apply_breaking_frame, quiet_repeats=quiet_repeats)
    changed: dict[str, OrderBook] = {}
    for i, frame in enumerate(delivered):
        book = every.deliver(frame)
        if book is not None:
            assert book.state is BookState.LIVE
            market, state = printed_state(book_json_bytes(book, None, 0))
            assert state in states[market], (market, state)
        check_honest(every)
        if (book := burst.deliver(frame)) is not None:
            changed[book.market_ticker] = book
        check_honest(burst)
        if i == len(delivered) - 1 or (bursts[i] if i < len(bursts) else True):
            for market, book in changed.items():
                if book.state is BookState.LIVE:  # one that went stale later in the burst is not printed
                    assert printed_state(book_json_bytes(book, None, 0))[1] in states[market]
            changed.clear()

    # Recovery: a fresh snapshot of each stale book, in sequence, brings it back to the truth.
    for client in (every, burst):
        for market in client.books.stale_markets():
            sid = SID_OF[market]
            msg = {"market_ticker": market, "market_id": market.lower(), "clock": 10**6}
            msg |= {f"{side}_dollars_fp": side_text(final[market][side]) for side in ("yes", "no")}
            client.deliver({"type": "orderbook_snapshot", "sid": sid, "seq": client.last[sid] + 1, "msg": msg})
        assert client.books.stale_markets() == []
        for market in MARKETS:  # and a book that stayed LIVE missed nothing
            book = client.books.book(market)
            assert book is not None and book.ladders() == (
                side_text(final[market]["yes"]),
                side_text(final[market]["no"]),
            )
