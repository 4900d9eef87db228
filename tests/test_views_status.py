"""The record status line fits the terminal it is redrawn on (it held the full path: ~125 cells)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_cli.render.status import RecordProgress, record_status, size_text
from tests.views_term import Term

DIRECTORY = Path("/home/trader/data/recordings/2026-12-03")
CURRENT = DIRECTORY / "kalshi-20261203T181500Z-0003.ndjson.gz"


def progress(**kw: int) -> RecordProgress:
    base = {"frames": 123_456, "bytes_in": 12_345_678, "files": 3, "reconnects": 0, "gaps": 0}
    return RecordProgress(**{**base, **kw}, bytes_out=2_000_000, current=CURRENT, directory=DIRECTORY)


@pytest.mark.parametrize(("width", "height"), [(80, 24), (60, 15)])
def test_redrawn_in_place_it_stays_on_one_line(width: int, height: int) -> None:
    term = Term(width, height)
    for frames in (1, 50_000, 123_456):  # the redraw `record` does every half second
        term.write("\r\x1b[K" + record_status(progress(frames=frames), width))
    term.fits()
    assert [line for line in term.lines() if line] == [record_status(progress(), width)]
    assert "123,456 frames" in term.lines()[0] and str(DIRECTORY) not in term.text()


def test_wide_terminals_get_the_path_and_narrow_ones_the_name_first() -> None:
    assert str(CURRENT) in record_status(progress(), 200)
    at_80 = record_status(progress(), 80)
    assert len(at_80) <= 80 and CURRENT.name in at_80 and str(DIRECTORY) not in at_80


def test_trouble_outlasts_the_totals() -> None:
    line = record_status(progress(reconnects=2, gaps=5), 60)
    assert "2 reconnects" in line and "5 gaps" in line and "files" not in line


def test_the_final_line_is_whole() -> None:
    line = record_status(progress(), 80, final=True)
    assert line.endswith(f"in {DIRECTORY}") and "(2.0 MB gzip)" in line


def test_sizes() -> None:
    assert [size_text(n) for n in (0, 999, 1000, 12_345_678, 5 * 10**12)] == [
        "0 B",
        "999 B",
        "1.0 KB",
        "12.3 MB",
        "5000.0 GB",
    ]
