"""The ``kalshi`` console script: hold SIGTERM and SIGINT while the app imports, then run it
(see ``startup``)."""

from __future__ import annotations

from kalshi_cli.startup import hold_signals

__all__ = ["main"]


def main() -> None:
    hold_signals()
    try:
        from kalshi_cli.cli import main as run_app

        run_app()
    except KeyboardInterrupt:  # a Ctrl-C held through the import, raised before the CLI's boundary
        raise SystemExit(130) from None
