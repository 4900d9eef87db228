"""Completion of values (kalshi_cli.completers): channels, --env, --color, cached tickers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from kalshi_cli.completers import (
    cached_tickers,
    complete_channel,
    complete_color,
    complete_env,
    complete_ticker,
    markets_cache_path,
)
from kalshi_cli.protocol import CHANNELS
from tests.conftest import cli_env


def test_channels_complete_by_prefix_with_a_hint() -> None:
    assert [name for name, _ in complete_channel("tr")] == ["trade"]
    assert {name for name, _ in complete_channel("")} == set(CHANNELS)
    fill = dict(complete_channel("fi"))["fill"]
    assert "private" in fill
    assert complete_channel("zz") == []


def test_env_and_color() -> None:
    assert [name for name, _ in complete_env("")] == ["prod", "demo"]
    assert [name for name, _ in complete_env("d")] == ["demo"]
    assert [name for name, _ in complete_color("")] == ["auto", "always", "never"]
    assert [name for name, _ in complete_color("n")] == ["never"]


def test_tickers_come_from_the_cache_when_there_is_one(tmp_path: Path, monkeypatch) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    cache = markets_cache_path(env)
    assert cached_tickers(cache, "KX") == []  # no cache: nothing, not file names
    assert cache == tmp_path / "kalshi" / "markets.txt"
    cache.parent.mkdir()
    cache.write_text(
        "# tickers, one a line\n"
        "KXBTCD-26DEC2517-T106249.99\tBitcoin above 106,250?\n"
        "KXBTCD-26DEC2517-T108499.99\n"
        "KXETHD-26DEC2517-T3049.99  Ether above 3,050?\n"
        "\n"
    )
    assert cached_tickers(cache, "kxbtcd") == [
        ("KXBTCD-26DEC2517-T106249.99", "Bitcoin above 106,250?"),
        ("KXBTCD-26DEC2517-T108499.99", ""),
    ]
    assert cached_tickers(cache, "KXETH") == [("KXETHD-26DEC2517-T3049.99", "Ether above 3,050?")]
    explicit = tmp_path / "mine.txt"
    explicit.write_text("KXONE-1\n")
    assert markets_cache_path({"KALSHI_MARKETS_CACHE": str(explicit), "XDG_CACHE_HOME": "/x"}) == explicit
    monkeypatch.setenv("KALSHI_MARKETS_CACHE", str(explicit))
    assert complete_ticker("") == [("KXONE-1", "")]


def test_typer_accepts_them_as_autocompletion_callbacks() -> None:
    """Wired the way a command will wire them: typer calls each with what was typed."""
    app = typer.Typer()

    @app.command()
    def tail(
        channels: Annotated[list[str], typer.Argument(autocompletion=complete_channel)],
        env: Annotated[str, typer.Option("--env", autocompletion=complete_env)] = "prod",
    ) -> None:
        pass

    def complete(words: str) -> list[str]:
        result = CliRunner().invoke(
            app,
            [],
            prog_name="kalshi",
            env={"_KALSHI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)},
        )
        return result.output.split()

    assert complete("kalshi tr") == ["trade"]
    assert complete("kalshi trade --env d") == ["demo"]


def complete(words: str, tmp_path: Path) -> list[str]:
    """What bash gets on <TAB> after ``words`` (the real CLI, typer's bash protocol)."""
    from tests.conftest import run_cli

    cache = tmp_path / "markets.txt"
    cache.write_text("KXHIGHNY-26NOV25-B52.5  NYC high 52-53\nKXBTCD-26NOV2517-T97999.99\n")
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = cli_env(_KALSHI_COMPLETE="complete_bash", COMP_WORDS=words, COMP_CWORD=str(cword))
    env["KALSHI_MARKETS_CACHE"] = str(cache)
    proc = run_cli([], env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().split()


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("kalshi tail tr", ["trade"]),
        ("kalshi record orderbook_d", ["orderbook_delta"]),
        ("kalshi book --env ", ["prod", "demo"]),
        ("kalshi fills --color n", ["never"]),
        ("kalshi tail trade -m KXH", ["KXHIGHNY-26NOV25-B52.5"]),
        ("kalshi book KXHIGHNY-26NOV25-B52.5 KXB", ["KXBTCD-26NOV2517-T97999.99"]),
    ],
)
def test_the_cli_completes_channels_env_color_and_tickers(words: str, expected: list[str], tmp_path: Path) -> None:
    assert complete(words, tmp_path) == expected
