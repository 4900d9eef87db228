"""A market the simulator's catalogue lists as closed, settled or not open yet does not trade on
its WebSocket side either: a snapshot (of an empty book), then nothing, as on Kalshi."""

from __future__ import annotations

import orjson

from kalshi_cli.sim.market import Exchange
from kalshi_cli.sim.rest_catalogue import markets
from tests.conftest import cli_env, run_cli, signed_args

TRADING = {"active", "inactive"}


def statuses(ex: Exchange) -> dict[str, str]:
    found: dict[str, str] = {}
    cursor = ""
    while True:
        body = markets(ex, {"limit": ["1000"], **({"cursor": [cursor]} if cursor else {})})
        found.update((m["ticker"], m["status"]) for m in body["markets"])
        cursor = body.get("cursor") or ""
        if not cursor:
            return found


def test_markets_listed_as_not_trading_get_no_trades_deltas_or_news() -> None:
    ex = Exchange(3, 300)
    quiet = {t for t, s in statuses(ex).items() if s not in TRADING}
    assert quiet and len(quiet) < len(ex.tickers)
    for ticker in quiet:
        snapshot = ex.snapshot_msg(ticker)
        assert "yes_dollars_fp" not in snapshot and "no_dollars_fp" not in snapshot  # nothing rests
    touched: set[str] = set()
    for _ in range(3000):
        touched.update(e.ticker for e in ex.step() if e.ticker)
    assert touched and not touched & quiet
    assert {t for t, s in statuses(ex).items() if s not in TRADING} == quiet  # the catalogue says the same after


def test_small_simulators_keep_their_story() -> None:
    a, b = Exchange(7, 6), Exchange(7, 6)
    assert all(s in TRADING for s in statuses(a).values())
    assert [e.msg for e in (a.step() for _ in range(200)) for e in e] == [
        e.msg for e in (b.step() for _ in range(200)) for e in e
    ]


def test_book_of_a_closed_market_is_a_snapshot_then_quiet(keys, sim_factory, tmp_path) -> None:
    sim = sim_factory(rate=1000, markets=60)
    listed = statuses(sim.server.exchange)
    closed = next(t for t, s in listed.items() if s == "finalized")  # settled
    trading = next(t for t, s in listed.items() if s == "active")
    proc = run_cli(
        [
            "tail",
            "orderbook_delta",
            "-m",
            closed,
            "-m",
            trading,
            "--count",
            "40",
            "--json",
            *signed_args(keys, sim.url),
        ],
        env=cli_env(XDG_CACHE_HOME=str(tmp_path / "cache")),
    )
    assert proc.returncode == 0, proc.stderr
    frames = [orjson.loads(line) for line in proc.stdout.splitlines()]
    about = [(f["type"], f["msg"]["market_ticker"]) for f in frames if "msg" in f]
    assert about.count(("orderbook_snapshot", closed)) == 1
    assert [t for kind, t in about if t == closed and kind != "orderbook_snapshot"] == []
    assert ("orderbook_delta", trading) in about  # the open one trades meanwhile
