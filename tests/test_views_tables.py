"""Fills, positions and orders tables and the tail lines, drawn through a terminal emulator.

At 80x24 and 60x15: nothing past the edge, no number cut, the trader's wording (``sell YES``
at the YES price, ``buy NO`` at the NO price, a position of ``30 NO``), one title per table,
colours read from the emulator's cells.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from kalshi_cli.portfolio import FillTotals, rest_fill_frame, rest_order_frame, rest_position_frame
from kalshi_cli.render.fit import Column, fit_table
from kalshi_cli.render.lines import format_line
from kalshi_cli.render.portfolio import LiveTable, fills_view, money, orders_view, positions_view
from tests.conftest import EXAMPLES
from tests.views_term import CUT_NUMBER, Term

SIZES = [(80, 24), (60, 15)]


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / name).read_text())


def fills() -> tuple[list[dict[str, Any]], FillTotals]:
    ws = example("fill.json")["msg"]
    rest = [rest_fill_frame(r)["msg"] for r in example("rest/portfolio_fills.json")["fills"]]
    totals = FillTotals()
    rows = []
    for msg, backfill in [(m, True) for m in rest] + [(ws, False)]:
        rows.append({"msg": msg, "ms": msg.get("ts_ms"), "backfill": backfill, "post": totals.add(msg)})
    return rows, totals


def positions() -> dict[str, dict[str, Any]]:
    rows = [rest_position_frame(r)["msg"] for r in example("rest/portfolio_positions.json")["market_positions"]]
    return {r["market_ticker"]: r for r in rows}


def orders() -> dict[str, dict[str, Any]]:
    rows = [rest_order_frame(r)["msg"] for r in example("rest/portfolio_orders.json")["orders"]]
    return {r["order_id"]: r for r in rows}


async def show(term: Term, render: Any) -> Term:
    async with LiveTable(render, console=term.console) as view:
        view.draw()
        term.fits()
    return term


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_fills_fit_and_read_as_trades(width: int, height: int) -> None:
    rows, totals = fills()
    term = await show(Term(width, height), lambda h: fills_view(rows, totals, "live; 3 fills", h))
    text = term.text()
    assert text.count("Your fills") == 1 and text.count("Totals per market") == 1  # no duplicated title
    assert "sell YES" in text and "0.4600" in text  # the REST fill: sold YES at the YES price
    assert "buy YES" in text and "0.4400" in text
    assert "142 YES" in text  # the position after the live fill, as a holding
    for qty in ("42", "18"):
        assert f" {qty} " in text or f" {qty}\n" in text


async def test_fills_colour_buys_green_and_sells_red() -> None:
    rows, totals = fills()
    term = await show(Term(80, 24), lambda h: fills_view(rows, totals, "live", h))
    y, x = term.find("sell YES")
    assert term.cell(y, x).fg == "red"
    y, x = term.find("buy YES")
    assert term.cell(y, x).fg == "green"


async def test_the_last_table_stays_on_screen_after_exit() -> None:
    rows, totals = fills()
    term = Term(80, 24)
    async with LiveTable(lambda h: fills_view(rows, totals, "live", h), console=term.console) as view:
        view.draw()
    assert term.text().count("Your fills") == 1 and "sell YES" in term.text()


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_positions_fit_with_holdings_and_unrealized_pnl(width: int, height: int) -> None:
    rows = positions()
    marks = {"KXHIGHNY-26AUG28-B84.5": "0.4500", "KXHIGHNY-26AUG28-B86.5": "0.4000"}
    term = await show(Term(width, height), lambda h: positions_view(rows, "live", marks=marks))
    text = term.text()
    assert text.count("Your positions") == 1
    assert "142 YES" in text and "30 NO" in text and "-30" not in text
    assert "60.8800" in text  # cost, 4 places
    # 142 x 0.45 - 60.88 = +3.0200; 30 x (1 - 0.40) - 16.50 = +1.5000
    assert "+3.0200" in text and "+1.5000" in text


def test_positions_without_a_mark_have_no_unrealized_column() -> None:
    term = Term(80, 24)
    term.console.print(positions_view(positions(), "live"))
    assert "unreal" not in term.text() and "142 YES" in term.text()


@pytest.mark.parametrize(("width", "height"), SIZES)
async def test_orders_fit_and_show_each_sides_own_price(width: int, height: int) -> None:
    rows = orders()
    changes = ["14:05:12  filled    KXHIGHNY-26AUG28-B84.5 no @ 0.5600  filled 10.00 of 10.00, a long tail of words"]
    term = await show(Term(width, height), lambda h: orders_view(rows, changes, "live"))
    text = term.text()
    assert text.count("Your resting orders") == 1
    for msg in rows.values():
        side = msg["outcome_side"]
        yes = Decimal(msg["yes_price_dollars"])
        own = yes if side == "yes" else 1 - yes
        assert f"{own:.4f}" in text, (side, own, text)
    assert "filled 10.00 of 10.00" in text or width < 80  # a change line is cut at a word, never wrapped


def test_money_has_one_convention() -> None:
    assert [money(v) for v in ("0.181104", "60.88", "1.2450", None)] == ["0.1811", "60.8800", "1.2450", "—"]
    assert money("-3.15", sign=True) == "-3.1500" and money("0.5", sign=True) == "+0.5000"


def test_a_table_drops_its_least_useful_columns_never_a_digit() -> None:
    cols = [Column("market", shrink=True), Column("qty", right=True), Column("note", priority=2)]
    rows = [[("KXBTCD-26DEC2517-T106249.99", ""), ("123456.78", ""), ("a long remark here", "")]]
    for width in (80, 40, 30, 24):
        lines = [t.plain for t in fit_table(cols, rows, width)]
        assert all(len(line) <= width for line in lines), (width, lines)
        assert "123456.78" in lines[1] and not CUT_NUMBER.search(lines[1])
    assert "note" not in fit_table(cols, rows, 30)[0].plain and "note" in fit_table(cols, rows, 80)[0].plain


@pytest.mark.parametrize(("width", "height"), SIZES + [(120, 24)])
def test_tail_lines_fit_and_line_up(width: int, height: int) -> None:
    term = Term(width, height)
    names = ["trade.json", "ticker.json", "orderbook_delta.json", "fill.json", "user_order.json"]
    names.append("orderbook_snapshot.json")
    for name in names:
        term.console.print(format_line(example(name), width=width))
    term.fits()
    rows = [r for r in term.lines() if r]
    assert len(rows) == len(names)  # one screen line each: nothing wrapped
    assert len({r.index("KXHIG") for r in rows}) == 1
    y, x = term.find(" NO ")  # the trade's taker side
    assert term.cell(y, x + 1).fg == "red"


async def test_q_quits_a_table_view_as_it_does_the_book(monkeypatch: pytest.MonkeyPatch) -> None:
    """One key map for every live view: q read from a real terminal (a pty) in cbreak mode,
    and the terminal's mode restored afterwards."""
    import asyncio
    import os
    import pty
    import sys
    import termios

    master, slave = pty.openpty()
    with os.fdopen(slave, "r") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        before = termios.tcgetattr(slave)
        rows, totals = fills()
        term = Term(80, 24)
        async with LiveTable(lambda h: fills_view(rows, totals, "live", h), console=term.console) as view:
            assert view.reads_keys and termios.tcgetattr(slave) != before  # cbreak
            os.write(master, b"x")  # not a key of this view
            os.write(master, b"q")
            await asyncio.wait_for(view.quit_event.wait(), timeout=30)
            assert view.quit_requested
        assert termios.tcgetattr(slave) == before
    os.close(master)


def test_an_order_change_reads_at_its_own_sides_price() -> None:
    """The orders log said ``no @ 0.7600`` where 0.76 was the YES price."""
    from kalshi_cli.render.words import order_change

    msg = example("user_order.json")["msg"] | {"outcome_side": "no", "side": "no", "yes_price_dollars": "0.7600"}
    line = order_change(msg, "placed", "14:05:12")
    assert "buy NO @ 0.2400" in line and "0.7600" not in line
    assert "42/100, 58 left" in line and line.startswith("14:05:12  placed    KXHIGHNY…-B84.5 ")


def test_an_order_change_keeps_its_numbers_at_80_columns() -> None:
    """The log cut "0 of 80 filled, 80 left" to "0 of 80 …": the ticker gives way, then the id."""
    from kalshi_cli.render.ladder import clip_words
    from kalshi_cli.render.words import order_change

    base = example("user_order.json")["msg"]
    for what in ("placed", "partly filled", "canceled"):
        msg = base | {
            "ticker": "KXNBAGAME-26DEC25GSWMIA-MIA",
            "fill_count_fp": "1121.50",
            "initial_count_fp": "3600.00",
            "remaining_count_fp": "2478.50",
        }
        shown = clip_words(order_change(msg, what, "19:30:22"), 80)
        assert "1121.5/3600, 2478.5 left" in shown, shown


async def test_a_short_terminal_keeps_the_status_and_the_newest_lines() -> None:
    """At 60x15 ten changes and a dozen orders do not fit: the oldest changes and the last
    orders give way, counted, and the status line stays (it was cropped off the bottom)."""
    base = example("user_order.json")["msg"]
    rows = {f"o{i}": base | {"order_id": f"o{i}", "created_ts_ms": i} for i in range(12)}
    changes = [f"14:05:{i:02d}  placed    KXHIGHNY-26AUG28-B84.5 change number {i}" for i in range(10)]
    term = Term(60, 15)
    async with LiveTable(lambda h: orders_view(rows, changes, "live; all loaded"), console=term.console) as view:
        view.draw()
        term.fits()
        lines = [line for line in term.lines() if line]
        assert len(lines) <= 15 and lines[-1] == "live; all loaded"
        assert "change number 9" in term.text() and "change number 0" not in term.text()
        assert "more not shown)" in term.text()
