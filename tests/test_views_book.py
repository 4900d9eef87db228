"""The book screen as a trader sees it, drawn through a terminal emulator (see views_term).

At 80x24 and 60x15 (and wide): nothing past the edge, no number cut, the best bid and ask and
every market's state on screen, nothing left from an earlier frame, colours read from cells.
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest
from rich.console import Console

from kalshi_cli.bookset import BookSet
from kalshi_cli.market_stats import MarketStats
from kalshi_cli.render.book_view import ViewStats, book_screen
from kalshi_cli.render.ladder import cents
from kalshi_cli.render.live import BookLiveView, stdin_is_terminal
from tests.conftest import EXAMPLES
from tests.views_term import Term

TICKERS = ["KXETHD-26DEC2517-T3049.99", "KXBTCD-26DEC2517-T106249.99", "KXETHD-26DEC2517-T3624.99"]


def snapshot(ticker: str, levels: int = 12) -> dict[str, Any]:
    frame = json.loads((EXAMPLES / "orderbook_snapshot.json").read_text())
    msg = frame["msg"]
    msg["market_ticker"] = ticker
    msg["yes_dollars_fp"] = [[f"0.{30 + j:02d}00", f"{(j + 1) * 137.5:.2f}"] for j in range(levels)]  # best 0.41
    msg["no_dollars_fp"] = [[f"0.{40 + j:02d}00", f"{(j + 3) * 11:.2f}"] for j in range(levels)]  # best ask 0.49
    return frame


@dataclass
class FeedState:
    """What the book feed keeps and the view reads (the real BookSet and MarketStats)."""

    books: BookSet = field(default_factory=BookSet)
    markets: dict[str, MarketStats] = field(default_factory=dict)
    frames: int = 0
    last_frame_at: float | None = None
    depth: int | None = None
    session: Any = None
    own_orders: dict[str, tuple[set[int], set[int]]] | None = None


def fed(tickers: list[str], levels: int = 12) -> FeedState:
    state = FeedState()
    state.books.watch(1, tickers)
    for t in tickers:
        state.books.on_frame(snapshot(t, levels))
        stats = state.markets[t] = MarketStats(t)
        stats.update_from_ticker(json.loads((EXAMPLES / "ticker.json").read_text())["msg"])
        stats.update_from_trade(json.loads((EXAMPLES / "trade.json").read_text())["msg"])
    state.frames = len(tickers)
    return state


async def draw(term: Term, state: FeedState, markets: list[str], **kwargs: Any) -> BookLiveView:
    view = BookLiveView(state, markets, console=term.console, **kwargs)
    async with view:
        view.draw()
    return view


def best_rows(term: Term) -> tuple[int, int]:
    """Screen rows of the best ask (just above the spread row) and best bid (just below)."""
    y, _ = term.find("spread")
    return y - 1, y + 1


@pytest.mark.parametrize(("width", "height"), [(80, 24), (60, 15), (200, 50), (100, 30)])
async def test_three_markets_fit_with_quotes_and_state(width: int, height: int) -> None:
    term = Term(width, height)
    state = fed(TICKERS)
    view = BookLiveView(state, TICKERS, console=term.console)
    async with view:
        view.draw()
        term.fits()
        text = term.text()
        assert text.count("LIVE") == 3, text  # every market and its state
        assert text.count(" 41 ") >= 3 and text.count(" 49 ") >= 3  # best bid and ask of each, in cents
        assert "T3049.99" in text and "T106249.99" in text and "T3624.99" in text  # the tails stay
        assert "spread 8" in text or "sp 8" in text
        assert "streaming" in text or "connecting" in text  # the footer
        assert len([line for line in term.lines() if line]) <= height


async def test_levels_grow_with_the_height() -> None:
    small, tall = Term(80, 24), Term(80, 40)
    await draw(small, fed(TICKERS), TICKERS)
    await draw(tall, fed(TICKERS), TICKERS)
    assert small.text().count(" 35 ") < tall.text().count(" 35 ") or " 30 " in tall.text()
    assert " 30 " in tall.text()  # all 12 levels at 40 lines: 0.30 is the 12th bid


async def test_wide_terminal_puts_more_markets_side_by_side() -> None:
    tickers = [f"KXMKT-26DEC25-T{i}" for i in range(8)]
    term = Term(200, 50)
    await draw(term, fed(tickers, levels=5), tickers)
    term.fits()
    first = term.lines()[0]
    assert sum(t in first for t in tickers) >= 5, first  # a row of at least five panels
    assert term.text().count("LIVE") == 8


async def test_markets_that_do_not_fit_are_paged() -> None:
    tickers = [f"KXMKT-26DEC25-T{i}" for i in range(9)]
    term = Term(60, 15)
    state = fed(tickers, levels=3)
    view = BookLiveView(state, tickers, console=term.console)
    async with view:
        view.draw()
        term.fits()
        first = term.text()
        assert "page 1/" in first and "more" in first
        view.on_key(b" ")
        view.draw()
        term.fits()
        assert "page 2/" in term.text()
        assert term.text().count("LIVE") == 3 and "connecting" in term.lines()[-1] + term.text()
        panels = [first.split(" page ")[0], term.text().split(" page ")[0]]
        shown_first, shown_second = ({i for i in range(9) if f"-T{i} ─" in p} for p in panels)
        assert shown_first and shown_second and not shown_first & shown_second


async def test_best_quotes_are_highlighted_and_sides_coloured() -> None:
    term = Term(80, 24)
    await draw(term, fed(TICKERS[:1]), TICKERS[:1])
    ask_y, bid_y = best_rows(term)
    x = term.screen.display[bid_y].index("41")
    assert term.cell(bid_y, x).bg == "green" and term.cell(bid_y, x).bold
    x = term.screen.display[ask_y].index("49")
    assert term.cell(ask_y, x).bg == "red" and term.cell(ask_y, x).bold
    # the next levels: plain green / red text on the terminal's own background
    y = bid_y + 1
    x = term.screen.display[y].index("40")
    assert (term.cell(y, x).fg, term.cell(y, x).bg) == ("green", "default")
    y = ask_y - 1
    x = term.screen.display[y].index("50")
    assert (term.cell(y, x).fg, term.cell(y, x).bg) == ("red", "default")


async def test_stale_market_is_labelled_and_not_coloured_as_live() -> None:
    term = Term(80, 24)
    state = fed(TICKERS)
    state.books.mark_sid_stale(1, "seq gap on sid 1 (3 missing)")
    await draw(term, state, TICKERS)
    term.fits()
    text = term.text()
    assert text.count("STALE") == 3 and "LIVE" not in text
    y, x = term.find("STALE")
    assert term.cell(y, x).fg == "red"
    ask_y, bid_y = best_rows(term)
    x = term.screen.display[bid_y].index("41")
    assert term.cell(bid_y, x).fg == "default" and term.cell(bid_y, x).bg == "default"  # dimmed, not green


async def test_no_colour_leaves_every_cell_plain() -> None:
    term = Term(80, 24, color=False)
    await draw(term, fed(TICKERS), TICKERS)
    colours = {(c.fg, c.bg) for row in term.screen.buffer.values() for c in row.values()}
    assert colours <= {("default", "default")}


async def test_nothing_is_left_from_an_earlier_frame() -> None:
    term = Term(80, 24)
    state = FeedState()
    state.books.watch(1, TICKERS)
    view = BookLiveView(state, TICKERS, console=term.console)
    async with view:
        view.draw()
        assert term.text().count("AWAITING") == 3
        for t in TICKERS:
            state.books.on_frame(snapshot(t, levels=2))
        view.draw()
        assert "AWAITING" not in term.text() and term.text().count("LIVE") == 3
        for t in TICKERS:  # the books grow, then shrink back: no row of the deep one stays
            state.books.on_frame(snapshot(t, levels=12))
        view.draw()
        assert " 35 " in term.text()
        for t in TICKERS:
            state.books.on_frame(snapshot(t, levels=2))
        view.draw()
        term.fits()
        assert " 35 " not in term.text() and " 39 " not in term.text()


async def test_once_prints_only_the_final_screen() -> None:
    """``--once``: no half-loaded frame is drawn, so none can be left above the result."""
    term = Term(80, 24)
    state = FeedState()
    state.books.watch(1, TICKERS)
    async with BookLiveView(state, TICKERS, console=term.console, once=True) as view:
        view.draw()
        for t in TICKERS:
            state.books.on_frame(snapshot(t, levels=3))
    term.fits()
    assert "AWAITING" not in term.text() and term.text().count("LIVE") == 3


async def test_dollars_option_shows_the_exchange_prices() -> None:
    term = Term(100, 30)
    await draw(term, fed(TICKERS[:2]), TICKERS[:2], dollars=True)
    term.fits()
    assert "0.4100" in term.text() and "0.4900" in term.text() and "137.50" in term.text()


async def test_a_dumb_terminal_gets_plain_redraws(monkeypatch: pytest.MonkeyPatch) -> None:
    """``TERM=dumb``: no cursor tricks, the screen printed plainly (it printed nothing before)."""
    monkeypatch.setenv("TERM", "dumb")
    out = io.StringIO()
    console = Console(file=out, width=80, height=24, force_terminal=True)
    assert console.is_dumb_terminal
    state = fed(TICKERS)
    async with BookLiveView(state, TICKERS, console=console) as view:
        view.draw()
    text = out.getvalue()
    assert "\x1b[" not in text and text.count("LIVE") >= 3 and " 41 " in text


async def test_a_closed_stdin_is_no_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """``kalshi book --sim <&-`` left ``sys.stdin`` None and died on ``isatty``."""
    monkeypatch.setattr(sys, "stdin", None)
    assert not stdin_is_terminal()
    term = Term(80, 24)
    view = await draw(term, fed(TICKERS), TICKERS)
    assert term.text().count("LIVE") == 3 and not view.quit_requested


def test_cents_are_exact() -> None:
    values = (4500, 4550, 4525, 5, 0, 10000, -100)
    assert [cents(v) for v in values] == ["45", "45.5", "45.25", "0.05", "0", "100", "-1"]


def test_screen_without_markets() -> None:
    term = Term(80, 24)
    term.console.print(book_screen([], {}, ViewStats(), None, 80, 24))
    assert "no markets yet" in term.text()


async def test_own_resting_orders_are_marked_on_their_levels() -> None:
    term = Term(80, 24)
    state = fed(TICKERS[:1])
    state.own_orders = {TICKERS[0]: ({4000}, {5000})}  # a bid at 40 and an ask at 50 cents
    await draw(term, state, TICKERS[:1])
    term.fits()
    marked = [line for line in term.lines() if "•" in line]
    assert len(marked) == 2 and " 40•" in marked[1] and " 50•" in marked[0]
    y, x = term.find("40•")
    assert term.cell(y, x + 2).fg == "brown"  # pyte names SGR 33 (yellow) brown


async def test_stack_layout_puts_one_market_per_row() -> None:
    term = Term(120, 40)
    await draw(term, fed(TICKERS), TICKERS, layout="stack")
    term.fits()
    tops = [line for line in term.lines() if line.startswith("╭")]
    assert len(tops) == 3 and all(line.count("╭") == 1 for line in tops)
