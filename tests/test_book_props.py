"""Property tests: the integer book matches a plain Decimal model, and never claims LIVE wrongly."""

from __future__ import annotations

from decimal import Decimal

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_cli.book import BookState, DeltaOutcome, OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.encoders import book_json_bytes, book_json_line
from kalshi_cli.protocol import SeqTracker

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
        if alive:
            assert book.ladders() == (as_ladder(model["yes"]), as_ladder(model["no"]))
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


# --- a stream with loss, repeats and reordering ------------------------------------------------

MARKETS = ["A", "B", "C"]
# YES bids <= 0.45 and NO bids <= 0.50 can never cross, so the truth is always a valid book.
YES_PRICES = [100, 2500, 4000, 4499, 4500]
NO_PRICES = [100, 3000, 4999, 5000]


@st.composite
def truth_stream(draw) -> tuple[list[dict], list[dict]]:
    """Frames of one sid, and the true ladders of every market after each frame."""
    truth: dict[str, dict[str, dict[int, int]]] = {m: {"yes": {}, "no": {}} for m in MARKETS}
    clocks = dict.fromkeys(MARKETS, 0)
    frames: list[dict] = []
    after: list[dict] = []

    def emit(kind: str, msg: dict) -> None:
        frames.append({"type": kind, "sid": 1, "seq": len(frames) + 1, "msg": msg})
        after.append({m: ladders_of(truth[m]) for m in MARKETS})

    def snapshot(market: str) -> None:
        msg = {"market_ticker": market, "market_id": market.lower(), "clock": clocks[market]}
        for side in ("yes", "no"):
            if truth[market][side]:  # key absent for an empty side, unsorted like a careless server
                msg[f"{side}_dollars_fp"] = [[f"{p / 10000:.4f}", size_text(s)] for p, s in truth[market][side].items()]
        emit("orderbook_snapshot", msg)

    for market in MARKETS:
        snapshot(market)
    for _ in range(draw(st.integers(min_value=0, max_value=40))):
        market = draw(st.sampled_from(MARKETS))
        if draw(st.integers(0, 9)) == 0:  # a get_snapshot reply mid-stream
            snapshot(market)
            continue
        clocks[market] += draw(st.integers(1, 3))
        for _ in range(draw(st.integers(1, 2))):  # one exchange action may touch several levels
            side = draw(st.sampled_from(["yes", "no"]))
            price = draw(st.sampled_from(YES_PRICES if side == "yes" else NO_PRICES))
            old = truth[market][side].get(price, 0)
            change = draw(st.integers(-old, 2000).filter(bool))
            if old + change:
                truth[market][side][price] = old + change
            else:
                del truth[market][side][price]
            msg = {
                "market_ticker": market,
                "market_id": market.lower(),
                "clock": clocks[market],
                "side": side,
                "price_dollars": f"{price / 10000:.4f}",
                "delta_fp": size_text(change),
            }
            emit("orderbook_delta", msg)
    return frames, after


def ladders_of(book: dict[str, dict[int, int]]) -> tuple[list[list[str]], list[list[str]]]:
    def side(levels: dict[int, int]) -> list[list[str]]:
        return [[f"{p / 10000:.4f}", size_text(s)] for p, s in sorted(levels.items())]

    return side(book["yes"]), side(book["no"])


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=truth_stream(), faults=st.lists(st.sampled_from(["ok", "ok", "drop", "dup", "swap"]), max_size=90))
def test_lossy_stream_never_leaves_a_wrong_live_book(stream, faults):
    frames, truth_after = stream
    delivered = []
    i = 0
    while i < len(frames):
        fault = faults[i] if i < len(faults) else "ok"
        if fault == "drop":
            pass
        elif fault == "dup":
            delivered += [frames[i], frames[i]]
        elif fault == "swap" and i + 1 < len(frames):
            delivered += [frames[i + 1], frames[i]]
            i += 1
        else:
            delivered.append(frames[i])
        i += 1

    books, tracker = BookSet(), SeqTracker()
    books.watch(1, MARKETS)
    for frame in delivered:
        verdict = tracker.observe(frame["sid"], frame["seq"])
        if verdict < 0:
            continue
        if verdict > 0:
            books.mark_sid_stale(frame["sid"], f"seq gap: {verdict} missing")
        books.on_frame(frame)
        truth = truth_after[frame["seq"] - 1]
        for market in MARKETS:
            book = books.book(market)
            if book.state is BookState.LIVE:
                assert book.ladders() == truth[market], (market, frame)

    # Recovery: fresh snapshots of whatever is stale bring every book back, matching the truth.
    if delivered:
        final = truth_after[-1]  # the "server" answers get_snapshot with the current truth
        seq = (tracker.last(1) or 0) + 1
        for market in books.stale_markets(1):
            yes, no = final[market]
            msg = {"market_ticker": market, "clock": 10**6, "yes_dollars_fp": yes, "no_dollars_fp": no}
            books.on_frame({"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": msg})
            seq += 1
        assert books.stale_markets() == []
