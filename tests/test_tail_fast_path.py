"""``tail --json``'s fast path (``TailHandler.passthrough``): every frame out as received, once,
trades deduplicated wherever their ``type`` key sits, held during a backfill, counted."""

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


def handler(count: int | None = None) -> tuple[TailHandler, io.BytesIO]:
    out = io.BytesIO()
    h = TailHandler(NdjsonSink(LineWriter(out)), count=count, trades=no_trades)
    assert h.passthrough is not None
    return h, out


def trade(seq: int, trade_id: str, *, type_first: bool = True) -> bytes:
    msg = {"trade_id": trade_id, "market_ticker": "KXA-1", "ts_ms": 1_700_000_000_000 + seq}
    frame = {"type": "trade", "sid": 3, "seq": seq, "msg": msg}
    if not type_first:
        frame = {"sid": 3, "seq": seq, "msg": msg, "type": "trade"}
    return orjson.dumps(frame)


TICKER = b'{"type":"ticker","sid":2,"seq":1,"msg":{"market_ticker":"KXA-1","note":"\\"trade\\""}}'
PRETTY = b'{\n  "type": "ticker",\n  "sid": 2,\n  "seq": 2\n}'


@pytest.mark.parametrize("type_first", [True, False])
def test_a_repeated_trade_goes_out_once_wherever_its_type_key_is(type_first):
    h, out = handler()
    frames = [trade(1, "t1", type_first=type_first), TICKER, trade(2, "t1", type_first=type_first), PRETTY]
    for raw in frames:
        h.passthrough(raw)
    h.sink.flush()
    lines = out.getvalue().splitlines()
    assert lines == [frames[0], TICKER, orjson.dumps(orjson.loads(PRETTY))]


def test_frames_are_held_during_a_backfill_and_released_in_order():
    h, out = handler()
    assert h.trades is not None
    h.trades.holding = True
    h.passthrough(TICKER)
    h.passthrough(trade(1, "t1"))
    h.sink.flush()
    assert out.getvalue() == b""
    h.trades.holding = False
    h.trades._release()
    h.sink.flush()
    assert out.getvalue().splitlines() == [TICKER, trade(1, "t1")]


def test_count_stops_after_that_many_frames_trades_included():
    h, out = handler(count=3)
    h.passthrough(TICKER)
    h.passthrough(trade(1, "t1"))
    h.passthrough(trade(2, "t1"))  # a repeat: not written, not counted
    with pytest.raises(StreamDone):
        h.passthrough(trade(3, "t2"))
    h.sink.flush()
    assert len(out.getvalue().splitlines()) == 3


@pytest.mark.parametrize(
    ("raw", "trade"),
    [
        (b'{"type":"trade","sid":3}', True),
        (b'{"sid":3,"type":"trade"}', True),
        (b'{ "type" : "trade" }', True),
        (b'{"type":"ticker","msg":{"note":"\\"trade\\""}}', False),  # type first: the start decides
        (b'{"type":"trades"}', False),
        (b'{"sid":2,"type":"ticker"}', False),
    ],
)
def test_may_be_trade_is_true_for_every_trade_frame(raw, trade):
    from kalshi_cli.trade_mark import may_be_trade

    assert may_be_trade(raw) is trade
