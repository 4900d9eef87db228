"""Realistic, seed-determined market names (series-event-strike tickers and titles).

Clients print and filter by these, so they should look like Kalshi's: dots in strikes
(``B52.5``, ``T97999.99``) are deliberate, since real tickers break naive regexes. A caller
may also name markets (``spec_for``), so documented examples run against the simulator as
written; those come after the generated ones and never change a seed's story.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: The subtitle of a market named by the caller (``spec_for``): such markets always trade.
NAMED_SUBTITLE = "Named on the command line"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """Static description of one market."""

    ticker: str
    event_ticker: str
    series_ticker: str
    title: str
    subtitle: str


def _one(rng: random.Random, yy: int, mon: str, day: int) -> MarketSpec:
    date = f"{yy}{mon}{day:02d}"
    kind = rng.randrange(7)
    if kind == 0:
        t = rng.randint(35, 75)
        series, event, strike = "KXHIGHNY", f"KXHIGHNY-{date}", f"B{t}.5"
        title = f"Will the high temp in NYC be {t}-{t + 1}° on {mon.title()} {day}?"
    elif kind == 1:
        t = rng.randint(30, 70)
        series, event, strike = "KXHIGHCHI", f"KXHIGHCHI-{date}", f"T{t}"
        title = f"Will the high temp in Chicago be >{t}° on {mon.title()} {day}?"
    elif kind == 2:
        k = rng.randint(360, 480) * 250
        series, event, strike = "KXBTCD", f"KXBTCD-{date}17", f"T{k - 1}.99"
        title = f"Bitcoin price above ${k - 1:,}.99 at 5pm EST?"
    elif kind == 3:
        k = rng.randint(120, 180) * 25
        series, event, strike = "KXETHD", f"KXETHD-{date}17", f"T{k - 1}.99"
        title = f"Ethereum price above ${k - 1:,}.99 at 5pm EST?"
    elif kind == 4:
        strike = rng.choice(("H0", "C25", "C26", "H25"))
        series, event = "KXFEDDECISION", f"KXFEDDECISION-{yy}DEC"
        title = f"Fed decision in Dec 20{yy}: {strike}?"
    elif kind == 5:
        k = rng.randint(6500, 7100)
        series, event, strike = "KXINXU", f"KXINXU-{date}H1600", f"B{k}"
        title = f"S&P 500 between {k} and {k + 25} at 4pm EST?"
    else:
        home, away = rng.sample(("LAL", "BOS", "NYK", "GSW", "MIA", "DEN", "PHX", "CHI"), 2)
        series, event, strike = "KXNBAGAME", f"KXNBAGAME-{date}{away}{home}", home
        title = f"{away} at {home} winner?"
    return MarketSpec(f"{event}-{strike}", event, series, title, f"On {mon.title()} {day}, 20{yy}")


def make_specs(rng: random.Random, n: int) -> list[MarketSpec]:
    """``n`` distinct markets; the same ``rng`` state gives the same list."""
    yy, mon, day = 26, MONTHS[rng.randrange(10, 12)], rng.randint(1, 28)
    specs: dict[str, MarketSpec] = {}
    while len(specs) < n:
        # One day's events hold about 900 distinct markets; past 300, spread over other days too
        # (smaller catalogues are unchanged, so seeds keep their stories).
        spec = _one(rng, yy, mon, day if len(specs) < 300 else rng.randint(1, 28))
        specs.setdefault(spec.ticker, spec)
    return list(specs.values())


def spec_for(ticker: str) -> MarketSpec:
    """A market named by the caller: series and event read from ``SERIES-EVENT-STRIKE``.

    Raises ValueError for a name the exchange could not list (empty, spaces, lower case).
    """
    if not ticker or ticker != ticker.strip() or " " in ticker or ticker != ticker.upper():
        raise ValueError(f"not a market ticker: {ticker!r}")
    parts = ticker.split("-")
    event = "-".join(parts[:-1]) if len(parts) > 1 else ticker
    return MarketSpec(ticker, event, parts[0], f"Simulated market {ticker}", NAMED_SUBTITLE)


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """What ``GET /series/{ticker}`` tells about one series (and its events' titles)."""

    title: str
    category: str
    frequency: str
    event_title: str  # ``{when}`` is the market's subtitle date ("Dec 5, 2026")
    mutually_exclusive: bool


SERIES: dict[str, SeriesInfo] = {
    "KXHIGHNY": SeriesInfo(
        "Highest temperature in NYC", "Climate and Weather", "daily", "Highest temperature in NYC on {when}?", True
    ),
    "KXHIGHCHI": SeriesInfo(
        "Highest temperature in Chicago",
        "Climate and Weather",
        "daily",
        "Highest temperature in Chicago on {when}?",
        False,
    ),
    "KXBTCD": SeriesInfo(
        "Bitcoin price today at 5pm EST", "Crypto", "daily", "Bitcoin price on {when} at 5pm EST?", False
    ),
    "KXETHD": SeriesInfo(
        "Ethereum price today at 5pm EST", "Crypto", "daily", "Ethereum price on {when} at 5pm EST?", False
    ),
    "KXFEDDECISION": SeriesInfo("Fed rate decision", "Economics", "custom", "Fed decision in December?", True),
    "KXINXU": SeriesInfo(
        "S&P 500 range at 4pm EST", "Financials", "daily", "S&P 500 range on {when} at 4pm EST?", True
    ),
    "KXNBAGAME": SeriesInfo("Professional basketball game", "Sports", "custom", "Who wins the game on {when}?", True),
}


def series_info(series_ticker: str) -> SeriesInfo:
    """The series' description; a named market's unknown series gets a plain one."""
    found = SERIES.get(series_ticker)
    if found is not None:
        return found
    return SeriesInfo(f"Simulated series {series_ticker}", "Simulated", "custom", "Simulated event ({when})", False)


def event_title(spec: MarketSpec) -> str:
    """The title of ``spec``'s event, from its series and the date in its subtitle."""
    when = spec.subtitle.removeprefix("On ")
    return series_info(spec.series_ticker).event_title.format(when=when)


def strike_label(spec: MarketSpec) -> str:
    """The short YES label of a market (Kalshi's ``yes_sub_title``): the strike in words."""
    strike = spec.ticker.rsplit("-", 1)[-1]
    kind, number = strike[:1], strike[1:]
    series = spec.series_ticker
    try:
        value = float(number)
    except ValueError:
        return strike if spec.subtitle != NAMED_SUBTITLE else spec.ticker
    if series in ("KXHIGHNY", "KXHIGHCHI"):
        return f"{value - 0.5:.0f}° to {value + 0.5:.0f}°" if kind == "B" else f"above {number}°"
    if series in ("KXBTCD", "KXETHD"):
        return f"${value:,.2f} or above"
    if series == "KXFEDDECISION":
        return f"{'Hike' if kind == 'H' else 'Cut'} {number}bps"
    if series == "KXINXU":
        return f"{value:,.0f} to {value + 24.99:,.2f}"
    return strike


def ticker_listing(specs: list[MarketSpec], max_lines: int = 40) -> list[str]:
    """The markets grouped by event, for people: an event line, then its tickers indented.

    Past ``max_lines``, events show as one line each with their count; past that too, the
    rest is counted on a last line.
    """
    events: dict[str, list[MarketSpec]] = {}
    for spec in specs:
        events.setdefault(spec.event_ticker, []).append(spec)
    head = (
        f"{len(specs)} market{'s' if len(specs) != 1 else ''} in {len(events)} event{'s' if len(events) != 1 else ''}:"
    )
    full = len(specs) + len(events) <= max_lines
    lines = [head]
    for n, (event, members) in enumerate(events.items()):
        if len(lines) > max_lines:
            lines.append(f"  ... and {len(events) - n} more events (kalshi markets --url URL lists every market)")
            break
        count = f"{len(members)} market{'s' if len(members) != 1 else ''}"
        lines.append(f"  {event}  ({event_title(members[0])}{'' if full else ', ' + count})")
        if full:
            lines += [f"    {spec.ticker}" for spec in members]
    return lines
