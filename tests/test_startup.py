"""Startup stays light: `kalshi --help` imports no command, `kalshi sign` none of the streaming stack.

Timings are in benchmarks/run.py; these tests only pin down what gets imported, which is what
decides them (see the module docstring of kalshi_cli/cli.py).
"""

from __future__ import annotations

import subprocess
import sys

from kalshi_cli.commands.sign import _WS_PATH
from kalshi_cli.protocol import WS_PATH
from tests.conftest import ROOT, cli_env

PROBE = """
import contextlib, io, sys
from kalshi_cli.cli import _run
with contextlib.redirect_stdout(io.StringIO()):
    status = _run(sys.argv[1:])
sys.stderr.write("\\n".join(["status=%d" % status, *sys.modules]))
"""
STREAMING = (
    "websockets",
    "rich",
    "markdown_it",
    "kalshi_cli.session",
    "kalshi_cli.rest",
    "kalshi_cli.book",
    "kalshi_cli.protocol",
    "kalshi_cli.render",
    "kalshi_cli.sim",
    "orjson",
)


def imported(args: list[str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=cli_env(), capture_output=True, timeout=60, cwd=ROOT
    )
    lines = proc.stderr.decode().splitlines()
    assert "status=0" in lines, proc.stderr.decode()
    return set(lines)


def heavy(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


def test_help_imports_no_command_and_no_rich():
    modules = imported(["--help"])
    assert heavy(modules, ("kalshi_cli.commands", "asyncio", "cryptography", *STREAMING)) == []


def test_sign_imports_only_what_signing_needs(keys):
    modules = imported(["sign", "--key-id", keys.key_id, "--private-key", str(keys.private)])
    assert "kalshi_cli.commands.sign" in modules
    assert heavy(modules, ("asyncio", *STREAMING)) == []


def test_sign_default_path_is_the_websocket_path():
    assert _WS_PATH == WS_PATH


def test_a_commands_help_imports_no_rich_help_renderer():
    """Each command's --help is click's plain format: typer.rich_utils and rich.markdown cost
    about 100 ms and are not needed to print it."""
    for args in (["tail", "--help"], ["book", "--help"], ["config", "--help"], ["config", "init", "--help"]):
        modules = imported(args)
        assert heavy(modules, ("typer.rich_utils", "rich.markdown", "markdown_it")) == [], args


def test_sign_help_imports_nothing_of_the_streaming_stack():
    modules = imported(["sign", "--help"])
    assert heavy(modules, ("asyncio", "typer.rich_utils", *STREAMING)) == []


def test_a_streaming_commands_help_imports_no_feed_and_no_event_loop():
    """Subcommand --help loads the command's module and typer, nothing it needs only to run:
    the feeds (and through them asyncio, websockets, orjson) are imported inside the command."""
    for name in ("tail", "book", "fills", "positions", "orders", "record", "replay", "sim", "sign"):
        modules = imported([name, "--help"])
        assert f"kalshi_cli.commands.{name}" in modules, name
        assert heavy(modules, ("kalshi_cli.feeds", "asyncio", "websockets", "orjson", "cryptography")) == [], name
