"""Shell completion of values: channel names, ``--env``, ``--color``, and market tickers.

Each function takes what has been typed so far and returns ``(value, help)`` pairs, the form
typer's ``autocompletion=`` (and click's ``shell_complete``) accept, so an option or argument
is wired with ``typer.Option(..., autocompletion=complete_env)``. They run on every <TAB>, so
they import only what they need and never touch the network.

Tickers come from a local cache file when one exists: ``$KALSHI_MARKETS_CACHE``, else
``$XDG_CACHE_HOME/kalshi/markets.txt`` (``~/.cache/kalshi/markets.txt``): one ticker per
line, optionally followed by whitespace and a title; ``#`` lines are comments. Without a cache,
tickers are not completed (the shell then offers nothing rather than file names).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "COLOR_MODES",
    "cached_tickers",
    "complete_channel",
    "complete_color",
    "complete_env",
    "complete_ticker",
    "markets_cache_path",
]

COLOR_MODES = {
    "auto": "colour on a terminal unless NO_COLOR is set or TERM=dumb",
    "always": "colour even into a pipe",
    "never": "no colour",
}
_ENV_HELP = {"prod": "Kalshi's production exchange", "demo": "Kalshi's demo exchange (demo keys)"}
#: the most of a cache read per <TAB> (a full Kalshi market list is a few MB)
CACHE_READ_LIMIT = 16 * 1024 * 1024
MAX_TICKERS = 500


def _matching(options: Mapping[str, str], incomplete: str) -> list[tuple[str, str]]:
    return [(name, text) for name, text in options.items() if name.startswith(incomplete)]


def complete_channel(incomplete: str) -> list[tuple[str, str]]:
    """Kalshi's WebSocket channels (``kalshi tail tr<TAB>`` -> ``trade``)."""
    from kalshi_cli.protocol import CHANNELS

    def describe(name: str) -> str:
        info = CHANNELS[name]
        access = "private, needs a key" if info.private else "public"
        return f"{access}; {', '.join(info.types)}"

    return _matching({name: describe(name) for name in CHANNELS}, incomplete)


def complete_env(incomplete: str) -> list[tuple[str, str]]:
    """``--env``: the environments the config knows."""
    from kalshi_cli.config import ENVIRONMENTS

    return _matching({name: _ENV_HELP.get(name, name) for name in ENVIRONMENTS}, incomplete)


def complete_color(incomplete: str) -> list[tuple[str, str]]:
    """``--color``: auto, always, never."""
    return _matching(COLOR_MODES, incomplete)


def markets_cache_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the market ticker cache lives (see the module docstring)."""
    env = os.environ if env is None else env
    explicit = env.get("KALSHI_MARKETS_CACHE")
    if explicit:
        return Path(explicit)
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "kalshi" / "markets.txt"


def complete_ticker(incomplete: str) -> list[tuple[str, str]]:
    """Market tickers from the local cache, case-insensitively by prefix; none without a cache.

    (Only ``incomplete`` in the signature: typer passes a callback's parameters by their type.)
    """
    return cached_tickers(markets_cache_path(), incomplete)


def cached_tickers(path: Path, incomplete: str) -> list[tuple[str, str]]:
    """``(ticker, title)`` from the cache file at ``path`` that start with ``incomplete``."""
    try:
        with path.open("rb") as f:
            data = f.read(CACHE_READ_LIMIT)
    except OSError:
        return []
    wanted = incomplete.upper()
    out: list[tuple[str, str]] = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        ticker, *title = line.split(None, 1)
        if ticker.upper().startswith(wanted):
            out.append((ticker, title[0].strip() if title else ""))
            if len(out) >= MAX_TICKERS:
                break
    return out
