"""`kalshi fills`, `positions` and `orders` as real subprocesses against the simulator: nothing lost
or printed twice across a dropped connection, REST seeds complete before the first change, and
one clear error line for every failure."""

from __future__ import annotations

import time

import orjson

from kalshi_cli.portfolio import fill_key
from tests.conftest import assert_clean_error, run_cli, signed_args, spawn_cli
from tests.inprocess import run_inprocess
from tests.test_cli_tail import lines_of, stop, subscribed, wait_for


def account(sim):
    return sim.call("exchange").account


def sim_fills(sim) -> list[dict]:
    return list(account(sim).fills)


def step_until_fills(sim, n: int) -> None:
    """Drive the exchange until ``n`` more user fills happened."""
    target = len(sim_fills(sim)) + n
    for _ in range(5000):
        if len(sim_fills(sim)) >= target:
            return
        sim.step(1)
    raise AssertionError("the simulator made no fills")


def parsed(path) -> list[dict]:
    return [orjson.loads(line) for line in lines_of(path)]


def rest_calls(sim, path: str) -> list[dict]:
    return [r for r in sim.rest_requests() if r["path"].endswith(path)]


def test_fills_made_while_disconnected_appear_once_in_order(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    out = tmp_path / "fills.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["fills", "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="fill subscription")
            step_until_fills(sim, 3)
            wait_for(lambda: len(lines_of(out)) >= 3, what="live fills")
            sim.reject_handshakes(503, 2)  # stay down for a moment
            sim.drop_connections()
            step_until_fills(sim, 4)  # made while nobody is listening
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 1, what="reconnect")
            step_until_fills(sim, 2)
            total = len(sim_fills(sim))
            wait_for(lambda: len(lines_of(out)) >= total, what="every fill")
            time.sleep(0.3)  # anything extra (a duplicate) would show up now
        finally:
            code, err = stop(proc)
    assert code == 0, err
    assert "Traceback" not in err
    frames = parsed(out)
    truth = sim_fills(sim)
    assert [fill_key(f["msg"]) for f in frames] == [fill_key(f) for f in truth]
    backfilled = [f for f in frames if f.get("backfill")]
    assert 4 <= len(backfilled) <= len(truth) - 3
    for frame in backfilled:
        assert frame["type"] == "fill" and "sid" not in frame and "post_position_fp" not in frame["msg"]
    live = [f for f in frames if not f.get("backfill")]
    assert all("sid" in f for f in live)
    assert frames[:3] == [f for f in live[:3]]  # the first three came live, as received
    assert rest_calls(sim, "/portfolio/fills"), "no backfill request was made"


def test_a_lost_fill_subscription_is_backfilled(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    out = tmp_path / "fills.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["fills", "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="fill subscription")
            step_until_fills(sim, 2)
            wait_for(lambda: len(lines_of(out)) >= 2, what="live fills")
            sim.send_error(25, "fill")  # the server ends the subscription; fills until the resubscribe are lost
            step_until_fills(sim, 3)
            wait_for(lambda: subscribed(sim) >= 2, what="resubscribe")
            step_until_fills(sim, 1)
            total = len(sim_fills(sim))
            wait_for(lambda: len(lines_of(out)) >= total, what="every fill")
            time.sleep(0.3)
        finally:
            code, err = stop(proc)
    assert code == 0, err
    assert [fill_key(f["msg"]) for f in parsed(out)] == [fill_key(f) for f in sim_fills(sim)]
    assert rest_calls(sim, "/portfolio/fills")


def test_since_prints_history_then_live_with_no_duplicate_at_the_seam(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    step_until_fills(sim, 5)
    history = sim_fills(sim)
    sim.fail_rest(500, 2)  # the backfill is retried
    out = tmp_path / "fills.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["fills", "--since", "10m", *signed_args(keys, sim.url)], stdout=fh)  # a pipe: NDJSON
        try:
            wait_for(lambda: len(lines_of(out)) >= len(history), what="history")
            step_until_fills(sim, 3)
            total = len(sim_fills(sim))
            wait_for(lambda: len(lines_of(out)) >= total, what="live fills")
            time.sleep(0.3)
        finally:
            code, err = stop(proc)
    assert code == 0, err
    frames = parsed(out)
    assert [fill_key(f["msg"]) for f in frames] == [fill_key(f) for f in sim_fills(sim)]
    assert all(f.get("backfill") for f in frames[: len(history)])
    assert not any(f.get("backfill") for f in frames[len(history) :])
    statuses = [r["status"] for r in rest_calls(sim, "/portfolio/fills")]
    assert statuses[:3] == [500, 500, 200], statuses
    assert sum("HTTP 500" in line and "retrying" in line for line in err.splitlines()) == 2, err


def test_count_and_market_filter(keys, sim_factory):
    sim = sim_factory(rate=0, markets=3)
    step_until_fills(sim, 6)
    ticker = sim_fills(sim)[0]["market_ticker"]
    mine = [f for f in sim_fills(sim) if f["market_ticker"] == ticker]
    proc = run_cli(["fills", "--since", "1h", "-m", ticker, "--count", "1", "--json", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    lines = [orjson.loads(x) for x in proc.stdout.splitlines()]
    assert [fill_key(f["msg"]) for f in lines] == [fill_key(mine[0])]
    query = rest_calls(sim, "/portfolio/fills")[-1]["query"]
    assert query["ticker"] == [ticker] and int(query["min_ts"][0]) > 0


def test_positions_start_complete_and_follow_changes(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    step_until_fills(sim, 4)
    before = {p["market_ticker"]: p for p in sim.call("exchange").positions()}
    out = tmp_path / "pos.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["positions", "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: len(lines_of(out)) >= len(before), what="seed rows")
            step_until_fills(sim, 2)
            wait_for(lambda: sum(1 for f in parsed(out) if not f.get("seed")) >= 2, what="live position frames")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    frames = parsed(out)
    seeds = frames[: len(before)]
    assert all(f.get("seed") and f["type"] == "market_position" for f in seeds)
    assert {f["msg"]["market_ticker"]: f["msg"]["position_fp"] for f in seeds} == {
        t: p["position_fp"] for t, p in before.items()
    }
    live = frames[len(before) :]
    assert live and all(f["type"] == "market_position" and "sid" in f for f in live)
    final = {p["market_ticker"]: p for p in sim.call("exchange").positions()}
    for f in live:
        assert f["msg"]["market_ticker"] in final


def test_orders_reseed_after_reconnect_and_show_changes(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    resting = [o for o in sim.call("exchange").orders() if o["status"] == "resting"]
    assert resting
    out = tmp_path / "orders.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["orders", "--json", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: len(lines_of(out)) >= len(resting), what="seed rows")
            sim.step(60)
            wait_for(lambda: any(not f.get("seed") for f in parsed(out)), what="a live order change")
            sim.drop_connections()
            wait_for(lambda: len(rest_calls(sim, "/portfolio/orders")) >= 2, what="re-seed after reconnect")
            time.sleep(0.5)
        finally:
            code, err = stop(proc)
    assert code == 0, err
    frames = parsed(out)
    first_seed = frames[: len(resting)]
    assert {f["msg"]["order_id"] for f in first_seed} == {o["order_id"] for o in resting}
    assert all(f["msg"]["status"] == "resting" for f in first_seed)
    assert all(q["query"]["status"] == ["resting"] for q in rest_calls(sim, "/portfolio/orders"))
    now_resting = {o["order_id"] for o in sim.call("exchange").orders() if o["status"] == "resting"}
    last_seed_ids = [f["msg"]["order_id"] for f in frames[-len(now_resting) :]] if now_resting else []
    assert set(last_seed_ids) == now_resting


def test_terminal_views_render():
    import io
    import json

    from rich.console import Console

    from kalshi_cli.portfolio import FillTotals, rest_fill_frame, rest_order_frame, rest_position_frame
    from kalshi_cli.render.portfolio import fills_view, orders_view, positions_view
    from tests.conftest import EXAMPLES

    ws = orjson.loads((EXAMPLES / "fill.json").read_bytes())["msg"]
    back = rest_fill_frame(json.loads((EXAMPLES / "rest" / "portfolio_fills.json").read_text())["fills"][1])["msg"]
    totals = FillTotals()
    rows = [{"msg": m, "ms": m["ts_ms"], "backfill": b, "post": totals.add(m)} for m, b in ((back, True), (ws, False))]
    pos = rest_position_frame(
        json.loads((EXAMPLES / "rest" / "portfolio_positions.json").read_text())["market_positions"][1]
    )["msg"]
    order = rest_order_frame(json.loads((EXAMPLES / "rest" / "portfolio_orders.json").read_text())["orders"][0])["msg"]
    console = Console(file=io.StringIO(), width=140, color_system=None)
    console.print(fills_view(rows, totals, "live", 40))
    console.print(positions_view({pos["market_ticker"]: pos}, "live"))
    console.print(orders_view({order["order_id"]: order}, ["14:05:12  filled ..."], "live"))
    text = console.file.getvalue()
    assert "KXHIGHNY-26AUG28-B84.5" in text and "maker" in text and "taker" in text
    assert "142" in text and "0.5011" in text  # position after the live fill; fees total
    assert "30" in text and "NO" in text and "c0a8012e-mm-000417" in text


def test_sim_flag_needs_no_account():
    proc = run_inprocess(["fills", "--sim", "--since", "1h", "--count", "1", "--json", "-q"])
    assert proc.returncode == 0, proc.stderr
    assert orjson.loads(proc.stdout.splitlines()[0])["type"] == "fill"


# --- errors ---------------------------------------------------------------------------------------


def test_no_key_explains_the_three_ways(sim_factory):
    sim = sim_factory(rate=0)
    for cmd in ("fills", "positions", "orders"):
        proc = run_inprocess([cmd, "--url", sim.url])
        line = assert_clean_error(proc, 3, "--key-id", "KALSHI_API_KEY_ID", "kalshi config init")
        assert line


def test_rejected_key_says_what_to_check(keys, sim_factory, rsa_key):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.conftest import pem_public

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sim = sim_factory(rate=0, public_key_pem=pem_public(other))
    proc = run_cli(["fills", *signed_args(keys, sim.url)])
    assert_clean_error(proc, 3, "rejected the API key", "key id matches")


def test_rest_failure_after_retries_is_one_line(keys, sim_factory):
    sim = sim_factory(rate=0)
    sim.fail_rest(503, 50)
    proc = run_cli(["positions", "--json", *signed_args(keys, sim.url)], timeout=60)
    line = assert_clean_error(proc, 4, "GET /trade-api/v2/portfolio/positions failed after 5 tries", "HTTP 503")
    err = proc.stderr.decode()
    assert err.count(line) == 1
    assert proc.stdout == b""
