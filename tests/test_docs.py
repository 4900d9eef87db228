"""Docs stay true: every command is documented and has help, completions are fresh, CI runs the
README's test command, and the code is ruff clean."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import typer.main

from kalshi_cli.cli import COMMANDS as TABLE
from kalshi_cli.cli import app
from tests.conftest import ROOT, cli_env, run_cli

COMMANDS = sorted(TABLE)
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_in_readme_and_has_help_with_examples(name):
    assert f"kalshi {name}" in README
    proc = run_cli([name, "--help"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "Usage: kalshi" in out and "Examples" in out


@pytest.mark.parametrize("name", COMMANDS)
def test_listed_summary_is_the_first_line_of_the_commands_help(name):
    # `kalshi --help` shows cli.COMMANDS' summaries without importing the commands: they must not drift
    help_text = typer.main.get_command(app).commands[name].help
    assert help_text.split("\n\n")[0] == TABLE[name][1], "a one-line first paragraph equal to cli.COMMANDS'"


def test_top_level_help_lists_every_command_with_its_summary():
    proc = run_cli(["--help"])
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.decode().split())
    assert out.startswith("Usage: kalshi [OPTIONS] COMMAND [ARGS]...")
    for name, (_, summary) in TABLE.items():
        assert f" {name} {summary}" in out
    bare = run_cli([])  # `kalshi` alone: the same help, on stdout, status 2
    assert (bare.returncode, bare.stdout) == (2, proc.stdout)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completions_equal_what_the_app_generates(shell):
    proc = run_cli(["completion", shell])
    assert proc.returncode == 0, proc.stderr
    assert (ROOT / "completions" / f"kalshi.{shell}").read_bytes() == proc.stdout


def test_completion_completes_commands():
    env = cli_env(_KALSHI_COMPLETE="complete_bash", COMP_WORDS="kalshi ta", COMP_CWORD="1")
    proc = subprocess.run([sys.executable, "-m", "kalshi_cli"], env=env, capture_output=True, timeout=30)
    assert "tail" in proc.stdout.decode().split()
    env = cli_env(_KALSHI_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="kalshi ")
    proc = subprocess.run([sys.executable, "-m", "kalshi_cli"], env=env, capture_output=True, timeout=30)
    assert all(f'"{name}":' in proc.stdout.decode() for name in TABLE), proc.stdout


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = next(line for line in ci.splitlines() if "pytest" in line).strip()
    setup = re.findall(r"```bash\n(.*?)```", README, re.S)[0]
    assert test_cmd in setup.splitlines(), "README's second command and .ci/run differ"
