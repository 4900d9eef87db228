"""``kalshi sim`` lists the markets it serves on stderr, grouped by event; stdout keeps the URL."""

from __future__ import annotations

import random
import re
import subprocess

import orjson

from kalshi_cli.sim.catalog import make_specs, ticker_listing
from tests.conftest import ROOT, cli_env, run_cli
from tests.test_sim_detach import KALSHI, stop


def test_the_listing_names_every_market_served_under_its_event(tmp_path) -> None:
    done = subprocess.run(
        f"{KALSHI} sim --rate 0 --seed 3 --markets 12 | head -1",
        shell=True,
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env=cli_env(),
    )
    err = done.stderr.decode()
    pid = re.search(r"serving in the background \(pid (\d+)\)", err)
    assert done.returncode == 0 and pid, err
    url = done.stdout.decode().strip()
    try:
        assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/trade-api/ws/v2", url)  # stdout: the URL alone
        served = run_cli(
            ["markets", "--url", url, "--json", "--status", "all"], env=cli_env(XDG_CACHE_HOME=str(tmp_path))
        )
        markets = [orjson.loads(line) for line in served.stdout.splitlines()]
    finally:
        stop(int(pid.group(1)))
    assert len(markets) == 12
    listing = err[err.index("kalshi sim: 12 markets in") :].splitlines()
    event = None
    listed: dict[str, str] = {}
    for line in listing[1:]:
        if line.startswith("    "):
            listed[line.strip()] = event
        elif line.startswith("  "):
            event = line.split()[0]
    assert listed == {m["ticker"]: m["event_ticker"] for m in markets}  # each under its own event


def test_a_big_simulator_is_summarised_per_event() -> None:
    specs = make_specs(random.Random(0), 3000)
    lines = ticker_listing(specs, max_lines=20)
    events = {s.event_ticker for s in specs}
    assert lines[0] == f"3000 markets in {len(events)} events:"
    assert len(lines) <= 22 and "more events (kalshi markets --url URL lists every market)" in lines[-1]
    assert all(line.startswith("  ") and "markets)" in line or "market)" in line for line in lines[1:-1])
    small = ticker_listing(specs[:4])
    order = [s.event_ticker for s in specs]
    grouped = sorted(specs[:4], key=lambda s: order.index(s.event_ticker))  # by event, first seen first
    assert [line.strip() for line in small if line.startswith("    ")] == [s.ticker for s in grouped]
