"""The local catalogue cache: the markets, events and series a run has seen, per environment.

Shell completion reads it at every <TAB> and the market resolver before it asks REST, so
it must be quick to read and must never break a command. Layout, in ``cache_dir()``
(``$KALSHI_MARKETS_CACHE`` when set (a ``.txt`` file there names the legacy ticker list
and the cache goes beside it), else ``$XDG_CACHE_HOME/kalshi``, else ``~/.cache/kalshi``):

* ``catalogue-<env>.ndjson``: a header line ``{"format": 3, "env", "fetched_at"}``, then one
  line per entry, ``KIND<TAB>key<TAB>event<TAB>seen<TAB>{json}``: ``M`` a market (the API's
  object cut to the ``KEPT_FIELDS`` the CLI reads: a fifth of its bytes), ``E`` an event whose
  open markets were all listed with it (the API's event object, or ``{"event_ticker"}`` alone
  when a ``kalshi markets --event`` listing was all that was read of it), ``S`` a series whose
  open events were all listed (``{"events": [...]}``): the resolver answers both from the
  cache. ``seen`` is when that entry was fetched (Unix seconds): a merging save keeps older
  lines as they are, so each entry ages on its own. The keys lead each line, so a run that
  saw only some markets merges them in without parsing the rest;
* ``tickers-<env>.txt``: one ``TICKER<TAB>title`` line per market and per event, sorted, for
  completion, which reads only this small file (a few hundred KB for 10,000 markets).

Both are written to a temporary file and renamed, so a reader sees the old or the new file,
never half of one. ``<env>`` is ``prod``, ``demo``, ``sim``, or ``url-<host>-<port>`` for a
custom URL. A missing, unreadable or corrupt file reads as no cache; ``max_age`` drops what is
older (the resolver reads every entry and asks ``Catalogue.age`` instead: a stale entry still
serves completion and suggestions).
"""

from __future__ import annotations

import operator
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_TTL",
    "FORMAT",
    "KEPT_FIELDS",
    "Catalogue",
    "cache_dir",
    "catalogue_path",
    "env_name_for",
    "load_catalogue",
    "tickers_path",
]

#: How long a catalogue is trusted by default (seconds): markets open and close every day.
DEFAULT_TTL = 3600.0
FORMAT = 3
#: The market fields a cached market keeps: what the resolver, the board and completion read
#: (names, status, times, strike, last price, volume); rules texts and the rest stay on the server.
KEPT_FIELDS = frozenset(
    {
        "ticker", "event_ticker", "title", "yes_sub_title", "status", "open_time", "close_time", "result",
        "last_price_dollars", "volume_fp", "open_interest_fp", "strike_type", "floor_strike", "cap_strike",
    }
)  # fmt: skip
# the ones every Market of the API carries (REST.md 5.4), read in one C call; the rest one by one
_USUAL = ("ticker", "event_ticker", "title", "yes_sub_title", "status", "open_time", "close_time", "result",
          "last_price_dollars", "volume_fp", "open_interest_fp")  # fmt: skip
_OPTIONAL = tuple(sorted(KEPT_FIELDS - set(_USUAL)))
_KEPT = tuple(sorted(KEPT_FIELDS))
_get_usual = operator.itemgetter(*_USUAL)
_FLAT = re.compile(r"\s+")
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Catalogue:
    """Markets (ticker -> API market object, cut to ``KEPT_FIELDS``), events (event ticker ->
    API event object, without nested markets), series known whole (series ticker -> its open
    event tickers), when the file was written, and when each entry read from it was fetched
    (an entry this run remembered is absent there: it is new)."""

    markets: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    series: dict[str, list[str]] = field(default_factory=dict)
    fetched_at: float = field(default_factory=time.time)
    seen_at: dict[str, dict[str, float]] = field(default_factory=lambda: {"M": {}, "E": {}, "S": {}}, repr=False)
    # per ticker: the object as remembered, its cache line, its completion line and its event
    # (made while a run still waits for its next page, so saving costs little)
    _encoded: dict[str, tuple[dict[str, Any], bytes, str, str]] = field(default_factory=dict, repr=False, compare=False)

    def remember_markets(self, markets: Iterable[dict[str, Any]]) -> None:
        """Add or replace markets by ticker (objects without a ticker are skipped), each cut to
        ``KEPT_FIELDS``."""
        import orjson

        stamp = b"%d" % time.time()
        seen = self.seen_at["M"]
        dumps, own, encoded = orjson.dumps, self.markets, self._encoded
        for m in markets:  # inlined: this loop runs once per market listed
            ticker = m.get("ticker")
            if type(ticker) is not str or not ticker or "\t" in ticker or "\n" in ticker:
                continue
            kept = _cut(m)
            own[ticker] = kept
            if seen:
                seen.pop(ticker, None)
            event = kept.get("event_ticker")
            if type(event) is not str or "\t" in event or "\n" in event:
                event = _field(event)
            line = b"M\t%s\t%s\t%s\t%s\n" % (ticker.encode(), event.encode(), stamp, dumps(kept))
            encoded[ticker] = (kept, line, _completion(ticker, kept), event)

    def merge(self, newer: Catalogue) -> None:
        """Take ``newer``'s markets, events and series over ours."""
        self.markets.update(newer.markets)
        self.events.update(newer.events)
        self.series.update(newer.series)
        for kind, seen in self.seen_at.items():
            for key in (newer.markets, newer.events, newer.series)["MES".index(kind)]:
                seen.pop(key, None)
            seen.update(newer.seen_at[kind])
        self._encoded.update(newer._encoded)
        self.fetched_at = max(self.fetched_at, newer.fetched_at)

    def remember_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Add or replace events by event ticker; nested ``markets`` are remembered as markets."""
        for e in events:
            ticker = e.get("event_ticker")
            if not isinstance(ticker, str) or not ticker or "\t" in ticker or "\n" in ticker:
                continue
            nested = e.get("markets")
            if isinstance(nested, list):
                self.remember_markets(m for m in nested if isinstance(m, dict))
                e = {k: v for k, v in e.items() if k != "markets"}
            self.events[ticker] = e
            self.seen_at["E"].pop(ticker, None)

    def remember_series(self, series: str, events: Iterable[str]) -> None:
        """``series``' open events, all of them, as listed now (its markets remembered apart)."""
        if series and "\t" not in series and "\n" not in series:
            self.series[series] = sorted(set(events))
            self.seen_at["S"].pop(series, None)

    def age(self, kind: str, key: str, now: float | None = None) -> float:
        """Seconds since the ``kind`` ("M", "E" or "S") entry ``key`` was fetched (0: this run)."""
        now = time.time() if now is None else now
        return max(0.0, now - self.seen_at[kind].get(key, now))

    def markets_of_event(self, event_ticker: str) -> list[dict[str, Any]]:
        """The event's markets we know, in ticker order."""
        return sorted(
            (m for m in self.markets.values() if m.get("event_ticker") == event_ticker),
            key=lambda m: str(m.get("ticker")),
        )

    def tickers(self) -> list[str]:
        return sorted(self.markets)


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory of the catalogue files (see the module docstring)."""
    env = os.environ if environ is None else environ
    explicit = env.get("KALSHI_MARKETS_CACHE")
    if explicit:
        path = Path(explicit)
        return path.parent if path.suffix == ".txt" else path
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "kalshi"


def env_name_for(env: str, ws_url: str | None = None) -> str:
    """The cache's name for an endpoint: its env, or ``url-<host>-<port>`` for a custom URL."""
    if env != "custom" or not ws_url:
        return _SAFE.sub("_", env) or "custom"
    parts = urlsplit(ws_url)
    where = f"{parts.hostname or 'unknown'}-{parts.port}" if parts.port else parts.hostname or "unknown"
    return "url-" + _SAFE.sub("_", where)


def catalogue_path(env_name: str, environ: Mapping[str, str] | None = None) -> Path:
    return cache_dir(environ) / f"catalogue-{_SAFE.sub('_', env_name)}.ndjson"


def tickers_path(env_name: str, environ: Mapping[str, str] | None = None) -> Path:
    return cache_dir(environ) / f"tickers-{_SAFE.sub('_', env_name)}.txt"


def load_catalogue(
    env_name: str, *, environ: Mapping[str, str] | None = None, max_age: float | None = DEFAULT_TTL
) -> Catalogue | None:
    """The cached catalogue of ``env_name``; None when missing, unreadable or corrupt. With
    ``max_age``, entries fetched longer ago are left out (None when the newest is)."""
    import orjson

    try:
        data = catalogue_path(env_name, environ).read_bytes()
        fetched_at = _head(data)["fetched_at"]
    except (OSError, ValueError):
        return None
    now = time.time()
    if max_age is not None and not 0 <= now - fetched_at <= max_age:
        return None
    cat = Catalogue(fetched_at=float(fetched_at))
    into = {b"M": (cat.markets, cat.seen_at["M"]), b"E": (cat.events, cat.seen_at["E"])}
    series, series_seen = cat.series, cat.seen_at["S"]
    try:
        for line in data.split(b"\n")[1:]:
            if not line:
                continue
            kind, key, _event, seen, body = line.split(b"\t", 4)
            obj = orjson.loads(body)
            if not isinstance(obj, dict):
                continue
            name = key.decode()
            if kind == b"S":
                series[name] = [str(e) for e in obj.get("events") or ()]
                series_seen[name] = float(seen)
            else:
                objects, times = into[kind]
                objects[name] = obj
                times[name] = float(seen)
    except (ValueError, KeyError, TypeError):  # a bad line (orjson's error and a short split are ValueErrors)
        return None
    if max_age is not None:
        _drop_older(cat, now - max_age)
    return cat


def _drop_older(cat: Catalogue, cutoff: float) -> None:
    for kind, entries in (("M", cat.markets), ("E", cat.events), ("S", cat.series)):
        seen = cat.seen_at[kind]
        for key in [k for k, t in seen.items() if t < cutoff]:
            del entries[key], seen[key]


def _head(data: bytes) -> dict[str, Any]:
    import orjson

    head = orjson.loads(data.partition(b"\n")[0])
    if (
        not isinstance(head, dict)
        or head.get("format") != FORMAT
        or not isinstance(head.get("fetched_at"), int | float)
    ):
        raise ValueError("not a catalogue")
    return head


def _field(value: object) -> str:
    """A value fit for a tab-separated key field (an event ticker, normally as it is)."""
    if isinstance(value, str) and "\t" not in value and "\n" not in value:
        return value
    return " ".join(str(value or "").split())


def _completion(ticker: str, market: Mapping[str, Any]) -> str:
    return f"{ticker}\t{_title(market)}\n"


def _cut(market: Mapping[str, Any]) -> dict[str, Any]:
    """``market`` with only the ``KEPT_FIELDS`` (2 µs a market in the usual case)."""
    try:
        kept = dict(zip(_USUAL, _get_usual(market), strict=True))
    except KeyError:  # an older or trimmed object: field by field
        return {k: market[k] for k in _KEPT if k in market}
    for k in _OPTIONAL:
        if k in market:
            kept[k] = market[k]
    return kept


def _title(market: Mapping[str, Any]) -> str:
    """One line of text for completion: the title and the YES label, tabs and newlines flattened."""
    title, label = market.get("title"), market.get("yes_sub_title")
    text = f"{title} — {label}" if title and label else str(title or label or "")
    return _FLAT.sub(" ", text).strip() if "\t" in text or "\n" in text or "  " in text else text
