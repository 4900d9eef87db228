"""Saving the local catalogue (``kalshi_cli.catalogue`` says what the files hold): atomically,
merging into what is cached without parsing it, and cheaply at the end of a run.

A run remembers each market's cache line and completion line as its page arrives
(``Catalogue.remember_markets``), and a listing run reads the old file's lines by key while its
first pages are on the way (``read_cached``); the save itself then only filters keys, counts
events, sorts the completion lines and writes two files (each to a temporary file renamed over
the old one, so a reader never sees half a file).
"""

from __future__ import annotations

import contextlib
import operator
import os
import sys
import time
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kalshi_cli.catalogue import (
    FORMAT,
    Catalogue,
    _completion,
    _cut,
    _field,
    _head,
    cache_dir,
    catalogue_path,
    tickers_path,
)

__all__ = ["CachedLines", "read_cached", "save_catalogue"]


@dataclass
class CachedLines:
    """A catalogue file's entry lines by their key, read without parsing any JSON, for a
    merging save: markets by ticker, events and series by ``E<TAB>event``, ``S<TAB>series``."""

    markets: dict[str, bytes] = field(default_factory=dict)
    others: dict[bytes, bytes] = field(default_factory=dict)


def read_cached(env_name: str, environ: Mapping[str, str] | None = None) -> CachedLines:
    """The cached lines of ``env_name`` (none when there is no readable catalogue). A run that
    lists markets reads them while its first pages are on the way, so its save only filters."""
    out = CachedLines()
    try:
        data = catalogue_path(env_name, environ).read_bytes()
        _head(data)
    except (OSError, ValueError):
        return out
    markets, others = out.markets, out.others
    for line in data.split(b"\n")[1:]:
        end = line.find(b"\t", 2)
        if end < 0:
            continue
        if line.startswith(b"M\t"):
            markets[line[2:end].decode(errors="replace")] = line + b"\n"
        else:
            others[line[:end]] = line + b"\n"
    return out


def save_catalogue(
    env_name: str,
    catalogue: Catalogue,
    *,
    environ: Mapping[str, str] | None = None,
    warn: Callable[[str], None] | None = None,
    merge: bool = False,
    cached: CachedLines | None = None,
) -> bool:
    """Write the catalogue and its ticker list atomically; on failure warn once and return False.

    With ``merge``, the entries already cached and not in ``catalogue`` are kept as they are
    (a run that read only some markets adds to the cache rather than replacing it);
    ``cached`` is the file as ``read_cached`` read it earlier (else it is read now).
    """
    import orjson

    now = time.time()
    market_lines, completions, events_of = _encoded_markets(catalogue, now)
    kept = _Kept()
    if merge:
        cached = cached if cached is not None else read_cached(env_name, environ)
        _keep_cached(env_name, environ, cached, catalogue, kept)
    titles = kept.titles
    other_lines = kept.lines
    for kind, entries in (("E", catalogue.events), ("S", catalogue.series)):
        seen = catalogue.seen_at[kind]
        for key, value in entries.items():
            body = orjson.dumps({"events": value} if kind == "S" else value)
            other_lines.append(b"%s\t%s\t\t%d\t%s\n" % (kind.encode(), key.encode(), seen.get(key, now), body))
            if kind == "E":
                titles[key] = str(value.get("title") or "")  # type: ignore[union-attr]
    head = orjson.dumps({"format": FORMAT, "env": env_name, "fetched_at": catalogue.fetched_at}) + b"\n"
    completions += kept.completions
    events_of += kept.events_of
    known = _Either(catalogue.markets, kept.tickers)
    lines = sorted([*completions, *_event_lines(events_of, titles, known)])
    text = f"# kalshi catalogue of {env_name}: {len(completions)} markets\n" + "".join(lines)
    try:
        directory = cache_dir(environ)
        directory.mkdir(parents=True, exist_ok=True)
        _atomic_write(catalogue_path(env_name, environ), [head, *market_lines, *other_lines])
        _atomic_write(tickers_path(env_name, environ), [text.encode()])
    except (OSError, TypeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = f"could not save the market cache in {cache_dir(environ)}: {reason}"
        if warn is not None:
            warn(message)
        else:
            print(f"kalshi: warning: {message}", file=sys.stderr)
        return False
    return True


_first, _line, _completion_of, _event_of = (operator.itemgetter(i) for i in range(4))


def _encoded_markets(cat: Catalogue, now: float) -> tuple[list[bytes], list[str], list[str]]:
    """Each market's cache line, completion line and event: as encoded when remembered (a few
    C calls over them all), or encoded now for markets set by hand."""
    import orjson

    encoded, markets = cat._encoded, cat.markets
    values = encoded.values()
    if (
        len(encoded) != len(markets)
        or list(encoded) != list(markets)
        or not all(map(operator.is_, map(_first, values), markets.values()))
    ):
        seen = cat.seen_at["M"]
        for ticker, m in markets.items():
            done = encoded.get(ticker)
            if done is None or done[0] is not m:  # set or changed by hand: encode it now
                cut = _cut(m)
                event = _field(cut.get("event_ticker"))
                stamp = seen.get(ticker, now)
                line = b"M\t%s\t%s\t%d\t%s\n" % (ticker.encode(), event.encode(), stamp, orjson.dumps(cut))
                encoded[ticker] = (m, line, _completion(ticker, cut), event)
        values = [encoded[t] for t in markets]  # type: ignore[assignment]
    return (
        list(map(_line, values)),
        list(map(_completion_of, values)),
        list(map(_event_of, values)),
    )


@dataclass
class _Kept:
    """What a merging save keeps of the cached files: lines, their completions, events' titles."""

    lines: list[bytes] = field(default_factory=list)
    completions: list[str] = field(default_factory=list)
    events_of: list[str] = field(default_factory=list)  # the event of each market, for the counts
    tickers: set[str] = field(default_factory=set)
    titles: dict[str, str] = field(default_factory=dict)


def _keep_cached(
    env_name: str, environ: Mapping[str, str] | None, cached: CachedLines, catalogue: Catalogue, kept: _Kept
) -> None:
    """Into ``kept``: the cached lines of what ``catalogue`` does not hold, found by key (JSON
    read only for a kept event's title)."""
    import orjson

    replaced: dict[bytes, Container[str]] = {b"E": catalogue.events, b"S": catalogue.series}
    for key, line in cached.others.items():
        kind, _, name = key.partition(b"\t")
        ticker = name.decode(errors="replace")
        if ticker in replaced.get(kind, ()):
            continue
        kept.lines.append(line)
        if kind == b"E":
            with contextlib.suppress(ValueError, IndexError, AttributeError):
                title = orjson.loads(line.split(b"\t", 4)[4]).get("title")
                kept.titles[ticker] = str(title or "")
    old = cached.markets
    markets: dict[str, str] = {}  # kept market ticker -> its event
    gone = old.keys() - catalogue.markets.keys()  # a set operation in C: usually few or none
    for ticker, line in old.items() if gone else ():
        if ticker not in gone:
            continue
        start = line.find(b"\t", 2) + 1
        markets[ticker] = line[start : line.find(b"\t", start)].decode(errors="replace")
        kept.lines.append(line)
    if not markets:
        return
    found: dict[str, str] = {}
    with contextlib.suppress(OSError), tickers_path(env_name, environ).open(encoding="utf-8", errors="replace") as f:
        for raw in f:
            ticker = raw.partition("\t")[0].strip()
            if ticker in markets:
                found[ticker] = raw if raw.endswith("\n") else raw + "\n"
    for ticker, event in markets.items():
        kept.completions.append(found.get(ticker) or f"{ticker}\t\n")
        kept.events_of.append(event)
        kept.tickers.add(ticker)


@dataclass
class _Either:
    """``x in`` one of two containers (the new markets or the kept ones), neither copied."""

    one: Container[str]
    other: Container[str]

    def __contains__(self, x: object) -> bool:
        return x in self.one or x in self.other


def _event_lines(events_of: Iterable[str], titles: Mapping[str, str], tickers: Container[str]) -> list[str]:
    """``EVENT<TAB>event: title, N markets`` for every event with a market or an event object."""
    from collections import Counter

    counts = Counter(events_of)
    counts.pop("", None)
    lines = []
    for event in counts.keys() | titles.keys():
        if event in tickers:
            continue  # a market ticker equal to its event's: the market line says it
        title = " ".join(titles.get(event, "").split())
        n = counts.get(event, 0)
        text = f"event: {title}, " if title else "event: "
        lines.append(f"{event}\t{text}{n} market{'s' if n != 1 else ''}\n")
    return lines


def _atomic_write(path: Path, chunks: list[bytes]) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            data = memoryview(b"".join(chunks))  # one write: a syscall per 8 KiB chunk costs 3x more
            while data:
                data = data[f.write(data) or len(data) :]
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
