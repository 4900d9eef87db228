"""``run_main`` for the commands that import it from here (``sim``, ``replay``, ``sign``);
it lives in ``feeds.signals``."""

from __future__ import annotations

from kalshi_cli.feeds.signals import run_main

__all__ = ["run_main"]
