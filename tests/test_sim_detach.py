"""`kalshi sim` and `kalshi replay` as real processes: they let go of a pipe once its reader has the URL
(so `$(kalshi sim | head -1)` returns), keep serving, stop on a signal, and refuse bad options in one line."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time

import orjson
import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from kalshi_cli.sim.wire import ws_url
from tests.conftest import ROOT, assert_clean_error, cli_env, run_cli, spawn_cli

KALSHI = f"{shlex.quote(sys.executable)} -m kalshi_cli"


def head_one(command: str) -> tuple[str, int]:
    """Run ``command | head -1`` in a shell; return the line and the pid of the server left serving."""
    done = subprocess.run(
        f"{command} | head -1", shell=True, capture_output=True, timeout=60, cwd=ROOT, env=cli_env()
    )  # a pipeline waits for all its processes: this returns only if the server let go
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    found = re.search(r"serving in the background \(pid (\d+)\); stop it with: kill \1", err)
    assert found, err
    return done.stdout.decode().strip(), int(found.group(1))


def subscribe(url: str, channel: str = "trade") -> dict:
    with connect(url, open_timeout=10) as ws:
        ws.send(orjson.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": [channel]}}).decode())
        return orjson.loads(ws.recv(10))


def wait_refused(url: str, what: str) -> None:
    """Wait (20 s at most) until nothing listens at ``url`` any more."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with connect(url, open_timeout=2):
                pass
        except OSError:
            return
        except (InvalidHandshake, ConnectionClosed):  # a 503, a cut handshake or a drop while it closes
            pass
        time.sleep(0.05)
    raise AssertionError(f"{what} still serving at {url}")


def stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def test_sim_in_a_command_substitution_returns_and_keeps_serving() -> None:
    url, pid = head_one(f"{KALSHI} sim --rate 0")
    try:
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/trade-api/ws/v2", url)
        assert subscribe(url)["type"] == "subscribed"  # still serving after the pipeline returned
        assert subscribe(url)["type"] == "subscribed"
    finally:
        stop(pid)
    wait_refused(url, "the background simulator after SIGTERM")


def test_replay_in_a_command_substitution_returns_serves_the_data_then_ends(tmp_path) -> None:
    rec = tmp_path / "capture.ndjson"
    frames = [
        {"type": "trade", "sid": 3, "seq": i, "msg": {"market_ticker": "KXA", "count_fp": f"{i}.00"}} for i in (1, 2)
    ]
    rec.write_bytes(b"".join(orjson.dumps(f) + b"\n" for f in frames))
    url, pid = head_one(f"{KALSHI} replay {shlex.quote(str(rec))} --speed max")
    try:
        got = []
        with connect(url, open_timeout=10) as ws:
            ws.send(orjson.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}}).decode())
            got = [orjson.loads(m) for m in ws]  # until the server closes at the end of the data
        assert [f["msg"]["count_fp"] for f in got if f["type"] == "trade"] == ["1.00", "2.00"]
    finally:
        stop(pid)
    wait_refused(url, "the background replay after the end of its data")


def test_a_pipe_that_is_still_read_keeps_the_server_in_the_foreground() -> None:
    proc = spawn_cli(["sim", "--rate", "0"])
    try:
        url = proc.stdout.readline().decode().strip()
        assert subscribe(url)["type"] == "subscribed"
        assert proc.poll() is None  # the reader still holds the pipe: nothing went to the background
        proc.send_signal(signal.SIGTERM)  # forwarded to the server, which stops; its status is ours
        assert proc.wait(20) == 0
        _, err = proc.communicate(timeout=20)
        assert b"Traceback" not in err and b"background" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_refused(url, "the simulator after SIGTERM")


def test_ctrl_c_stops_the_server_even_when_the_pipe_reader_dies_with_it() -> None:
    proc = spawn_cli(["sim", "--rate", "0"])
    try:
        url = proc.stdout.readline().decode().strip()
        assert subscribe(url)["type"] == "subscribed"
        proc.send_signal(signal.SIGINT)  # as Ctrl-C on `kalshi sim | cat` would: the reader goes too
        proc.stdout.close()
        assert proc.wait(20) == 130
        err = proc.stderr.read()
        assert b"background" not in err and b"Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
    wait_refused(url, "the simulator after Ctrl-C")


def test_a_killed_relay_leaves_no_server_behind() -> None:
    proc = spawn_cli(["sim", "--rate", "0"])
    try:
        url = proc.stdout.readline().decode().strip()
        assert subscribe(url)["type"] == "subscribed"
    finally:
        proc.kill()  # SIGKILL: no chance to forward anything
        proc.communicate(timeout=20)
    wait_refused(url, "the simulator whose relay was killed")


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--port", "99999"], "--port must be between 0 and 65535"),
        (["--port", "-1"], "--port must be between 0 and 65535"),
        (["--markets", "0"], "--markets must be between 1 and 20000"),
        (["--markets", "20001"], "--markets must be between 1 and 20000"),
        (["--rate", "nan"], "--rate must be"),
        (["--rate", "-1"], "--rate must be"),
        (["--rate", "inf"], "--rate must be"),
        (["--host", "no-such-host.invalid"], "cannot listen on no-such-host.invalid:0"),
        (["--public-key", "/no/such/key.pem"], "cannot read public key /no/such/key.pem"),
    ],
)
def test_bad_sim_options_are_one_line_usage_errors(args, needle) -> None:
    assert_clean_error(run_cli(["sim", *args]), 2, needle)


def test_a_file_that_is_no_public_key_is_named_but_not_quoted(tmp_path, keys) -> None:
    err = assert_clean_error(run_cli(["sim", "--public-key", str(keys.private)]), 2, "is not a PEM public key")
    assert "PRIVATE KEY" not in err and str(keys.private) in err


def test_a_port_in_use_is_a_usage_error() -> None:
    proc = spawn_cli(["sim", "--rate", "0"])
    try:
        port = proc.stdout.readline().decode().split(":")[2].split("/")[0]
        assert_clean_error(run_cli(["sim", "--port", port]), 2, f"cannot listen on 127.0.0.1:{port}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--speed", "nan"], "--speed"),
        (["--speed", "1e400"], "--speed"),
        (["--host", "no-such-host.invalid"], "cannot listen on no-such-host.invalid:0"),
        (["--public-key", "/no/such/key.pem"], "cannot read public key /no/such/key.pem"),
    ],
)
def test_bad_replay_options_are_one_line_usage_errors(tmp_path, args, needle) -> None:
    rec = tmp_path / "capture.ndjson"
    rec.write_bytes(orjson.dumps({"type": "trade", "sid": 1, "seq": 1, "msg": {"market_ticker": "KXA"}}) + b"\n")
    assert_clean_error(run_cli(["replay", str(rec), *args]), 2, needle)


def test_the_url_of_an_ipv6_host_has_brackets() -> None:
    assert ws_url("::1", 8765) == "ws://[::1]:8765/trade-api/ws/v2"
    assert ws_url("127.0.0.1", 8765) == "ws://127.0.0.1:8765/trade-api/ws/v2"
