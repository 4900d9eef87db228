"""The pure parts of ``kalshi markets``: word matching, sorting, status words, and the table's fit."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.market_query import SORTS, close_ts, matcher, parse_status, sort_markets, spread, to_decimal
from kalshi_cli.render.markets_table import cents, closes_in, contracts, markets_table
from tests.views_term import CUT_NUMBER, Term

NOW = 1_796_000_000.0
prices = st.integers(0, 10_000).map(lambda c: f"{Decimal(c) / 10_000:.4f}")
counts = st.integers(0, 10**9).map(lambda c: f"{Decimal(c) / 100:.2f}")
strikes = st.sampled_from(["T106249.99", "B84.5", "MIA", "H0", "C25", "T3049.99"])
statuses = st.sampled_from(["active", "inactive", "initialized", "closed", "determined", "finalized"])


@st.composite
def market(draw) -> dict:
    series = draw(st.sampled_from(["KXBTCD", "KXHIGHNY", "KXNBAGAME", "KXINXU"]))
    event = f"{series}-26DEC{draw(st.integers(1, 28)):02d}"
    return {
        "ticker": f"{event}-{draw(strikes)}",
        "event_ticker": event,
        "title": draw(st.sampled_from(["Bitcoin price above $106,249.99 at 5pm EST?", "GSW at MIA winner?", ""])),
        "yes_sub_title": draw(st.sampled_from(["$106,249.99 or above", "84° to 85°", "MIA", ""])),
        "status": draw(statuses),
        "yes_bid_dollars": draw(prices),
        "yes_ask_dollars": draw(prices),
        "last_price_dollars": draw(prices),
        "volume_fp": draw(counts),
        "open_interest_fp": draw(counts),
        "close_time": f"2026-12-{draw(st.integers(1, 28)):02d}T{draw(st.integers(0, 23)):02d}:00:00Z",
    }


@given(st.lists(market(), max_size=30), st.sampled_from(SORTS))
def test_a_sort_is_a_permutation_in_its_order(markets: list[dict], sort: str) -> None:
    out = sort_markets(markets, sort)
    assert sorted(map(id, out)) == sorted(map(id, markets))
    key = {
        "volume": lambda m: -to_decimal(m["volume_fp"]),
        "open_interest": lambda m: -to_decimal(m["open_interest_fp"]),
        "close": close_ts,
        "spread": spread,
    }[sort]
    values = [key(m) for m in out]
    present = [v for v in values if v is not None]
    assert present == sorted(present) and values[: len(present)] == present  # missing values last


@given(
    st.lists(market(), max_size=20),
    st.lists(st.sampled_from(["btc", "KXBTCD", "mia", "85°", "zzz", "5PM"]), max_size=3),
)
def test_every_query_word_must_occur(markets: list[dict], words: list[str]) -> None:
    test = matcher(words)
    for m in markets:
        text = " ".join(str(m.get(k, "")) for k in ("ticker", "title", "yes_sub_title", "event_ticker")).lower()
        assert test(m) == all(w.lower() in text for w in words)


def test_status_words() -> None:
    assert parse_status("open") == "open" and parse_status("Closed, settled") == "closed,settled"
    assert parse_status("all") is None and parse_status("open,all") is None
    for bad in ("", "sideways", "open,nope"):
        with pytest.raises(ValueError):
            parse_status(bad)


def test_cells() -> None:
    assert cents("0.4200") == ("42¢", "") and cents("0.4250") == ("42.5¢", "") and cents("0.0000")[0] == "—"
    assert cents("1.0000", no_quote=Decimal(1))[0] == "—" and cents(None)[0] == "—"
    assert contracts("23715.00")[0] == "23,715" and contracts("1234567.00")[0] == "1.23M"
    assert (
        closes_in(
            {"status": "active", "close_time": "2026-12-01T03:12:00Z"}, close_ts({"close_time": "2026-12-01T00:00:00Z"})
        )[0]
        == "3h12m"
    )
    assert (
        closes_in({"status": "finalized"}, NOW)[0] == "settled"
        and closes_in({"status": "initialized"}, NOW)[0] == "unopened"
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(market(), min_size=1, max_size=12), st.sampled_from([40, 60, 80, 100, 132]))
def test_the_table_fits_and_never_cuts_a_number(markets: list[dict], width: int) -> None:
    term = Term(width, len(markets) + 2)
    for line in markets_table(markets, width, NOW):
        term.console.print(line)
    term.fits()
    for line in term.lines()[1 : len(markets) + 1]:
        assert not CUT_NUMBER.search(line), line
    tickers = [line.split()[0] for line in term.lines()[1 : len(markets) + 1]]
    if width >= 60:  # wide enough for the longest ticker: whole, as the user copies it
        assert tickers == [m["ticker"] for m in markets]
    else:
        assert all(re.fullmatch(r"KX[\w.…-]+", t) for t in tickers)
