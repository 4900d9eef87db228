"""tests/hostile.py drives the real `kalshi tail --json` as a subprocess (the server's own test)."""

from __future__ import annotations

import orjson

from tests.conftest import run_cli, signed_args
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
