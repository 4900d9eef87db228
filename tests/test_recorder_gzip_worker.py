"""``RecordWriter`` with gzip compresses in a worker thread: members still land whole and in order."""

from __future__ import annotations

import gzip
import zlib

import pytest

from kalshi_cli import recorder
from kalshi_cli.recorder import RecordWriter


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


@pytest.mark.parametrize("member", [256, 4096])
def test_many_members_in_flight_stay_whole_and_in_order(tmp_path, monkeypatch, member):
    monkeypatch.setattr(recorder, "GZIP_MEMBER", member)  # many members, more than IN_FLIGHT at once
    writer = RecordWriter(tmp_path, gzip=True)
    lines = [b'{"type":"trade","sid":3,"seq":%d,"msg":{"n":"%s"}}' % (i, b"x" * (i % 97)) for i in range(20_000)]
    for i, line in enumerate(lines):
        writer.write(line)
        if i % 3_000 == 0:
            writer.tick()
            on_disk = b"".join(members(writer.files[-1].read_bytes())).splitlines()
            assert on_disk == lines[: len(on_disk)]  # a prefix: whole lines, none out of order
            assert len(on_disk) >= i + 1 - 3_000 - member  # at most the batch just handed over is pending
    writer.close()
    assert gzip.decompress(writer.files[-1].read_bytes()).splitlines() == lines
    assert writer.lines == len(lines)
    assert writer.bytes_in == sum(len(line) + 1 for line in lines)


def test_tick_writes_the_batch_it_handed_over_by_the_next_tick(tmp_path):
    writer = RecordWriter(tmp_path, gzip=True)
    writer.write(b'{"n":1}')
    writer.tick()  # handed over; it may or may not be compressed yet
    writer.write(b'{"n":2}')
    writer.tick()  # the first batch is on disk now, whatever the worker's speed
    text = b"".join(members(writer.files[-1].read_bytes()))
    assert text in (b'{"n":1}\n', b'{"n":1}\n{"n":2}\n')
    writer.flush()
    assert gzip.decompress(writer.files[-1].read_bytes()) == b'{"n":1}\n{"n":2}\n'
    writer.close()


@pytest.mark.parametrize("level", [1, 9])
def test_the_level_is_zlibs(tmp_path, level):
    writer = RecordWriter(tmp_path, gzip=True, gzip_level=level)
    payload = b"".join(b'{"seq":%d,"price":"0.%02d"}\n' % (i, i % 100) for i in range(5_000))
    for line in payload.splitlines():
        writer.write(line)
    writer.close()
    data = writer.files[-1].read_bytes()
    assert gzip.decompress(data) == payload
    assert data == zlib.compress(payload, level, wbits=31)  # one member, at that level
