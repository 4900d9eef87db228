"""CSV parts (the csv module, no extra): the same columns as Parquet, every value exact text.

Decimals are exact strings with their scale's places (``0.4400``, ``95.50``, ``0.010000``),
times ISO 8601 UTC with milliseconds (``2026-12-04T14:05:12.345Z``), booleans ``true``/
``false``, lists a JSON array, an empty cell for no value. Each batch is flushed whole; after a
failed write the file is cut back to the end of the last whole batch.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from kalshi_cli.export.schema import PLACES, TableSpec
from kalshi_cli.fixed import format_fixed

__all__ = ["CsvPart", "iso_ms"]

Format = Callable[[Any], str]


def iso_ms(ms: int) -> str:
    """Unix ms -> ``2026-12-04T14:05:12.345Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _formatter(kind: str) -> Format:
    if kind in PLACES:
        places = PLACES[kind]
        return lambda v: "" if v is None else format_fixed(v, places)
    if kind == "ts":
        return lambda v: "" if v is None else iso_ms(v)
    if kind == "bool":
        return lambda v: ("true" if v else "false") if type(v) is bool else ""
    if kind == "list":
        return lambda v: orjson.dumps(v).decode() if isinstance(v, list) else ""
    if kind == "int":
        return lambda v: str(v) if type(v) is int else ""
    return lambda v: v if type(v) is str else ""  # a frame that carried something else there: empty


class CsvPart:
    """One CSV file with a header line, written through its own descriptor (no hidden buffer)."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self.path = path
        self.rows = 0
        self._formats = [_formatter(c.kind) for c in spec.columns]
        self._good = 0  # bytes on disk that end with a whole batch
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._put([spec.names])

    def _put(self, rows: list[list[str]]) -> None:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(rows)
        data = memoryview(text.getvalue().encode())
        done = 0
        while done < len(data):
            done += os.write(self._fd, data[done:])
        self._good += done

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        formats = self._formats
        self._put([[f(v) for f, v in zip(formats, row, strict=True)] for row in rows])
        self.rows += len(rows)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def discard(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, self._good)
        self.close()
