"""Recording a feed to disk: rotating NDJSON files that survive a crash.

``RecordWriter`` appends lines to files in one directory and rotates them by time (aligned to
the period, so hourly files start on the hour) or size. It keeps its own buffer and writes
whole lines only, flushes whenever asked (the recorder asks twice a second) and fsyncs on
rotation and close: a killed recorder loses at most the lines of its last flush interval and
never leaves half a line. With gzip every flush closes a gzip member, so whatever was
flushed is a complete, readable gzip stream (``zcat`` reads concatenated members).

Compression (1.5 µs a frame at level 6) runs in a worker thread, one ``zlib.compress`` per member
(it lets go of the GIL): a second core compresses while the loop reads. The loop's thread writes
the members, in order (a full disk is raised where it was); ``tick`` writes the batch it hands
over on the next tick, so with gzip a killed recorder loses at most about a second.

``RecordHandler`` is the session side: every data frame as received plus ``recv_ts_ms``,
spliced in without re-encoding the frame, and ``kalshi_cli.meta`` lines for what a reader
must know (connect, subscribed, disconnect, resubscribe, gap, snapshot_requested: the
vocabulary and fields of ``continuity``, which live output shares); public
trades missed in a reconnect or a gap are backfilled from REST (``feeds.trades``).
"""

from __future__ import annotations

import contextlib
import os
import time
import zlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from kalshi_cli.continuity import (
    CONNECT,
    DISCONNECT,
    GAP,
    RESUBSCRIBE,
    SNAPSHOT_REQUESTED,
    SUBSCRIBED,
    gap_fields,
    meta_line,
    resubscribe_fields,
)
from kalshi_cli.errors import KalshiCliError, UsageError
from kalshi_cli.feeds.runner import FeedHandler
from kalshi_cli.feeds.trades import FetchTrades, TradeGapFiller
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import ORDERBOOK_DELTA, TRADE, Head
from kalshi_cli.recording import META, with_recv_ts
from kalshi_cli.session import Subscription
from kalshi_cli.trade_mark import TRADE_FIRST, TRADE_MARK, TYPE_FIRST

__all__ = ["META", "RecordError", "RecordHandler", "RecordWriter", "parse_rotate", "with_recv_ts"]

BUFFER = 64 * 1024  # bytes of whole lines held before a write
GZIP_MEMBER = 1024 * 1024  # uncompressed bytes after which a gzip member is closed anyway
GZIP_LEVEL = 6  # zlib's default (record --gzip-level): ~1.5 µs a frame; 1 is ~0.6 µs, its files ~1.6x larger
IN_FLIGHT = 4  # members being compressed at once before ``write`` waits for the oldest (bounds memory)

_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class RecordError(KalshiCliError):
    """The recording cannot go on (e.g. the disk is full)."""


def parse_rotate(specs: list[str]) -> tuple[float | None, int | None]:
    """``["1h", "100MB"]`` -> (3600.0, 100_000_000): a period in seconds and a size in bytes."""
    seconds: float | None = None
    size: int | None = None
    for spec in specs:
        text = spec.strip().lower().replace(" ", "")
        num = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = text[len(num) :]
        try:
            value = float(num)
        except ValueError:
            value = -1.0
        if value <= 0 or (unit not in _SIZE_UNITS and unit not in _TIME_UNITS):
            raise UsageError(f"--rotate expects a period like 1h, 30m, 10s or a size like 100MB, 1GB; got {spec!r}")
        if unit in _TIME_UNITS:
            seconds = value * _TIME_UNITS[unit]
        else:
            size = max(1, int(value * _SIZE_UNITS[unit]))
    return seconds, size


class RecordWriter:
    """Lines into rotating files ``PREFIX-YYYYmmddTHHMMSS.mmmZ-NNNN.ndjson[.gz]`` in ``directory``.

    Args:
        directory: where files go (created if missing).
        gzip: write gzip members instead of plain text.
        gzip_level: zlib's level, 1 (quickest) to 9 (smallest).
        rotate_seconds: start a new file when this period (aligned to the epoch) changes.
        rotate_bytes: start a new file once one holds this many bytes on disk.
        clock: seconds since the epoch (injected by tests).
        write: ``os.write``; tests inject one that fails like a full disk.
    """

    def __init__(
        self,
        directory: Path,
        *,
        gzip: bool = False,
        gzip_level: int = GZIP_LEVEL,
        rotate_seconds: float | None = None,
        rotate_bytes: int | None = None,
        prefix: str = "kalshi",
        clock: Callable[[], float] = time.time,
        write: Callable[[int, memoryview], int] = os.write,
    ) -> None:
        self.directory = directory
        self.gzip = gzip
        self.rotate_seconds = rotate_seconds
        self.rotate_bytes = rotate_bytes
        self.prefix = prefix
        self.clock = clock
        self._os_write = write
        self.files: list[Path] = []  # every file opened, oldest first
        self.lines = 0
        self.bytes_in = 0  # NDJSON bytes taken (before compression)
        self.bytes_out = 0  # bytes written to disk
        self._fd: int | None = None
        self._file_bytes = 0  # on disk in the current file
        self._period: int | None = None
        self._period_span = (float("-inf"), float("inf"))  # the current period's [start, end) in seconds
        self._buf = bytearray()  # what goes to disk next: whole lines, or whole gzip members
        self.gzip_level = gzip_level
        self._lines = bytearray() if gzip else self._buf  # gzip: lines not yet handed to the compressor
        self._limit = GZIP_MEMBER if gzip else BUFFER
        self._members: deque[Future[bytes]] = deque()  # being compressed, oldest first
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kalshi-gzip") if gzip else None
        self.closed = False

    @property
    def current(self) -> Path | None:
        return self.files[-1] if self._fd is not None else None

    # --- writing ------------------------------------------------------------------------------

    def write(self, line: bytes) -> None:
        """Append one line (without its newline); after ``close`` lines are dropped, not put in a new file."""
        if self.closed:
            return
        start, end = self._period_span  # (_due, inline: a call per line costs as much as the rest)
        if self._fd is None or not start <= self.clock() < end or (self.rotate_bytes is not None and self._due()):
            self._rotate()
        lines = self._lines
        lines += line
        lines += b"\n"
        self.lines += 1
        self.bytes_in += len(line) + 1
        if len(lines) >= self._limit:
            if self._pool is not None:
                self._hand_over()
                self._collect(IN_FLIGHT)
            self._write_out()

    def flush(self) -> None:
        """Put everything written so far on disk as whole lines (complete gzip members)."""
        if self._fd is None:
            return
        self._hand_over()
        self._collect(0)
        self._write_out()

    def tick(self) -> None:
        """Called periodically: write what is ready (with gzip, the batch just handed to the
        compressor goes out on the next tick), and close a file whose period is over."""
        if self._fd is not None:
            self._hand_over()
            self._collect(1)
            self._write_out()
            if self._due():
                self._close_file()

    def _hand_over(self) -> None:
        """gzip: the pending lines become one member, compressed in the worker thread."""
        if self._pool is not None and self._lines:
            batch, self._lines = self._lines, bytearray()
            self._members.append(self._pool.submit(_gzip_member, batch, self.gzip_level))

    def _collect(self, in_flight: int) -> None:
        """Move finished members to the disk buffer, in order, waiting until at most ``in_flight`` are left."""
        members = self._members
        while members and (len(members) > in_flight or members[0].done()):
            self._buf += members.popleft().result()

    def close(self) -> None:
        """Flush, fsync and close the current file; the recording is over."""
        self.closed = True
        try:
            if self._fd is not None:
                self._close_file()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False)

    # --- files --------------------------------------------------------------------------------

    def _due(self) -> bool:
        if self.rotate_bytes is not None and self._file_bytes + len(self._buf) >= self.rotate_bytes:
            return True
        if self.rotate_seconds is None:
            return False
        start, end = self._period_span
        return not start <= self.clock() < end

    def _period_of(self, now: float) -> int | None:
        return int(now // self.rotate_seconds) if self.rotate_seconds else None

    def _rotate(self) -> None:
        if self._fd is not None:
            self._close_file()
        now = self.clock()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        ext = ".ndjson.gz" if self.gzip else ".ndjson"
        n = len(self.files) + 1
        while True:
            path = self.directory / f"{self.prefix}-{stamp}-{n:04d}{ext}"
            try:
                self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
                break
            except FileExistsError:
                n += 1
            except OSError as exc:
                raise RecordError(f"cannot create {path}: {exc.strerror}") from None
        self.files.append(path)
        self._file_bytes = 0
        self._period = self._period_of(now)
        if self.rotate_seconds and self._period is not None:
            self._period_span = (self._period * self.rotate_seconds, (self._period + 1) * self.rotate_seconds)
        _fsync_dir(self.directory)

    def _write_out(self) -> None:
        """Write the buffer (whole lines, or whole gzip members) to the file.

        If the disk fails part-way, the torn tail is cut off again (``ftruncate``) so the file
        holds whole lines (plain) or whole members (gzip) only; what was not kept stays buffered.
        """
        assert self._fd is not None
        data = self._buf
        done = 0
        failure: str | None = None
        with memoryview(data) as view:
            try:
                while done < len(data):
                    done += self._os_write(self._fd, view[done:])
            except OSError as exc:
                failure = exc.strerror or str(exc)
        # (the buffer is resized only here, once no view of it is left, the exception's included)
        if failure is not None:
            done = data.rfind(b"\n", 0, done) + 1 if self._pool is None else 0
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._file_bytes + done)
        del data[:done]
        self._file_bytes += done
        self.bytes_out += done
        if failure is not None:
            raise RecordError(f"cannot write {self.files[-1]}: {failure}")

    def _close_file(self) -> None:
        assert self._fd is not None
        fd = self._fd
        try:
            self.flush()
            os.fsync(fd)
        except OSError as exc:
            raise RecordError(f"cannot write {self.files[-1]}: {exc.strerror}") from None
        finally:
            self._fd = None
            self._buf.clear()
            self._lines.clear()
            self._members.clear()
            os.close(fd)


def _gzip_member(lines: bytearray, level: int) -> bytes:
    """One whole gzip member (wbits 31: header and trailer); zlib lets go of the GIL meanwhile."""
    return zlib.compress(lines, level, wbits=31)


def _fsync_dir(directory: Path) -> None:
    """Make a new file's name durable too (best effort; not every filesystem allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


class RecordHandler(FeedHandler):
    """Writes every data frame (plus ``recv_ts_ms``) and the meta lines a reader needs.

    ``trades`` (a REST fetch) turns on the public-trade backfill after reconnects and gaps
    (``feeds.trades``); backfilled trades are written with ``"backfill": true``.
    """

    def __init__(
        self,
        writer: RecordWriter,
        *,
        now_ms: Callable[[], int] | None = None,
        trades: FetchTrades | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        super().__init__()
        self.writer = writer
        self.now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self.frames = 0
        self.gaps = 0
        self.reconnects = 0
        self._connects = 0
        self.trades: TradeGapFiller | None = None
        if trades is not None:
            self.trades = TradeGapFiller(
                trades, reporter or Reporter(), write_live=self._write_live, write_backfill=self._write_backfill
            )
        if type(self) is RecordHandler:  # (a subclass that looks at each frame's parse keeps on_data)
            self.passthrough = self._fast_path()

    def _fast_path(self) -> Callable[[bytes], None]:
        """The session's fast path (no ``Head`` per frame): trades and held frames via the backfill."""
        write, now_ms, trades = self._write_live, self.now_ms, self.trades
        mark, type_first, trade_first = TRADE_MARK, TYPE_FIRST, TRADE_FIRST  # (trade_mark.may_be_trade, inline)

        def pass_on(raw: bytes) -> None:
            if trades is not None and (
                trades.holding or (raw.startswith(trade_first) if raw.startswith(type_first) else raw.find(mark) >= 0)
            ):
                trades.live(raw, now_ms())
            else:
                write(raw, now_ms())

        return pass_on

    def _write_live(self, raw: bytes, recv_ts_ms: int) -> None:
        if raw.endswith(b"}") and len(raw) > 2 and raw.find(b"\n") < 0:  # with_recv_ts's splice, inline
            self.writer.write(b'%s,"recv_ts_ms":%d}' % (raw[:-1], recv_ts_ms))
        else:
            self.writer.write(with_recv_ts(raw, recv_ts_ms))
        self.frames += 1

    def _write_backfill(self, frame: dict[str, Any]) -> None:
        self.writer.write(orjson.dumps({**frame, "recv_ts_ms": self.now_ms()}))
        self.frames += 1

    def meta(self, event: str, **fields: Any) -> None:
        self.writer.write(meta_line(event, self.now_ms(), **fields))

    def on_connected(self, url: str) -> None:
        self._connects += 1
        if self._connects > 1:
            self.reconnects += 1
        self.meta(CONNECT, url=url, connection=self._connects)

    def on_subscribed(self, sub: Subscription) -> None:
        self.meta(SUBSCRIBED, channel=sub.channel, sid=sub.sid, markets=sub.markets)
        if self.trades is not None:
            self.trades.subscribed(sub, self.spawn)

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        trades = self.trades
        if trades is not None and (trades.holding or head.type == TRADE):  # what the backfill looks at
            trades.live(raw, self.now_ms())
        else:
            self._write_live(raw, self.now_ms())

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        self.gaps += 1
        self.meta(GAP, **gap_fields(sub, missing, head.seq))
        self.session.reporter.warn(f"seq gap on {sub.label()}: {missing} frame(s) missing before seq {head.seq}")
        if sub.channel == ORDERBOOK_DELTA and sub.markets:
            self.session.request_snapshot(sub, sub.markets)
            self.meta(SNAPSHOT_REQUESTED, channel=sub.channel, sid=sub.sid, markets=sub.markets)
        if self.trades is not None:
            self.trades.gap(sub, self.spawn)

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        self.meta(RESUBSCRIBE, **resubscribe_fields(sub, reason))
        if self.trades is not None:
            self.trades.lost(sub)

    def on_disconnected(self, reason: str) -> None:
        self.meta(DISCONNECT, reason=reason)
        if self.trades is not None:
            self.trades.disconnected()

    def close(self) -> None:
        """Flush, fsync and close the files (the run is over, however it ended)."""
        self.writer.close()
