"""tests/hostile.py drives the real CLI as a subprocess: `kalshi tail --json` (the server's own
test), and `kalshi book --json` fed frames that would make a wrong book (issue 12)."""

from __future__ import annotations

import signal
import threading

import orjson

from tests.conftest import run_cli, signed_args, spawn_cli
from tests.hostile import HostileConn, HostileServer, encode_frame, unmask


def trade(sid: int, seq: int, n: int) -> bytes:
    """A trade frame in non-Kalshi key order: `seq` and `sid` after `msg`, `type` last."""
    msg = b'{"trade_id":"t%d","market_ticker":"KX-A","yes_price_dollars":"0.%02d","count_fp":"1.00"}' % (n, n)
    return b'{"msg":%s,"seq":%d,"sid":%d,"type":"trade"}' % (msg, seq, sid)


def test_frame_codec_round_trips_masked_payloads():
    payload = bytes(range(256)) * 300  # past the 16-bit length form
    mask = b"\x01\x80\xfe\x7f"
    assert unmask(mask, unmask(mask, payload)) == payload
    frame = encode_frame(1, payload)
    assert frame[1] == 127 and frame[10:] == payload
    assert encode_frame(1, b"x" * 200)[1:4] == b"\x7e\x00\xc8"


def test_frames_in_any_key_order_reach_stdout_once_each(keys):
    sent: list[bytes] = []

    async def script(conn: HostileConn) -> None:
        request = await conn.handshake()
        assert request.path == "/trade-api/ws/v2"
        assert "kalshi-access-signature" in request.headers
        sid = (await conn.subscribe_all())["trade"]
        for n in range(1, 7):
            frame = trade(sid, n, n)
            sent.append(frame)
            # one message in three frames: the client must join fragments
            await conn.send_text(frame, fragments=3 if n == 3 else 1)
        await conn.idle()

    with HostileServer(script) as server:
        proc = run_cli(["tail", "trade", "-m", "KX-A", "--json", "-n", "6", *signed_args(keys, server.url)])
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.split(b"\n")[:-1] == sent
    command = server.ws_conns[0].commands[0]
    assert command["cmd"] == "subscribe" and command["params"]["channels"] == ["trade"]


def test_a_close_frame_then_a_second_connection_carries_on(keys):
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["trade"]
        base = 10 * (conn.ws_index or 0)
        for n in range(1, 4):
            await conn.send_text(trade(sid, n, base + n))
        if conn.ws_index == 0:
            await conn.send_close(1011, "bye")
            await conn.recv_message()  # the client's close answer (or its going away)
            return
        await conn.idle()

    with HostileServer(script) as server:
        proc = run_cli(["tail", "trade", "-m", "KX-A", "--json", "-n", "6", *signed_args(keys, server.url)])
        connections = len(server.ws_conns)  # (tail trade may also ask REST for missed trades: 404 here)
    assert proc.returncode == 0, proc.stderr.decode()
    ids = [orjson.loads(line)["msg"]["trade_id"] for line in proc.stdout.split(b"\n")[:-1]]
    assert ids == ["t1", "t2", "t3", "t11", "t12", "t13"]
    assert connections == 2


def test_a_scripted_401_answer_is_the_key_diagnosis(keys):
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.respond(401, {"Content-Type": "application/json"}, b'{"error":"bad key"}')

    with HostileServer(script) as server:
        proc = run_cli(["tail", "trade", "--json", *signed_args(keys, server.url)])
    assert proc.returncode == 3, proc.stderr.decode()
    assert "401" in proc.stderr.decode() and proc.stdout == b""


def test_a_dropped_tcp_connection_is_reconnected_and_resubscribed(keys):
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["trade"]
        await conn.send_text(trade(sid, 1, 1 + 10 * (conn.ws_index or 0)))
        if conn.ws_index == 0:
            conn.drop()  # no close frame: the client only sees the socket end
            return
        await conn.idle()

    with HostileServer(script) as server:
        proc = run_cli(["tail", "trade", "-m", "KX-A", "--json", "-n", "2", *signed_args(keys, server.url)])
        resubscribed = [c.commands[0]["cmd"] for c in server.ws_conns]
    assert proc.returncode == 0, proc.stderr.decode()
    assert [orjson.loads(line)["msg"]["trade_id"] for line in proc.stdout.splitlines()] == ["t1", "t11"]
    assert resubscribed == ["subscribe", "subscribe"]


# --- the book feed: a frame that would make a wrong book is never printed ------------------------


def book_line(clock: int, yes: list[list[str]]) -> dict:
    best = yes[-1][0] if yes else None
    return {"clock": clock, "yes_dollars_fp": yes, "no_dollars_fp": [], "best_yes_bid": best}


def snapshot(sid: int, seq: int, clock: int, yes: list[list[str]], **extra: object) -> bytes:
    msg = {"market_ticker": "KX-A", "market_id": "id-a", "clock": clock, "yes_dollars_fp": yes}
    return orjson.dumps({"type": "orderbook_snapshot", "sid": sid, "seq": seq, **extra, "msg": msg})


def book_delta(sid: int, seq: int, clock: int, price: str, size: str) -> bytes:
    msg = {"market_ticker": "KX-A", "market_id": "id-a", "clock": clock, "side": "yes"}
    msg |= {"price_dollars": price, "delta_fp": size}
    return orjson.dumps({"type": "orderbook_delta", "sid": sid, "seq": seq, "msg": msg})


async def answer_get_snapshot(conn: HostileConn, sid: int, seq: int, clock: int, yes: list[list[str]]) -> None:
    """Wait for the client's get_snapshot (acking any other subscribe), answer it, then idle."""
    while True:
        cmd = await conn.recv_json()
        if cmd.get("cmd") == "subscribe":
            await conn.ack_subscribe(cmd)
        elif cmd.get("params", {}).get("action") == "get_snapshot":
            await conn.send_text(snapshot(sid, seq, clock, yes, id=cmd["id"]))
            return await conn.idle()


def book_lines_until(keys, server: HostileServer, last_clock: int) -> tuple[list[dict], str]:
    """``kalshi book KX-A --json --every`` until it prints a book at ``last_clock``; its lines.

    A book that never gets there (a wrong one printed as live, no resync) ends the run after 30 s
    (a safety net so the test fails instead of hanging; nothing is timed).
    """
    args = ["book", "KX-A", "--json", "--every", *signed_args(keys, server.url)]
    proc = spawn_cli(args)
    net = threading.Timer(30, proc.terminate)
    net.daemon = True
    net.start()
    lines = []
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = orjson.loads(raw)
            lines.append({k: line[k] for k in ("clock", "yes_dollars_fp", "no_dollars_fp", "best_yes_bid")})
            if line["clock"] == last_clock:
                break
    finally:
        net.cancel()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    return lines, err.decode()


GOOD = [["0.3000", "1.00"], ["0.4000", "5.00"]]


def test_a_snapshot_listing_a_price_twice_is_never_printed_and_is_re_snapshotted(keys):
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["orderbook_delta"]
        await conn.send_text(snapshot(sid, 1, 10, [["0.4000", "5.00"], ["0.40", "5.00"]]))  # summed, 10.00 is wrong
        await answer_get_snapshot(conn, sid, 2, 11, GOOD)

    with HostileServer(script) as server:
        lines, err = book_lines_until(keys, server, 11)
    assert lines == [book_line(11, GOOD)], err
    assert "listed twice" in err


def test_a_delta_whose_clock_goes_back_is_never_printed_and_is_re_snapshotted(keys):
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["orderbook_delta"]
        await conn.send_text(snapshot(sid, 1, 10, [["0.4000", "5.00"]]))
        await conn.send_text(book_delta(sid, 2, 12, "0.4000", "1.00"))
        await conn.send_text(book_delta(sid, 3, 11, "0.3000", "1.00"))  # clock went back
        await answer_get_snapshot(conn, sid, 4, 20, GOOD)

    with HostileServer(script) as server:
        lines, err = book_lines_until(keys, server, 20)
    assert lines == [book_line(10, [["0.4000", "5.00"]]), book_line(12, [["0.4000", "6.00"]]), book_line(20, GOOD)], err
    assert "went backwards" in err


def test_a_delta_not_after_its_snapshot_is_never_applied_and_is_re_snapshotted(keys):
    """After maintenance lowered the clock, a new change can carry its snapshot's clock: skipping
    it as 'already inside the snapshot' would print books missing it."""

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["orderbook_delta"]
        await conn.send_text(snapshot(sid, 1, 10, [["0.4000", "5.00"]]))
        await conn.send_text(book_delta(sid, 2, 10, "0.4000", "1.00"))
        await conn.send_text(book_delta(sid, 3, 11, "0.4000", "1.00"))
        await answer_get_snapshot(conn, sid, 4, 20, GOOD)

    with HostileServer(script) as server:
        lines, err = book_lines_until(keys, server, 20)
    assert lines == [book_line(10, [["0.4000", "5.00"]]), book_line(20, GOOD)], err
    assert "not after its snapshot" in err
