"""The local catalogue cache: the markets and events a run has seen, per environment.

Shell completion reads it at every <TAB> and the market resolver before it asks REST, so
it must be quick to read and must never break a command. Layout, in ``cache_dir()``
(``$KALSHI_MARKETS_CACHE`` when set (a ``.txt`` file there names the legacy ticker list
and the cache goes beside it), else ``$XDG_CACHE_HOME/kalshi``, else ``~/.cache/kalshi``):

* ``catalogue-<env>.ndjson``: a header line ``{"format": 2, "env", "fetched_at"}``, then one
  line per market, ``M<TAB>ticker<TAB>event_ticker<TAB>{json}``, and per event,
  ``E<TAB>event_ticker<TAB><TAB>{json}``: the API's objects cut to the ``KEPT_FIELDS`` the CLI
  reads (names, status, times, strike, last price, volume: a fifth of a market's bytes; orjson
  reads 10,000 markets in about 15 ms). A run that saw only some markets merges them in without
  parsing the rest (the keys lead each line); rules texts stay on the server;
* ``tickers-<env>.txt``: one ``TICKER<TAB>title`` line per market and per event, sorted, for
  completion, which reads only this small file (a few hundred KB for 10,000 markets).

Both are written to a temporary file and renamed, so a reader sees the old or the new file,
never half of one. ``<env>`` is ``prod``, ``demo``, ``sim``, or ``url-<host>-<port>`` for a
custom URL. A missing, unreadable, corrupt or older-than-``max_age`` file reads as no cache.
"""

from __future__ import annotations

import contextlib
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Container, Iterable, Mapping
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
    "save_catalogue",
    "tickers_path",
]

#: How long a catalogue is trusted by default (seconds): markets open and close every day.
DEFAULT_TTL = 3600.0
FORMAT = 2
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
    """Markets (ticker -> API market object, cut to ``KEPT_FIELDS``) and events (event ticker ->
    API event object, without nested markets), and when they were fetched."""

    markets: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched_at: float = field(default_factory=time.time)
    # per ticker: the object as remembered, its cache line and its completion line (made while a
    # run still waits for its next page, so saving costs little at the end)
    _encoded: dict[str, tuple[dict[str, Any], bytes, str]] = field(default_factory=dict, repr=False, compare=False)

    def remember_markets(self, markets: Iterable[dict[str, Any]]) -> None:
        """Add or replace markets by ticker (objects without a ticker are skipped), each cut to
        ``KEPT_FIELDS``."""
        import orjson

        for m in markets:
            ticker = m.get("ticker")
            if isinstance(ticker, str) and ticker and "\t" not in ticker and "\n" not in ticker:
                kept = _cut(m)
                self.markets[ticker] = kept
                self._encoded[ticker] = (
                    kept,
                    _market_line(ticker, kept, orjson.dumps(kept)),
                    _completion(ticker, kept),
                )

    def merge(self, newer: Catalogue) -> None:
        """Take ``newer``'s markets and events over ours."""
        self.markets.update(newer.markets)
        self.events.update(newer.events)
        self._encoded.update(newer._encoded)
        self.fetched_at = max(self.fetched_at, newer.fetched_at)

    def remember_events(self, events: Iterable[dict[str, Any]]) -> None:
        """Add or replace events by event ticker; nested ``markets`` are remembered as markets."""
        for e in events:
            ticker = e.get("event_ticker")
            if not isinstance(ticker, str) or not ticker:
                continue
            nested = e.get("markets")
            if isinstance(nested, list):
                self.remember_markets(m for m in nested if isinstance(m, dict))
                e = {k: v for k, v in e.items() if k != "markets"}
            self.events[ticker] = e

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
    """The cached catalogue of ``env_name``; None when missing, unreadable, corrupt or too old."""
    import orjson

    try:
        head, lines = _read(catalogue_path(env_name, environ))
    except (OSError, ValueError):
        return None
    fetched_at = head["fetched_at"]
    if max_age is not None and not 0 <= time.time() - fetched_at <= max_age:
        return None
    cat = Catalogue(fetched_at=float(fetched_at))
    try:
        for line in lines:
            kind, key, _event, body = line.split(b"\t", 3)
            obj = orjson.loads(body)
            if isinstance(obj, dict):
                (cat.markets if kind == b"M" else cat.events)[key.decode()] = obj
    except ValueError:  # a bad line (orjson's error and a short split are both ValueErrors)
        return None
    return cat


def _read(path: Path) -> tuple[dict[str, Any], list[bytes]]:
    """The header and the entry lines of a catalogue file; ValueError when it is not one."""
    data = path.read_bytes()
    head = _head(data)
    return head, [line for line in data.split(b"\n")[1:] if line]


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


def save_catalogue(
    env_name: str,
    catalogue: Catalogue,
    *,
    environ: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
    merge: bool = False,
) -> bool:
    """Write the catalogue and its ticker list atomically; on failure warn once and return False.

    With ``merge``, the markets and events already cached and not in ``catalogue`` are kept
    (a run that read only some markets adds to the cache rather than replacing it).
    """
    import orjson

    kept = _Kept() if not merge else _keep_cached(env_name, environ, catalogue)
    market_lines, completions, events_of = kept.market_lines, kept.completions, kept.events_of
    for ticker, m in catalogue.markets.items():
        encoded = catalogue._encoded.get(ticker)
        if encoded is None or encoded[0] is not m:  # set or changed by hand: encode it now
            cut = _cut(m)
            encoded = (m, _market_line(ticker, cut, orjson.dumps(cut)), _completion(ticker, cut))
        market_lines.append(encoded[1])
        completions.append(encoded[2])
        events_of.append(str(m.get("event_ticker") or ""))
    titles = kept.titles
    event_lines = kept.event_lines
    for event, e in catalogue.events.items():
        event_lines.append(b"E\t" + event.encode() + b"\t\t" + orjson.dumps(e) + b"\n")
        titles[event] = str(e.get("title") or "")
    head = orjson.dumps({"format": FORMAT, "env": env_name, "fetched_at": catalogue.fetched_at}) + b"\n"
    tickers = {line.partition("\t")[0] for line in completions}
    lines = sorted([*completions, *_event_lines(events_of, titles, tickers)])
    text = f"# kalshi catalogue of {env_name}: {len(completions)} markets\n" + "".join(lines)
    try:
        directory = cache_dir(environ)
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(catalogue_path(env_name, environ), head + b"".join(market_lines) + b"".join(event_lines))
        _atomic_write(tickers_path(env_name, environ), text.encode())
    except (OSError, TypeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = f"could not save the market cache in {cache_dir(environ)}: {reason}"
        if warn is not None:
            warn(message)
        else:
            print(f"kalshi: warning: {message}", file=sys.stderr)
        return False
    return True


@dataclass
class _Kept:
    """What a merging save keeps of the cached files: lines, their completions, events' titles."""

    market_lines: list[bytes] = field(default_factory=list)
    completions: list[str] = field(default_factory=list)
    events_of: list[str] = field(default_factory=list)  # the event of each market, for the counts
    event_lines: list[bytes] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)


def _keep_cached(env_name: str, environ: Mapping[str, str] | None, catalogue: Catalogue) -> _Kept:
    """The cached lines ``catalogue`` does not replace, found by their keys alone (no JSON read
    unless an event is kept, for its title)."""
    import orjson

    kept = _Kept()
    try:
        data = catalogue_path(env_name, environ).read_bytes()
        _head(data)
    except (OSError, ValueError):
        return kept
    new_markets = {t.encode() for t in catalogue.markets}
    new_events = {e.encode() for e in catalogue.events}
    gone: dict[str, str] = {}  # kept market ticker -> its event
    for line in data.split(b"\n")[1:]:
        end = line.find(b"\t", 2)
        if end < 0:
            continue
        kind, key = line[:2], line[2:end]
        if kind == b"M\t" and key not in new_markets:
            its_event = line[end + 1 : line.find(b"\t", end + 1)]
            gone[key.decode(errors="replace")] = its_event.decode(errors="replace")
            kept.market_lines.append(line + b"\n")
        elif kind == b"E\t" and key not in new_events:
            kept.event_lines.append(line + b"\n")
            with contextlib.suppress(ValueError, IndexError, AttributeError):
                title = orjson.loads(line.split(b"\t", 3)[3]).get("title")
                kept.titles[key.decode(errors="replace")] = str(title or "")
    if not gone:
        return kept
    found: dict[str, str] = {}
    with contextlib.suppress(OSError), tickers_path(env_name, environ).open(encoding="utf-8", errors="replace") as f:
        for raw in f:
            ticker = raw.partition("\t")[0].strip()
            if ticker in gone:
                found[ticker] = raw if raw.endswith("\n") else raw + "\n"
    for ticker, event in gone.items():
        kept.completions.append(found.get(ticker) or f"{ticker}\t\n")
        kept.events_of.append(event)
    return kept


def _event_lines(events_of: Iterable[str], titles: Mapping[str, str], tickers: Container[str]) -> list[str]:
    """``EVENT<TAB>event: title, N markets`` for every event with a market or an event object."""
    counts: dict[str, int] = {}
    for event in events_of:
        if event:
            counts[event] = counts.get(event, 0) + 1
    lines = []
    for event in counts.keys() | titles.keys():
        if event in tickers:
            continue  # a market ticker equal to its event's: the market line says it
        title = " ".join(titles.get(event, "").split())
        n = counts.get(event, 0)
        text = f"event: {title}, " if title else "event: "
        lines.append(f"{event}\t{text}{n} market{'s' if n != 1 else ''}\n")
    return lines


def _market_line(ticker: str, kept: Mapping[str, Any], body: bytes) -> bytes:
    event = kept.get("event_ticker")
    if not isinstance(event, str) or "\t" in event or "\n" in event:
        event = " ".join(str(event or "").split())
    return b"M\t%s\t%s\t%s\n" % (ticker.encode(), event.encode(), body)


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


def _atomic_write(path: Path, data: bytes) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
