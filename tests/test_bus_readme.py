"""README's NATS example ("One feed through NATS JetStream"), run for real: a nats-server, a
simulator, two recorders publishing the same trades into one stream, then the readers.

The block is read from README.md (from its heading to the end of its first bash block), not
copied. Its fixed ports (4222, 8765) and /tmp paths become free ports and a temp directory;
otherwise every line runs as written, in bash, with ``kalshi`` and ``nats-server`` on PATH. The
lines sent to the background run together in one session (stopped at the end); before the readers
run, the test waits for the stream to hold trades from both recorders (the block's ``sleep 2`` is
not enough on a loaded machine: a reader given a stream that does not exist yet stops with one line).
Checked: the first reader prints 5 trades, each once, byte for byte as stored; the durable reader,
run twice, prints the stream's first 3 trades and then the next 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.bus_servers import free_port, nats_server_binary
from tests.conftest import ROOT, cli_env
from tests.test_bus_live import trade_ids
from tests.test_cli_tail import wait_for

pytestmark = pytest.mark.slow

HEADING = "### One feed through NATS JetStream"


def readme_block() -> list[str]:
    """The lines of the first bash block after the heading."""
    text = (ROOT / "README.md").read_text()
    assert HEADING in text, "README.md has no 'One feed through NATS JetStream' section"
    after = text.split(HEADING, 1)[1]
    block = after.split("```bash\n", 1)[1].split("\n```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def localized(line: str, nats_port: int, sim_port: int, tmp: Path) -> str:
    line = re.sub(r"\b4222\b", str(nats_port), line)
    line = re.sub(r"\b8765\b", str(sim_port), line)
    line = re.sub(r"/tmp/(kalshi-js|spool-a|spool-b)\b", lambda m: str(tmp / m.group(1)), line)
    assert not re.search(r"(?<![\w/])/tmp/", line.replace(str(tmp), "")), line  # a path the test did not move
    return line


def is_background(line: str) -> bool:
    return re.sub(r"\s+#\s.*$", "", line).rstrip().endswith("&")


def stream_lines(url: str) -> list[bytes]:
    """Every payload of stream KALSHI, in order."""
    import nats

    async def main() -> list[bytes]:
        nc = await nats.connect(url, max_reconnect_attempts=1)
        try:
            js = nc.jetstream()
            info = await js.stream_info("KALSHI")
            if not info.state.messages:
                return []
            first, last = info.state.first_seq, info.state.last_seq
            return [(await js.get_msg("KALSHI", seq)).data or b"" for seq in range(first, last + 1)]
        finally:
            await nc.close()

    try:
        return asyncio.run(main())
    except Exception:  # not up yet, or no stream yet
        return []


def test_the_readme_example_with_two_recorders_and_a_durable_reader(tmp_path):
    lines = readme_block()
    background = [line for line in lines if is_background(line)]
    foreground = [line for line in lines if not is_background(line)]
    assert [line.split()[:2] for line in background] == [
        ["nats-server", "-js"],
        ["kalshi", "sim"],
        ["kalshi", "record"],
        ["kalshi", "record"],
    ], background
    assert len(foreground) == 2 and "--count 5" in foreground[0] and "--durable" in foreground[1], foreground

    nats_port, sim_port = free_port(), free_port()
    env = cli_env(HOME=str(tmp_path))
    bin_dirs = dict.fromkeys([str(Path(nats_server_binary()).parent), str(Path(sys.executable).parent)])
    env["PATH"] = os.pathsep.join([*bin_dirs, env.get("PATH", "")])
    script = "\n".join(localized(line, nats_port, sim_port, tmp_path) for line in background) + "\nwait\n"
    err_file = tmp_path / "background.err"
    with err_file.open("wb") as err:
        servers = subprocess.Popen(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,  # its own process group: stopped as one at the end
        )
    url = f"nats://127.0.0.1:{nats_port}"
    try:

        def both_publishing() -> bool:
            return err_file.read_text(errors="replace").count("publishing to NATS") >= 2

        wait_for(both_publishing, timeout=60, what=f"two recorders publishing: {err_file.read_text()[-2000:]}")
        wait_for(lambda: len(trade_ids(stream_lines(url))) >= 8, timeout=60, what="trades in the stream")

        def run(line: str) -> list[bytes]:
            command = localized(line, nats_port, sim_port, tmp_path)
            proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, timeout=120)
            assert proc.returncode == 0, (command, proc.stderr.decode())
            assert b"Traceback" not in proc.stderr and b"internal error" not in proc.stderr, proc.stderr
            return proc.stdout.splitlines()

        each_once = run(foreground[0])
        first, second = run(foreground[1]), run(foreground[1])  # "run it twice: the next 3"
        stored = stream_lines(url)
    finally:
        os.killpg(servers.pid, signal.SIGTERM)
        try:
            servers.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(servers.pid, signal.SIGKILL)
            servers.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(servers.pid, signal.SIGKILL)  # anything of the group still running
    trades = [line for line in stored if orjson.loads(line)["type"] == "trade"]
    ids = trade_ids(trades)
    assert len(ids) == len(set(ids))  # two recorders sent them, the stream holds each once
    assert len(each_once) == 5 and each_once == trades[:5]  # byte for byte as stored, in order
    assert len(set(trade_ids(each_once))) == 5
    assert first == trades[:3] and second == trades[3:6]  # the durable reader went on where it stopped
