"""`kalshi record` and `kalshi replay` as subprocesses against the simulator: lossless files, healed books."""

from __future__ import annotations

import gzip
import signal
import time
from pathlib import Path

import orjson
import pytest
from websockets.sync.client import connect

from kalshi_cli.protocol import DATA_TYPES
from tests.conftest import assert_clean_error, run_cli, signed_args, spawn_cli
from tests.inprocess import run_inprocess
from tests.test_cli_book import last_lines
from tests.test_cli_tail import (
    assert_sent_once_allowing_trade_backfill,
    data_frames,
    lines_of,
    live_and_wanted,
    stop,
    subscribed,
    wait_for,
)

META = b'"type":"kalshi_cli.meta"'


def recorded_lines(directory: Path) -> list[bytes]:
    """Every line of every file, files in name order (gzip or plain)."""
    out: list[bytes] = []
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        out += data.split(b"\n")[:-1]
    return out


def recorded_data(directory: Path) -> list[bytes]:
    return [line for line in recorded_lines(directory) if META not in line]


def without_recv_ts(line: bytes) -> bytes:
    head, sep, tail = line.rpartition(b',"recv_ts_ms":')
    assert sep and tail[:-1].isdigit() and tail.endswith(b"}"), line
    return head + b"}"


def on_disk(directory: Path) -> list[bytes]:
    """The recorded data frames without their recv_ts_ms: the frames as the server sent them."""
    return [without_recv_ts(line) for line in recorded_data(directory)] if directory.exists() else []


def equal_lengths(a: list[bytes], b: list[bytes]) -> bool:
    return len(a) == len(b)


def markets(sim) -> list[str]:
    return [arg for t in sim.tickers for arg in ("-m", t)]


def meta_events(directory: Path) -> list[str]:
    return [orjson.loads(line)["event"] for line in recorded_lines(directory) if META in line]


def test_record_through_a_gap_and_a_drop_then_replay_ends_on_the_live_book(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    tickers = sim.tickers
    rec = tmp_path / "rec"
    proc = spawn_cli(["record", "orderbook_delta", "trade", *markets(sim), "-o", str(rec), *signed_args(keys, sim.url)])
    try:
        wait_for(lambda: subscribed(sim) >= 2, what="subscriptions")
        sim.step(40)
        sim.skip_seq("orderbook_delta", 3)
        sim.step(40)
        wait_for(
            lambda: (
                any(b'"id"' in f and b"orderbook_snapshot" in f for f in recorded_data(rec)) if rec.exists() else False
            ),
            what="the re-requested snapshots on disk",
        )
        sim.drop_connections()
        wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 2, what="reconnect")
        sim.step(40)
        sent = data_frames(sim.sent_frames(0)) + data_frames(sim.sent_frames(1))
        # (a trade may be on disk from the REST backfill instead: see assert_sent_once_...)
        wait_for(lambda: equal_lengths(*live_and_wanted(on_disk(rec), sent)), what="every frame on disk")
        truth = {t: sim.true_book(t) for t in tickers}
    finally:
        code, err = stop(proc)
    assert code == 0, err
    assert_sent_once_allowing_trade_backfill(on_disk(rec), sent)
    events = meta_events(rec)
    for event in ("connect", "subscribed", "gap", "snapshot_requested", "disconnect"):
        assert event in events, events
    assert events.count("connect") == 2

    replayed = run_cli(["book", *tickers, "--json", "--replay", str(rec), "--replay-speed", "max"])
    assert replayed.returncode == 0, replayed.stderr
    out = tmp_path / "book.ndjson"
    out.write_bytes(replayed.stdout)
    last = last_lines(out)
    for t in tickers:
        want = truth[t]
        got = last[t]
        assert (got["yes_dollars_fp"], got["no_dollars_fp"], got["clock"]) == (
            want.get("yes_dollars_fp", []),
            want.get("no_dollars_fp", []),
            want["clock"],
        )
    assert "end of the recording" in replayed.stderr.decode()


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_sigterm_leaves_every_file_complete(keys, sim_factory, tmp_path, gz):
    sim = sim_factory(rate=400, markets=3)
    rec = tmp_path / "rec"
    proc = spawn_cli(
        [
            "record",
            "orderbook_delta",
            "trade",
            "ticker",
            *markets(sim),
            "-o",
            str(rec),
            "--rotate",
            "4KB",
            *(["--gzip"] if gz else []),
            *signed_args(keys, sim.url),
        ]
    )
    try:
        wait_for(lambda: rec.exists() and len(list(rec.iterdir())) >= 3, what="a few files")
        time.sleep(0.2)
    finally:
        code, err = stop(proc, signal.SIGTERM)
    assert code == 0, err
    files = sorted(rec.iterdir())
    assert all(f.name.endswith(".ndjson.gz" if gz else ".ndjson") for f in files)
    for f in files:
        data = gzip.decompress(f.read_bytes()) if gz else f.read_bytes()  # gzip: raises if incomplete
        assert data.endswith(b"\n"), f
        for line in data.splitlines():
            obj = orjson.loads(line)
            assert isinstance(obj["recv_ts_ms"], int)
    assert "recording:" in err and f"{len(files)} files" in err


def test_a_killed_recorder_leaves_whole_lines(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=400, markets=3)
    rec = tmp_path / "rec"
    proc = spawn_cli(
        ["record", "orderbook_delta", "trade", "ticker", *markets(sim), "-o", str(rec), *signed_args(keys, sim.url)]
    )
    try:
        wait_for(lambda: rec.exists() and any(f.stat().st_size > 20_000 for f in rec.iterdir()), what="some data")
    finally:
        proc.kill()
        proc.communicate(timeout=20)
    for f in rec.iterdir():
        data = f.read_bytes()
        assert data.endswith(b"\n")
        for line in data.splitlines():
            orjson.loads(line)


def test_size_rotation_files_concatenate_to_the_whole_stream(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    rec = tmp_path / "rec"
    proc = spawn_cli(
        [
            "record",
            "trade",
            "ticker",
            "orderbook_delta",
            *markets(sim),
            "-o",
            str(rec),
            "--rotate",
            "3KB",
            *signed_args(keys, sim.url),
        ]
    )
    try:
        wait_for(lambda: subscribed(sim) >= 3, what="subscriptions")
        sim.step(60)
        sent = data_frames(sim.sent_frames(0))
        wait_for(lambda: rec.exists() and len(recorded_data(rec)) == len(sent), what="every frame on disk")
    finally:
        code, err = stop(proc)
    assert code == 0, err
    files = sorted(rec.iterdir())
    assert len(files) >= 3
    assert all(f.stat().st_size < 3000 + 2000 for f in files)  # one line may carry a file past the limit
    assert_sent_once_allowing_trade_backfill(on_disk(rec), sent)


def test_tail_replay_prints_the_captured_frames_renumbered(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    capture = tmp_path / "capture.ndjson"
    with capture.open("wb") as fh:
        proc = spawn_cli(
            [
                "tail",
                "trade",
                "orderbook_delta",
                "-m",
                sim.tickers[0],
                "-m",
                sim.tickers[1],
                "--json",
                *signed_args(keys, sim.url),
            ],
            stdout=fh,
        )
        try:
            wait_for(lambda: subscribed(sim) >= 2, what="subscriptions")
            sim.step(60)
            sent = data_frames(sim.sent_frames(0))
            wait_for(lambda: len(lines_of(capture)) == len(sent), what="the capture")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    proc2 = run_cli(
        [
            "tail",
            "trade",
            "orderbook_delta",
            "-m",
            sim.tickers[0],
            "-m",
            sim.tickers[1],
            "--json",
            "--replay",
            str(capture),
            "--replay-speed",
            "max",
        ]
    )
    assert proc2.returncode == 0, proc2.stderr
    before = [orjson.loads(line) for line in lines_of(capture)]
    after = [orjson.loads(line) for line in proc2.stdout.splitlines()]
    assert [(f["type"], f["msg"]) for f in after] == [(f["type"], f["msg"]) for f in before]
    seqs: dict[int, list[int]] = {}
    for f in after:
        if "seq" in f:
            seqs.setdefault(f["sid"], []).append(f["seq"])
    assert sorted(seqs) == [1, 2]
    for got in seqs.values():
        assert got == list(range(1, len(got) + 1))


def test_replay_command_serves_then_exits_at_the_end(tmp_path):
    rec = tmp_path / "tiny.ndjson"
    frames = [
        {
            "type": "trade",
            "sid": 4,
            "seq": 10 + i,
            "msg": {"market_ticker": "KXA", "count_fp": f"{i}.00", "ts_ms": 1_000 + i},
        }
        for i in range(1, 6)
    ]
    rec.write_bytes(b"".join(orjson.dumps(f) + b"\n" for f in frames))
    proc = spawn_cli(["replay", str(rec), "--speed", "max"])
    try:
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("ws://127.0.0.1:") and url.endswith("/trade-api/ws/v2")
        got = []
        with connect(url) as ws:
            ws.send(orjson.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}}).decode())
            for message in ws:
                got.append(orjson.loads(message))
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=20)
    assert (got[0]["type"], got[0]["id"], got[0]["msg"]) == ("subscribed", 1, {"channel": "trade", "sid": 1})
    data = [f for f in got if f["type"] in DATA_TYPES]
    assert [(f["sid"], f["seq"], f["msg"]) for f in data] == [(1, i, frames[i - 1]["msg"]) for i in range(1, 6)]
    assert b"frames/s" in err


@pytest.mark.parametrize(
    "content,needle",
    [
        (None, "no such file"),
        (b"", "is empty"),
        (b"time,price\n1,2\n", "is not NDJSON"),
        (b'{"market_ticker":"X","yes_dollars_fp":[]}\n', "no Kalshi data frames"),
    ],
    ids=["missing", "empty", "csv", "no-frames"],
)
def test_bad_recordings_are_one_clear_error(tmp_path, content, needle):
    path = tmp_path / "rec.ndjson"
    if content is not None:
        path.write_bytes(content)
    assert_clean_error(run_cli(["replay", str(path)]), 2, needle)
    assert_clean_error(run_cli(["tail", "trade", "--replay", str(path)]), 2, needle)


def test_bad_record_options_are_clear_errors(tmp_path):
    assert_clean_error(
        run_inprocess(["record", "trade", "-o", str(tmp_path), "--rotate", "soon", "--sim"]), 2, "--rotate"
    )
    assert_clean_error(run_inprocess(["record", "trades_x", "-o", str(tmp_path), "--sim"]), 2, "unknown channel")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_clean_error(run_inprocess(["record", "trade", "-o", str(blocker / "sub"), "--sim"]), 2, "output directory")
    assert_clean_error(run_cli(["replay", str(tmp_path), "--speed", "0"]), 2, "--speed")
