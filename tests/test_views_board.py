"""The board of ``kalshi book EVENT`` as a trader sees it (pyte, see views_term), and the real
command on a pty: a row per strike, sorted, nothing cut at 80x24 or 60x15, Enter or a number
opens a market's ladder and b/Esc goes back."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable

import pytest

from kalshi_cli.book import OrderBook
from kalshi_cli.render.board import board_order, strike_key, visible_rows
from kalshi_cli.render.board_live import BoardLiveView, pick_view
from kalshi_cli.render.live import BookLiveView
from kalshi_cli.render.looplive import split_keys
from tests.conftest import ROOT, cli_env, signed_args
from tests.test_views_book import fed
from tests.views_term import Term

EVENT = "KXHIGHNY-26NOV25"
STRIKES = [f"{EVENT}-B{t}.5" for t in (61, 53, 47, 55, 49, 59, 51, 57, 45)]  # nine, out of order
INFO = {t: {"ticker": t, "yes_sub_title": f"{t.rsplit('B', 1)[1][:-2]}° to {int(t[-4:-2]) + 1}°"} for t in STRIKES}
DOWN, ENTER = b"\x1b[B", b"\r"


def board(term: Term, tickers: list[str], **kwargs) -> BoardLiveView:
    return BoardLiveView(
        fed(tickers), board_order(tickers, INFO), info=INFO, title=EVENT, console=term.console, **kwargs
    )


def rows(term: Term) -> list[str]:
    """The strikes on screen, top to bottom."""
    return [line.split()[1] for line in term.lines() if line.strip()[:1].isdigit() and "-" not in line.split()[0]]


@pytest.mark.parametrize(("width", "height"), [(80, 24), (60, 15)])
async def test_the_board_fits_with_every_strike_in_order(width: int, height: int) -> None:
    term = Term(width, height)
    view = board(term, STRIKES)
    async with view:
        view.draw()
        term.fits()
    text = term.text()
    shown = rows(term)
    expected = [t.rsplit("-", 1)[1] for t in sorted(STRIKES, key=lambda t: float(t.rsplit("B", 1)[1]))]
    assert shown == expected[: len(shown)] and len(shown) == min(len(STRIKES), height - 3)
    assert text.count(" 41 ") >= len(shown) and text.count(" 49 ") >= len(shown)  # bid and ask of each, in cents
    assert EVENT in term.lines()[0] and "bid" in text and "ask" in text
    assert len([line for line in term.lines() if line]) <= height
    if width >= 80:
        assert "45° to 46°" in text  # the YES label, where there is room


async def test_the_highlighted_row_moves_and_enter_opens_its_ladder_and_b_goes_back() -> None:
    term = Term(80, 24)
    view = board(term, STRIKES)
    async with view:
        view.draw()
        first = term.find("B45.5")[0]
        assert term.cell(first, 3).reverse
        view.on_key(DOWN)
        view.on_key(DOWN)
        view.draw()
        assert term.cell(first + 2, 3).reverse and not term.cell(first, 3).reverse
        view.on_key(ENTER)
        view.draw()
        term.fits()
        assert f"{EVENT}-B49.5" in term.text() and "b: back to the board" in term.text()
        assert "LIVE" in term.text() and "spread" in term.text()  # the full ladder
        view.on_key(b"b")
        view.draw()
        term.fits()
        assert "strike" in term.text() and term.cell(first + 2, 3).reverse  # back, the same row highlighted


async def test_a_number_opens_that_row_at_once_or_after_enter() -> None:
    term = Term(80, 24)
    view = board(term, STRIKES)
    async with view:
        view.on_key(b"3")
        view.draw()
        assert view.opened == f"{EVENT}-B49.5" and "B49.5" in term.text()
        view.on_key(b"\x1b")  # Esc: back
        assert view.opened is None
    many = [f"KXBTCD-26DEC2517-T{100000 + 250 * i}.99" for i in range(14)]
    view = BoardLiveView(fed(many), board_order(many, {}), console=Term(60, 15).console)
    async with view:
        view.on_key(b"1")
        assert view.opened is None and view.typed == "1"  # 1 could start 10..14
        view.draw()
        view.on_key(b"2")
        assert view.opened == many[11]
        view.back()
        view.on_key(b"1")
        view.on_key(ENTER)
        assert view.opened == many[0]
        view.back()
        view.on_key(b"9")
        view.on_key(b"9")  # no row 99: nothing opens, nothing is left typed
        assert view.opened == many[8]


async def test_rows_that_do_not_fit_scroll_with_the_selection() -> None:
    many = [f"KXBTCD-26DEC2517-T{100000 + 250 * i}.99" for i in range(30)]
    term = Term(60, 15)
    view = BoardLiveView(fed(many), board_order(many, {}), console=term.console)
    async with view:
        for _ in range(25):
            view.on_key(DOWN)
        view.draw()
        term.fits()
        assert "T106250.99" in term.text()  # row 26 is on screen
        assert "of 30" in term.lines()[0]
        view.on_key(b"\x1b[5~")  # PgUp
        view.draw()
        assert view.selected < 25


def test_strikes_sort_by_number_then_name() -> None:
    tickers = ["KXA-1-T10", "KXA-1-T9.5", "KXA-1-LAL", "KXA-1-T100", "KXA-1-BOS"]
    assert board_order(tickers, {}) == ["KXA-1-T9.5", "KXA-1-T10", "KXA-1-T100", "KXA-1-BOS", "KXA-1-LAL"]
    assert strike_key("KXA-1-X", {"floor_strike": 3}) < strike_key("KXA-1-T9.5", {})


def test_visible_rows_keep_the_selection_in_view() -> None:
    for count in (1, 5, 40):
        for room in (1, 3, 10):
            for selected in range(count):
                window = visible_rows(count, selected, room)
                assert selected in window and len(window) == min(count, room)
                assert window.start >= 0 and window.stop <= count


def test_arrow_keys_are_one_key_each() -> None:
    assert split_keys(b"\x1b[A\x1b[B2\r\x1bq\x1b[6~") == [b"\x1b[A", b"\x1b[B", b"2", b"\r", b"\x1b", b"q", b"\x1b[6~"]


def test_the_board_shows_for_an_event_or_many_markets() -> None:
    state = fed(STRIKES[:3])
    assert type(pick_view(state, STRIKES[:3], info={}, events=[])) is BookLiveView
    assert type(pick_view(state, STRIKES[:3], info={}, events=[EVENT])) is BoardLiveView
    assert type(pick_view(state, STRIKES[:7], info={}, events=[])) is BoardLiveView


async def test_a_book_not_yet_snapshotted_is_marked_not_priced() -> None:
    term = Term(80, 24)
    state = fed(STRIKES[:2])
    tickers = [*STRIKES[:2], f"{EVENT}-B99.5"]
    view = BoardLiveView(state, board_order(tickers, INFO), info=INFO, console=term.console)
    assert state.books.book(f"{EVENT}-B99.5") is None or isinstance(state.books.book(f"{EVENT}-B99.5"), OrderBook)
    async with view:
        view.draw()
        term.fits()
    row = next(line for line in term.lines() if "B99.5" in line)
    assert "…" in row and " 41 " not in row


# --- the real command on a pty ------------------------------------------------------------------


def drive(args: list[str], steps: list[tuple[Callable[[Term], bool], bytes]], width: int = 80, height: int = 24):
    """Run ``kalshi ARGS`` on a pty; at each step wait until the screen satisfies the test, then type."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    term = Term(width, height)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env=cli_env(TERM="xterm", COLUMNS=str(width), LINES=str(height)),
        cwd=ROOT,
    )
    os.close(slave)
    decode = codecs.getincrementaldecoder("utf-8")("replace").decode
    screens: list[str] = []
    deadline = time.monotonic() + 60
    pending = list(steps)
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            term.stream.feed(decode(data))
        if pending and pending[0][0](term):
            screens.append(term.text())
            os.write(master, pending.pop(0)[1])
    status = proc.wait(timeout=30)
    os.close(master)
    return status, screens, pending


def test_book_event_on_a_terminal_shows_the_board_opens_a_ladder_and_goes_back(keys, sim_factory):
    sim = sim_factory(rate=20, markets=5)
    event = sim.tickers[0].rsplit("-", 1)[0]
    mine = sorted((t for t in sim.tickers if t.startswith(event + "-")), key=lambda t: strike_key(t))
    assert len(mine) >= 2

    def on_board(term: Term) -> bool:
        return "strike" in term.text() and all(t.rsplit("-", 1)[1] in term.text() for t in mine)

    def on_ladder(term: Term) -> bool:
        return "b: back to the board" in term.text() and mine[1] in term.text() and "LIVE" in term.text()

    status, screens, left = drive(
        ["book", event, *signed_args(keys, sim.url)],
        [(lambda term: on_board(term) and "enter" in term.lines()[0], b"2"), (on_ladder, b"b"), (on_board, b"q")],
    )
    assert not left, screens
    assert status == 0
    assert "spread" in screens[1] and mine[0] not in screens[1]  # one market's full ladder
