"""Usage errors from the option parser read like the tool's own: one line, exit 2, a suggestion
only when it is the right one."""

from __future__ import annotations

import pytest

from kalshi_cli import __version__
from kalshi_cli.cli import _did_you_mean, _distance, keep_examples
from tests.conftest import run_cli


def one_line(args: list[str]) -> str:
    proc = run_cli(args)
    err = proc.stderr.decode()
    assert proc.returncode == 2, (args, proc.returncode, err)
    assert proc.stdout == b"" and "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kalshi: error: "), err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["tail", "trade", "--output", "x"], "kalshi: error: no such option --output"),  # not "--count"
        (["book", "--once-only"], "kalshi: error: no such option --once-only"),
        (
            ["tail", "trade", "--cont", "3"],
            "kalshi: error: no such option --cont (did you mean --count or --continuity?)",
        ),
        (["tail", "trade", "--coutn", "3"], "kalshi: error: no such option --coutn (did you mean --count?)"),
        (["tail", "trade", "--markte", "X"], "kalshi: error: no such option --markte (did you mean --market?)"),
        (["bok"], "kalshi: error: no such command 'bok' (did you mean book?)"),
        (["nosuch"], "kalshi: error: no such command 'nosuch' (kalshi --help lists them)"),
    ],
)
def test_unknown_names_get_a_right_suggestion_or_none(args: list[str], expected: str) -> None:
    assert one_line(args) == expected


def test_missing_argument_shows_the_usage() -> None:
    line = one_line(["tail"])
    assert "missing argument 'CHANNELS...'" in line and "usage: kalshi tail [OPTIONS] CHANNELS..." in line


def test_bad_value_names_the_option() -> None:
    line = one_line(["tail", "trade", "--count", "abc"])
    assert "--count" in line and "'abc'" in line and "Error:" not in line


def test_short_version_flag() -> None:
    for flag in ("-V", "--version"):
        proc = run_cli([flag])
        assert proc.returncode == 0 and proc.stdout.decode().strip() == f"kalshi-cli {__version__}"


def test_suggestions_are_typos_or_abbreviations_only() -> None:
    options = ["--count", "--json", "--market", "--param", "--env", "--url", "--sim", "--help"]
    assert _did_you_mean("--output", options) == ""  # three shared letters are not a typo
    assert _did_you_mean("--once", options) == ""
    assert _did_you_mean("--jsno", options) == " (did you mean --json?)"  # a swap
    assert _did_you_mean("--mark", options) == " (did you mean --market?)"  # an abbreviation
    assert _did_you_mean("--s", options) == ""  # too short to say
    assert (_distance("count", "cont"), _distance("json", "jsno"), _distance("output", "count")) == (1, 1, 4)


def test_example_lines_are_printed_as_written() -> None:
    text = "Summary.\n\n    Examples:\n\n      kalshi tail trade --sim | jq '.msg | [.a, .b]'\n"
    assert keep_examples(text) == "Summary.\n\nExamples:\n\n\b\n  kalshi tail trade --sim | jq '.msg | [.a, .b]'"
    proc = run_cli(["fills", "--help"])
    assert "--json | jq -c '.msg | [.market_ticker, .count_fp, .yes_price_dollars]'" in proc.stdout.decode()


def test_sim_wins_over_a_url_from_the_environment_but_not_over_url(monkeypatch):
    """``KALSHI_WS_URL`` set in a shell profile must not break ``--sim`` (a flag beats the environment)."""
    from tests.inprocess import run_inprocess

    monkeypatch.setenv("KALSHI_WS_URL", "ws://127.0.0.1:9/trade-api/ws/v2")
    proc = run_inprocess(["tail", "trade", "--sim", "--count", "1", "--json", "-q"])
    assert proc.returncode == 0, proc.stderr
    proc = run_inprocess(["tail", "trade", "--sim", "--url", "ws://127.0.0.1:8/trade-api/ws/v2", "--count", "1"])
    assert proc.returncode == 2 and b"--sim and --url both name a server" in proc.stderr
