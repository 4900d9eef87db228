"""``RecordHandler.on_data``: every frame written once with its ``recv_ts_ms`` spliced in, byte for
byte otherwise; trades (by the parsed type) through the backfill's dedupe, frames held while it runs."""

from __future__ import annotations

import orjson
import pytest

from kalshi_cli.protocol import Head
from kalshi_cli.recorder import RecordHandler, RecordWriter


async def no_trades(markets: list[str], since_ms: int) -> list[dict]:
    return []


def head_of(raw: bytes) -> Head:
    obj = orjson.loads(raw)
    return Head(obj["type"], obj.get("sid"), obj.get("seq"), None, obj)


TRADE = b'{"sid":3,"seq":1,"type":"trade","msg":{"trade_id":"t1","market_ticker":"KXA-1","ts_ms":1700000000000}}'
TICKER = b'{"type":"ticker","sid":2,"seq":1,"msg":{"note":"\\"trade\\""}}'
PRETTY = b'{\n  "type": "ticker",\n  "sid": 2,\n  "seq": 2\n}\n'


@pytest.mark.parametrize("path", ["passthrough", "on_data"])
def test_frames_are_spliced_and_trades_deduplicated(tmp_path, path):
    writer = RecordWriter(tmp_path)
    handler = RecordHandler(writer, now_ms=lambda: 1234, trades=no_trades)
    assert handler.passthrough is not None  # the session's fast path; on_data for frames off it
    deliver = handler.passthrough if path == "passthrough" else lambda raw: handler.on_data(raw, head_of(raw), None)
    for raw in (TRADE, TICKER, TRADE, PRETTY):
        deliver(raw)
    assert handler.trades is not None
    handler.trades.holding = True
    deliver(TICKER)
    writer.flush()
    assert writer.files[-1].read_bytes().splitlines() == [
        TRADE[:-1] + b',"recv_ts_ms":1234}',
        TICKER[:-1] + b',"recv_ts_ms":1234}',
        orjson.dumps({**orjson.loads(PRETTY), "recv_ts_ms": 1234}),
    ]
    handler.trades._release()
    writer.close()
    assert writer.files[-1].read_bytes().splitlines()[-1] == TICKER[:-1] + b',"recv_ts_ms":1234}'
    assert handler.frames == 4
