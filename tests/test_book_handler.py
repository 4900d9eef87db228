"""BookHandler's JSON output: one line per changed market per burst, or one per frame with --every."""

from __future__ import annotations

import asyncio
import io

import orjson
import pytest

from kalshi_cli.encoders import book_json_bytes
from kalshi_cli.feeds.book import BookHandler
from kalshi_cli.output import LineWriter, OutputClosed
from kalshi_cli.protocol import read_head
from kalshi_cli.session import Subscription
from kalshi_cli.sinks import NdjsonSink

TICKERS = ["KXA-1", "KXB-1"]


class FakeSession:
    state = "streaming"

    def __init__(self) -> None:
        self.snapshots: list[list[str]] = []
        self.reporter = self

    def warn(self, text: str) -> None:
        pass

    def request_snapshot(self, sub: Subscription, markets: list[str]) -> None:
        self.snapshots.append(markets)


def frame(kind: str, seq: int, msg: dict) -> bytes:
    return orjson.dumps({"type": kind, "sid": 1, "seq": seq, "msg": msg})


def snapshot(ticker: str, seq: int) -> bytes:
    return frame(
        "orderbook_snapshot",
        seq,
        {
            "market_ticker": ticker,
            "market_id": "m",
            "clock": seq,
            "yes_dollars_fp": [["0.4000", "10.00"]],
            "no_dollars_fp": [["0.5000", "10.00"]],
        },
    )


def delta(ticker: str, seq: int, size: str = "1.00", price: str = "0.3000") -> bytes:
    return frame(
        "orderbook_delta",
        seq,
        {
            "market_ticker": ticker,
            "price_dollars": price,
            "delta_fp": size,
            "side": "yes",
            "clock": seq,
            "ts_ms": 1_700_000_000_000 + seq,
        },
    )


def feed(every: bool, bursts: list[list[bytes]], *, idle_after_last: bool = True) -> tuple[list[dict], BookHandler]:
    """Each burst is applied within one turn of the event loop, as the session does with a read."""
    out = io.BytesIO()

    async def main() -> BookHandler:
        handler = BookHandler(TICKERS, NdjsonSink(LineWriter(out)), depth=None, once=False, every=every)
        handler.session = FakeSession()  # type: ignore[assignment]
        sub = Subscription("orderbook_delta", {"market_tickers": TICKERS}, sid=1)
        handler.on_subscribed(sub)
        for i, burst in enumerate(bursts):
            for raw in burst:
                handler.on_data(raw, read_head(raw), sub)
            if idle_after_last or i < len(bursts) - 1:
                await asyncio.sleep(0)  # the loop goes idle between bursts
                await asyncio.sleep(0)
        handler.close()
        return handler

    handler = asyncio.run(main())
    return [orjson.loads(line) for line in out.getvalue().splitlines()], handler


def test_a_burst_gives_one_line_per_changed_market_with_its_final_state():
    burst = [snapshot("KXA-1", 1), snapshot("KXB-1", 2)] + [delta("KXA-1", 3 + i) for i in range(50)]
    lines, handler = feed(False, [burst])
    assert [line["market_ticker"] for line in lines] == ["KXA-1", "KXB-1"]
    final = orjson.loads(book_json_bytes(handler.books.book("KXA-1"), None, lines[0]["ts_ms"]))
    assert lines[0] == final
    assert lines[0]["seq"] == 52 and lines[0]["yes_dollars_fp"][0] == ["0.3000", "50.00"]
    assert lines[0]["ts_ms"] == 1_700_000_000_000 + 52  # the latest applied frame's time


def test_each_burst_ends_with_a_line_and_quiet_markets_are_not_repeated():
    first = [snapshot("KXA-1", 1), snapshot("KXB-1", 2)]
    lines, _ = feed(False, [first, [delta("KXA-1", 3)], [delta("KXA-1", 4), delta("KXA-1", 5)]])
    assert [(line["market_ticker"], line["seq"]) for line in lines] == [
        ("KXA-1", 1),
        ("KXB-1", 2),
        ("KXA-1", 3),
        ("KXA-1", 5),
    ]


def test_a_book_that_goes_stale_in_the_burst_is_not_printed():
    first = [snapshot("KXA-1", 1), snapshot("KXB-1", 2)]
    burst = [delta("KXA-1", 3), delta("KXB-1", 4), delta("KXA-1", 5, size="-999.00", price="0.4000")]
    lines, handler = feed(False, [first, burst])
    assert [(line["market_ticker"], line["seq"]) for line in lines] == [("KXA-1", 1), ("KXB-1", 2), ("KXB-1", 4)]
    assert not handler.books.book("KXA-1").is_live


def test_every_prints_a_line_after_each_applied_frame():
    burst = [snapshot("KXA-1", 1), snapshot("KXB-1", 2)] + [delta("KXA-1", 3 + i) for i in range(5)]
    lines, _ = feed(True, [burst])
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5, 6, 7]


def test_close_writes_what_the_last_burst_changed():
    lines, _ = feed(False, [[snapshot("KXA-1", 1), delta("KXA-1", 2)]], idle_after_last=False)
    assert [line["seq"] for line in lines] == [2]


def test_lines_come_in_the_order_markets_first_changed():
    first = [snapshot("KXA-1", 1), snapshot("KXB-1", 2)]
    burst = [delta("KXB-1", 3), delta("KXA-1", 4), delta("KXB-1", 5)]
    lines, _ = feed(False, [first, burst])
    assert [(line["market_ticker"], line["seq"]) for line in lines[2:]] == [("KXB-1", 5), ("KXA-1", 4)]


def test_a_book_stale_then_resnapshotted_in_one_burst_prints_the_fresh_book():
    first = [snapshot("KXA-1", 1), snapshot("KXB-1", 2)]
    burst = [
        delta("KXA-1", 3),
        delta("KXA-1", 4, size="-999.00", price="0.4000"),
        snapshot("KXA-1", 5),
        delta("KXA-1", 6, price="0.3500"),
    ]
    lines, handler = feed(False, [first, burst])
    assert [(line["market_ticker"], line["seq"]) for line in lines] == [("KXA-1", 1), ("KXB-1", 2), ("KXA-1", 6)]
    assert lines[-1]["yes_dollars_fp"] == [["0.3500", "1.00"], ["0.4000", "10.00"]]
    assert handler.session.snapshots == [["KXA-1"]]  # the stale book asked for a snapshot once


def test_a_delta_skipped_or_ignored_gives_no_line():
    # clock <= the snapshot's: already inside it; then a book gone stale ignores deltas until a snapshot
    first = [snapshot("KXA-1", 5)]
    burst = [
        frame(
            "orderbook_delta",
            6,
            {"market_ticker": "KXA-1", "price_dollars": "0.3000", "delta_fp": "1.00", "side": "yes", "clock": 4},
        )
    ]
    lines, _ = feed(False, [first, burst])
    assert [line["seq"] for line in lines] == [5]
    stale = [delta("KXA-1", 7, size="-999.00", price="0.4000"), delta("KXA-1", 8)]
    lines, handler = feed(False, [first, stale])
    assert [line["seq"] for line in lines] == [5] and not handler.books.book("KXA-1").is_live


def test_a_closed_pipe_ends_the_stream_at_the_next_burst():
    class ClosedPipe(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            raise BrokenPipeError

    async def main() -> None:
        sink = NdjsonSink(LineWriter(ClosedPipe()))
        handler = BookHandler(TICKERS, sink, depth=None, once=False)
        handler.session = FakeSession()  # type: ignore[assignment]
        sub = Subscription("orderbook_delta", {"market_tickers": TICKERS}, sid=1)
        handler.on_subscribed(sub)
        raw = snapshot("KXA-1", 1)
        handler.on_data(raw, read_head(raw), sub)
        for _ in range(3):
            await asyncio.sleep(0)  # the burst's line, then the writer's flush, which finds the pipe closed
        assert sink.closed
        raw = delta("KXA-1", 2)
        with pytest.raises(OutputClosed):
            handler.on_data(raw, read_head(raw), sub)

    asyncio.run(main())


def test_the_view_gets_the_time_of_each_burst():
    async def main() -> list[float | None]:
        handler = BookHandler(TICKERS, depth=10, once=False)
        handler.session = FakeSession()  # type: ignore[assignment]
        sub = Subscription("orderbook_delta", {"market_tickers": TICKERS}, sid=1)
        handler.on_subscribed(sub)
        seen = [handler.last_frame_at]
        for burst in ([snapshot("KXA-1", 1), delta("KXA-1", 2)], [delta("KXA-1", 3)]):
            for raw in burst:
                handler.on_data(raw, read_head(raw), sub)
            seen.append(handler.last_frame_at)
            await asyncio.sleep(0.01)
        assert handler.frames == 3 and handler.books.book("KXA-1").seq == 3
        return seen

    none, first, second = asyncio.run(main())
    assert none is None and first is not None and second is not None and second > first
