"""One pass over the recorded lines for a set of tables: the hot loop.

A frame's ``ts`` is exchange time: its ``msg.ts_ms``, else the envelope's ``sending_ts_ms``,
else its receive time (``recv_ts_ms``), else the last time seen. ``--from``/``--to`` select
rows by it; books are still rebuilt from the start, so the first rows in the window come from
books that are whole. The recording's own time (receive time first) places the continuity rows.

``export_tables`` writes some of the tables (``run`` gives the book tables and the frame tables
each a pass of their own, in two processes); a pass skips, unparsed, the lines it cannot use
(``skip``: line prefixes), and only the pass that builds books tracks seq and continuity.
"""

from __future__ import annotations

import contextlib
import gc
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalshi_cli.export.books import Books
from kalshi_cli.export.continuity import Continuity
from kalshi_cli.export.frames import FrameRows
from kalshi_cli.export.schema import TABLES
from kalshi_cli.export.settings import ExportSettings
from kalshi_cli.export.source import Warn, read_lines
from kalshi_cli.export.tables import OpenPart, Output, TableBuffer
from kalshi_cli.export.typed import decoder
from kalshi_cli.export.typedrows import typed_handlers
from kalshi_cli.export.values import REFUSED, sanitized
from kalshi_cli.export.values import reset as reset_values
from kalshi_cli.protocol import ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT
from kalshi_cli.recording import META, RECV_TS

__all__ = ["BOOK_TABLES", "Pass", "export_tables", "opener", "split_passes"]

#: Tables drawn from rebuilt books (and the continuity that judges the books).
BOOK_TABLES = ("book_top", "book_snapshots", "continuity")
_BOOK_FRAME = (b'{"type":"orderbook_snapshot"', b'{"type":"orderbook_delta"')
_META_LINE = (b'{"type":"kalshi_cli.meta"',)
_TICKER_LINE = (b'{"type":"ticker"',)
_TRADE_LINE = (b'{"type":"trade"',)


def _typed_kinds(building: bool, books: Books, rows: FrameRows) -> list[str]:
    """The frames this pass reads typed (``typed.decoder``): those whose handling ``typedrows`` has."""
    tables = rows.tables
    kinds = ["delta"] if building or books.deltas is not None else []
    if "tickers" in tables:
        kinds.append("ticker")
    if "trades" in tables:
        kinds.append("trade")
    elif building:
        kinds.append("trade_seq")
    return kinds


def split_passes(tables: list[str]) -> tuple[list[str], list[str]]:
    """The tables of the book pass and of the other pass (either may be empty: then one pass).

    The book pass rebuilds the books and reads every line but tickers; it takes ``trades`` too
    (it reads the trade frames anyway, for their seq). The other takes ``deltas`` (the raw book
    frames: no book) and the remaining frame tables, skipping the trade frames unread. That
    splits a typical recording's work about evenly between two cores, and the slower of the two
    sets the time. (A book pass that also writes deltas would decode each delta once, not twice,
    but measured slower: two-thirds of the work in one process. Trades in the other pass measured
    slower too: alone on 200k frames, 1.09 s for it and 0.90 s for the book pass, against 0.72 s
    and 0.91 s as split.)
    """
    books = [t for t in tables if t in BOOK_TABLES]
    if books:
        books += [t for t in tables if t == "trades"]
    return books, [t for t in tables if t not in books]


@dataclass
class Pass:
    """What one pass wrote."""

    lines: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    finished: list[Path] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)


def opener(fmt: str) -> tuple[OpenPart, str]:
    if fmt == "csv":
        from kalshi_cli.export.csvout import CsvPart

        return CsvPart, "csv"
    from kalshi_cli.export.parquet import ParquetPart

    return ParquetPart, "parquet"


def export_tables(
    files: list[Path], settings: ExportSettings, tables: list[str], warn: Warn, *, second: bool = False
) -> Pass:
    """Write ``tables`` from ``files`` (already checked) under ``settings.out``.

    ``second``: another pass (the book pass) reads the same files and reports their bad lines;
    this one reports only those that pass skips unread (whole ticker lines).

    Raises:
        ExportError: the disk failed (what was finished before is complete and readable).
    """
    reset_values()
    if hasattr(signal, "SIGXFSZ"):  # a file-size limit (ulimit -f) is then EFBIG: one error line, not a core dump
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    open_part, ext = opener(settings.format)
    output = Output(settings.out, open_part, ext)
    only = set(settings.markets) or None
    lo, hi = settings.from_ms, settings.to_ms
    buffers = {name: TableBuffer(TABLES[name], output, lo, hi, window=name != "continuity") for name in tables}
    building = any(name in buffers for name in BOOK_TABLES)
    continuity = Continuity(buffers.get("continuity"), only)
    books = Books(
        continuity,
        top=buffers.get("book_top"),
        snapshots=buffers.get("book_snapshots"),
        deltas=buffers.get("deltas"),
        depth=settings.depth,
        every_ms=settings.every_ms,
        markets=only,
        build=building,
    )
    rows = FrameRows(buffers, only)
    skip: tuple[bytes, ...] = () if building else _META_LINE
    if building and "tickers" not in buffers:
        skip += _TICKER_LINE  # no seq, no book: nothing a book pass needs
    if "deltas" not in buffers and not building:
        skip += _BOOK_FRAME
    if "trades" not in buffers and not building:
        skip += _TRADE_LINE
    done = Pass()
    seen = [0]
    # The cyclic GC would walk every buffered row and book at each pass over the old generation,
    # for nothing: rows, frames and ladders hold no cycles (refcounting frees them). Off while
    # streaming, back on after.
    collecting = gc.isenabled()
    gc.disable()
    try:
        report = _TICKER_LINE if second else None
        _stream(files, warn, books, continuity, rows, list(buffers.values()), skip, building, seen, report)
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, or SIGTERM (startup's handler raises SystemExit)
        with contextlib.suppress(Exception):
            output.close()  # what was written so far stays readable
        raise
    finally:
        if collecting:
            gc.enable()
    books.close_groups()
    continuity.close()
    for buffer in buffers.values():
        buffer.flush()
    output.close()
    done.lines = seen[0]
    done.rows = {name: buffer.count for name, buffer in buffers.items()}
    done.finished = output.finished
    done.refused = dict(REFUSED)
    return done


def _stream(
    files: list[Path],
    warn: Warn,
    books: Books,
    continuity: Continuity,
    rows: FrameRows,
    buffers: list[TableBuffer],
    skip: tuple[bytes, ...],
    building: bool,
    seen: list[int],
    report: tuple[bytes, ...] | None,
) -> None:
    """The hot loop: every line once, to the books and the frame tables."""
    handlers = rows.handlers()
    book_kinds = (ORDERBOOK_SNAPSHOT, ORDERBOOK_DELTA)
    want_books = building or books.deltas is not None  # (continuity alone needs the books too: stale, fresh)
    want_grid = books.snapshots is not None
    frame = books.frame
    on_delta = books.delta_handler() if building else books.delta_row_handler()  # (the most common frame, straight)
    check_seq = books.check_seq
    seqs: dict[Any, int] = books.seq
    next_grid = -(2**62)
    last = 0
    recv: Any
    kinds = _typed_kinds(building, books, rows)
    fast = decoder(kinds)
    typed = typed_handlers(kinds, books, rows) if fast is not None else {}
    for chunk in read_lines(files, warn, skip, seen, report, fast):
        for buffer in buffers:
            buffer.flush_if_full()
        for obj in chunk:
            if (handle := typed.get(type(obj))) is not None:  # a typed frame (typed.py): the steps below, on attributes
                m = obj.msg
                if m is None:
                    continue
                recv = obj.recv_ts_ms
                ts = m.ts_ms
                if ts is None:
                    ts = obj.sending_ts_ms
                    if ts is None:
                        ts = recv if recv is not None else last
                last = ts
                rt = recv if recv is not None else ts
                if ts >= next_grid and want_grid:
                    books.grid(ts, recv)
                    next_grid = books.next_grid or next_grid
                if building and (seq := obj.seq) is not None:
                    sid = obj.sid
                    if seqs.get(sid, -2) == seq - 1:
                        seqs[sid] = seq
                    else:
                        check_seq(obj.kind, sid, seq, rt)
                handle(obj, m, ts, recv, rt)
                continuity.last_ts = rt
                continue
            kind = obj.get("type")
            if type(kind) is not str:
                continue
            recv = obj.get(RECV_TS)
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
                books.grid(ts, recv)
                next_grid = books.next_grid or next_grid
            if building and (seq := obj.get("seq")) is not None:
                sid = obj.get("sid")
                if type(seq) is int and seqs.get(sid, -2) == seq - 1:  # in order: the common case, inline
                    seqs[sid] = seq
                else:
                    check_seq(kind, sid, seq, rt)
            try:
                if kind == ORDERBOOK_DELTA:
                    if want_books:
                        on_delta(obj, msg, ts, recv, rt)
                elif kind == ORDERBOOK_SNAPSHOT:
                    if want_books:
                        frame(obj, kind, msg, ts, recv, rt)
                elif (handler := handlers.get(kind)) is not None:
                    handler(obj, msg, ts, recv)
            except TypeError:  # a list or object where a string belongs: read it with those emptied
                if kind in book_kinds:
                    frame(obj, kind, sanitized(msg), ts, recv, rt)
                elif (handler := handlers.get(kind)) is not None:
                    handler(obj, sanitized(msg), ts, recv)
            continuity.last_ts = rt  # where the doubt starts if the next line reports trouble
