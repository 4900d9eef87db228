"""``tail --json``'s batches from the fast lane (``TailHandler.passthrough_batch``): written as
one append, held during a trade backfill and released in order, cut at ``--count``; a pretty
frame in a batch still goes out on one line."""

from __future__ import annotations

import io

import orjson
import pytest

from kalshi_cli.feeds.tail import TailHandler
from kalshi_cli.output import LineWriter
from kalshi_cli.session import StreamDone
from kalshi_cli.sinks import NdjsonSink


async def no_trades(markets: list[str], since_ms: int) -> list[dict]:
    return []


def delta(seq: int) -> bytes:
    return orjson.dumps({"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": {"market_ticker": "KXA-1"}})


def trade(seq: int, trade_id: str) -> bytes:
    msg = {"trade_id": trade_id, "market_ticker": "KXA-1", "ts_ms": 1_700_000_000_000 + seq}
    return orjson.dumps({"type": "trade", "sid": 3, "seq": seq, "msg": msg})


def handler(count: int | None = None, trades: bool = True) -> tuple[TailHandler, io.BytesIO]:
    out = io.BytesIO()
    h = TailHandler(NdjsonSink(LineWriter(out)), count=count, trades=no_trades if trades else None)
    assert h.passthrough is not None and h.passthrough_batch is not None
    return h, out


def lines(h: TailHandler, out: io.BytesIO) -> list[bytes]:
    h.sink.flush()
    return out.getvalue().splitlines()


@pytest.mark.parametrize(("count", "trades"), [(None, False), (None, True), (50, False), (50, True)])
def test_a_batch_is_written_as_received(count: int | None, trades: bool) -> None:
    h, out = handler(count, trades)
    assert h.passthrough_apart == (frozenset({"trade"}) if trades else frozenset())
    frames = [delta(s) for s in range(1, 11)]
    h.passthrough_batch(frames)  # type: ignore[misc]
    assert lines(h, out) == frames
    assert h.sink.writer.lines == 10  # type: ignore[attr-defined]
    assert h.remaining == (None if count is None else 40)


def test_count_cuts_a_batch_at_the_last_frame_asked_for() -> None:
    h, out = handler(count=5)
    h.passthrough(trade(1, "t1"))  # type: ignore[misc]
    with pytest.raises(StreamDone):
        h.passthrough_batch([delta(s) for s in range(1, 11)])  # type: ignore[misc]
    assert lines(h, out) == [trade(1, "t1")] + [delta(s) for s in range(1, 5)]


def test_a_batch_is_held_during_a_backfill_and_released_in_order() -> None:
    h, out = handler(count=100)
    assert h.trades is not None
    h.trades.holding = True
    h.passthrough_batch([delta(1), delta(2)])  # type: ignore[misc]
    h.passthrough(trade(1, "t1"))  # type: ignore[misc]
    h.passthrough_batch([delta(3)])  # type: ignore[misc]
    assert lines(h, out) == []
    h.trades._release()
    assert lines(h, out) == [delta(1), delta(2), trade(1, "t1"), delta(3)]
    assert h.remaining == 96


def test_a_pretty_frame_in_a_batch_goes_out_on_one_line() -> None:
    h, out = handler(trades=False)
    pretty = b'{\n  "type": "orderbook_delta",\n  "sid": 1,\n  "seq": 2\n}'
    h.passthrough_batch([delta(1), pretty, delta(3)])  # type: ignore[misc]
    assert lines(h, out) == [delta(1), orjson.dumps(orjson.loads(pretty)), delta(3)]
