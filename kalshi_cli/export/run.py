"""One export: check the input and the output directory, stream every line once, close the tables.

A frame's ``ts`` is exchange time: its ``msg.ts_ms``, else the envelope's ``sending_ts_ms``,
else its receive time (``recv_ts_ms``), else the last time seen. ``--from``/``--to`` select
rows by it; books are still rebuilt from the start, so the first rows in the window come from
books that are whole. The recording's own time (receive time first) places the continuity rows.
"""

from __future__ import annotations

import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kalshi_cli.errors import UsageError
from kalshi_cli.export.books import Books
from kalshi_cli.export.continuity import Continuity
from kalshi_cli.export.frames import FrameRows
from kalshi_cli.export.schema import TABLES
from kalshi_cli.export.settings import ExportSettings
from kalshi_cli.export.source import check_files, read_lines
from kalshi_cli.export.tables import OpenPart, Output, TableBuffer
from kalshi_cli.export.values import REFUSED
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT
from kalshi_cli.recording import META, RECV_TS

__all__ = ["Summary", "run_export"]


@dataclass
class Summary:
    files: int
    lines: int
    rows: dict[str, int]
    seconds: float
    finished: list[Path]


def prepare_output(out: Path, overwrite: bool) -> None:
    """``out`` must be new or empty; with ``--overwrite`` its table directories are replaced.

    Only directories named like a table are removed, never anything else ``out`` holds.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(f"output directory {out} is not empty (add --overwrite to replace its tables)")
        for name in TABLES:
            if (out / name).is_dir():
                shutil.rmtree(out / name)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {out}: {exc.strerror or exc}") from None


def _opener(fmt: str) -> tuple[OpenPart, str]:
    if fmt == "csv":
        from kalshi_cli.export.csvout import CsvPart

        return CsvPart, "csv"
    from kalshi_cli.export.parquet import ParquetPart, require_pyarrow

    require_pyarrow()
    return ParquetPart, "parquet"


def run_export(settings: ExportSettings, reporter: Reporter) -> Summary:
    """Export ``settings.paths`` into ``settings.out``; return what was written.

    Raises:
        UsageError: bad input, or an output directory that is in the way.
        ExportError: the disk failed (what was finished before is complete and readable).
    """
    started = time.monotonic()
    REFUSED.clear()
    open_part, ext = _opener(settings.format)
    files = check_files(settings.paths, reporter.warn)  # before anything is written
    prepare_output(settings.out, settings.overwrite)
    if hasattr(signal, "SIGXFSZ"):  # a file-size limit (ulimit -f) is then EFBIG: one error line, not a core dump
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    output = Output(settings.out, open_part, ext)
    only = set(settings.markets) or None
    buffers = {name: TableBuffer(TABLES[name], output, settings.from_ms, settings.to_ms) for name in settings.tables}
    continuity = Continuity(buffers.get("continuity"), only)
    books = Books(
        continuity,
        top=buffers.get("book_top"),
        snapshots=buffers.get("book_snapshots"),
        deltas=buffers.get("deltas"),
        depth=settings.depth,
        every_ms=settings.every_ms,
        markets=only,
    )
    rows = FrameRows(buffers, only)
    lines = _stream(files, reporter, books, continuity, rows)
    books.close_groups()
    continuity.close()
    for buffer in buffers.values():
        buffer.flush()
    output.close()
    for what, n in sorted(REFUSED.items()):
        reporter.warn(f"{n:,} {what} value(s) were not exact decimals; left empty")
    counts = {name: buffer.count for name, buffer in buffers.items()}
    return Summary(len(files), lines, counts, time.monotonic() - started, output.finished)


def _stream(files: list[Path], reporter: Reporter, books: Books, continuity: Continuity, rows: FrameRows) -> int:
    """The hot loop: every line once, to the books and the frame tables."""
    handlers = rows.handlers()
    book_kinds = (ORDERBOOK_SNAPSHOT, ORDERBOOK_DELTA)
    want_books = books.top is not None or books.snapshots is not None or books.deltas is not None
    want_grid = books.snapshots is not None
    frame = books.frame
    check_seq = books.check_seq
    next_grid = -(2**62)
    last = 0
    lines = 0
    for obj in read_lines(files, reporter.warn):
        lines += 1
        kind = obj.get("type")
        if type(kind) is not str:
            continue
        recv: Any = obj.get(RECV_TS)
        if type(recv) is not int:
            recv = None
        if kind == META:
            books.meta(obj, recv if recv is not None else last)
            continue
        msg = obj.get("msg")
        if type(msg) is not dict:
            continue
        ts = msg.get("ts_ms")
        if type(ts) is not int:
            ts = obj.get("sending_ts_ms")
            if type(ts) is not int:
                ts = recv if recv is not None else last
        last = ts
        rt = recv if recv is not None else ts
        if ts >= next_grid and want_grid:
            books.grid(ts)
            next_grid = books.next_grid or next_grid
        seq = obj.get("seq")
        if seq is not None:
            check_seq(kind, obj.get("sid"), seq, rt)
        if kind in book_kinds:
            if want_books:
                frame(obj, kind, msg, ts, recv, rt)
        else:
            handler = handlers.get(kind)
            if handler is not None:
                handler(obj, msg, ts, recv)
        continuity.last_ts = rt  # where the doubt starts if the next line reports trouble
    return lines
