"""Bad input to the feed commands: one clear line on stderr and the README's exit status.

In-process (``tests.inprocess``): nothing here needs a subprocess, and each of these runs is
refused before it connects anywhere, except the last, which finds nothing listening.
"""

from __future__ import annotations

import socket

import pytest

from tests.conftest import assert_clean_error
from tests.inprocess import run_inprocess


@pytest.mark.parametrize("since", ["", "9" * 400, "99999999999999999999d"])
def test_fills_since_empty_or_huge_is_a_usage_error(since):
    # '' was ignored; a huge value ended in "internal error: OverflowError"
    assert_clean_error(run_inprocess(["fills", "--since", since, "--sim"]), 2, "--since")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_stale_after_must_be_a_finite_number(value):
    proc = run_inprocess(["tail", "trade", "--sim", "--stale-after", value])
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "--stale-after" in err and "Traceback" not in err and proc.stdout == b""


def test_replay_speed_without_replay_is_a_usage_error():
    proc = run_inprocess(["tail", "trade", "--sim", "--replay-speed", "max"])
    assert_clean_error(proc, 2, "--replay-speed", "--replay")


def test_connect_tries_must_be_at_least_one():
    proc = run_inprocess(["tail", "trade", "--sim", "--connect-tries", "0"])
    assert proc.returncode == 2 and "--connect-tries" in proc.stderr.decode() and proc.stdout == b""


def test_no_api_key_for_kalshi_exits_3():
    assert_clean_error(run_inprocess(["tail", "trade"]), 3, "no API key configured", "--private-key", "--sim")
    assert_clean_error(run_inprocess(["book", "KXHIGHNY-26NOV25-B52.5"]), 3, "no API key configured")


@pytest.mark.parametrize(
    "ticker", ["../../portfolio/balance", "KX?status=open", "KX#frag", "KX/1", "", "KX 1", "%2e%2e"]
)
def test_book_refuses_what_cannot_be_a_ticker(ticker):
    # before connecting: these would reach other REST paths (/markets/../../portfolio/balance)
    assert_clean_error(run_inprocess(["book", ticker, "--sim"]), 2, "not a Kalshi market ticker")


def test_market_path_encodes_the_ticker_as_one_segment():
    from kalshi_cli.feeds.markets import market_path

    assert market_path("KXHIGHNY-26NOV25-B52.5") == "/markets/KXHIGHNY-26NOV25-B52.5"
    assert market_path("../x?y#z") == "/markets/..%2Fx%3Fy%23z"


@pytest.mark.parametrize("command", [["tail", "trade"], ["record", "trade", "-o", "{tmp}"]])
def test_connect_tries_gives_up_on_a_server_never_reached(command, tmp_path):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = [a.replace("{tmp}", str(tmp_path / "rec")) for a in command]
    proc = run_inprocess([*args, "--url", f"ws://127.0.0.1:{port}/trade-api/ws/v2", "--connect-tries", "2"])
    assert_clean_error(proc, 4)
    assert proc.stderr.decode().count("reconnecting") <= 1  # one retry, then the end
