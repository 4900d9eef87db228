"""Every ``--help`` example and every README example runs as written (issue 13 item 8).

The examples are collected, not copied: each command's ``--help`` "Examples" section (config's
subcommands too) and the ``kalshi ...`` lines of README.md's bash blocks. Each one runs in a
real shell (``bash -c``) on an 80x24 pty, the way a user types it: ``KALSHI_WS_URL`` points at a
local simulator that also lists every ticker the examples name, the key is a real RSA key made
here, HOME and the config live in a temporary directory, and the working directory holds a
``data/`` recording and a ``capture.ndjson`` made by the tool itself beforehand.

One-shot examples must exit 0. Examples that run until stopped (live views, ``tail`` without
``--count``, ``record``, the servers) must show output or write a file, and then end the
documented way on Ctrl-C (SIGINT to the terminal's process group): 0 or 130. Either way nothing
may print a traceback or "internal error". The few that cannot run against a local server are
listed in ``CANNOT_RUN`` with the reason; a new example that fails is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from typer.testing import CliRunner

from kalshi_cli.cli import COMMANDS, app
from kalshi_cli.sim.threaded import ThreadedSim
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

#: Examples that cannot run against a local server, each with the reason. Keep it short: an
#: example that could run here but fails is a bug in the tool or in the text, not an entry here.
CANNOT_RUN: dict[str, str] = {
    "kalshi sign --check --env demo": "asks Kalshi's demo host whether it accepts the key",
    "kalshi sign --path /trade-api/v2/portfolio/balance --curl | curl -sK - "
    "https://external-api.kalshi.com/trade-api/v2/portfolio/balance": (
        "sends the request to Kalshi (tests/test_cli_sign.py runs it against a local server)"
    ),
    'kalshi completion zsh > "${fpath[1]}/_kalshi"': "zsh syntax (${fpath[1]} is zsh's function path)",
    "kalshi sim --port 8765 --seed 7 & kalshi record trade ticker --url ws://127.0.0.1:8765/trade-api/ws/v2 "
    "--sink nats://127.0.0.1:4222/KALSHI --spool /tmp/spool-a & kalshi record trade ticker "
    "--url ws://127.0.0.1:8765/trade-api/ws/v2 --sink nats://127.0.0.1:4222/KALSHI --spool /tmp/spool-b & "
    "sleep 2; kalshi tail trade --from nats://127.0.0.1:4222/KALSHI --count 5": (
        "needs a nats-server: tests/test_bus_readme.py runs this block"
    ),
    "kalshi tail trade --from nats://127.0.0.1:4222/KALSHI --durable me --count 3 # run it twice: the next 3": (
        "needs a nats-server: tests/test_bus_readme.py runs this block"
    ),
}

#: Examples whose text is wrong, waiting for the text to change (a strict xfail: the fixed text
#: is a new example, and this entry then matches nothing).
DOC_BUGS: dict[str, str] = {}

#: Placeholders a user replaces; replaced here by what this test's world has.
PLACEHOLDERS = ("PORT", "TICKER", "ID", "a952bcbe-...")

HELP_RUNNER = CliRunner()
TICKER_RE = re.compile(r"\bKX[A-Z0-9]+(?:-[A-Z0-9.]+)+")
COMMENT_RE = re.compile(r"\s{2,}#\s.*$")
DOCUMENTED_FILE = "kalshi-20261125T140000.000Z-0001.ndjson"
STREAMING = {"book", "tail", "fills", "positions", "orders", "record", "sim", "replay"}
ENDS_BY_ITSELF = ("--once", "--count", "--replay-speed max")
BAD_OUTPUT = (b"Traceback (most recent call last)", b"internal error")


def _help(args: list[str]) -> str:
    result = HELP_RUNNER.invoke(app, [*args, "--help"], prog_name="kalshi", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def _examples_in_help(text: str) -> Iterator[str]:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != "Examples:":
            continue
        indent = len(line) - len(line.lstrip())
        for body in lines[i + 1 :]:
            if body.strip() and len(body) - len(body.lstrip()) <= indent:
                break
            if body.strip():
                yield body.strip()


def _subcommands(text: str) -> list[str]:
    """The names under a group's "Commands:" heading."""
    found: list[str] = []
    listing = False
    for line in text.splitlines():
        if line.strip() == "Commands:":
            listing = True
        elif listing and line.startswith("  ") and line.strip():
            found.append(line.split()[0])
        elif listing and line.strip():
            listing = False
    return found


def help_examples() -> list[str]:
    found: list[str] = []
    for name in COMMANDS:
        text = _help([name])
        found += _examples_in_help(text)
        for sub in _subcommands(text):
            found += _examples_in_help(_help([name, sub]))
    return found


def readme_examples() -> list[str]:
    """``kalshi`` lines of README's bash blocks; a line sent to the background joins the next."""
    found: list[str] = []
    block: list[str] | None = None
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```"):
            block = [] if line.strip() == "```bash" and block is None else None
            continue
        if block is None:
            continue
        command = COMMENT_RE.sub("", line).strip()
        if found and found[-1].endswith(" &") and command:
            found[-1] += " " + command
        elif command.startswith("kalshi "):
            found.append(command)
    return found


def all_examples() -> list[str]:
    return list(dict.fromkeys(help_examples() + readme_examples()))


EXAMPLES = all_examples()
DOCUMENTED_TICKERS = tuple(dict.fromkeys(t for example in EXAMPLES for t in TICKER_RE.findall(example)))


@dataclass
class World:
    """What a user of the examples has: a server, a key, a config, a recording."""

    sim: ThreadedSim
    template: Path
    key_id: str

    @property
    def port(self) -> str:
        return self.sim.url.split(":")[2].split("/")[0]

    def env(self, home: Path, example: str = "") -> dict[str, str]:
        """A user's environment, with KALSHI_WS_URL exported (a flag in the example wins over it)."""
        return {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            "KALSHI_WS_URL": self.sim.url,
            "KALSHI_API_KEY_ID": self.key_id,
            "KALSHI_PRIVATE_KEY_PATH": str(home / ".kalshi" / "demo.key"),
        }

    def script(self, example: str) -> str:
        """The example with its placeholders filled in (a user does the same)."""
        values = {"PORT": self.port, "TICKER": DOCUMENTED_TICKERS[0], "ID": self.key_id, "a952bcbe-...": self.key_id}
        for name in PLACEHOLDERS:
            example = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", values[name], example)
        return example


@dataclass
class Run:
    status: int
    output: bytes
    interrupted: bool


def run_on_terminal(
    script: str, cwd: Path, env: dict[str, str], *, until_stopped: bool, answers: tuple[str, ...] = ()
) -> Run:
    """``bash -c SCRIPT`` on an 80x24 pty; each prompt gets the next of ``answers`` typed, and a
    streaming one gets Ctrl-C once it has shown output."""
    master, slave = pty_pair()
    before = _files(cwd)
    proc = subprocess.Popen(
        ["bash", "-c", script], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env, start_new_session=True
    )
    os.close(slave)
    seen, answers = b"", list(answers)
    deadline, stop_at = time.monotonic() + 60, None
    interrupted = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        data = b""
        if ready:
            with contextlib.suppress(OSError):  # EIO: every writer has closed the terminal
                data = os.read(master, 65536)
            seen += data
            if answers and seen.rstrip(b" ").endswith(b":"):
                os.write(master, answers.pop(0).encode() + b"\n")
        if proc.poll() is not None and not data:
            break
        if until_stopped and stop_at is None and (seen.strip() or _files(cwd) != before):
            stop_at = time.monotonic() + 2.0  # let it draw a little more, then Ctrl-C
        if stop_at is not None and time.monotonic() >= stop_at and not interrupted and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            interrupted = True
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    status = proc.wait(timeout=30)
    os.close(master)
    with contextlib.suppress(ProcessLookupError):  # what the shell left behind (``cmd &``)
        os.killpg(proc.pid, signal.SIGTERM)
    _stop_detached(seen)
    return Run(128 - status if status < 0 else status, seen, interrupted)


def pty_pair() -> tuple[int, int]:
    import pty

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return master, slave


def _files(cwd: Path) -> dict[str, int]:
    return {str(p): p.stat().st_size for p in cwd.rglob("*") if p.is_file()}


def _stop_detached(output: bytes) -> None:
    """A server that let go of a pipe serves on in the background: stop it by the pid it printed."""
    for pid in re.findall(rb"serving in the background \(pid (\d+)\)", output):
        try:
            os.kill(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            pass


def _record(template: Path, env: dict[str, str], *args: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_cli", "record", "orderbook_delta", "trade", "ticker", "-o", "data/", *args]
        + [arg for ticker in DOCUMENTED_TICKERS for arg in ("-m", ticker)],
        cwd=template,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(3)  # a few seconds of a market moving at 50 actions a second
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    template = tmp_path_factory.mktemp("examples")
    home = template / "home"
    (home / ".kalshi").mkdir(parents=True)
    key_file = home / ".kalshi" / "demo.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    for shell_dir in (".local/share/bash-completion/completions", ".config/fish/completions"):
        (home / shell_dir).mkdir(parents=True)  # where that shell's user keeps completions
    with ThreadedSim(public_key_pem=public, rate=50.0, extra_tickers=DOCUMENTED_TICKERS) as sim:
        w = World(sim, template, str(uuid.uuid4()))
        env = w.env(home)
        config = subprocess.run(
            [sys.executable, "-m", "kalshi_cli", "config", "init", "--key-id", w.key_id]
            + ["--private-key", str(key_file), "--profile", "demo", "--env", "demo"],
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        assert config.returncode == 0, config.stderr
        _record(template, env)
        plain = sorted((template / "data").glob("*.ndjson"))
        assert len(plain) == 1, plain
        plain[0].rename(template / "data" / DOCUMENTED_FILE)  # the name the replay example uses
        _record(template, env, "--gzip")
        capture = subprocess.run(
            [sys.executable, "-m", "kalshi_cli", "tail", "trade", "ticker", "--json", "--count", "20"],
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        assert capture.returncode == 0, capture.stderr
        (template / "capture.ndjson").write_bytes(capture.stdout)
        yield w


def streams(example: str) -> bool:
    """Runs until stopped: a live view, a stream without --count, a recorder or a server."""
    words = example.split()
    command = words[1] if words[0] == "kalshi" and len(words) > 1 else ""
    return command in STREAMING and not any(flag in example for flag in ENDS_BY_ITSELF)


def _marks(example: str) -> list[pytest.MarkDecorator]:
    if example in CANNOT_RUN:
        return [pytest.mark.skip(reason=CANNOT_RUN[example])]
    if example in DOC_BUGS:
        return [pytest.mark.xfail(strict=True, reason=DOC_BUGS[example])]
    return []


def _cases() -> list[object]:
    return [pytest.param(e, id=e, marks=_marks(e)) for e in EXAMPLES]


def test_examples_were_found() -> None:
    # a parser that silently found nothing would pass every case below
    assert len(help_examples()) >= 30
    assert len(readme_examples()) >= 25
    assert "kalshi book --sim" in EXAMPLES
    assert {"KXHIGHNY-26NOV25-B52.5", "KXBTCD-26NOV2517-T97999.99", "KXHIGHNY-26AUG28-B84.5"} <= set(DOCUMENTED_TICKERS)


def test_every_entry_of_cannot_run_is_still_an_example() -> None:
    assert set(CANNOT_RUN) <= set(EXAMPLES), set(CANNOT_RUN) - set(EXAMPLES)


@pytest.mark.parametrize("example", _cases())
def test_example_runs_as_written(example: str, world: World, tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    shutil.copytree(world.template, cwd, symlinks=True)
    home = cwd / "home"
    until_stopped = streams(example)
    answers = (world.key_id, "~/.kalshi/demo.key") if example == "kalshi config init" else ()
    run = run_on_terminal(
        world.script(example), cwd, world.env(home, example), until_stopped=until_stopped, answers=answers
    )
    shown = run.output.decode("utf-8", "replace")[-3000:]
    for bad in BAD_OUTPUT:
        assert bad not in run.output, shown
    if until_stopped:
        assert run.status in (0, 130), (run.status, shown)
        # stopped by Ctrl-C, it exits 130: whatever follows && would never run
        assert not (run.interrupted and " && " in example), "the part after && never runs"
    else:
        assert not run.interrupted
        assert run.status == 0, (run.status, shown)


def test_an_explicit_server_flag_beats_kalshi_ws_url(world: World, tmp_path: Path) -> None:
    """A flag beats the environment: --sim with KALSHI_WS_URL exported runs the simulator."""
    cwd = tmp_path / "work"
    shutil.copytree(world.template, cwd, symlinks=True)
    env = world.env(cwd / "home")
    assert "KALSHI_WS_URL" in env
    done = subprocess.run(
        [sys.executable, "-m", "kalshi_cli", "positions", "--sim", "--once", "--json"],
        env=env,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_named_markets_come_after_the_generated_ones_and_keep_the_story() -> None:
    from kalshi_cli.sim.catalog import spec_for
    from kalshi_cli.sim.market import Exchange

    plain, named = Exchange(3, 5), Exchange(3, 5, extra_tickers=("KXBTCD-26NOV2517-T97999.99",) * 2)
    assert named.tickers == [*plain.tickers, "KXBTCD-26NOV2517-T97999.99"]
    assert [named.snapshot_msg(t)["yes_dollars_fp"] for t in plain.tickers[:2]] == [
        plain.snapshot_msg(t)["yes_dollars_fp"] for t in plain.tickers[:2]
    ]
    assert named.snapshot_msg("KXBTCD-26NOV2517-T97999.99").get("yes_dollars_fp")  # seeded, not empty
    spec = spec_for("KXHIGHNY-26NOV25-B52.5")
    assert (spec.series_ticker, spec.event_ticker) == ("KXHIGHNY", "KXHIGHNY-26NOV25")
    for bad in ("", "kxhighny-26nov25-b52.5", "KX HIGH"):
        with pytest.raises(ValueError):
            spec_for(bad)


def test_a_bad_ticker_for_the_sim_is_a_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kalshi_cli.sim", "--ticker", "not one"], capture_output=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 2
    assert done.stderr.count(b"\n") == 1 and b"--ticker" in done.stderr
