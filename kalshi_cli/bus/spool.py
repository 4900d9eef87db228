"""The publisher's backlog on disk, for while the NATS server is away: nothing lost, memory flat.

Written with the recorder's own crash-safe writer (``recorder.RecordWriter``: whole lines only,
flushed twice a second, fsynced when a file is closed), one NDJSON line per frame:
``{"subject":"...","msg_id":"..."|null,"frame":FRAME}`` where FRAME is the published payload byte
for byte. Files are read back oldest first and deleted once everything read from them is
acknowledged by the server. ``--spool DIR`` names the directory; what a run leaves there (it was
killed, or stopped while the server was still away) is published first by the next run on it.
A lock file keeps two recorders off one directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from kalshi_cli.errors import UsageError
from kalshi_cli.recorder import RecordWriter

__all__ = ["SPOOL_FILE_BYTES", "Item", "Spool", "decode_line", "encode_line"]

SPOOL_FILE_BYTES = 8 * 1024 * 1024  # a spool file is closed (and becomes readable) at this size
_PREFIX = "spool"
_FRAME = b',"frame":'


@dataclass(slots=True)
class Item:
    """One frame to publish. ``origin`` is the spool file it was read from (None: never spooled)."""

    subject: str
    msg_id: str | None
    payload: bytes
    origin: Path | None = None


def encode_line(item: Item) -> bytes:
    head = orjson.dumps({"subject": item.subject, "msg_id": item.msg_id})
    return head[:-1] + _FRAME + item.payload + b"}"


def decode_line(line: bytes, origin: Path | None = None) -> Item | None:
    """The item of one spool line (None: a torn or foreign line). The payload is sliced, not re-encoded:
    a JSON string never holds an unescaped ``"``, so the first ``,"frame":`` ends the head."""
    line = line.rstrip(b"\r\n")
    cut = line.find(_FRAME)
    if cut < 0 or not line.endswith(b"}"):
        return None
    try:
        head = orjson.loads(line[:cut] + b"}")
    except orjson.JSONDecodeError:
        return None
    subject, msg_id = head.get("subject"), head.get("msg_id")
    if not isinstance(subject, str) or not (msg_id is None or isinstance(msg_id, str)):
        return None
    return Item(subject, msg_id, line[cut + len(_FRAME) : -1], origin)


class Spool:
    """Items in order on disk: ``append`` at the end, ``take`` from the front.

    Args:
        directory: where the files go (created; locked for this process).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise UsageError(f"cannot use {directory} as the spool directory: {exc.strerror}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock)
            raise UsageError(f"{directory} is the spool of another running recorder; give this one its own") from None
        self._sealed: list[Path] = sorted(
            p for p in directory.iterdir() if p.name.startswith(_PREFIX) and p.name.endswith(".ndjson")
        )
        self.count = sum(_count_lines(p) for p in self._sealed)  # items not yet taken
        self.leftover = self.count  # found on disk at the start (a previous run's)
        # Each writer's files are named spool-NNNNNNNN-<time>-<n>: NNNNNNNN grows with every writer,
        # so names sort in write order even when two writers start in the same millisecond.
        self._next_writer = 1 + max((_writer_number(p) for p in self._sealed), default=0)
        self._writer: RecordWriter | None = None
        self._reading: Iterator[bytes] | None = None
        self._reading_path: Path | None = None
        self._unacked: dict[Path, int] = {}  # file -> items taken from it not yet acknowledged
        self._exhausted: set[Path] = set()  # files read to the end

    def __len__(self) -> int:
        return self.count

    def append(self, item: Item) -> None:
        if self._writer is None:
            prefix = f"{_PREFIX}-{self._next_writer:08d}"
            self._next_writer += 1
            self._writer = RecordWriter(self.directory, prefix=prefix, rotate_bytes=SPOOL_FILE_BYTES)
        self._writer.write(encode_line(item))
        self.count += 1

    def flush(self) -> None:
        """Put what was appended on disk (the recorder's tick calls this twice a second)."""
        if self._writer is not None:
            self._writer.tick()

    def _seal(self) -> None:
        """Close the file being written, so it can be read (a new one starts at the next append)."""
        if self._writer is not None:
            self._writer.close()
            self._sealed += [p for p in self._writer.files if p not in self._sealed]
            self._writer = None

    def take(self, limit: int) -> list[Item]:
        """Up to ``limit`` items from the front, in order (fewer only when the spool is empty)."""
        out: list[Item] = []
        while len(out) < limit and self.count > 0:
            if self._reading is None:
                if not self._sealed:
                    self._seal()
                if not self._sealed:
                    break
                self._reading_path = self._sealed.pop(0)
                self._reading = _lines(self._reading_path)
            path = self._reading_path
            assert path is not None
            for line in self._reading:
                self.count -= 1
                item = decode_line(line, path)
                if item is None:
                    continue  # a torn last line of a killed run: that frame was never whole on disk
                self._unacked[path] = self._unacked.get(path, 0) + 1
                out.append(item)
                if len(out) >= limit:
                    break
            else:
                self._reading = None
                self._exhausted.add(path)
                self._remove_if_done(path)
        if self.count < 0 or (self._reading is None and not self._sealed and self._writer is None):
            self.count = 0  # nothing left to read (a leftover file's torn last line was not counted)
        return out

    def acked(self, item: Item) -> None:
        """``item`` (taken from this spool) is stored by the server: its file may go."""
        path = item.origin
        if path is None or path not in self._unacked:
            return
        self._unacked[path] -= 1
        self._remove_if_done(path)

    def _remove_if_done(self, path: Path) -> None:
        if path in self._exhausted and self._unacked.get(path, 0) <= 0:
            self._unacked.pop(path, None)
            self._exhausted.discard(path)
            with contextlib.suppress(OSError):
                path.unlink()

    def close(self, pending: Sequence[Item] = ()) -> None:
        """Flush and close, keeping the order for the next run: ``pending`` (items taken or never
        spooled, not yet acknowledged, in order) and the unread rest of the file being read go into
        a file named to sort before every other. An empty spool directory is removed."""
        self._seal()
        rest = list(self._reading) if self._reading is not None else []
        if pending or rest:
            # sorts before spool-NNNNNNNN-... ('-' < '0'), and newer runs get smaller numbers: a run's
            # leftovers come before the older files it had not read
            firsts = [p.name[len(_PREFIX) + 3 : -len(".ndjson")] for p in self.directory.glob(f"{_PREFIX}-0-*.ndjson")]
            number = min([10**13 - time.time_ns() // 1_000_000] + [int(f) - 1 for f in firsts if f.isdigit()])
            name = f"{_PREFIX}-0-{number:013d}.ndjson"
            data = b"".join(encode_line(i) + b"\n" for i in pending) + b"".join(
                line if line.endswith(b"\n") else line + b"\n" for line in rest
            )
            fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
        if self._reading_path is not None:
            self._reading = None
            with contextlib.suppress(OSError):
                self._reading_path.unlink()
        for path in [p for p in self._exhausted if p != self._reading_path]:
            with contextlib.suppress(OSError):
                path.unlink()  # read to the end: what was not acknowledged is in ``pending``
        os.close(self._lock)
        with contextlib.suppress(OSError):
            if not any(p.name.startswith(_PREFIX) for p in self.directory.iterdir()):
                (self.directory / ".lock").unlink()
                self.directory.rmdir()


def _writer_number(path: Path) -> int:
    """NNNNNNNN of ``spool-NNNNNNNN-...`` (0 for the ``spool-0-...`` file a stopped run left first)."""
    field = path.name.split("-")[1] if path.name.count("-") >= 2 else ""
    return int(field) if field.isdigit() and len(field) == 8 else 0


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as fh:
        yield from fh


def _count_lines(path: Path) -> int:
    with contextlib.suppress(OSError), open(path, "rb") as fh:
        return sum(1 for line in fh if line.endswith(b"\n"))
    return 0
