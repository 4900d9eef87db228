"""A full disk during ``record``: whatever is on disk after the error is whole lines (plain) and
whole gzip members (gzip). The disk is a real file whose writes start failing with ENOSPC after
N bytes (a tiny tmpfs is not available to tests), injected into ``RecordWriter``."""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_cli.recorder import RecordError, RecordWriter


class FillingDisk:
    """``os.write`` that stores at most ``room`` bytes in all, then fails as a full disk does:
    the write that reaches the limit is short, the next one raises ENOSPC."""

    def __init__(self, room: int) -> None:
        self.room = room

    def __call__(self, fd: int, data: memoryview) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = os.write(fd, data[: self.room])
        self.room -= n
        return n


def fill(tmp_path, room: int, *, gz: bool, lines: int = 3000) -> tuple[RecordWriter, list[bytes]]:
    writer = RecordWriter(tmp_path, gzip=gz, write=FillingDisk(room))
    pad = [hashlib.sha256(b"%d" % i).hexdigest().encode() * (1 + i % 3) for i in range(lines)]  # compresses little
    sent = [b'{"type":"trade","seq":%d,"msg":{"pad":"%s"}}' % (i, pad[i]) for i in range(lines)]
    with pytest.raises(RecordError, match="No space left on device"):
        for line in sent:
            writer.write(line)
            if len(writer.files) and writer.lines % 500 == 0:
                writer.flush()
        writer.close()
    with pytest.raises(RecordError):
        writer.close()  # still full: closing tries again, and leaves the file whole too
    return writer, sent


def members(data: bytes) -> list[bytes]:
    """Each gzip member's text; raises if the data ends inside a member."""
    out = []
    while data:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data))
        if not d.eof:
            raise AssertionError("the file ends inside a gzip member")
        data = d.unused_data
    return out


@settings(max_examples=40, deadline=None)
@given(room=st.integers(min_value=1, max_value=200_000))
def test_plain_file_holds_whole_lines_after_enospc(tmp_path_factory, room):
    tmp = tmp_path_factory.mktemp("disk")
    writer, sent = fill(tmp, room, gz=False)
    data = writer.files[0].read_bytes()
    assert len(data) <= room
    assert data == b"" or data.endswith(b"\n")
    got = data.split(b"\n")[:-1]
    assert got == sent[: len(got)]  # whole lines, in order, none torn


@settings(max_examples=25, deadline=None)
@given(room=st.integers(min_value=1, max_value=60_000))
def test_gzip_file_holds_whole_members_after_enospc(tmp_path_factory, room):
    tmp = tmp_path_factory.mktemp("disk")
    writer, sent = fill(tmp, room, gz=True)
    data = writer.files[0].read_bytes()
    text = b"".join(members(data))
    assert text == gzip.decompress(data) if data else text == b""
    got = text.split(b"\n")[:-1]
    assert text == b"" or text.endswith(b"\n")
    assert got == sent[: len(got)]
