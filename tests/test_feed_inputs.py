"""Bad input to the feed commands: one clear line on stderr and the README's exit status.

In-process (``cli._run`` with a captured ``Environment``): nothing here needs a subprocess,
and none of these runs may connect anywhere (each is refused before connecting).
"""

from __future__ import annotations

import pytest

from kalshi_cli.cli import _run
from kalshi_cli.environment import Environment, using


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, bytes]:
    env = Environment.captured()
    with using(env):
        status = _run(args)
    err = capsys.readouterr().err + env.stderr.getvalue()  # type: ignore[attr-defined]
    return status, err, env.stdout.getvalue()  # type: ignore[attr-defined]


def one_error(status: int, err: str, out: bytes, want: int, *needles: str) -> str:
    assert status == want, err
    assert "Traceback" not in err and "internal error" not in err, err
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert out == b""
    return lines[0]


@pytest.mark.parametrize("since", ["", "9" * 400, "99999999999999999999d"])
def test_fills_since_empty_or_huge_is_a_usage_error(since, capsys):
    one_error(*run(["fills", "--since", since, "--sim"], capsys), 2, "--since")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_stale_after_must_be_a_finite_number(value, capsys):
    status, err, out = run(["tail", "trade", "--sim", "--stale-after", value], capsys)
    assert status == 2 and "--stale-after" in err and "Traceback" not in err and out == b""


def test_replay_speed_without_replay_is_a_usage_error(capsys):
    one_error(*run(["tail", "trade", "--sim", "--replay-speed", "max"], capsys), 2, "--replay-speed", "--replay")


def test_connect_tries_must_be_at_least_one(capsys):
    status, err, out = run(["tail", "trade", "--sim", "--connect-tries", "0"], capsys)
    assert status == 2 and "--connect-tries" in err and out == b""


def test_no_api_key_for_kalshi_exits_3(capsys):
    one_error(*run(["tail", "trade"], capsys), 3, "no API key configured", "--private-key", "--sim")
    one_error(*run(["book", "KXHIGHNY-26NOV25-B52.5"], capsys), 3, "no API key configured")


@pytest.mark.parametrize(
    "ticker", ["../../portfolio/balance", "KX?status=open", "KX#frag", "KX/1", "", "KX 1", "%2e%2e"]
)
def test_book_refuses_what_cannot_be_a_ticker(ticker, capsys):
    # before connecting: these would reach other REST paths (/markets/../../portfolio/balance)
    one_error(*run(["book", ticker, "--sim"], capsys), 2, "not a Kalshi market ticker")


def test_market_path_encodes_the_ticker_as_one_segment():
    from kalshi_cli.feeds.markets import market_path

    assert market_path("KXHIGHNY-26NOV25-B52.5") == "/markets/KXHIGHNY-26NOV25-B52.5"
    assert market_path("../x?y#z") == "/markets/..%2Fx%3Fy%23z"
