"""One-line status texts (``record``'s progress) that fit the terminal they are redrawn on.

A status line is redrawn in place with ``\\r``; one wider than the terminal wraps, and every
redraw then scrolls a new line. So the facts are fields kept whole or dropped, least useful
first: the file's name before its full path, trouble (reconnects, gaps) before totals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kalshi_cli.render.fit import Field, fit_fields

__all__ = ["RecordProgress", "record_status", "size_text"]


def size_text(n: int) -> str:
    """Bytes for a person: ``512 B``, ``12.3 MB``."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class RecordProgress:
    """What ``kalshi record`` has done so far."""

    frames: int
    bytes_in: int
    files: int
    reconnects: int
    gaps: int
    bytes_out: int | None = None  # on disk, when gzipped
    current: Path | None = None  # the file being written
    directory: Path | None = None


def record_status(p: RecordProgress, width: int, *, final: bool = False) -> str:
    """``recording: 12,345 frames, 3.2 MB, 2 files, 0 reconnects, 0 gaps -> name.ndjson`` in
    ``width`` cells. ``final`` (the last line, printed once, never redrawn) is whole and names
    the directory instead of the current file."""
    if final:
        width = 1 << 16
    fields = [
        Field("recording:", sep=""),
        Field(_plural(p.frames, "frame"), sep=" "),
        Field(size_text(p.bytes_in), "", 3, sep=", "),
    ]
    if p.bytes_out is not None:
        fields.append(Field(f"({size_text(p.bytes_out)} gzip)", "", 6, sep=" "))
    fields.append(Field(_plural(p.files, "file"), "", 5, sep=", "))
    fields.append(Field(_plural(p.reconnects, "reconnect"), "", 0 if p.reconnects else 4, sep=", "))
    fields.append(Field(_plural(p.gaps, "gap"), "", 0 if p.gaps else 4, sep=", "))
    where = p.directory if final else p.current
    if where is not None:
        arrow = "in" if final else "->"
        fields.append(Field(f"{arrow} {where}", "", 7, sep=" "))
        fields.append(Field(f"{arrow} {where.name or where}", "", 2, sep=" "))
        whole = fit_fields(fields[:-1], width, strict=True).plain
        if f"{arrow} {where}" in whole:  # the full path fits: no need for the name too
            return whole
        fields.pop(-2)
    return fit_fields(fields, width, strict=True).plain
