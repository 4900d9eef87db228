"""Ticker completion reads the cache ``kalshi markets`` wrote: a real CLI, typer's bash protocol."""

from __future__ import annotations

from pathlib import Path

import orjson

from kalshi_cli.catalogue import Catalogue, tickers_path
from kalshi_cli.catalogue_save import save_catalogue
from kalshi_cli.completers import AnyCase, cached_tickers_of
from tests.conftest import cli_env, run_cli


def complete(words: str, env: dict[str, str]) -> list[str]:
    """What bash gets on <TAB> after ``words``."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    proc = run_cli([], env={**env, "_KALSHI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().split()


def test_tickers_listed_by_kalshi_markets_complete_without_a_network(tmp_path: Path) -> None:
    env = cli_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    assert complete("kalshi book --sim KX", env) == []  # no cache yet: nothing (not file names)
    proc = run_cli(["markets", "--sim", "--json"], env=env)
    assert proc.returncode == 0, proc.stderr
    sim_tickers = [orjson.loads(line)["ticker"] for line in proc.stdout.splitlines()]
    assert tickers_path("sim", {"XDG_CACHE_HOME": str(tmp_path / "cache")}).exists()
    btc = sorted(t for t in sim_tickers if t.startswith("KXBTCD-"))
    events = sorted({t.rsplit("-", 1)[0] for t in btc})
    assert complete("kalshi book --sim KXBTCD", env) == sorted(events + btc)  # the event ticker too
    assert complete("kalshi book --sim KXBTCD-26DEC2517-T1", env) == [t for t in btc if "-T1" in t]
    # without --sim, the env in use (prod) has no cache: the other cached environments still complete
    assert complete("kalshi tail trade -m KXBTCD", env) == sorted(events + btc)
    assert complete("kalshi record trade -m NOPE", env) == []
    assert complete("kalshi markets --sim --event KXBTCD", env) == events  # events only
    series = sorted({t.split("-")[0] for t in sim_tickers})
    assert complete("kalshi markets --sim --series KX", env) == series


def test_the_environment_in_use_comes_first(tmp_path: Path) -> None:
    environ = {"XDG_CACHE_HOME": str(tmp_path)}
    for name, ticker in (("prod", "KXA-1-PROD"), ("demo", "KXA-1-DEMO"), ("sim", "KXA-1-SIM")):
        cat = Catalogue()
        cat.remember_markets([{"ticker": ticker, "event_ticker": "KXA-1", "title": name}])
        save_catalogue(name, cat, environ=environ)
    first = [t for t, _ in cached_tickers_of("demo", "KXA-1-", environ)]
    assert first[0] == "KXA-1-DEMO" and set(first) == {"KXA-1-DEMO", "KXA-1-PROD", "KXA-1-SIM"}
    env = cli_env(XDG_CACHE_HOME=str(tmp_path))
    assert complete("kalshi book --env demo KXA-1-", env)[0] == "KXA-1-DEMO"
    assert complete("kalshi book --sim KXA-1-", env)[0] == "KXA-1-SIM"
    assert complete("kalshi book KXA-1-", {**env, "KALSHI_ENV": "demo"})[0] == "KXA-1-DEMO"


def test_a_prefix_in_any_case_completes_to_the_uppercase_tickers(tmp_path: Path) -> None:
    """Kalshi's tickers are uppercase and the resolver takes any case: ``kxbtcd<TAB>`` offers
    the uppercase tickers (typer's own filter would drop them: its prefix test is case-sensitive)."""
    env = cli_env(XDG_CACHE_HOME=str(tmp_path / "cache"))
    proc = run_cli(["markets", "--sim", "--json"], env=env)
    assert proc.returncode == 0, proc.stderr
    btc = sorted(
        t for t in (orjson.loads(line)["ticker"] for line in proc.stdout.splitlines()) if t.startswith("KXBTCD-")
    )
    events = sorted({t.rsplit("-", 1)[0] for t in btc})
    assert complete("kalshi book --sim kxbtcd", env) == sorted(events + btc)
    assert complete("kalshi book --sim kXbTcD", env) == sorted(events + btc)
    assert complete("kalshi tail trade -m kxbtcd-26dec2517-t1", env) == [t for t in btc if "-T1" in t]
    assert complete("kalshi markets --sim --event kxbtcd", env) == events
    assert complete("kalshi markets --sim --series kxb", env) == ["KXBTCD"]
    assert complete("kalshi book --sim kxbtcx", env) == []
    fish = run_cli(
        [],
        env={
            **env,
            "_KALSHI_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
            "_TYPER_COMPLETE_ARGS": "kalshi book --sim kxbtcd-26dec2517-",
        },
    )
    assert [line.split("\t")[0] for line in fish.stdout.decode().splitlines()] == btc


def test_any_case_startswith_ignores_case_and_takes_what_str_takes() -> None:
    value = AnyCase("KXHIGHNY-26DEC05-B52.5")
    assert value.startswith("kxhigh") and value.startswith("KXHIGH") and value.startswith(("zz", "kxh"))
    assert not value.startswith("kxlow") and not value.startswith("kxhigh", 1)
    assert value.startswith("highny", 2, 10) and value == "KXHIGHNY-26DEC05-B52.5"
