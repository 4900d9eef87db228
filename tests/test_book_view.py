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
    assert TICKER in text and "STALE" not in text
    # YES asks implied from NO bids (1 - 0.49 = 0.51 for 800), highest ask on top, bids below.
    order = [text.index(f" {p} ") for p in ("0.5100", "0.4700", "0.4500", "0.4400", "0.4300", "0.4100", "0.3800")]
    assert order == sorted(order)
    assert "ask" in row_of(text, "0.5100") and "800.00" in row_of(text, "0.5100")
    assert "bid" in row_of(text, "0.3800") and "1250.00" in row_of(text, "0.3800")
    assert "spread" in text and "0.0100" in text and "mid 0.4450" in text
    assert "bid 42.00@0.4400" in text and "ask 60.00@0.4500" in text
    assert "last 42.00@0.4400" in text and "vol 18422.00" in text and "OI 9311.00" in text


def test_panel_bars_are_proportional_to_size():
    text = render(book_panel(story_books().book(TICKER)))
    bar = {p: row_of(text, p).count("█") for p in ("0.3800", "0.4100", "0.4400")}
    assert bar["0.3800"] > bar["0.4100"] > bar["0.4400"]


def test_panel_depth_limits_levels():
    text = render(book_panel(story_books().book(TICKER), depth=1))
    assert " 0.4400 " in text and " 0.4500 " in text
    assert " 0.3800 " not in text and " 0.5100 " not in text


def test_stale_book_is_labelled_with_its_reason():
    books = story_books()
    books.mark_sid_stale(1, "seq gap on sid 1 (3 missing)")
    text = render(book_panel(books.book(TICKER)))
    assert "STALE" in text and "seq gap on sid 1 (3 missing)" in text


def test_awaiting_book_is_labelled():
    text = render(book_panel(OrderBook("KXNEW-1")))
    assert "AWAITING SNAPSHOT" in text and "KXNEW-1" in text


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
    for count in (1, 2, 5):
        books = many_books(count)
        screen = book_screen(books.books, {}, ViewStats(), depth=10, width=80, height=24, now=0.0)
        lines = render(screen, width=80, height=24).splitlines()
        assert len(lines) <= 24, (count, len(lines))
        assert max(len(line) for line in lines) <= 80
        assert "…" not in "\n".join(lines[:-1])  # nothing in the panels is cut off
    assert "+1 more: KXMKT-4" in "\n".join(lines)


def test_screen_puts_markets_side_by_side_when_wide():
    books = many_books(3)
    text = render(book_screen(books.books, {}, ViewStats(), depth=10, width=160, height=50, now=0.0), width=160)
    first = text.splitlines()[0]
    assert "KXMKT-0" in first and "KXMKT-1" in first and "KXMKT-2" in first
    assert " 0.2900 " in text and " 0.1000 " not in text  # depth 10 keeps the 10 best bids


def test_screen_with_no_books():
    assert "no markets yet" in render(book_screen([], {}, ViewStats(), depth=10, width=80, height=24, now=0.0))
