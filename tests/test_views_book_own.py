"""``kalshi book`` marks the signed-in user's resting orders; a refused ``user_orders`` leaves the
public book alone. The real CLI on a pty, drawn by the emulator; the marks' logic fed data."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from kalshi_cli.feeds.own_orders import OwnOrders, marks_of
from kalshi_cli.fixed import parse_price
from tests.conftest import ROOT, signed_args
from tests.hostile import HostileConn, HostileServer
from tests.test_views_cli import run_on_pty

SNAPSHOT = json.loads((ROOT / "tests/data/protocol_examples/orderbook_snapshot.json").read_text())
ORDER = json.loads((ROOT / "tests/data/protocol_examples/user_order.json").read_text())["msg"]
TICKER = SNAPSHOT["msg"]["market_ticker"]


def order(order_id: str, price: str, book_side: str, status: str = "resting", **extra: Any) -> dict[str, Any]:
    fields = {"order_id": order_id, "yes_price_dollars": price, "book_side": book_side, "status": status}
    return {**ORDER, **fields, **extra}


def test_marks_put_bids_and_asks_at_their_yes_prices() -> None:
    marks = marks_of([order("a", "0.4400", "bid"), order("b", "0.5600", "ask"), order("c", "bad", "bid")])
    assert marks == {ORDER["ticker"]: (frozenset({parse_price("0.44")}), frozenset({parse_price("0.56")}))}


def test_older_frames_without_book_side_use_the_outcome_side() -> None:
    msg = {k: v for k, v in order("a", "0.3000", "bid", outcome_side="no").items() if k != "book_side"}
    assert marks_of([msg]) == {ORDER["ticker"]: (frozenset(), frozenset({parse_price("0.30")}))}


def test_the_stream_wins_over_an_older_rest_seed_and_finished_orders_go() -> None:
    published: list[dict[str, Any]] = []
    own = OwnOrders([ORDER["ticker"]], published.append)
    own.update(order("a", "0.4400", "bid", status="canceled"))  # the stream: canceled meanwhile
    own.update(order("b", "0.4000", "bid"))
    own.seed([order("a", "0.4400", "bid"), order("c", "0.6000", "ask"), order("d", "0.2", "bid", ticker="OTHER")])
    assert published[-1] == {ORDER["ticker"]: (frozenset({parse_price("0.40")}), frozenset({parse_price("0.60")}))}
    own.update(order("b", "0.4000", "bid", status="executed"))
    own.update(order("c", "0.6000", "ask", status="canceled"))
    assert published[-1] == {} and own.seen is None  # nothing kept once seeded


@pytest.mark.slow
def test_the_sims_resting_orders_are_marked_on_the_ladder() -> None:
    status, term, _ = run_on_pty(
        ["book", "--sim"], 80, 24, keys=b"q", until=lambda t: t.text().count("LIVE") >= 3 and "•" in t.text()
    )
    assert status == 0
    term.fits()
    y, x = term.find("•")
    assert term.screen.display[y][x - 1].isdigit()  # right after a level's price


@pytest.mark.slow
def test_a_refused_user_orders_drops_the_marks_with_one_warning(keys: Any) -> None:
    """Error 9 on ``user_orders`` (a key without the entitlement) ends only the marks' session."""
    refused = asyncio.Event()

    async def script(conn: HostileConn) -> None:
        await conn.handshake()  # REST calls get a 404: no REST API here
        while True:
            cmd = await conn.recv_json()
            channels = cmd.get("params", {}).get("channels", [])
            if cmd.get("cmd") != "subscribe":
                continue
            if "user_orders" in channels:
                error = {"id": cmd["id"], "type": "error", "msg": {"code": 9, "msg": "Authentication required"}}
                await conn.send_text(json.dumps(error))
                refused.set()
                continue
            sids = await conn.ack_subscribe(cmd)
            if "orderbook_delta" in sids:
                await refused.wait()  # the book shows only after the refusal, so the warning is in
                await conn.send_text(json.dumps({**SNAPSHOT, "sid": sids["orderbook_delta"]}))

    with HostileServer(script) as server, tempfile.TemporaryDirectory() as tmp:
        err_path = Path(tmp) / "stderr"
        with err_path.open("w") as err:
            status, term, _ = run_on_pty(
                ["book", *signed_args(keys, server.url), TICKER],
                80,
                24,
                keys=b"q",
                until=lambda t: "LIVE" in t.text(),
                stderr=err,
            )
        stderr = err_path.read_text()
    assert status == 0
    term.fits()
    assert "44" in term.text() and "•" not in term.text()  # the public book, unmarked
    warnings = [line for line in stderr.splitlines() if "not marked" in line]
    assert len(warnings) == 1 and "authentication" in warnings[0].lower(), stderr


@pytest.mark.slow
def test_dollars_and_stack_layout_reach_the_view() -> None:
    status, term, _ = run_on_pty(["book", "--sim", "--once", "--dollars", "--layout", "stack"], 80, 60)
    assert status == 0
    term.fits()
    rows = [y for y, line in enumerate(term.lines()) if "LIVE" in line]
    assert len(rows) == 3  # one market per row of panels, not side by side
    assert "$" in term.text() and "0." in term.text()  # the exchange's dollar prices, not cents


@pytest.mark.parametrize(
    ("fields", "shown"),
    [({"taker_outcome_side": "no", "taker_side": "yes"}, "NO"), ({"taker_side": "yes"}, "YES"), ({}, None)],
)
def test_the_ladders_last_trade_shows_the_taker_side(fields: dict[str, str], shown: str | None) -> None:
    from kalshi_cli.market_stats import MarketStats
    from kalshi_cli.render.ladder import last_trade

    trade = json.loads((ROOT / "tests/data/protocol_examples/trade.json").read_text())["msg"]
    trade = {k: v for k, v in trade.items() if k not in ("taker_outcome_side", "taker_side")}
    stats = MarketStats(trade["market_ticker"])
    stats.update_from_trade({**trade, **fields})
    texts = [f.text for f in last_trade(stats, now_ms=None)]
    assert texts[0] == f"last {round(float(trade['yes_price_dollars']) * 100)}"
    assert (shown in texts) if shown else not {"YES", "NO"} & set(texts)
