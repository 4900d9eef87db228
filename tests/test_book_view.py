"""The book panel, footer and screen, rendered to plain text."""

from __future__ import annotations

import io
import json

from rich.console import Console

from kalshi_cli.book import OrderBook
from kalshi_cli.bookset import BookSet
from kalshi_cli.market_stats import MarketStats
from kalshi_cli.render.book_view import ViewStats, book_panel, book_screen, footer
from kalshi_cli.session import SessionState
from tests.conftest import EXAMPLES

TICKER = "KXHIGHNY-26AUG28-B84.5"


def load(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text())


def render(renderable, width: int = 100, height: int | None = None) -> str:
    console = Console(file=io.StringIO(), width=width, height=height, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def story_books() -> BookSet:
    books = BookSet()
    books.on_frame(load("orderbook_snapshot.json"))
    return books


def story_market() -> MarketStats:
    market = MarketStats()
    market.update_from_ticker(load("ticker.json")["msg"])
    return market


def row_of(text: str, price: str) -> str:
    return next(line for line in text.splitlines() if f" {price} " in line)


def test_panel_shows_ladder_quotes_and_market_stats():
    text = render(book_panel(story_books().book(TICKER), market=story_market()))
    assert TICKER in text and "STALE" not in text and "LIVE" in text
    # YES asks implied from NO bids (1 - 0.49 = 51 cents for 800), highest ask on top, bids below.
    order = [text.index(f" {p} ") for p in ("51", "47", "45", "44", "43", "41", "38")]
    assert order == sorted(order)
    assert "800" in row_of(text, "51") and "1250" in row_of(text, "38")
    assert "spread 1" in text and "mid 44.5" in text
    assert "last 44 ×42" in text and "vol 18422" in text and "OI 9311" in text


def test_cumulative_size_adds_up_from_the_touch():
    text = render(book_panel(story_books().book(TICKER)))
    # bids 44 x 42, 43 x 95.50, 41 x 310, 38 x 1250; asks 45 x 60, 47 x 150, 51 x 800
    assert row_of(text, "41").split()[1:4] == ["41", "310", "447.50"]
    assert row_of(text, "51").split()[1:4] == ["51", "800", "1010"]


def test_dollars_shows_the_exchange_strings():
    text = render(book_panel(story_books().book(TICKER), dollars=True))
    assert " 0.5100 " in text and " 800.00 " in text and "spread 0.0100" in text and "mid 0.4450" in text


def test_panel_bars_are_proportional_to_size():
    text = render(book_panel(story_books().book(TICKER)))
    bar = {p: row_of(text, p).count("█") for p in ("38", "41", "44")}
    assert bar["38"] > bar["41"] > bar["44"]


def test_panel_depth_limits_levels():
    text = render(book_panel(story_books().book(TICKER), depth=1))
    assert " 44 " in text and " 45 " in text
    assert " 38 " not in text and " 51 " not in text


def test_narrow_panels_drop_columns_never_digits():
    for width in (20, 24, 30, 48):
        lines = render(book_panel(story_books().book(TICKER), width=width), width=width).splitlines()
        assert max(len(line) for line in lines) <= width
        assert all(n in "\n".join(lines) for n in ("1250", "95.50", "800"))  # every size, whole


def test_stale_book_is_labelled_with_its_reason():
    books = story_books()
    books.mark_sid_stale(1, "seq gap on sid 1 (3 missing)")
    text = render(book_panel(books.book(TICKER)))
    assert "STALE" in text and "seq gap on sid 1 (3 missing)" in text


def test_awaiting_book_is_labelled():
    text = render(book_panel(OrderBook("KXNEW-1")))
    assert "AWAITING" in text and "waiting for the snapshot" in text and "KXNEW-1" in text


def test_market_stats_from_trade_and_legacy_messages():
    market = MarketStats()
    market.update_from_trade(load("trade.json")["msg"])
    assert (market.last_price, market.last_size, market.last_trade_ts_ms) == (4400, 4200, 1787925912345)
    legacy = MarketStats()
    legacy.update_from_ticker(load("legacy/ticker_legacy.json")["msg"])
    assert (legacy.last_price, legacy.volume, legacy.open_interest) == (4300, 1842200, 931100)
    legacy.update_from_trade(load("legacy/trade_legacy.json")["msg"])
    assert (legacy.last_price, legacy.last_size) == (4400, 4200)
    legacy.update_from_ticker({"price_dollars": "0.44001"})  # unreadable: keep what we had
    assert legacy.last_price == 4400


def test_footer_summarises_connection_and_books():
    books = story_books()
    books.watch(1, ["KXNEW-1"])
    stats = ViewStats(connection=SessionState.STREAMING, msg_rate=1234.4, last_update=100.0)
    stats.count_books(books)
    text = render(footer(stats, now=100.25))
    assert "streaming" in text and "1 live" in text and "0 stale" in text and "1 awaiting" in text
    assert "1,234 msg/s" in text and "250ms ago" in text and "resyncs 0" in text
    assert "no data yet" in render(footer(ViewStats()))


def test_a_narrow_footer_keeps_trouble_and_drops_the_rest():
    stats = ViewStats(connection=SessionState.RECONNECTING, books_live=1, books_stale=2, last_update=0.0)
    text = footer(stats, now=3.0, width=40).plain
    assert len(text) <= 40 and "reconnecting" in text and "2 stale" in text
    assert "msg/s" not in text and "resyncs" not in text


def test_a_healthy_footer_is_green_and_only_trouble_is_red():
    """The session's real states: STREAMING is drawn green, every other state red (it was all red)."""
    for state in SessionState:
        text = footer(ViewStats(connection=state), now=0.0)
        label = next(s for s in text.spans if text.plain[s.start : s.end].strip() == state.value)
        assert str(label.style) == ("bold green" if state is SessionState.STREAMING else "bold red"), state


def many_books(count: int) -> BookSet:
    books = BookSet()
    for i in range(count):
        frame = load("orderbook_snapshot.json")
        frame["msg"]["market_ticker"] = f"KXMKT-{i}"
        levels = [[f"0.{10 + j:02d}00", f"{j + 1}.00"] for j in range(20)]
        frame["msg"]["yes_dollars_fp"] = levels
        books.on_frame(frame)
    return books


def test_screen_fits_a_small_terminal():
    for count in (1, 2, 5, 12, 30):
        books = many_books(count)
        screen = book_screen(books.books, {}, ViewStats(), depth=10, width=80, height=24, now=0.0)
        lines = render(screen, width=80, height=24).splitlines()
        assert len(lines) <= 24, (count, len(lines))
        assert max(len(line) for line in lines) <= 80
        assert "…" not in "\n".join(lines[:-1])  # nothing in the panels is cut off
    assert "more: KXMKT-" in "\n".join(lines) and "page 1/" in "\n".join(lines)


def test_screen_puts_markets_side_by_side_when_wide():
    books = many_books(3)
    text = render(book_screen(books.books, {}, ViewStats(), depth=10, width=160, height=50, now=0.0), width=160)
    first = text.splitlines()[0]
    assert "KXMKT-0" in first and "KXMKT-1" in first and "KXMKT-2" in first
    assert "│ 20 " in text and "│ 19 " not in text  # depth 10 keeps the 10 best bids (29..20 cents)


def test_screen_uses_the_height_for_levels_when_depth_is_open():
    books = many_books(2)
    short = render(book_screen(books.books, {}, ViewStats(), None, 100, 16, now=0.0), width=100)
    tall = render(book_screen(books.books, {}, ViewStats(), None, 100, 60, now=0.0), width=100)
    assert "│ 10 " in tall and "│ 10 " not in short  # all 20 levels when there is room


def test_screen_with_no_books():
    assert "no markets yet" in render(book_screen([], {}, ViewStats(), depth=10, width=80, height=24, now=0.0))
