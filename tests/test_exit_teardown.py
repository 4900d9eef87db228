"""``entry.main`` freezes the collector once the command is done (the interpreter's teardown then
skips its collections): nothing the command wrote may be lost by it. Real subprocesses of
``python -m kalshi_cli`` (the console script's ``main``), stdout block-buffered to a file."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import ROOT, cli_env

CHANNELS = ["trade", "ticker", "orderbook_delta"]


def kalshi(args: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    env = cli_env()
    env.pop("PYTHONUNBUFFERED")  # stdout block-buffered, as a user's redirect to a file is
    return subprocess.run([sys.executable, "-m", "kalshi_cli", *args], env=env, cwd=ROOT, timeout=120, **kw)


def capture(path: Path, count: int) -> list[dict[str, object]]:
    """``tail --json --sim --count N > path``: N whole lines, each a frame."""
    with path.open("wb") as out:
        proc = kalshi(["tail", *CHANNELS, "--sim", "--json", "--count", str(count), "-q"], stdout=out)
    assert proc.returncode == 0
    data = path.read_bytes()
    assert data.endswith(b"\n")
    frames = [orjson.loads(line) for line in data.splitlines()]
    assert len(frames) == count and all(type(f) is dict and "type" in f and "msg" in f for f in frames)
    return frames


def test_tail_json_to_a_file_has_every_line_after_exit(tmp_path: Path) -> None:
    for count in (1, 700):
        capture(tmp_path / f"tail-{count}.ndjson", count)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_a_recording_of_a_replay_holds_every_frame_after_exit(tmp_path: Path, gz: bool) -> None:
    """The recorder ends by itself at the replay's end: every frame served is on disk, the last one too."""
    sent = capture(tmp_path / "cap.ndjson", 600)
    rec = tmp_path / "rec"
    args = ["record", *CHANNELS, "--replay", str(tmp_path / "cap.ndjson"), "--replay-speed", "max", "-o", str(rec)]
    proc = kalshi([*args, *(["--gzip"] if gz else [])], capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"recording: 600 frames" in proc.stderr
    lines: list[bytes] = []
    for path in sorted(rec.iterdir()):
        data = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()  # gzip: raises if cut
        assert data.endswith(b"\n")
        lines += data.splitlines()
    recorded = [obj for obj in map(orjson.loads, lines) if obj["type"] != "kalshi_cli.meta"]
    assert [(f["type"], f["msg"]) for f in recorded] == [(f["type"], f["msg"]) for f in sent]


def test_the_command_ends_with_the_collector_frozen() -> None:
    """After the command (and only then: its exit status is already decided) the heap is frozen."""
    code = (
        "import gc, sys\n"
        "from kalshi_cli.entry import main\n"
        "sys.argv = ['kalshi', 'tail', 'ticker', '--sim', '--json', '--count', '3', '-q']\n"
        "try:\n    main()\nexcept SystemExit as exc:\n"
        "    sys.stderr.write(f'status={exc.code} frozen={gc.get_freeze_count()}')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, timeout=60, env=cli_env())
    status, frozen = (int(part.split("=")[1]) for part in proc.stderr.decode().split()[-2:])
    assert status == 0 and frozen > 10_000, proc.stderr.decode()
    assert len(proc.stdout.splitlines()) == 3
