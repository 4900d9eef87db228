"""The ``kalshi`` console script: catch SIGTERM first, then import the (heavier) app.

A SIGTERM that arrives while the app is still importing would otherwise kill the process
with a signal status; nothing has been written yet, so a clean exit 0 is the honest answer.
Commands that stream install their own handler later (``commands.runner.run_main``).
"""

from __future__ import annotations

import signal
import sys

__all__ = ["main"]


def _terminate_early(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main() -> None:
    if sys.platform != "win32":
        signal.signal(signal.SIGTERM, _terminate_early)
    from kalshi_cli.cli import main as run_app

    run_app()
