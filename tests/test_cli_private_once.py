"""``positions`` and ``orders`` as a one-shot snapshot (``--once``), and ``q`` quitting their live
tables: the real CLI against the simulator, on a pty where it is a screen (issue 13 item 3)."""

from __future__ import annotations

import re

import orjson
import pytest

from tests.conftest import run_cli, signed_args
from tests.test_cli_private import step_until_fills
from tests.test_views_cli import run_on_pty


def test_orders_once_prints_the_resting_orders_as_seed_lines_and_exits(keys, sim_factory):
    sim = sim_factory(rate=0, markets=3)
    resting = {o["order_id"] for o in sim.call("exchange").orders() if o["status"] == "resting"}
    assert resting
    proc = run_cli(["orders", "--once", "--json", "-q", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    frames = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert all(f["seed"] is True and f["type"] == "user_order" for f in frames)
    assert {f["msg"]["order_id"] for f in frames} == resting


def test_positions_once_prints_the_positions_as_seed_lines_and_exits(keys, sim_factory):
    sim = sim_factory(rate=0, markets=3)
    step_until_fills(sim, 3)
    held = {p["market_ticker"]: p["position_fp"] for p in sim.call("exchange").positions()}
    assert held
    proc = run_cli(["positions", "--once", "--json", "-q", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    frames = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert all(f["seed"] is True and f["type"] == "market_position" for f in frames)
    assert {f["msg"]["market_ticker"]: f["msg"]["position_fp"] for f in frames} == held


@pytest.mark.slow
def test_orders_once_on_a_terminal_prints_the_table_once() -> None:
    status, term, raw = run_on_pty(["orders", "--sim", "--once"], 80, 24)
    assert status == 0
    term.fits()
    assert term.text().count("Your resting orders") == 1 and "buy " in term.text()
    assert b"\x1b[?1049h" not in raw  # no live screen for a one-shot table


@pytest.mark.slow
def test_q_quits_the_live_orders_table_whose_log_says_buy_or_sell_and_the_sides_price() -> None:
    change = re.compile(r"(placed|filled|partly filled|canceled|amended) +\S+ (buy|sell) (YES|NO) @ 0\.\d{4}")
    logged = lambda t: bool(change.search(t.text()))  # noqa: E731
    status, term, raw = run_on_pty(["orders", "--sim"], 80, 24, keys=b"q", until=logged)
    assert status == 0  # q ended it (the run would go on until the harness gave up otherwise)
    assert b"\x1b[?1049l" in raw  # the live screen was left
    assert "Your resting orders" in term.text()


@pytest.mark.slow
def test_q_quits_the_live_positions_table() -> None:
    status, _, raw = run_on_pty(
        ["positions", "--sim"], 80, 24, keys=b"q", until=lambda t: "Your positions" in t.text() and "live" in t.text()
    )
    assert status == 0 and b"\x1b[?1049l" in raw


def test_the_yes_mid_needs_both_sides() -> None:
    from decimal import Decimal

    from kalshi_cli.feeds.marks import yes_mid

    assert yes_mid({"yes_bid_dollars": "0.4400", "yes_ask_dollars": "0.4700"}) == Decimal("0.455")
    assert yes_mid({"yes_bid_dollars": "0.4400"}) is None and yes_mid({"yes_ask_dollars": "bad"}) is None


@pytest.mark.slow
def test_positions_are_marked_to_the_yes_mid() -> None:
    pnl = re.compile(r"[+-]\d+\.\d{4}")

    seen: list[list[str]] = []

    def marked(term) -> bool:
        rows = [line for line in term.lines() if line.startswith("KX")]
        header = next((line for line in term.lines() if line.startswith("market")), "")
        end = header.find("unreal.") + len("unreal.")  # the column is right-aligned under its name
        if end > len("unreal.") and any(pnl.fullmatch(row[end - 10 : end].strip()) for row in rows):
            seen.append(term.overflow())
            return True
        return False

    status, _, _ = run_on_pty(["positions", "--sim"], 80, 24, keys=b"q", until=marked)
    assert status == 0 and seen == [[]]  # q came once the column had a mark, and all fit 80 columns
