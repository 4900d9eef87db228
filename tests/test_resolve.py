"""resolve.py, fed data: names and kalshi.com URLs read as tickers, other sites refused, the
closest known tickers found; hypothesis over generated tickers and URL shapes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.errors import UsageError
from kalshi_cli.resolve import closest, edit_distance, guess_kind, parse_name, parse_url
from kalshi_cli.status import ExitStatus

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
series_st = st.text(ALNUM, min_size=2, max_size=12).map(lambda s: "KX" + s)
part_st = st.text(ALNUM + ".", min_size=1, max_size=10).filter(lambda s: s[0] != ".")
slug_st = st.lists(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8), min_size=1, max_size=5).map("-".join)


@pytest.mark.parametrize(
    ("given_text", "ticker", "series_page"),
    [
        ("KXHIGHNY-26NOV25-B52.5", "KXHIGHNY-26NOV25-B52.5", False),
        ("kxhighny-26nov25-b52.5", "KXHIGHNY-26NOV25-B52.5", False),
        ("  kxbtcd-26dec2517  ", "KXBTCD-26DEC2517", False),
        ("https://kalshi.com/markets/kxhighny/highest-temperature-in-nyc/kxhighny-26nov25", "KXHIGHNY-26NOV25", False),
        ("https://kalshi.com/markets/kxhighny/kxhighny-26jan20", "KXHIGHNY-26JAN20", False),
        ("https://kalshi.com/markets/kxhighny/highest-temperature-in-nyc#kxhighny-25jun19", "KXHIGHNY-25JUN19", False),
        ("https://kalshi.com/markets/kxbtcd/KXBTCD-25DEC31-T100000", "KXBTCD-25DEC31-T100000", False),
        ("https://kalshi.com/markets/KXHIGHNY-24JAN01-T60", "KXHIGHNY-24JAN01-T60", False),
        ("https://www.kalshi.com/markets/kxhighny?ref=home", "KXHIGHNY", True),
        ("kalshi.com/markets/kxhighny/highest-temperature-in-nyc", "KXHIGHNY", True),
        ("https://demo.kalshi.co/markets/kxbtcd/bitcoin-price-abovebelow/kxbtcd-26dec2517", "KXBTCD-26DEC2517", False),
        ("HTTPS://KALSHI.COM/markets/kxethd", "KXETHD", True),
    ],
)
def test_names_and_pages_read_as_tickers(given_text: str, ticker: str, series_page: bool) -> None:
    name = parse_name(given_text)
    assert (name.ticker, name.series_page, name.given) == (ticker, series_page, given_text)
    assert name.from_url == ("kalshi" in given_text.lower())


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ("https://polymarket.com/event/fed-decision", "not a kalshi.com URL"),
        ("https://kalshi.com.evil.example/markets/kxhighny", "not a kalshi.com URL"),
        ("ftp://kalshi.com/markets/kxhighny", "not a kalshi.com URL"),
        ("https://example.com/?u=kalshi.com/markets/kxhighny", "not a kalshi.com URL"),
        ("https://kalshi.com/", "names no market"),
        ("https://kalshi.com/markets/", "names no market"),
        ("https://kalshi.com/markets/..%2F..%2Fportfolio", "names no market"),
        ("../../portfolio/balance", "not a Kalshi market ticker"),
        ("KX?status=open", "not a Kalshi market ticker"),
        ("", "not a Kalshi market ticker"),
        ("KX 1", "not a Kalshi market ticker"),
    ],
)
def test_what_is_no_name_is_one_usage_error(bad: str, needle: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_name(bad)
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert err.value.status == ExitStatus.USAGE


def test_a_refused_name_is_shown_short_and_printable() -> None:
    with pytest.raises(UsageError) as err:
        parse_name("https://polymarket.com/" + "x" * 500 + "\x1b[2J")
    text = str(err.value)
    assert "\x1b" not in text and len(text) < 250


@given(series=series_st, event=part_st, market=part_st)
def test_case_is_normalized(series: str, event: str, market: str) -> None:
    ticker = f"{series}-{event}-{market}"
    for spelled in (ticker, ticker.lower(), ticker.swapcase()):
        assert parse_name(spelled).ticker == ticker.upper()


@given(series=series_st, event=part_st, slug=slug_st, shape=st.sampled_from(["slug/event", "event", "fragment"]))
@settings(max_examples=200)
def test_an_event_page_names_its_event(series: str, event: str, slug: str, shape: str) -> None:
    event_ticker = f"{series}-{event}"
    low_series, low_event = series.lower(), event_ticker.lower()
    path = {
        "slug/event": f"/markets/{low_series}/{slug}/{low_event}",
        "event": f"/markets/{low_series}/{low_event}",
        "fragment": f"/markets/{low_series}/{slug}#{low_event}",
    }[shape]
    name = parse_url("https://kalshi.com" + path)
    assert (name.ticker, name.series_page) == (event_ticker.upper(), False)


@given(series=series_st, slug=slug_st)
def test_a_series_page_names_its_series(series: str, slug: str) -> None:
    name = parse_url(f"https://kalshi.com/markets/{series.lower()}/{slug}")
    assert (name.ticker, name.series_page) == (series.upper(), True)


@given(st.text(max_size=80))
@settings(max_examples=300)
def test_any_text_is_a_name_or_one_usage_error(text: str) -> None:
    try:
        name = parse_name(text)
    except UsageError as err:
        assert "\n" not in str(err)
    else:
        assert name.ticker == name.ticker.upper() and name.ticker
        assert all(ch.isalnum() or ch in "._-" for ch in name.ticker)


@given(host=st.sampled_from(["polymarket.com", "kalshi.co", "evilkalshi.com", "kalshi.com.example.org"]), path=slug_st)
def test_other_sites_are_refused(host: str, path: str) -> None:
    with pytest.raises(UsageError, match="not a kalshi.com URL"):
        parse_name(f"https://{host}/markets/{path}")


def test_guess_kind_follows_the_usual_shape() -> None:
    assert [guess_kind(t) for t in ("KXHIGHNY", "KXHIGHNY-26NOV25", "KXHIGHNY-26NOV25-B52.5")] == [
        "series",
        "event",
        "market",
    ]


@given(a=st.text("ABC-.1", max_size=12), b=st.text("ABC-.1", max_size=12))
def test_edit_distance_is_levenshtein_within_its_limit(a: str, b: str) -> None:
    def full(x: str, y: str) -> int:
        row = list(range(len(y) + 1))
        for i, cx in enumerate(x, 1):
            prev, row[0] = row[0], i
            for j, cy in enumerate(y, 1):
                prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (cx != cy))
        return row[-1]

    exact = full(a, b)
    for limit in (0, 1, 3, 12):
        got = edit_distance(a, b, limit)
        assert got == exact if exact <= limit else got == limit + 1


KNOWN = (
    [f"KXHIGHNY-26NOV25-B{t}.5" for t in range(40, 80)]
    + [f"KXBTCD-26DEC2517-T{k}.99" for k in range(90_000, 120_000, 10)]
    + ["KXHIGHNY-26NOV25", "KXBTCD-26DEC2517", "KXHIGHNY", "KXBTCD"]
)


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("KXHIGHNY-26NOV25-B52", "KXHIGHNY-26NOV25-B52.5"),  # a prefix of it
        ("KXHIGNY-26NOV25-B52.5", "KXHIGHNY-26NOV25-B52.5"),  # a typo in the series
        ("KXHIGHNY-26NOV25-B52.6", "KXHIGHNY-26NOV25-B52.5"),
        ("KXBTCD-26DEC2517-T97999.9", "KXBTCD-26DEC2517-T97990.99"),  # among 3,000 strikes of one event
        ("KXHIGHNY-26NOV26", "KXHIGHNY-26NOV25"),  # an event
        ("KXBTC", "KXBTCD"),  # a series
    ],
)
def test_closest_known_tickers(typed: str, first: str) -> None:
    found = closest(typed, KNOWN)
    assert found and found[0] == first, found
    assert len(found) <= 3 and typed.upper() not in found


def test_nothing_close_suggests_nothing() -> None:
    assert closest("ZZZZZZZZ-QQQQ", KNOWN) == []
    assert closest("KXHIGHNY-26NOV25-B52.5", []) == []
