"""Colours: one palette for every view, and the one decision of whether to use it.

Bids and buys are green, asks and sells red, the best quote on each side bold on a dark
background, stale data dim under a yellow or red label. Every style reads on a black or a
white background (no dark blue, no colour-on-colour but the best quote).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import IO, Literal

from rich.console import Console

__all__ = [
    "ASK",
    "AWAITING",
    "BEST_ASK",
    "BEST_BID",
    "BID",
    "BUY",
    "DIM",
    "SELL",
    "STALE",
    "ColorMode",
    "make_console",
    "use_color",
]

ColorMode = Literal["auto", "always", "never"]

BID = "green"
ASK = "red"
BEST_BID = "bold bright_white on green4"
BEST_ASK = "bold bright_white on red3"
BUY = "green"
SELL = "red"
YES = "green"
NO = "red"
STALE = "bold red"
AWAITING = "bold yellow"
DIM = "dim"
LIVE = "bold green"
OWN = "bold yellow"


def use_color(mode: str, env: Mapping[str, str], isatty: bool) -> bool:
    """Whether to colour: ``--color always|never`` decide; ``auto`` colours a terminal unless
    ``NO_COLOR`` is set (any non-empty value, no-color.org) or ``TERM=dumb``."""
    if mode == "always":
        return True
    if mode == "never":
        return False
    if mode != "auto":
        raise ValueError(f"--color {mode!r}: expected auto, always or never")
    if env.get("NO_COLOR"):
        return False
    if env.get("TERM") == "dumb":
        return False
    return isatty


def make_console(
    mode: str = "auto", *, file: IO[str] | None = None, env: Mapping[str, str] | None = None, stderr: bool = False
) -> Console:
    """A rich Console that colours exactly when ``use_color`` says so."""
    env = os.environ if env is None else env
    stream = file if file is not None else None
    isatty = bool(stream.isatty()) if stream is not None else _isatty(stderr)
    color = use_color(mode, env, isatty)
    return Console(
        file=stream,
        stderr=stderr,
        no_color=not color,
        color_system="auto" if color else None,
        force_terminal=True if mode == "always" else None,
        highlight=False,
    )


def _isatty(stderr: bool) -> bool:
    stream = sys.stderr if stderr else sys.stdout
    try:
        return stream is not None and stream.isatty()
    except (ValueError, OSError):
        return False
