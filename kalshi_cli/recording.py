"""The recording format, written by ``kalshi record`` and read by ``replay`` and ``export``.

A recording is NDJSON: each data frame exactly as received with the local receive time
spliced in as its last key (``"recv_ts_ms"``), and ``{"type": "kalshi_cli.meta", ...}`` lines
that tell a reader what it must know (connects, subscriptions, gaps, resyncs). A
``kalshi tail --json`` capture is a recording without those extras.

This module is the one place that knows how to write and read that format: plain or gzip
files (told apart by their magic bytes, not their names), a directory of rotated files in
name (= time) order, a gzip stream cut short by a killed writer, and a torn last line.
``scan`` checks files once up front and summarises them; ``read_records`` streams them again
for each pass, so memory stays flat whatever their size.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from kalshi_cli.errors import UsageError
from kalshi_cli.protocol import DATA_TYPES, ORDERBOOK_SNAPSHOT

__all__ = [
    "META",
    "RECV_TS",
    "Recording",
    "expand",
    "iter_lines",
    "read_records",
    "record_time",
    "scan",
    "with_recv_ts",
]

#: The ``type`` of the lines the recorder adds about the stream itself.
META = "kalshi_cli.meta"
#: The key the recorder appends to every frame: local receive time, Unix ms.
RECV_TS = "recv_ts_ms"
#: File names a directory of recordings is made of (``kalshi record`` writes these).
SUFFIXES = (".ndjson", ".ndjson.gz")

Warn = Callable[[str], None]


def with_recv_ts(raw: bytes, recv_ts_ms: int) -> bytes:
    """The frame with ``"recv_ts_ms":N`` added as its last key; the rest byte for byte as received."""
    body = raw.rstrip()
    if b"\n" not in body and body.endswith(b"}") and len(body) > 2:
        return b'%s,"recv_ts_ms":%d}' % (body[:-1], recv_ts_ms)
    obj = orjson.loads(raw)  # pretty-printed or odd: re-encode, the one case that cannot be spliced
    obj[RECV_TS] = recv_ts_ms
    return orjson.dumps(obj)


def record_time(obj: dict[str, Any]) -> int | None:
    """When a recorded frame happened, in Unix ms: receive time, else send time, else ``msg.ts_ms``."""
    for key in (RECV_TS, "sending_ts_ms"):
        v = obj.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    msg = obj.get("msg")
    if isinstance(msg, dict):
        v = msg.get("ts_ms")
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


# --- reading ---------------------------------------------------------------------------------------


def _open(path: Path) -> io.BufferedIOBase:
    """The file's bytes, decompressed when it starts with gzip's magic (whatever its name)."""
    fh = open(path, "rb")  # noqa: SIM115 - returned to the caller
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        return gzip.GzipFile(path, "rb")
    fh.seek(0)
    return fh


def iter_lines(path: Path, on_truncated: Warn | None = None) -> Iterator[bytes]:
    """The lines of a plain or gzip file; a gzip stream cut short (a killed writer) just ends."""
    try:
        with _open(path) as fh:
            yield from fh
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if on_truncated is not None:
            on_truncated(f"{path}: compressed data ends early ({exc}); using what was readable")


def read_records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every JSON object line of ``paths`` in order (lines that do not parse are skipped)."""
    loads = orjson.loads
    for path in paths:
        for line in iter_lines(path):
            if not line.strip():
                continue
            try:
                obj = loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield obj


def expand(paths: Iterable[Path]) -> list[Path]:
    """Paths with each directory replaced by its ``*.ndjson``/``*.ndjson.gz`` files in name (= time) order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
            if not found:
                raise UsageError(f"no .ndjson or .ndjson.gz files in {path}")
            out += found
        else:
            out.append(path)
    return out


# --- scanning --------------------------------------------------------------------------------------


@dataclass
class Recording:
    """What ``scan`` learnt about a set of recorded files."""

    paths: list[Path]
    frames: int = 0  # data frames
    meta: int = 0
    tickers: dict[str, None] = field(default_factory=dict)  # every market, in order of appearance
    book_tickers: dict[str, None] = field(default_factory=dict)  # markets with a recorded snapshot
    ids: dict[str, str] = field(default_factory=dict)  # market_id -> ticker
    first_ms: int | None = None
    last_ms: int | None = None

    @property
    def duration_s(self) -> float:
        if self.first_ms is None or self.last_ms is None:
            return 0.0
        return max(0, self.last_ms - self.first_ms) / 1000

    def note(self, obj: dict[str, Any]) -> None:
        """Count one parsed line into the summary."""
        kind = obj.get("type")
        if kind == META:
            self.meta += 1
            return
        if kind not in DATA_TYPES:
            return
        self.frames += 1
        t = record_time(obj)
        if t is not None:
            if self.first_ms is None:
                self.first_ms = t
            self.last_ms = t
        msg = obj.get("msg")
        if not isinstance(msg, dict):
            return
        ticker = msg.get("market_ticker")
        if isinstance(ticker, str):
            self.tickers[ticker] = None
            if kind == ORDERBOOK_SNAPSHOT:
                self.book_tickers[ticker] = None
            market_id = msg.get("market_id")
            if isinstance(market_id, str):
                self.ids[market_id] = ticker


def scan(paths: list[Path], warn: Warn | None = None) -> Recording:
    """Check that ``paths`` are readable NDJSON recordings and summarise them.

    A line that does not parse is skipped with a warning (the last line of a file killed
    mid-write is the usual one); a file whose first line does not parse is not NDJSON.

    Raises:
        UsageError: a file is missing or unreadable, is not NDJSON, or no file holds a data frame.
    """
    say = warn or (lambda text: None)
    paths = expand(paths)
    rec = Recording(paths)
    empty = [path for path in paths if _scan_file(path, rec, say) == 0]
    names = ", ".join(str(p) for p in paths)
    if rec.frames == 0 and len(empty) == len(paths):
        raise UsageError(f"recording {names} {'is' if len(paths) == 1 else 'are'} empty")
    if rec.frames == 0:
        raise UsageError(
            f"no Kalshi data frames in {names} (expected NDJSON from 'kalshi record' or 'kalshi tail --json')"
        )
    for path in empty:
        say(f"{path} is empty")
    return rec


def _scan_file(path: Path, rec: Recording, warn: Warn) -> int:
    """Note every line of one file into ``rec``; return how many lines it has."""
    if not path.is_file():
        reason = "no such file" if not path.exists() else "not a regular file"
        raise UsageError(f"cannot read recording {path}: {reason}")
    line_no = parsed = 0
    bad: int | None = None
    try:
        for line in iter_lines(path, warn):
            line_no += 1
            if not line.strip():
                continue
            if bad is not None:
                warn(f"{path}:{bad}: not a JSON line; skipped")
                bad = None
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                if parsed == 0:
                    raise UsageError(f"{path} is not NDJSON (line {line_no}: {exc})") from None
                bad = line_no
                continue
            parsed += 1
            if isinstance(obj, dict):
                rec.note(obj)
    except OSError as exc:
        raise UsageError(f"cannot read recording {path}: {exc.strerror or exc}") from None
    if bad is not None:  # the last line of a file killed mid-write
        warn(f"{path}:{bad}: last line is incomplete; skipped")
    return line_no
