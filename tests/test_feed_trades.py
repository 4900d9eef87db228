"""Gap-free public trades (issue 12 item 5): after a reconnect or a trade seq gap, ``tail trade``
backfills from ``GET /markets/trades`` (every page), each trade_id once, backfilled ones in the
WS trade shape with ``"backfill": true``. Against a server written here (WS and REST on one port).

In-process: ``cli._run`` with a captured Environment; ``--count`` ends each run.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from kalshi_cli.cli import _run
from kalshi_cli.environment import Environment, using
from kalshi_cli.feeds.trades import rest_trade_frame
from tests.hostile import HostileConn, HostileServer

TICKER = "KXA-1"


def trade_msg(n: int, ts_ms: int) -> dict:
    return {
        "trade_id": f"trade-{n}",
        "market_ticker": TICKER,
        "yes_price_dollars": "0.4400",
        "no_price_dollars": "0.5600",
        "count_fp": f"{n}.00",
        "taker_side": "no",
        "ts": ts_ms // 1000,
        "ts_ms": ts_ms,
    }


def rest_row(msg: dict) -> dict:
    when = datetime.fromtimestamp(msg["ts_ms"] / 1000, UTC).isoformat(timespec="milliseconds")
    return {
        "trade_id": msg["trade_id"],
        "ticker": msg["market_ticker"],
        "yes_price_dollars": msg["yes_price_dollars"] + "00",  # REST prints 6 places
        "no_price_dollars": msg["no_price_dollars"] + "00",
        "count_fp": msg["count_fp"],
        "taker_side": msg["taker_side"],
        "created_time": when.replace("+00:00", "Z"),
    }


class Exchange:
    """Trades 1..N; what the WS connections send is scripted per test, REST lists them all."""

    def __init__(self, count: int, rest_status: int = 200, rest_upto: int | None = None) -> None:
        now = int(time.time() * 1000) + 60_000  # after the client started: none is "history"
        self.msgs = [trade_msg(n, now + n) for n in range(1, count + 1)]
        self.rest_status = rest_status
        self.rest_upto = rest_upto or count  # the trades made by the time REST is asked
        self.rest_queries: list[dict[str, list[str]]] = []

    async def rest(self, conn: HostileConn, path: str) -> None:
        query = parse_qs(urlsplit(path).query)
        if urlsplit(path).path == "/trade-api/v2/markets/trades":
            self.rest_queries.append(query)
        # every other path (the name resolver's /markets/{t}, /events, /series) gets the same body
        # too: not Kalshi's catalogue shape, so the names pass as given
        if self.rest_status != 200:
            await conn.respond(self.rest_status, {"Content-Type": "text/plain"}, b"404 page not found")
            return
        rows = [rest_row(m) for m in reversed(self.msgs[: self.rest_upto])]  # newest first
        if "cursor" not in query:  # two pages: the cursor must be followed
            body = {"trades": rows[:2], "cursor": "page-2"}
        else:
            body = {"trades": rows[2:], "cursor": ""}
        await conn.respond(200, {"Content-Type": "application/json"}, orjson.dumps(body))


def serve(exchange: Exchange, connections: list[list[int | str]]) -> HostileServer:
    """Each WS connection sends its list: a trade number (with the next seq), ``"skip"`` (a seq
    lost), ``"drop"`` (abort the connection); then idles."""
    ws_index = [0]

    async def script(conn: HostileConn) -> None:
        request = await conn.read_request()
        if request.path.startswith("/trade-api/v2/"):
            await exchange.rest(conn, request.path)
            return
        await conn.accept(request)
        sid = (await conn.subscribe_all())["trade"]
        plan = connections[min(ws_index[0], len(connections) - 1)]
        ws_index[0] += 1
        seq = 0
        for step in plan:
            if step == "drop":
                await asyncio.sleep(0.2)
                conn.drop()
                return
            seq += 1
            if step == "skip":
                continue
            msg = exchange.msgs[int(step) - 1]
            await conn.send_text(orjson.dumps({"type": "trade", "sid": sid, "seq": seq, "msg": msg}))
        await conn.idle()

    return HostileServer(script)


def tail(server: HostileServer, count: int, capsys) -> tuple[int, list[dict], str]:
    env = Environment.captured()
    with using(env):
        status = _run(["tail", "trade", "-m", TICKER, "--json", "--count", str(count), "--url", server.url])
    err = capsys.readouterr().err + env.stderr.getvalue()  # type: ignore[attr-defined]
    lines = [orjson.loads(line) for line in env.stdout.getvalue().splitlines()]  # type: ignore[attr-defined]
    return status, lines, err


def ids(lines: list[dict]) -> list[tuple[str, bool]]:
    return [(line["msg"]["trade_id"], bool(line.get("backfill"))) for line in lines]


def test_trades_missed_in_a_reconnect_are_backfilled_once_in_order(capsys):
    exchange = Exchange(5, rest_upto=4)
    # connection 1 sends 1, 2 and drops; 3 and 4 happen meanwhile; connection 2 sends 4 (again) and 5
    with serve(exchange, [[1, 2, "drop"], [4, 5]]) as server:
        status, lines, err = tail(server, 5, capsys)
    assert status == 0, err
    assert ids(lines) == [
        ("trade-1", False),
        ("trade-2", False),
        ("trade-3", True),
        ("trade-4", True),
        ("trade-5", False),
    ]
    assert lines[2] == {"type": "trade", "msg": exchange.msgs[2], "backfill": True}  # the WS shape exactly
    assert len(exchange.rest_queries) == 2 and exchange.rest_queries[1]["cursor"] == ["page-2"]
    first = exchange.rest_queries[0]
    assert first["ticker"] == [TICKER] and int(first["min_ts"][0]) <= exchange.msgs[1]["ts"]  # from trade 2 (overlap)


def test_a_trade_seq_gap_is_backfilled(capsys):
    exchange = Exchange(4, rest_upto=3)
    with serve(exchange, [[1, "skip", 3, 4]]) as server:  # trade 2's frame never comes
        status, lines, err = tail(server, 4, capsys)
    assert status == 0, err
    # trade 3's frame (the one after the gap) waited for the backfill, which had it already
    assert ids(lines) == [("trade-1", False), ("trade-2", True), ("trade-3", True), ("trade-4", False)]
    assert "seq gap" in err


def test_without_a_rest_api_one_warning_and_the_stream_goes_on(capsys):
    exchange = Exchange(4, rest_status=404)
    with serve(exchange, [[1, "drop"], [2, "drop"], [3, 4]]) as server:
        status, lines, err = tail(server, 4, capsys)
    assert status == 0, err
    assert ids(lines) == [(f"trade-{n}", False) for n in range(1, 5)]
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "trades made while disconnected may be missing" in warnings[0], err
    assert len(exchange.rest_queries) == 2  # asked after each reconnect, warned once


@pytest.mark.parametrize("legacy", [False, True])
def test_rest_trade_rows_map_onto_the_ws_trade_msg(legacy):
    msg = trade_msg(7, 1_787_925_912_345)
    row = rest_row(msg)
    if legacy:
        del row["count_fp"]
        row["count"] = 7
    assert rest_trade_frame(row) == {"type": "trade", "msg": msg, "backfill": True}


def test_record_trade_backfills_too(tmp_path):
    import signal

    from tests.conftest import spawn_cli

    exchange = Exchange(5, rest_upto=4)
    out = tmp_path / "rec"

    def trades() -> list[dict]:
        lines = b"".join(p.read_bytes() for p in sorted(out.glob("*.ndjson"))).splitlines()
        return [obj for obj in map(orjson.loads, lines) if obj.get("type") == "trade"]

    with serve(exchange, [[1, 2, "drop"], [4, 5]]) as server:
        proc = spawn_cli(["record", "trade", "-m", TICKER, "-o", str(out), "--url", server.url])
        try:
            server.wait_for(lambda: out.exists() and len(trades()) >= 5, what="five trades on disk")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    got = trades()
    assert ids(got) == [
        ("trade-1", False),
        ("trade-2", False),
        ("trade-3", True),
        ("trade-4", True),
        ("trade-5", False),
    ]
    assert all(isinstance(t["recv_ts_ms"], int) for t in got)
