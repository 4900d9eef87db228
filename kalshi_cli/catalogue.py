"""The local catalogue cache: the markets and events a run has seen, per environment.

Shell completion reads it at every <TAB> and the market resolver before it asks REST, so
it must be quick to read and must never break a command. Layout, in ``cache_dir()``
(``$KALSHI_MARKETS_CACHE`` when set (a ``.txt`` file there names the legacy ticker list
and the cache goes beside it), else ``$XDG_CACHE_HOME/kalshi``, else ``~/.cache/kalshi``):

* ``catalogue-<env>.json``: ``{"format": 1, "env", "fetched_at", "markets": {ticker: market},
  "events": {event_ticker: event}}``, the API's objects cut to the ``KEPT_FIELDS`` the CLI
  reads (names, status, times, quotes, volume: a third of a market's bytes, so orjson reads
  10,000 markets in tens of milliseconds; rules texts stay on the server);
* ``tickers-<env>.txt``: one ``TICKER<TAB>title`` line per market and per event, sorted, for
  completion, which reads only this small file (a few hundred KB for 10,000 markets).

Both are written to a temporary file and renamed, so a reader sees the old or the new file,
never half of one. ``<env>`` is ``prod``, ``demo``, ``sim``, or ``url-<host>-<port>`` for a
custom URL. A missing, unreadable, corrupt or older-than-``max_age`` file reads as no cache.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
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
FORMAT = 1
#: The market fields a cached market keeps (the rest is long text no command reads from the cache).
KEPT_FIELDS = frozenset(
    {
        "ticker", "event_ticker", "market_type", "title", "subtitle", "yes_sub_title", "no_sub_title",
        "status", "open_time", "close_time", "expected_expiration_time", "result",
        "yes_bid_dollars", "yes_ask_dollars", "last_price_dollars",
        "volume_fp", "volume_24h_fp", "open_interest_fp",
        "strike_type", "floor_strike", "cap_strike", "mve_collection_ticker",
    }
)  # fmt: skip
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Catalogue:
    """Markets (ticker -> API market object) and events (event ticker -> API event object)."""

    markets: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    fetched_at: float = field(default_factory=time.time)

    def remember_markets(self, markets: Iterable[dict[str, Any]]) -> None:
        """Add or replace markets by ticker (objects without a ticker are skipped)."""
        for m in markets:
            ticker = m.get("ticker")
            if isinstance(ticker, str) and ticker:
                self.markets[ticker] = m

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
    return cache_dir(environ) / f"catalogue-{_SAFE.sub('_', env_name)}.json"


def tickers_path(env_name: str, environ: Mapping[str, str] | None = None) -> Path:
    return cache_dir(environ) / f"tickers-{_SAFE.sub('_', env_name)}.txt"


def load_catalogue(
    env_name: str, *, environ: Mapping[str, str] | None = None, max_age: float | None = DEFAULT_TTL
) -> Catalogue | None:
    """The cached catalogue of ``env_name``; None when missing, unreadable, corrupt or too old."""
    import orjson

    try:
        data = orjson.loads(catalogue_path(env_name, environ).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None
    fetched_at, markets, events = data.get("fetched_at"), data.get("markets"), data.get("events")
    if not isinstance(fetched_at, int | float) or not isinstance(markets, dict) or not isinstance(events, dict):
        return None
    if max_age is not None and not 0 <= time.time() - fetched_at <= max_age:
        return None
    return Catalogue(
        {k: v for k, v in markets.items() if isinstance(v, dict)},
        {k: v for k, v in events.items() if isinstance(v, dict)},
        float(fetched_at),
    )


def save_catalogue(
    env_name: str,
    catalogue: Catalogue,
    *,
    environ: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
) -> bool:
    """Write the catalogue and its ticker list atomically; on failure warn once and return False."""
    import orjson

    body = {
        "format": FORMAT,
        "env": env_name,
        "fetched_at": catalogue.fetched_at,
        "markets": {t: {k: v for k, v in m.items() if k in KEPT_FIELDS} for t, m in catalogue.markets.items()},
        "events": catalogue.events,
    }
    lines = [f"# kalshi catalogue of {env_name}: {len(catalogue.markets)} markets\n"]
    lines += sorted(_completion_lines(catalogue))
    try:
        directory = cache_dir(environ)
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(catalogue_path(env_name, environ), orjson.dumps(body))
        _atomic_write(tickers_path(env_name, environ), "".join(lines).encode())
    except (OSError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = f"could not save the market cache in {cache_dir(environ)}: {reason}"
        if warn is not None:
            warn(message)
        else:
            print(f"kalshi: warning: {message}", file=sys.stderr)
        return False
    return True


def _completion_lines(catalogue: Catalogue) -> list[str]:
    """``TICKER<TAB>text`` for every market, and for every event (``event: title, N markets``)."""
    counts: dict[str, int] = {}
    for m in catalogue.markets.values():
        event = m.get("event_ticker")
        if isinstance(event, str) and event:
            counts[event] = counts.get(event, 0) + 1
    lines = [f"{t}\t{_title(m)}\n" for t, m in catalogue.markets.items()]
    for event in counts.keys() | catalogue.events.keys():
        if event in catalogue.markets:
            continue  # a market ticker equal to its event's: the market line says it
        title = " ".join(str(catalogue.events.get(event, {}).get("title") or "").split())
        n = counts.get(event, 0)
        text = f"event: {title}, " if title else "event: "
        lines.append(f"{event}\t{text}{n} market{'s' if n != 1 else ''}\n")
    return lines


def _title(market: Mapping[str, Any]) -> str:
    """One line of text for completion: the title and the YES label, tabs and newlines flattened."""
    parts = [str(market.get(k) or "") for k in ("title", "yes_sub_title")]
    text = " — ".join(p for p in parts if p)
    return " ".join(text.split())


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
