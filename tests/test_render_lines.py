"""The terminal lines of `kalshi tail`: one readable line per message, channel-aware."""

from __future__ import annotations

import json

import pytest

from kalshi_cli.protocol import DATA_TYPES
from kalshi_cli.render.lines import format_line
from tests.conftest import EXAMPLES


def line(name: str) -> str:
    return format_line(json.loads((EXAMPLES / name).read_text())).plain


def test_trade_shows_market_taker_side_price_and_size():
    text = line("trade.json")
    assert "TRADE" in text and "KXHIGHNY-26AUG28-B84.5" in text
    assert "taker NO" in text and "yes 0.4400" in text and "x 42.00" in text


def test_ticker_shows_bid_ask_last_volume():
    text = line("ticker.json")
    assert "bid 0.4300 x 95.50" in text and "ask 0.4500 x 60.00" in text
    assert "last 0.4400" in text and "vol 18422.00" in text and "oi 9311.00" in text


def test_book_frames():
    snap = line("orderbook_snapshot.json")
    assert "4 yes / 3 no levels" in snap and "bid 0.4400" in snap and "ask 0.4500" in snap
    delta = line("orderbook_delta_own_order.json")
    assert "your order" in delta


def test_private_frames():
    assert "42.00 @ yes 0.4400" in line("fill.json") and "maker" in line("fill.json")
    assert "pos 142.00" in line("market_positions.json")
    assert "resting" in line("user_order.json") and "filled 42.00/100.00" in line("user_order.json")
    assert "created" in line("market_lifecycle_v2.json")


DATA_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json") if json.loads(p.read_text()).get("type") in DATA_TYPES)


@pytest.mark.parametrize("path", DATA_EXAMPLES)
def test_every_data_example_renders_on_one_line(path):
    frame = json.loads((EXAMPLES / path).read_text())
    text = format_line(frame).plain
    assert "\n" not in text and frame["type"].upper() in text


def test_json_lines_stay_one_line_per_frame():
    import io

    from kalshi_cli.feeds.tail import TailHandler
    from kalshi_cli.output import LineWriter
    from kalshi_cli.protocol import read_head
    from kalshi_cli.session import Subscription
    from kalshi_cli.sinks import NdjsonSink

    buf = io.BytesIO()
    handler = TailHandler(NdjsonSink(LineWriter(buf, flush_each=True)), count=None)
    sub = Subscription("trade")
    frames = [
        b'{"type":"trade","sid":1,"seq":1,"msg":{"a":"1"}}',
        b'{"type":"trade","sid":1,"seq":2,"msg":{"a":"2"}}\n',
        b'{\n  "type": "trade",\n  "sid": 1,\n  "seq": 3,\n  "msg": {"a": "3"}\n}',
    ]
    for raw in frames:
        handler.on_data(raw, read_head(raw), sub)
    assert buf.getvalue().splitlines() == [
        frames[0],
        frames[1].strip(),
        b'{"type":"trade","sid":1,"seq":3,"msg":{"a":"3"}}',
    ]
