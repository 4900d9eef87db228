"""Fault suite: the CLI as a subprocess against the simulator's fault injection, over loopback.

Covered elsewhere and not repeated here (tests/test_cli_tail.py): exact frames across a dropped
connection, seq gap report, stall -> reconnect within --stale-after, error 25/10 resubscribe,
503 retries, truncated / non-JSON / unknown-type frames skipped, 401 at the first handshake,
closed pipe, one Ctrl-C. Timeouts here are generous ceilings, never performance assertions.
"""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import assert_clean_error, signed_args, spawn_cli
from tests.test_cli_book import matches_truth
from tests.test_cli_tail import data_frames, lines_of, stop, subscribed, subscribed_total, wait_for


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_slow_reader_memory_bounded_loss_reported_nothing_twice(keys, sim_factory):
    sim = sim_factory(rate=0, markets=3, buffer_limit=50)
    proc = spawn_cli(
        ["tail", "orderbook_delta", *sum((["-m", t] for t in sim.tickers), []), "--json", *signed_args(keys, sim.url)]
    )
    try:
        wait_for(lambda: subscribed(sim) >= 1, what="subscription")
        # Nobody reads stdout: the pipe fills, the CLI blocks on write, the kernel socket buffers
        # fill, the server's queue passes buffer_limit and it drops the subscription (code 25).
        peak = 0
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            sim.step(2000)
            peak = max(peak, rss_kb(proc.pid))
            time.sleep(0.05)
        out = b""
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)

        def drain() -> bool:
            nonlocal out
            try:
                while chunk := os.read(fd, 1 << 20):
                    out += chunk
            except BlockingIOError:
                pass
            return subscribed_total(sim) >= 2

        wait_for(drain, what="resubscribe after code 25")
        sim.step(50)
        wait_for(lambda: drain() and out.endswith(b"\n") and b"\n" in out, what="frames after resubscribe")
    finally:
        code, err = stop(proc)
        out += proc.stdout.read() if not proc.stdout.closed else b""
    assert code == 0, err
    assert "Kalshi error 25" in err and "resubscribing" in err
    lines = out.split(b"\n")[:-1]
    keys_seen = [(obj["sid"], obj["seq"]) for obj in map(orjson.loads, lines)]
    assert len(keys_seen) == len(set(keys_seen)), "a frame was printed twice"
    assert peak < 300_000, f"RSS grew to {peak} KiB while stdout was blocked"


def test_oversize_and_unknown_frames_reported_once_each_and_skipped(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=2)
    out = tmp_path / "out.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["tail", "trade", "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="subscription")
            sim.inject_raw('{"type":"trade","sid":1,"seq":1,"msg":{"pad":"' + "x" * (17 * 1024 * 1024) + '"}}')
            sim.inject_raw('{"type":"brand_new_type","sid":1,"msg":{}}')
            sim.inject_raw('{"type":"brand_new_type","sid":1,"msg":{"again":true}}')
            sim.step(30)
            wait_for(
                lambda: len(lines_of(out)) == len(data_frames(sim.sent_frames(-1))[:-1]) and len(lines_of(out)) > 0,
                what="the real frames",
            )
        finally:
            code, err = stop(proc)
    assert code == 0, err
    assert err.count("oversize frame") == 1, err
    assert err.count("brand_new_type") == 1, err
    assert sim.connections == 1, "a bad frame must never cost the connection"


def test_401_at_reconnect_is_fatal_with_diagnosis(keys, sim_factory):
    sim = sim_factory(rate=20)
    proc = spawn_cli(["tail", "trade", "--json", *signed_args(keys, sim.url)])
    wait_for(lambda: subscribed(sim) >= 1, what="subscription")
    sim.reject_handshakes(401, 5)
    sim.drop_connections()
    _, err = proc.communicate(timeout=30)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, b"", err)
    assert_clean_error(result, 3, "rejected the API key (HTTP 401", "key id matches the private key")


def split_backfill(out: Path, sent: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """The socket's lines, and the server frames that should be among them: all of ``sent`` but the
    trades that the REST backfill (marked ``"backfill": true``) printed first."""
    raw = lines_of(out)  # read once: the file grows while the test polls it
    lines = [orjson.loads(line) for line in raw]
    backfilled = {obj["msg"]["trade_id"] for obj in lines if obj.get("backfill")}
    live = [line for line, obj in zip(raw, lines, strict=True) if not obj.get("backfill")]
    expected = [f for f in sent if orjson.loads(f).get("msg", {}).get("trade_id") not in backfilled]
    return live, expected


def test_server_restart_tail_neither_loses_nor_repeats(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=2)
    out = tmp_path / "out.ndjson"
    with out.open("wb") as fh:
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
            sim.step(40)
            wait_for(lambda: len(lines_of(out)) == len(data_frames(sim.sent_frames(0))), what="first frames")
            sim.restart()
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 2, what="reconnect after restart")
            sim.step(40)
            expected = lambda: data_frames(sim.sent_frames(0)) + data_frames(sim.sent_frames(1))  # noqa: E731
            wait_for(
                lambda: len(split_backfill(out, expected())[0]) >= len(split_backfill(out, expected())[1]),
                what="second connection's frames",
            )
        finally:
            code, err = stop(proc)
    assert code == 0, err
    live, want = split_backfill(out, expected())
    assert live == want  # every frame once, in the server's order (a trade may come by backfill instead)
    trade_ids = [orjson.loads(line)["msg"]["trade_id"] for line in lines_of(out) if b'"type":"trade"' in line]
    assert len(trade_ids) == len(set(trade_ids))
    seqs = [orjson.loads(line).get("seq") for line in live]
    assert seqs.count(1) >= 2, "seqs start again at 1 on the new connection"
    assert "1012" in err or "reconnecting" in err


def test_server_restart_books_heal(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    out = tmp_path / "book.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["book", *sim.tickers, "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            sim.step(20)
            wait_for(lambda: matches_truth(sim, sim.tickers, out), what="first books")
            sim.restart()
            sim.step(30)  # changes while we are away: only fresh snapshots can bring them in
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 1, what="reconnect")
            sim.step(30)
            wait_for(lambda: matches_truth(sim, sim.tickers, out), what="books healed after restart")
        finally:
            code, err = stop(proc)
    assert code == 0, err


def whole_lines_once_each(data: bytes) -> None:
    """Only complete JSON lines, and no data frame twice (seq rises per sid within a connection)."""
    assert not data or data.endswith(b"\n")
    last: dict[int, int] = {}
    for line in data.splitlines():
        obj = orjson.loads(line)
        if obj.get("type") == "kalshi_cli.meta" and obj.get("event") == "connect":
            last.clear()  # a new connection numbers sids and seqs afresh
        sid, seq = obj.get("sid"), obj.get("seq")
        if obj.get("type") != "kalshi_cli.meta" and isinstance(sid, int) and isinstance(seq, int):
            assert seq > last.get(sid, 0), line
            last[sid] = seq


def recording(directory: Path) -> bytes:
    """Every file of a recording, in name order; gzip members must decompress completely."""
    if not directory.exists():
        return b""
    parts = []
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        parts.append(gzip.decompress(data) if path.name.endswith(".gz") else data)
    return b"".join(parts)


# When the signal comes: while the first handshake's rejection is being waited out, right at the
# subscription (for record, while the first file is being opened), mid-stream, and mid-stream
# with a second signal hard on its heels (landing in the cleanup or in the exit). Earlier than
# the first (while the interpreter imports the app) is test_cli_tail's startup test.
MOMENTS = ["connecting", "subscribed", "streaming", "twice"]


@pytest.mark.parametrize("command", ["tail", "book", "record", "record-gzip"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_at_random_moments_leave_whole_lines(keys, sim_factory, tmp_path, command, sig):
    sim = sim_factory(rate=800, markets=3)
    market_args = sum((["-m", t] for t in sim.tickers), [])
    rng = random.Random(f"{command}{sig}")
    for attempt, moment in enumerate(MOMENTS):
        out = tmp_path / f"out{attempt}.ndjson"
        errors = tmp_path / f"err{attempt}.txt"
        rec = tmp_path / f"rec{attempt}"
        args = {
            "tail": ["tail", "trade", "ticker", "orderbook_delta", *market_args, "--json"],
            "book": ["book", *sim.tickers, "--json"],
            "record": ["record", "trade", "ticker", "orderbook_delta", *market_args, "-o", str(rec), "--rotate", "8KB"],
            "record-gzip": [
                "record",
                "trade",
                "ticker",
                "orderbook_delta",
                *market_args,
                "-o",
                str(rec),
                "--rotate",
                "8KB",
                "--gzip",
            ],
        }[command]
        before = subscribed_total(sim)
        if moment == "connecting":  # the first handshake fails and the retry is seconds away
            sim.reject_handshakes(503, 1, {"Retry-After": "5"})
        with out.open("wb") as fh, errors.open("wb") as eh:
            proc = spawn_cli([*args, *signed_args(keys, sim.url)], stdout=fh, stderr=eh)
            try:
                # Not before the app is running (a signal while the interpreter itself starts has
                # the default effect: death with nothing written).
                if moment == "connecting":
                    wait_for(lambda: b"HTTP 503" in errors.read_bytes(), what="rejected handshake")  # noqa: B023
                    time.sleep(rng.uniform(0.0, 0.5))
                else:
                    wait_for(lambda: subscribed_total(sim) > before, what="subscription")  # noqa: B023
                    time.sleep(0.0 if moment == "subscribed" else rng.uniform(0.0, 1.0))
                proc.send_signal(sig)
                if moment == "twice":
                    time.sleep(rng.uniform(0.0, 0.02))
                    proc.send_signal(sig)
                code = proc.wait(timeout=20)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        err = errors.read_text()
        clean = 0 if sig == signal.SIGTERM else 130
        # The second signal of "twice" either hurries the cleanup along (the exit is still clean)
        # or, once the cleanup is over, ends the process as a signal does.
        assert code == clean or (moment == "twice" and code == -sig), (moment, code, err)
        assert "Traceback" not in err, (moment, err)
        whole_lines_once_each(out.read_bytes())
        whole_lines_once_each(recording(rec))
        if command.startswith("record"):
            assert out.read_bytes() == b""  # data goes to the files only
            assert "kalshi: recording: " in err, (moment, err)  # the files were closed (flushed, fsynced)
            if moment == "connecting":
                assert recording(rec) == b"", "nothing to record before a connection"
            else:  # connected before the signal: at least that is on disk
                assert b'"event":"connect"' in recording(rec).split(b"\n", 1)[0], moment


def test_thousands_of_markets_in_one_subscription(keys, sim_factory):
    sim = sim_factory(rate=200, markets=3000)
    tickers = sim.tickers
    proc = subprocess.run(
        [
            *__import__("sys").executable.split(),
            "-m",
            "kalshi_cli",
            "book",
            *tickers,
            "--once",
            "--json",
            *signed_args(keys, sim.url),
        ],
        capture_output=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = {orjson.loads(line)["market_ticker"] for line in proc.stdout.splitlines()}
    assert got == set(tickers)
