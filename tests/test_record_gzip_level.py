"""`kalshi record --gzip --gzip-level N`: the level reaches zlib (the gzip header's XFL byte says
which end of the scale wrote a member) and the files still read; the flag alone is a usage error."""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import assert_clean_error, run_cli


@pytest.mark.parametrize(("level", "xfl"), [(1, 4), (9, 2)])
def test_gzip_level_reaches_zlib_and_files_read(tmp_path: Path, level: int, xfl: int) -> None:
    out = tmp_path / "rec"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_cli", "record", "trade", "orderbook_delta", "--sim", "-o", str(out)]
        + ["--gzip", "--gzip-level", str(level), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(p.stat().st_size > 100 for p in out.glob("*.gz")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err
    files = sorted(out.glob("*.ndjson.gz"))
    assert files, err
    raw = files[0].read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[8] == xfl  # RFC 1952: XFL 2 = slowest, 4 = fastest
    lines = gzip.decompress(raw).splitlines()
    assert lines and all(isinstance(orjson.loads(line), dict) for line in lines)


def test_gzip_level_without_gzip_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli(["record", "trade", "--sim", "-o", str(tmp_path / "rec"), "--gzip-level", "1"])
    assert_clean_error(proc, 2, "--gzip-level goes with --gzip")
