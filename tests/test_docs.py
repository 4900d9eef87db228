"""Docs stay true: every command is documented and has help, completions are fresh, CI runs the
README's test command, and the code is ruff clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from kalshi_cli.cli import app
from tests.conftest import ROOT, cli_env, run_cli

COMMANDS = sorted(c.name or c.callback.__name__ for c in app.registered_commands)
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", COMMANDS)
def test_command_is_in_readme_and_has_help_with_examples(name):
    assert f"kalshi {name}" in README
    proc = run_cli([name, "--help"])
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert "Usage: kalshi" in out and "Examples" in out


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completions_equal_what_the_app_generates(shell):
    proc = run_cli(["completion", shell])
    assert proc.returncode == 0, proc.stderr
    assert (ROOT / "completions" / f"kalshi.{shell}").read_bytes() == proc.stdout


def test_completion_completes_commands():
    env = cli_env(_KALSHI_COMPLETE="complete_bash", COMP_WORDS="kalshi ta", COMP_CWORD="1")
    proc = subprocess.run([sys.executable, "-m", "kalshi_cli"], env=env, capture_output=True, timeout=30)
    assert "tail" in proc.stdout.decode().split()


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    test_cmd = next(line for line in ci.splitlines() if "pytest" in line).strip()
    setup = re.findall(r"```bash\n(.*?)```", README, re.S)[0]
    assert test_cmd in setup.splitlines(), "README's second command and .ci/run differ"


def test_ruff_clean():
    ruff = shutil.which("ruff", path=str(ROOT / ".venv" / "bin")) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    proc = subprocess.run([ruff, "check", "kalshi_cli", "tests"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
