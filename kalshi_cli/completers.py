"""Shell completion of values: channel names, ``--env``, ``--color``, and market tickers.

Each function takes what has been typed so far and returns ``(value, help)`` pairs, the form
typer's ``autocompletion=`` (and click's ``shell_complete``) accept, so an option or argument
is wired with ``typer.Option(..., autocompletion=complete_env)``. They run on every <TAB>, so
they import only what they need and never touch the network.

Tickers come from the local catalogue cache (``kalshi_cli.catalogue``): the ticker lists
``tickers-<env>.txt`` that every ``kalshi markets`` run writes. The environment the command
line names (``--sim``, ``--url``, ``--env``, else ``$KALSHI_ENV``, else prod) comes first, then
every other cached environment (a ticker seen under ``--sim`` still completes without it),
then a hand-made list: ``$KALSHI_MARKETS_CACHE`` when it names a ``.txt`` file, or
``markets.txt`` in the cache folder. A list has one ticker per line, optionally followed by
whitespace and a title; ``#`` lines are comments. Event tickers complete too (``book EVENT``).
Without a cache, tickers are not completed (the shell then offers nothing rather than file
names). Nothing here touches the network; reading 10,000 tickers takes a few milliseconds.

A prefix in any case completes to the uppercase tickers (``kxhigh<TAB>`` -> ``KXHIGHNY-...``:
Kalshi's tickers are uppercase, and the resolver takes any case). typer keeps only the values
that ``startswith`` what was typed, case-sensitively, so ticker values are ``AnyCase`` strings,
whose ``startswith`` ignores case. bash and fish then put the uppercase ticker in place of the
typed word; zsh matches by its own rules (``matcher-list 'm:{a-z}={A-Z}'`` lets it do the same).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, SupportsIndex

__all__ = [
    "COLOR_MODES",
    "AnyCase",
    "cached_tickers",
    "cached_tickers_of",
    "complete_channel",
    "complete_color",
    "complete_env",
    "complete_event",
    "complete_series",
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


class AnyCase(str):
    """A ticker as a completion value: it ``startswith`` a prefix in any case (see the module doc)."""

    __slots__ = ()

    def startswith(
        self, prefix: str | tuple[str, ...], start: SupportsIndex | None = None, end: SupportsIndex | None = None
    ) -> bool:
        folded = prefix.upper() if isinstance(prefix, str) else tuple(p.upper() for p in prefix)
        return self.upper().startswith(folded, start, end)


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
    """Where a hand-made ticker list lives (see the module docstring)."""
    env = os.environ if env is None else env
    explicit = env.get("KALSHI_MARKETS_CACHE")
    if explicit:
        return Path(explicit)
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "kalshi" / "markets.txt"


def complete_ticker(incomplete: str, ctx: Any = None) -> list[tuple[str, str]]:
    """Market (and event) tickers from the local cache, case-insensitively by prefix.

    (typer passes a callback's parameters by type or name: ``ctx`` is click's context, whose
    ``params`` hold the flags typed so far; untyped here so completion imports no click.)
    """
    params = getattr(ctx, "params", None) or {}
    found = cached_tickers_of(_env_in_use(params, os.environ), incomplete, os.environ)
    return [(AnyCase(ticker), text) for ticker, text in found]


def complete_event(incomplete: str, ctx: Any = None) -> list[tuple[str, str]]:
    """Event tickers from the local cache (``kalshi markets --event KXHIGHNY-<TAB>``)."""
    return [(t, text) for t, text in complete_ticker(incomplete, ctx) if text.startswith("event:")]


def complete_series(incomplete: str, ctx: Any = None) -> list[tuple[str, str]]:
    """Series tickers, the first part of the cached event tickers (``--series KXH<TAB>``)."""
    params = getattr(ctx, "params", None) or {}
    found = cached_tickers_of(_env_in_use(params, os.environ), incomplete, os.environ)
    series = dict.fromkeys(t.split("-", 1)[0] for t, text in found if text.startswith("event:"))
    return [(AnyCase(name), "series") for name in series]


def _env_in_use(params: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    from kalshi_cli.catalogue import env_name_for

    if params.get("sim"):
        return "sim"
    if params.get("url"):
        return env_name_for("custom", str(params["url"]))
    return str(params.get("env") or environ.get("KALSHI_ENV") or "prod")


def cached_tickers_of(env_name: str, incomplete: str, environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """Completions from every cached list, ``env_name``'s first, each ticker once."""
    from kalshi_cli.catalogue import cache_dir, tickers_path

    first = tickers_path(env_name, environ)
    folder = cache_dir(environ)
    try:
        others = sorted(p for p in folder.glob("tickers-*.txt") if p != first)
    except OSError:
        others = []
    paths = [first, *others, markets_cache_path(environ)]
    out: dict[str, str] = {}
    for path in dict.fromkeys(paths):
        for ticker, title in cached_tickers(path, incomplete):
            out.setdefault(ticker, title)
            if len(out) >= MAX_TICKERS:
                return list(out.items())
    return list(out.items())


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
