"""`kalshi tail` as a real subprocess against the simulator over loopback."""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from kalshi_cli.protocol import DATA_TYPES
from tests.conftest import assert_clean_error, run_cli, signed_args, spawn_cli
from tests.inprocess import run_inprocess


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def subscribed(sim, conn: int = -1) -> int:
    """How many subscriptions the simulator confirmed on a connection (latest by default)."""
    if sim.connections == 0:
        return 0
    return sum('"type":"subscribed"' in f for f in sim.sent_frames(conn))


def subscribed_total(sim) -> int:
    return sum(subscribed(sim, i) for i in range(sim.connections))


def data_frames(frames: list[str]) -> list[bytes]:
    """The frames a tail should print: parseable data frames, in order."""
    out = []
    for f in frames:
        try:
            kind = orjson.loads(f).get("type")
        except orjson.JSONDecodeError:
            continue
        if kind in DATA_TYPES:
            out.append(f.encode())
    return out


def live_and_wanted(got: list[bytes], expected: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """``got``'s frames not marked "backfill", and ``expected`` without the trades that came back
    from REST instead (after a reconnect or gap a trade may be printed from the trade backfill,
    and its socket frame, if any, skipped)."""
    frames = [orjson.loads(line) for line in got]
    backfilled = {f["msg"]["trade_id"] for f in frames if f.get("backfill")}
    live = [line for line, f in zip(got, frames, strict=True) if not f.get("backfill")]
    sent = [(line, orjson.loads(line)) for line in expected]
    wanted = [line for line, f in sent if f["type"] != "trade" or f["msg"]["trade_id"] not in backfilled]
    return live, wanted


def assert_sent_once_allowing_trade_backfill(got: list[bytes], expected: list[bytes]) -> None:
    """Every frame sent exactly once and in order, except that trades may come from the REST
    backfill (marked) instead of the socket; each trade exactly once, none lost."""
    live, wanted = live_and_wanted(got, expected)
    assert live == wanted
    frames = [orjson.loads(line) for line in got]
    assert all(f["type"] == "trade" for f in frames if f.get("backfill"))
    trade_ids = [f["msg"]["trade_id"] for f in frames if f["type"] == "trade"]
    assert len(trade_ids) == len(set(trade_ids))
    sent_trades = {f["msg"]["trade_id"] for f in map(orjson.loads, expected) if f["type"] == "trade"}
    assert sent_trades <= set(trade_ids)


def lines_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return data.split(b"\n")[:-1] if data else []


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    return proc.returncode, err.decode()


def test_json_is_exactly_the_frames_sent_in_order_across_a_disconnect(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    tickers = sim.tickers
    out = tmp_path / "out.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(
            [
                "tail",
                "trade",
                "ticker",
                "orderbook_delta",
                "fill",
                *sum((["-m", t] for t in tickers), []),
                "--json",
                *signed_args(keys, sim.url),
            ],
            stdout=fh,
        )
        try:
            wait_for(lambda: subscribed(sim) >= 4, what="subscriptions")
            sim.step(40)
            first = wait_for(
                lambda: len(lines_of(out)) == len(data_frames(sim.sent_frames(0))) and len(lines_of(out)),
                what="first connection's frames",
            )
            sim.drop_connections()
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 4, what="reconnect")
            sim.step(40)
            expected = data_frames(sim.sent_frames(0)) + data_frames(sim.sent_frames(1))
            wait_for(lambda: len(lines_of(out)) >= len(expected), what="second connection's frames")
            expected = data_frames(sim.sent_frames(0)) + data_frames(sim.sent_frames(1))
        finally:
            code, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    got = lines_of(out)
    assert first > 0
    assert_sent_once_allowing_trade_backfill(got, expected)
    assert "reconnecting" in err


def test_seq_gap_is_reported_and_book_resnapshotted(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=2)
    out = tmp_path / "out.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(
            ["tail", "orderbook_delta", "-m", sim.tickers[0], "--json", *signed_args(keys, sim.url)], stdout=fh
        )
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="subscription")
            sim.step(10)
            sim.skip_seq("orderbook_delta", 2)
            for _ in range(30):
                sim.step(1)
            wait_for(
                lambda: any(b'"id"' in line and b"orderbook_snapshot" in line for line in lines_of(out)),
                what="get_snapshot reply",
            )
        finally:
            code, err = stop(proc)
    assert code == 0
    assert "seq gap" in err and "2 frame(s) missing" in err


def test_count_exits_zero(keys, sim_factory):
    sim = sim_factory(rate=200, markets=3)
    proc = run_inprocess(["tail", "trade", "ticker", "--json", "--count", "5", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 5
    assert all(orjson.loads(line)["type"] in ("trade", "ticker") for line in lines)


def test_sim_flag_needs_no_account():
    proc = run_inprocess(["tail", "trade", "--sim", "--json", "--count", "3", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert [orjson.loads(x)["type"] for x in proc.stdout.splitlines()] == ["trade"] * 3


def test_terminal_lines_are_readable(keys, sim_factory):
    sim = sim_factory(rate=200, markets=2)
    # --json is not given and stdout is a pipe: still NDJSON. The pretty renderer is unit-tested.
    proc = run_cli(["tail", "trade", "--count", "2", *signed_args(keys, sim.url)])
    assert proc.returncode == 0
    assert all(orjson.loads(x)["type"] == "trade" for x in proc.stdout.splitlines())


def test_on_a_terminal_each_frame_is_one_readable_line():
    # in-process, with stdout a terminal: the sink is the readable one (no pty needed)
    proc = run_inprocess(["tail", "trade", "--sim", "--count", "3", "-q"], stdout_isatty=True)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 3 and all("TRADE" in line and "{" not in line for line in lines), lines
    json_lines = run_inprocess(["tail", "trade", "--sim", "--count", "3", "-q", "--json"], stdout_isatty=True)
    assert [orjson.loads(x)["type"] for x in json_lines.stdout.splitlines()] == ["trade"] * 3  # --json wins


def test_closed_pipe_ends_quietly(keys, sim_factory):
    sim = sim_factory(rate=500, markets=3)
    cmd = shlex.join(
        [sys.executable, "-m", "kalshi_cli", "tail", "trade", "ticker", "--json", *signed_args(keys, sim.url)]
    )
    proc = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{cmd} | head -n 2"],
        capture_output=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert len(proc.stdout.splitlines()) == 2
    assert b"Traceback" not in proc.stderr and b"Exception ignored" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr


def test_ctrl_c_exits_130_without_traceback(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=100)
    proc = spawn_cli(["tail", "trade", "--json", *signed_args(keys, sim.url)])
    wait_for(lambda: subscribed(sim) >= 1, what="subscription")
    time.sleep(0.3)
    code, err = stop(proc, signal.SIGINT)
    assert code == 130, err
    assert "Traceback" not in err


def test_stall_reconnects_within_stale_after(keys, sim_factory):
    sim = sim_factory(rate=20)
    proc = spawn_cli(["tail", "trade", "--json", "--stale-after", "1", *signed_args(keys, sim.url)])
    try:
        wait_for(lambda: subscribed(sim) >= 1, what="subscription")
        sim.stall(6)
        wait_for(lambda: sim.connections >= 2, timeout=5, what="reconnect after stall")
    finally:
        code, err = stop(proc)
    assert "no data or heartbeat" in err


def test_terminal_subscription_errors_resubscribe(keys, sim_factory):
    sim = sim_factory(rate=50)
    proc = spawn_cli(["tail", "trade", "--json", *signed_args(keys, sim.url)])
    try:
        wait_for(lambda: subscribed(sim) >= 1, what="subscription")
        sim.send_error(25, "trade")
        wait_for(lambda: subscribed_total(sim) >= 2, what="resubscribe after 25")
        sim.send_error(10, "trade")
        wait_for(lambda: subscribed_total(sim) >= 3, what="resubscribe after 10")
    finally:
        code, err = stop(proc)
    assert code == 0
    assert "Kalshi error 25" in err and "Kalshi error 10" in err and "resubscribing" in err


def test_retries_after_503_then_streams(keys, sim_factory):
    sim = sim_factory(rate=100)
    sim.reject_handshakes(503, 2)
    proc = run_cli(["tail", "trade", "--json", "--count", "2", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.decode().count("HTTP 503") == 2


def test_malformed_frames_are_skipped(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0)
    out = tmp_path / "out.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["tail", "trade", "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="subscription")
            sim.inject_raw('{"type":"trade","sid":1,"seq":')
            sim.inject_raw("not json at all")
            sim.inject_raw('{"type":"mystery_type","msg":{}}')
            sim.step(30)
            wait_for(lambda: len(lines_of(out)) == len(data_frames(sim.sent_frames(0))), what="frames")
        finally:
            code, err = stop(proc)
    assert code == 0
    assert err.count("skipping unreadable frame") == 2
    assert "mystery_type" in err


# --- bad input: one line, right status, no traceback -------------------------------------------


def test_unknown_channel():
    assert_clean_error(
        run_inprocess(["tail", "trades", "--sim"]), 2, "unknown channel 'trades'", "Did you mean 'trade'"
    )


def test_orderbook_needs_a_market(keys, sim_factory):
    sim = sim_factory(rate=0)
    assert_clean_error(run_inprocess(["tail", "orderbook_delta", *signed_args(keys, sim.url)]), 2, "-m TICKER")


def test_missing_key_file(sim_factory):
    sim = sim_factory(rate=0)
    proc = run_cli(["tail", "trade", "--url", sim.url, "--key-id", "k", "--private-key", "/nonexistent.pem"])
    assert_clean_error(proc, 3, "not found", "/nonexistent.pem")


def test_garbage_key_file(tmp_path, sim_factory):
    sim = sim_factory(rate=0)
    bad = tmp_path / "bad.pem"
    bad.write_text("this is not a key")
    bad.chmod(0o600)
    proc = run_cli(["tail", "trade", "--url", sim.url, "--key-id", "k", "--private-key", str(bad)])
    assert_clean_error(proc, 3, "not a PEM private key")


def test_unreadable_key_path(tmp_path, sim_factory):
    sim = sim_factory(rate=0)
    proc = run_cli(["tail", "trade", "--url", sim.url, "--key-id", "k", "--private-key", str(tmp_path)])
    assert_clean_error(proc, 3, "is a directory")


def test_wrong_passphrase(tmp_path, rsa_key, sim_factory):
    from cryptography.hazmat.primitives import serialization

    from tests.conftest import cli_env, pem_private

    sim = sim_factory(rate=0)
    enc = tmp_path / "enc.pem"
    enc.write_bytes(pem_private(rsa_key, serialization.PrivateFormat.PKCS8, password=b"right"))
    enc.chmod(0o600)
    proc = run_cli(
        ["tail", "trade", "--url", sim.url, "--key-id", "k", "--private-key", str(enc)],
        env=cli_env(KALSHI_PRIVATE_KEY_PASSWORD="wrong"),
    )
    assert_clean_error(proc, 3, "wrong passphrase")


def test_http_401_is_fatal_with_diagnosis(keys, sim_factory):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    sim = sim_factory(
        rate=0,
        public_key_pem=other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    )
    proc = run_cli(["tail", "trade", *signed_args(keys, sim.url)])
    assert_clean_error(proc, 3, "rejected the API key (HTTP 401", "key id matches the private key")
    assert sim.connections == 0


def test_unsigned_against_a_server_that_wants_a_key(sim_factory):
    sim = sim_factory(rate=0)
    proc = run_cli(["tail", "trade", "--url", sim.url])
    assert_clean_error(proc, 3, "requires a signed connection", "--private-key")


def test_no_key_for_kalshi_hosts():
    assert_clean_error(run_inprocess(["tail", "trade"]), 3, "no API key configured", "--sim")


def test_untrusted_host_needs_opt_in(keys):
    proc = run_inprocess(
        [
            "tail",
            "trade",
            "--url",
            "wss://example.com/trade-api/ws/v2",
            "--key-id",
            keys.key_id,
            "--private-key",
            str(keys.private),
        ]
    )
    assert_clean_error(proc, 2, "refusing to send signed headers", "--trust-host")


def test_server_error_code_is_fatal_for_a_bad_subscribe(keys, sim_factory):
    sim = sim_factory(rate=0)
    proc = run_cli(["tail", "communications", "--param", "shard_factor=200", *signed_args(keys, sim.url)])
    assert_clean_error(proc, 5, "Kalshi error 22")


def signals_held(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM, i.e. the console script's
    ``startup.hold_signals`` ran (it holds SIGINT first, then SIGTERM; the interpreter alone
    leaves SIGTERM at its default). Read from the kernel's own record (Linux's /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    raise AssertionError(f"no SigCgt line for pid {pid}")


def ctrl_c_as_at_a_terminal() -> None:
    """In the child before exec: Ctrl-C at its default, as a shell leaves it for a foreground
    command. Tests started in the background (`cmd &`, nohup) ignore SIGINT, the child would
    inherit that, and the console script rightly keeps an ignored Ctrl-C ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="tells the interpreter's window by /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_starting_exits_cleanly(keys, sim_factory, sig):
    """A signal at any moment of the startup after the console script's hold exits 0 / 130 with
    no traceback and no crash (it landed in imports: orjson's init segfaulted, a KeyboardInterrupt
    inside its init or inside typer's eval of an annotation died by SIGINT, see ``startup``).

    Only a signal sent before the hold was in place is not judged: until then the interpreter
    handles it alone (default action before it installs its Ctrl-C handler; KeyboardInterrupt
    in site's .pth processing, runpy, or the import of the two-line entry module), which is no
    code of the app's. Whether the hold was in place is read just before sending. There a
    Ctrl-C can even be lost: raised in a class body that the editable install's .pth imports,
    it comes out as "RuntimeError: Error calling __set_name__", which site reports and carries
    on from; such a process is killed, not waited for.
    """
    sim = sim_factory(rate=0)
    judged = 0
    for delay in (0.03, 0.045, 0.06, 0.09, 0.12, 0.15, 0.2, 0.3):
        proc = spawn_cli(["tail", "trade", "--json", *signed_args(keys, sim.url)], preexec_fn=ctrl_c_as_at_a_terminal)
        time.sleep(delay)
        if not signals_held(proc.pid):  # the interpreter's window: not judged, only ended
            proc.send_signal(sig)
            try:  # it may carry on: site swallows a KeyboardInterrupt turned RuntimeError in a .pth import
                proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=20)
            continue
        code, err = stop(proc, sig)
        judged += 1
        assert code == (0 if sig == signal.SIGTERM else 130), (delay, err)
        assert "Traceback" not in err and "Fatal Python error" not in err, (delay, err)
    assert judged >= 3, judged  # the later moments come well after the hold (~20 ms in)


def test_data_before_the_subscribed_ack_is_kept_in_order():
    """The reference does not promise `subscribed` comes before a sid's first data; accept both."""
    import asyncio
    import threading

    from websockets.asyncio.server import serve

    frames = [b'{"type":"trade","sid":1,"seq":%d,"msg":{"trade_id":"t%d"}}' % (i, i) for i in (1, 2, 3)]

    async def handler(ws):
        async for text in ws:
            cmd = orjson.loads(text)
            if cmd.get("cmd") == "subscribe":
                await ws.send(frames[0].decode())
                await ws.send(frames[1].decode())
                await ws.send(
                    orjson.dumps(
                        {"id": cmd["id"], "type": "subscribed", "msg": {"channel": "trade", "sid": 1}}
                    ).decode()
                )
                await ws.send(frames[2].decode())

    ready = threading.Event()
    state: dict = {}

    def run() -> None:
        async def main() -> None:
            async with serve(handler, "127.0.0.1", 0) as server:
                state["port"] = server.sockets[0].getsockname()[1]
                state["stop"] = asyncio.get_running_loop().create_future()
                state["loop"] = asyncio.get_running_loop()
                ready.set()
                await state["stop"]

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        url = f"ws://127.0.0.1:{state['port']}/trade-api/ws/v2"
        proc = run_cli(["tail", "trade", "--json", "--count", "3", "--url", url])
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set_result, None)
        thread.join(10)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == frames
