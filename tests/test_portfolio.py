"""REST → WS mappings against the reference examples, ``--since`` parsing, totals, profile edits."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kalshi_cli.commands.config import update_profile_text
from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.orders import describe_change
from kalshi_cli.portfolio import (
    FillTotals,
    fill_key,
    parse_since,
    parse_time_ms,
    rest_fill_frame,
    rest_order_frame,
    rest_position_frame,
)
from tests.conftest import EXAMPLES

REST = EXAMPLES / "rest"


def load(name: str):
    return json.loads((REST / name).read_text())


def test_rest_fill_maps_onto_the_example_ws_frame():
    row = load("portfolio_fills.json")["fills"][0]
    want = load("portfolio_fills_as_ws_fill.json")
    coids = {row["order_id"]: want["msg"]["client_order_id"]}
    got = rest_fill_frame(row, coids)
    assert got.pop("backfill") is True
    assert got == want
    assert list(got["msg"]) == list(want["msg"])  # same key order as the reference frame
    assert "sid" not in got and "post_position_fp" not in got["msg"]


def test_rest_fill_without_created_time_uses_ts_and_keys_match_ws():
    row = dict(load("portfolio_fills.json")["fills"][1])
    del row["created_time"]
    got = rest_fill_frame(row)["msg"]
    assert got["ts"] == row["ts"] and got["ts_ms"] == row["ts"] * 1000
    ws = json.loads((EXAMPLES / "fill.json").read_text())["msg"]
    assert fill_key(ws) == fill_key(load("portfolio_fills.json")["fills"][0])


def test_rest_fill_trims_extra_price_places_only_when_exact():
    row = {**load("portfolio_fills.json")["fills"][0], "yes_price_dollars": "0.440000", "subaccount_number": 2}
    msg = rest_fill_frame(row)["msg"]
    assert msg["yes_price_dollars"] == "0.4400" and msg["subaccount"] == 2
    row["yes_price_dollars"] = "0.44125"
    assert rest_fill_frame(row)["msg"]["yes_price_dollars"] == "0.44125"


def test_rest_position_maps_onto_the_ws_shape():
    row = load("portfolio_positions.json")["market_positions"][0]
    ws = json.loads((EXAMPLES / "market_positions.json").read_text())["msg"]
    got = rest_position_frame(row)
    assert got["seed"] is True and got["type"] == "market_position"
    for k, v in got["msg"].items():
        assert ws[k] == v
    flat = rest_position_frame({"ticker": "X", "position_fp": None, "market_exposure_dollars": None})
    assert flat["msg"]["position_fp"] == "0.00" and flat["msg"]["position_cost_dollars"] == "0.0000"


def test_rest_order_maps_onto_the_ws_shape():
    row = load("portfolio_orders.json")["orders"][1]
    ws = json.loads((EXAMPLES / "user_order.json").read_text())["msg"]
    got = rest_order_frame(row)["msg"]
    for k, v in got.items():
        assert ws.get(k, v) == v, k
    assert set(got) - set(ws) == {"expiration_time"}  # deprecated twin of expiration_ts_ms, optional on WS
    missing = set(ws) - set(got)
    assert missing == {"last_update_reason"}  # the one field REST does not have (REST.md §5.3)


@pytest.mark.parametrize(
    "text, ms",
    [
        ("2026-08-28T14:05:12.345Z", 1787925912345),
        ("2026-08-28T14:05:12.3456789Z", 1787925912345),
        ("2026-08-28T16:05:12+02:00", 1787925912000),
        ("nonsense", None),
        (None, None),
    ],
)
def test_parse_time_ms(text, ms):
    assert parse_time_ms(text) == ms


def test_parse_since():
    now = 1_787_925_912_345
    assert parse_since("1h", now) == now - 3_600_000
    assert parse_since("1h30m", now) == now - 5_400_000
    assert parse_since("90s", now) == now - 90_000
    assert parse_since("2d", now) == now - 172_800_000
    assert parse_since("1787925912345", now) == 1787925912345
    assert parse_since("1787925912", now) == 1787925912000
    assert parse_since("2026-08-28T14:05:12Z", now) == 1787925912000
    local = datetime(2026, 8, 28, 14, 5, 12).astimezone()
    assert parse_since("2026-08-28T14:05:12", now) == int(local.timestamp() * 1000)
    with pytest.raises(UsageError, match="--since 'yesterday'"):
        parse_since("yesterday", now)
    assert datetime.fromtimestamp(parse_since("2026-08-28", now) / 1000).date().isoformat() == "2026-08-28"
    assert UTC


@pytest.mark.parametrize(
    "text", ["", "   ", "9" * 40, "9" * 400, "1e400d", "99999999999999999999d", "9999-12-31T23:59:59-14:00"]
)
def test_parse_since_refuses_empty_and_out_of_range_times(text):
    # '' used to be ignored; a huge number ended in "internal error: OverflowError"
    with pytest.raises(UsageError, match="--since"):
        parse_since(text, 1_787_925_912_345)


def test_totals_follow_positions_and_averages():
    totals = FillTotals()
    ws = json.loads((EXAMPLES / "fill.json").read_text())["msg"]
    back = rest_fill_frame(load("portfolio_fills.json")["fills"][1])["msg"]  # sell yes 18 @ 0.46
    assert totals.add(back) is None
    t = totals.markets[ws["market_ticker"]]
    assert t.position is None and t.delta == Decimal(-18) and t.sold == 18
    assert totals.add(ws) == Decimal("142.00")
    assert t.position == Decimal("142.00") and t.bought == 42 and t.fills == 2
    assert t.average_yes_price == (Decimal(18) * Decimal("0.46") + Decimal(42) * Decimal("0.44")) / 60
    assert t.fees == Decimal("0.501104")


def test_describe_change():
    base = {
        "status": "resting",
        "fill_count_fp": "0.00",
        "yes_price_dollars": "0.44",
        "initial_count_fp": "10.00",
        "remaining_count_fp": "10.00",
    }
    assert describe_change(None, base) == "placed"
    assert describe_change(base, {**base, "fill_count_fp": "4.00", "remaining_count_fp": "6.00"}) == "partly filled"
    assert describe_change(base, {**base, "status": "executed"}) == "filled"
    assert describe_change(base, {**base, "status": "canceled"}) == "canceled"
    assert describe_change(base, {**base, "yes_price_dollars": "0.45"}) == "amended"


def test_update_profile_text_keeps_everything_else():
    text = (
        '# my settings\n[default]\nkey_id = "old"\nprivate_key_path = "/old.key"\n\n'
        '[demo]\nkey_id = "d"\nenv = "demo"\n'
    )
    new = update_profile_text(text, "default", {"key_id": "new", "private_key_path": '/new "q".key'})
    data = tomllib.loads(new)
    assert data["default"] == {"key_id": "new", "private_key_path": '/new "q".key'}
    assert data["demo"] == {"key_id": "d", "env": "demo"}
    assert new.startswith("# my settings\n")
    added = update_profile_text(new, "work", {"key_id": "w", "private_key_path": "/w.key"})
    assert tomllib.loads(added)["work"]["key_id"] == "w" and tomllib.loads(added)["demo"]["env"] == "demo"
    assert tomllib.loads(update_profile_text("", "default", {"key_id": "k"})) == {"default": {"key_id": "k"}}
