"""``book --continuity`` as a consumer reads it, over random streams of data and faults (hypothesis).

A consumer that believes the continuity lines (a market is untrusted from its ``stale`` line to its
``fresh`` line) must, after every burst, distrust exactly the books the handler holds STALE, and
must never see a book line of a market it was told not to trust, in burst mode and with --every.
"""

from __future__ import annotations

import asyncio
import io

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.book import BookState
from kalshi_cli.continuity import CONTINUITY
from kalshi_cli.feeds.book import BookHandler
from kalshi_cli.output import LineWriter
from kalshi_cli.protocol import Head, read_head
from kalshi_cli.session import Subscription
from kalshi_cli.sinks import NdjsonSink
from tests.test_book_handler import FakeSession, delta, snapshot

TICKERS = ["KXA-1", "KXB-1", "KXC-1"]

step = st.one_of(
    st.tuples(st.just("snapshot"), st.sampled_from(TICKERS)),
    st.tuples(st.just("delta"), st.sampled_from(TICKERS)),
    st.tuples(st.just("bad delta"), st.sampled_from(TICKERS)),  # below zero: the book goes stale
    st.tuples(st.just("gap"), st.just("")),
    st.tuples(st.just("lost"), st.just("")),
    st.tuples(st.just("reconnect"), st.just("")),
    st.tuples(st.just("idle"), st.just("")),  # the loop goes idle: the burst's book lines
)


class Consumer:
    """Reads the handler's output as a user would: trusts a market between its fresh and stale lines."""

    def __init__(self) -> None:
        self.untrusted: set[str] = set()
        self.read = 0

    def take(self, out: io.BytesIO) -> None:
        lines = out.getvalue().splitlines()
        for line in lines[self.read :]:
            obj = orjson.loads(line)
            event = obj.get(CONTINUITY)
            if event == "stale":
                assert not self.untrusted & set(obj["markets"]), obj  # one stale line per change
                self.untrusted |= set(obj["markets"])
            elif event == "fresh":
                assert set(obj["markets"]) <= self.untrusted, obj
                self.untrusted -= set(obj["markets"])
            elif event is None:
                assert obj["market_ticker"] not in self.untrusted, obj
        self.read = len(lines)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=40), every=st.booleans())
def test_the_lines_say_exactly_which_books_are_stale(steps, every):
    out = io.BytesIO()
    consumer = Consumer()

    async def main() -> None:
        handler = BookHandler(
            TICKERS, NdjsonSink(LineWriter(out)), depth=None, once=False, every=every, continuity=True
        )
        handler.session = FakeSession()  # type: ignore[assignment]
        handler.session.resubscribe = lambda sub, reason: None  # type: ignore[attr-defined]
        sid = 1
        seq = 0
        sub = Subscription("orderbook_delta", {"market_tickers": TICKERS}, sid=sid)
        handler.on_connected("ws://test")
        handler.on_subscribed(sub)
        clock = {t: 0 for t in TICKERS}

        def send(raw: bytes) -> None:
            handler.on_data(raw, read_head(raw), sub)

        for kind, ticker in steps:
            if kind in ("snapshot", "delta", "bad delta"):
                seq += 1
                clock[ticker] = max(clock.values()) + 1
                if kind == "snapshot":
                    raw = snapshot(ticker, seq)
                else:
                    raw = delta(ticker, seq, size="-999.00" if kind == "bad delta" else "1.00", price="0.4000")
                obj = orjson.loads(raw)
                obj["sid"] = sid
                obj["msg"]["clock"] = clock[ticker] + 1_000_000 * sid  # a later connection's clocks are higher
                send(orjson.dumps(obj))
            elif kind == "gap":
                seq += 3
                handler.on_gap(sub, 2, Head("orderbook_delta", sid, seq, None, None))
            elif kind == "lost":
                handler.on_subscription_lost(sub, "Kalshi error 25")
                sid += 1
                seq = 0
                sub.sid = sid
                handler.on_subscribed(sub)
            elif kind == "reconnect":
                handler.on_disconnected("connection dropped")
                handler.on_connected("ws://test")
                sid += 1
                seq = 0
                sub.sid = sid
                handler.on_subscribed(sub)
            else:
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                consumer.take(out)
                stale = {t for t, b in handler.books.books.items() if b.state is BookState.STALE}
                assert consumer.untrusted == stale
        handler.close()
        consumer.take(out)
        stale = {t for t, b in handler.books.books.items() if b.state is BookState.STALE}
        assert consumer.untrusted == stale

    asyncio.run(main())
