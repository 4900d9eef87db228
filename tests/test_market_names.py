"""market_names, fed data: what an answer expands to, and the one line when it cannot (the
simulator gives every market of an event the same status, so mixed events are tested here)."""

from __future__ import annotations

import pytest

from kalshi_cli.errors import UsageError
from kalshi_cli.market_names import SERIES_CAP, Answer, Resolved, expand, from_recording, unknown
from kalshi_cli.resolve import parse_name


def market(ticker: str, status: str = "active") -> dict[str, str]:
    return {"ticker": ticker, "event_ticker": ticker.rsplit("-", 1)[0], "status": status}


def run(name: str, answer: Answer, all_in_series: bool | None = False) -> tuple[Resolved, list[str]]:
    said: list[str] = []
    out = Resolved()
    expand(parse_name(name), answer, out, said.append, all_in_series)
    return out, said


def test_an_event_stands_for_its_open_markets_only() -> None:
    markets = [market("KXE-1-T1"), market("KXE-1-T2", "closed"), market("KXE-1-T3", "inactive")]
    out, said = run("kxe-1", Answer("event", markets))
    assert out.tickers == ["KXE-1-T1", "KXE-1-T3"] and out.events == ["KXE-1"]
    assert said == ["KXE-1: an event, 2 open markets of 3"]
    assert set(out.markets) == {"KXE-1-T1", "KXE-1-T3"}


def test_an_event_with_nothing_open_names_its_statuses_and_a_way_out() -> None:
    with pytest.raises(UsageError, match=r"event KXE-1 has no open markets \(2 markets: finalized\); name one"):
        run("KXE-1", Answer("event", [market("KXE-1-T1", "finalized"), market("KXE-1-T2", "finalized")]))


def test_a_series_needs_the_flag_where_the_command_has_one() -> None:
    markets = [market(f"KXS-{e}-T{i}") for e in range(6) for i in range(3)]
    with pytest.raises(UsageError) as err:
        run("KXS", Answer("series", markets, 6))
    assert "18 open markets in 6 open events; pass --all-in-series" in str(err.value)
    assert "KXS-0 (3), KXS-1 (3), KXS-2 (3), KXS-3 (3) and 2 more" in str(err.value)
    with pytest.raises(UsageError) as err:
        run("KXS", Answer("series", markets, 6), all_in_series=None)
    assert "--all-in-series" not in str(err.value) and "name an event" in str(err.value)
    out, said = run("KXS", Answer("series", markets, 6), all_in_series=True)
    assert len(out.tickers) == 18 and out.events == [f"KXS-{e}" for e in range(6)]
    assert said == ["KXS: a series, 18 open markets in 6 events"]


def test_a_series_over_the_cap_is_refused_even_with_the_flag() -> None:
    markets = [market(f"KXS-{e}-T{i}") for e in range(SERIES_CAP // 10 + 1) for i in range(10)]
    with pytest.raises(UsageError, match=f"more than the {SERIES_CAP} one command watches"):
        run("KXS", Answer("series", markets, SERIES_CAP // 10 + 1), all_in_series=True)


def test_a_one_market_event_named_like_its_market_is_that_market() -> None:
    out, said = run("KXSOLO", Answer("series", [market("KXSOLO")], 1))
    assert out.tickers == ["KXSOLO"] and not out.events and not said


def test_unknown_says_what_shape_and_the_nearest() -> None:
    assert unknown(parse_name("KXA-1-T5"), ["KXA-1-T50"]) == (
        "unknown market: KXA-1-T5 (no market, event or series has that ticker); did you mean KXA-1-T50?"
    )
    text = unknown(parse_name("https://kalshi.com/markets/kxnope"), [])
    assert text.startswith("unknown series: KXNOPE (from 'https://kalshi.com/markets/kxnope')")


def test_a_recording_expands_an_event_to_its_recorded_markets() -> None:
    recorded = ["KXE-1-T1", "KXE-1-T2", "KXF-2-A"]
    out = from_recording([parse_name(n) for n in ("kxe-1", "KXF-2-A", "KXG-3")], recorded)
    assert out.tickers == ["KXE-1-T1", "KXE-1-T2", "KXF-2-A", "KXG-3"] and out.events == ["KXE-1"]
