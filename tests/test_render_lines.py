"""The terminal lines of `kalshi tail`: one readable line per message, channel-aware."""

from __future__ import annotations

import json
import re

import pytest

from kalshi_cli.protocol import DATA_TYPES
from kalshi_cli.render.lines import TAGS, format_line, ticker_width
from tests.conftest import EXAMPLES


def frame(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def line(name: str, width: int = 80) -> str:
    return format_line(frame(name), width=width).plain


def test_trade_shows_market_taker_side_price_and_size():
    text = line("trade.json")
    assert "TRADE" in text and "KXHIGHNY-26AUG28-B84.5" in text
    assert " NO " in text and "yes 0.4400" in text and "x    42.00" in text


def test_ticker_shows_bid_ask_last_volume():
    wide = line("ticker.json", 160)
    assert "0.4300 x95.50 / 0.4500 x60.00" in wide
    assert "last 0.4400" in wide and "vol 18422.00" in wide and "oi 9311.00" in wide
    narrow = line("ticker.json")  # at 80 the quote and the last trade stay, the rest goes whole
    assert "0.4300" in narrow and "0.4500" in narrow and "last 0.4400" in narrow and "oi" not in narrow


def test_book_frames():
    snap = line("orderbook_snapshot.json")
    assert "bid 0.4400" in snap and "ask 0.4500" in snap
    assert "4 yes / 3 no levels" in line("orderbook_snapshot.json", 140)
    assert "yours c0a8012e-mm-000417" in line("orderbook_delta_own_order.json", 140)


def test_private_frames():
    fill = line("fill.json", 140)
    assert "buy   YES 42.00 @ 0.4400" in fill and "maker" in fill and "pos 142.00" in fill
    assert "pos 142.00" in line("market_positions.json")
    order = line("user_order.json", 140)
    assert "resting" in order and "filled 42.00/100.00" in order
    assert "created" in line("market_lifecycle_v2.json")


def test_a_no_fill_and_a_no_order_show_the_no_price():
    """Buying NO at yes 0.4400 costs 0.5600: the line shows what the side itself cost."""
    fill = frame("fill.json")
    fill["msg"].update(outcome_side="no", purchased_side="no", side="no", book_side="ask")
    assert "buy   NO  42.00 @ 0.5600" in format_line(fill).plain
    fill["msg"].update(side="yes", action="sell")  # selling YES also moves the outcome to NO
    assert "sell  YES 42.00 @ 0.4400" in format_line(fill).plain
    order = frame("user_order.json")
    order["msg"].update(outcome_side="no", side="no", book_side="ask")
    assert "buy  NO  @ 0.5600" in format_line(order).plain


DATA_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("*.json") if json.loads(p.read_text()).get("type") in DATA_TYPES)


@pytest.mark.parametrize("path", DATA_EXAMPLES)
def test_every_data_example_fits_80_and_60_columns(path):
    data = frame(path)
    for width in (80, 60, 200):
        text = format_line(data, width=width).plain
        assert "\n" not in text and len(text) <= width, (width, text)
        assert TAGS.get(data["type"], data["type"][:5].upper()) in text
        assert not re.search(r"\d…|…\d", text), text  # no number cut


def test_columns_line_up_and_tickers_are_whole_when_wide():
    names = ["trade.json", "ticker.json", "orderbook_delta.json", "fill.json", "user_order.json"]
    for width in (60, 80, 120):
        lines = [line(n, width) for n in names]
        assert len({text.index("KX") for text in lines}) == 1  # the ticker column
        fields_at = 12 + 1 + 5 + 1 + ticker_width(width) + 2
        assert all("42" in text for text in lines[:1])
        assert all(text[fields_at - 2 : fields_at] == "  " and text[fields_at] != " " for text in lines), lines
    long = frame("multivariate_market_lifecycle.json")
    ticker = long["msg"]["market_ticker"]
    assert ticker in format_line(long, width=120).plain
    short = format_line(long, width=80).plain
    assert ticker not in short and ticker[-11:] in short and "…" in short  # the tail is kept


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
