"""The CLI in-process: ``cli._run`` inside a captured ``Environment``, for tests where a
subprocess adds nothing (bad input, errors before connecting, short runs that end by
themselves). Returns what ``conftest.run_cli`` returns, so the same assertions apply."""

from __future__ import annotations

import contextlib
import io
import subprocess

from kalshi_cli.cli import _run
from kalshi_cli.environment import Environment, using

__all__ = ["run_inprocess"]


def run_inprocess(args: list[str], *, stdout_isatty: bool = False) -> subprocess.CompletedProcess[bytes]:
    """Run ``kalshi ARGS`` in this process: stdout (bytes) and stderr (every line, the CLI's own
    error line included) captured; the exit status as ``returncode``."""
    out = io.BytesIO()
    err = io.StringIO()
    text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    env = Environment(out, text, err, stdout_isatty=stdout_isatty)
    with using(env), contextlib.redirect_stderr(err), contextlib.redirect_stdout(text):
        status = _run(args)
    return subprocess.CompletedProcess(["kalshi", *args], status, out.getvalue(), err.getvalue().encode())
