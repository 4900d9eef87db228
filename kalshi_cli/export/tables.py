"""Rows into date-partitioned files: ``OUT/<table>/date=YYYY-MM-DD/part-N.<ext>``.

``TableBuffer`` collects one table's rows per UTC day (of the row's ``ts``) and hands them to
``Output`` in batches of ``BATCH`` rows, so memory holds a batch per table and day, never the
export. ``Output`` keeps a part file open per table and day, starts a new part after
``PART_ROWS`` rows (a finished part is closed: complete and readable whatever happens later)
and closes the least recently used when more than ``MAX_OPEN`` are open. If the disk fails,
the part being written is removed (a Parquet file without its footer is unreadable; a CSV part
is cut back to its last whole batch), every other open part is closed, and the error says so.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path
from typing import Any, NoReturn, Protocol

from kalshi_cli.errors import KalshiCliError
from kalshi_cli.export.schema import TableSpec

__all__ = ["BATCH", "DAY_MS", "ExportError", "Output", "Part", "TableBuffer", "day_name"]

DAY_MS = 86_400_000
BATCH = 32_768  # rows of one table held before they are written
PART_ROWS = 2_000_000  # rows per part file, then the next part
MAX_OPEN = 32  # part files open at once
_first = itemgetter(0)


class ExportError(KalshiCliError):
    """The export cannot go on (the disk is full, a file cannot be created)."""


class Part(Protocol):
    """One output file being written."""

    path: Path
    rows: int

    def write(self, rows: list[tuple[Any, ...]]) -> None: ...
    def close(self) -> None: ...
    def discard(self) -> None:
        """After a failed write: leave only complete data behind (remove the file, or cut it back)."""


OpenPart = Callable[[Path, TableSpec], Part]


def day_name(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * 86_400))


class Output:
    """The part files of every table under ``root``; ``open_part`` makes one (Parquet or CSV)."""

    def __init__(self, root: Path, open_part: OpenPart, ext: str) -> None:
        self.root = root
        self.open_part = open_part
        self.ext = ext
        self._open: OrderedDict[tuple[str, int], Part] = OrderedDict()
        self._next: dict[tuple[str, int], int] = {}
        self.finished: list[Path] = []
        self.rows: dict[str, int] = {}

    def write(self, spec: TableSpec, day: int, rows: list[tuple[Any, ...]]) -> None:
        key = (spec.name, day)
        part = self._open.get(key)
        if part is not None:
            self._open.move_to_end(key)
        else:
            part = self._start(spec, day)
        try:
            part.write(rows)
        except OSError as exc:
            self._fail(part, exc)
        self.rows[spec.name] = self.rows.get(spec.name, 0) + len(rows)
        if part.rows >= PART_ROWS:
            self._finish(key)

    def _start(self, spec: TableSpec, day: int) -> Part:
        key = (spec.name, day)
        while len(self._open) >= MAX_OPEN:
            self._finish(next(iter(self._open)))
        n = self._next.get(key, 0)
        self._next[key] = n + 1
        directory = self.root / spec.name / f"date={day_name(day)}"
        path = directory / f"part-{n}.{self.ext}"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            part = self.open_part(path, spec)
        except OSError as exc:
            with contextlib.suppress(OSError):
                path.unlink()  # a file begun but not written is no file
            self._fail(None, exc, path)
        self._open[key] = part
        return part

    def _finish(self, key: tuple[str, int]) -> None:
        part = self._open.pop(key)
        try:
            part.close()
        except OSError as exc:
            self._fail(part, exc)
        self.finished.append(part.path)

    def close(self) -> None:
        """Close every open part: the export is complete."""
        while self._open:
            self._finish(next(iter(self._open)))

    def _fail(self, part: Part | None, exc: OSError, path: Path | None = None) -> NoReturn:
        """The disk said no: keep only complete files, then one error line."""
        where = part.path if part is not None else path
        if part is not None:
            self._open = OrderedDict((k, p) for k, p in self._open.items() if p is not part)
            part.discard()
        for other in list(self._open.values()):
            try:
                other.close()
                self.finished.append(other.path)
            except OSError:
                other.discard()
        self._open.clear()
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ExportError(
            f"cannot write {where}: {reason}; the {len(self.finished)} file(s) finished before it are "
            f"complete and readable under {self.root}"
        ) from None


class TableBuffer:
    """One table's rows on their way to ``output``, partitioned by the UTC day of ``row[0]``.

    Appending is all the hot path does (``append``, bound once: the list is never replaced);
    the run loop calls ``flush_if_full`` now and then, and ``flush`` splits a batch by day and
    drops the rows outside [lo, hi) (``window``: ``row[0]`` is the time --from/--to select by).
    """

    __slots__ = ("spec", "output", "lo", "hi", "window", "rows", "append", "count")

    def __init__(
        self, spec: TableSpec, output: Output, lo: int | None = None, hi: int | None = None, *, window: bool = True
    ) -> None:
        self.spec = spec
        self.output = output
        self.lo = lo if lo is not None else -(2**62)
        self.hi = hi if hi is not None else 2**62
        self.window = window and (lo is not None or hi is not None)
        self.rows: list[tuple[Any, ...]] = []
        self.append = self.rows.append
        self.count = 0

    def add(self, ts: int, row: tuple[Any, ...]) -> None:
        """A row whose time (``row[0]``, also ``ts``) places it."""
        self.append(row)

    put = add

    def flush_if_full(self) -> None:
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        rows = self.rows.copy()
        self.rows.clear()
        if self.window:
            lo, hi = self.lo, self.hi
            rows = [r for r in rows if lo <= r[0] < hi]
        if not rows:
            return
        times = list(map(_first, rows))  # (in C: a batch is one day but at midnight)
        first = min(times) // DAY_MS
        if max(times) // DAY_MS == first:
            self._write(first, rows)
            return
        by_day: dict[int, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_day.setdefault(row[0] // DAY_MS, []).append(row)
        for day, part in sorted(by_day.items()):
            self._write(day, part)

    def _write(self, day: int, rows: list[tuple[Any, ...]]) -> None:
        self.count += len(rows)
        self.output.write(self.spec, day, rows)
