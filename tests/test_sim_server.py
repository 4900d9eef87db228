"""SimServer over real loopback sockets: handshake auth, pings, data, and every fault knob."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from kalshi_cli.sim import SimServer, ThreadedSim

ROOT = Path(__file__).resolve().parent.parent
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()


def public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def signed_headers(key=RSA_KEY, ts_ms: int | None = None, path: str = "/trade-api/ws/v2") -> dict[str, str]:
    ts = str(ts_ms if ts_ms is not None else time.time_ns() // 1_000_000)
    msg = f"{ts}GET{path}".encode()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        sig = key.sign(msg)
    else:
        sig = key.sign(
            msg, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH), hashes.SHA256()
        )
    return {
        "KALSHI-ACCESS-KEY": "a952bcbe-ec3b-4b5b-b8f9-11dae589608c",
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode(),
    }


@pytest.fixture
async def server() -> AsyncIterator[SimServer]:
    srv = SimServer(seed=1, markets=4, rate=0, public_key_pem=public_pem(RSA_KEY), sending_ts=False)
    await srv.start()
    yield srv
    await srv.stop()


def client(srv: SimServer, **kw) -> connect:
    return connect(srv.url, additional_headers=signed_headers(), ping_interval=None, **kw)


async def recv(ws: ClientConnection, wait: float = 5.0) -> dict:
    return orjson.loads(await asyncio.wait_for(ws.recv(), wait))


async def send(ws: ClientConnection, obj: dict) -> None:
    await ws.send(orjson.dumps(obj).decode())


async def settle(srv: SimServer, conn: int = -1) -> None:
    """Wait until the server's outbound queue for ``conn`` is empty (everything logged)."""
    for _ in range(400):
        c = srv._conns[conn]
        if not c.queue and not c.sending:
            return
        await asyncio.sleep(0.005)


async def subscribe_book(srv: SimServer, ws: ClientConnection, tickers: list[str]) -> list[dict]:
    await send(
        ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": tickers}}
    )
    return [await recv(ws) for _ in range(1 + len(tickers))]


# --- handshake -------------------------------------------------------------------------------------


async def test_good_rsa_signature_and_url(server: SimServer) -> None:
    assert server.url.startswith("ws://127.0.0.1:") and server.url.endswith("/trade-api/ws/v2")
    async with client(server) as ws:
        await send(ws, {"id": 1, "cmd": "list_subscriptions"})
        assert await recv(ws) == {"type": "ok", "id": 1, "msg": []}
    assert server.handshakes[-1]["KALSHI-ACCESS-KEY"] == "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
    assert server.connections == 1


async def test_good_ed25519_signature() -> None:
    srv = SimServer(rate=0, public_key_pem=public_pem(ED_KEY))
    await srv.start()
    try:
        async with connect(srv.url, additional_headers=signed_headers(ED_KEY), ping_interval=None) as ws:
            await send(ws, {"id": 1, "cmd": "list_subscriptions"})
            assert (await recv(ws))["type"] == "ok"
        with pytest.raises(InvalidStatus) as exc:
            async with connect(srv.url, additional_headers=signed_headers(RSA_KEY)):
                pass
        assert exc.value.response.status_code == 401
    finally:
        await srv.stop()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, b"missing KALSHI-ACCESS-KEY"),
        ({"KALSHI-ACCESS-SIGNATURE": None}, b"missing KALSHI-ACCESS-SIGNATURE"),
        ({"KALSHI-ACCESS-SIGNATURE": base64.b64encode(b"x" * 256).decode()}, b"bad signature"),
        ("other-key", b"bad signature"),
        ("wrong-path", b"bad signature"),
        ("expired", b"expired"),
    ],
)
async def test_401(server: SimServer, headers, reason: bytes) -> None:
    if headers == "other-key":
        headers = signed_headers(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif headers == "wrong-path":
        headers = signed_headers(path="/trade-api/v2")
    elif headers == "expired":
        headers = signed_headers(ts_ms=time.time_ns() // 1_000_000 - 60_000)
    elif headers:
        headers = {k: v for k, v in {**signed_headers(), **headers}.items() if v is not None}
    with pytest.raises(InvalidStatus) as exc:
        async with connect(server.url, additional_headers=headers):
            pass
    assert exc.value.response.status_code == 401
    assert reason in exc.value.response.body


async def test_no_public_key_accepts_anyone_and_404_elsewhere() -> None:
    srv = SimServer(rate=0)
    await srv.start()
    try:
        async with connect(srv.url, ping_interval=None) as ws:
            await send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"]}})
            assert (await recv(ws))["type"] == "subscribed"
        with pytest.raises(InvalidStatus) as exc:
            async with connect(srv.url.replace("/trade-api/ws/v2", "/elsewhere")):
                pass
        assert exc.value.response.status_code == 404
    finally:
        await srv.stop()


async def test_allow_anonymous_gives_code_9() -> None:
    srv = SimServer(rate=0, public_key_pem=public_pem(RSA_KEY), allow_anonymous=True, sending_ts=False)
    await srv.start()
    try:
        async with connect(srv.url, ping_interval=None) as ws:
            await send(ws, {"id": 3, "cmd": "subscribe", "params": {"channels": ["fill"]}})
            assert await recv(ws) == {"type": "error", "id": 3, "msg": {"code": 9, "msg": "Authentication required"}}
    finally:
        await srv.stop()


async def test_reject_handshakes(server: SimServer) -> None:
    server.reject_handshakes(429, count=2, headers={"Retry-After": "1"})
    for _ in range(2):
        with pytest.raises(InvalidStatus) as exc:
            async with client(server):
                pass
        assert exc.value.response.status_code == 429
        assert exc.value.response.headers["Retry-After"] == "1"
    server.reject_handshakes(503)
    with pytest.raises(InvalidStatus) as exc:
        async with client(server):
            pass
    assert exc.value.response.status_code == 503
    async with client(server) as ws:
        await send(ws, {"id": 1, "cmd": "list_subscriptions"})
        assert (await recv(ws))["type"] == "ok"


# --- data --------------------------------------------------------------------------------------------


async def test_stream_matches_true_book_and_log(server: SimServer) -> None:
    async with client(server) as ws:
        got = await subscribe_book(server, ws, server.tickers)
        server.step(200)
        await settle(server)
        logged = server.sent_frames(-1)
        while len(got) < len(logged):
            got.append(await recv(ws))
        assert [orjson.loads(t) for t in logged] == got
        seqs = [f["seq"] for f in got[1:]]
        assert seqs == list(range(1, len(seqs) + 1))
        books: dict = {}
        for f in got[1:]:
            m = f["msg"]
            if f["type"] == "orderbook_snapshot":
                books[m["market_ticker"]] = {s: dict(m.get(f"{s}_dollars_fp", [])) for s in ("yes", "no")}
            else:
                side = books[m["market_ticker"]][m["side"]]
                new = Decimal(side.get(m["price_dollars"], "0")) + Decimal(m["delta_fp"])
                if new:
                    side[m["price_dollars"]] = f"{new:.2f}"
                else:
                    side.pop(m["price_dollars"], None)
        for t in server.tickers:
            true = server.true_book(t)
            assert books[t] == {s: dict(true.get(f"{s}_dollars_fp", [])) for s in ("yes", "no")}


async def test_sending_ts_and_automatic_rate() -> None:
    srv = SimServer(rate=200, markets=3)
    await srv.start()
    try:
        async with connect(srv.url, ping_interval=None) as ws:
            await send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["ticker"]}})
            assert "sending_ts_ms" in await recv(ws)
            frame = await recv(ws)
            assert frame["type"] == "ticker" and isinstance(frame["sending_ts_ms"], int)
    finally:
        await srv.stop()


async def test_heartbeat_ping() -> None:
    srv = SimServer(rate=0, ping_interval=0.1)
    await srv.start()
    try:
        async with connect(srv.url, ping_interval=None) as ws:
            got = asyncio.get_running_loop().create_future()
            received = ws.process_event

            def spy(event) -> None:
                if getattr(event, "opcode", None) is not None and event.opcode.name == "PING" and not got.done():
                    got.set_result(event.data)
                received(event)

            ws.process_event = spy
            assert await asyncio.wait_for(got, 5) == b"heartbeat"
            # the client's own ping is answered
            pong = await ws.ping(b"hello")
            await asyncio.wait_for(pong, 5)
    finally:
        await srv.stop()


# --- faults --------------------------------------------------------------------------------------------


async def test_drop_connections_delivers_everything_logged(server: SimServer) -> None:
    async with client(server) as ws:
        got = await subscribe_book(server, ws, server.tickers)
        server.step(300)
        await server.drop_connections()
        logged = server.sent_frames(-1)
        with pytest.raises(ConnectionClosed) as exc:
            while True:
                got.append(await recv(ws))
        assert exc.value.rcvd is None  # no close frame: an abrupt drop
        assert [orjson.loads(t) for t in logged] == got
    assert server.live_connections == 0


async def test_skip_seq(server: SimServer) -> None:
    async with client(server) as ws:
        t = server.tickers[0]
        await subscribe_book(server, ws, [t])
        server.skip_seq("orderbook_delta", 2)
        for _ in range(200):
            server.step()
            await settle(server)
            if len(server.sent_frames(-1)) > 2:
                break
        frame = await recv(ws)
        assert frame["type"] == "orderbook_delta" and frame["seq"] == 1 + 2 + 1


async def test_send_error_25_removes_subscription(server: SimServer) -> None:
    async with client(server) as ws:
        await subscribe_book(server, ws, server.tickers[:1])
        await send(ws, {"id": 2, "cmd": "subscribe", "params": {"channels": ["ticker"]}})
        await recv(ws)
        server.send_error(25, "orderbook_delta")
        assert await recv(ws) == {
            "type": "error",
            "sid": 1,
            "seq": 2,
            "msg": {"code": 25, "msg": "Subscription buffer overflow"},
        }
        await send(ws, {"id": 3, "cmd": "list_subscriptions"})
        assert (await recv(ws))["msg"] == [{"channel": "ticker", "sid": 2}]


async def test_stall_then_overflow_25() -> None:
    srv = SimServer(rate=0, buffer_limit=20, sending_ts=False)
    await srv.start()
    try:
        async with connect(srv.url, ping_interval=None) as ws:
            await send(
                ws,
                {
                    "id": 1,
                    "cmd": "subscribe",
                    "params": {"channels": ["orderbook_delta"], "market_tickers": srv.tickers},
                },
            )
            await send(ws, {"id": 2, "cmd": "subscribe", "params": {"channels": ["market_lifecycle_v2"]}})
            for _ in range(2 + len(srv.tickers)):
                await recv(ws)
            before = len(srv.sent_frames())
            srv.stall(0.3)
            srv.step(200)
            await asyncio.sleep(0.1)
            assert len(srv.sent_frames()) == before  # silent while stalled
            frames = []
            while not any(f["type"] == "error" for f in frames):
                frames.append(await recv(ws))
            err = frames[-1]
            assert err["sid"] == 1 and err["msg"]["code"] == 25 and isinstance(err["seq"], int)
            assert len(srv._conns[-1].queue) <= 21
            await send(ws, {"id": 3, "cmd": "list_subscriptions"})
            while (f := await recv(ws)).get("id") != 3:
                pass
            assert f["msg"] == [{"channel": "market_lifecycle_v2", "sid": 2}]
    finally:
        await srv.stop()


async def test_inject_raw_and_restart(server: SimServer) -> None:
    async with client(server) as ws:
        await send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}})
        await recv(ws)
        server.inject_raw("{not json")
        assert await asyncio.wait_for(ws.recv(), 5) == "{not json"
        await server.restart()
        with pytest.raises(ConnectionClosed) as exc:
            await recv(ws)
        assert exc.value.rcvd is not None and exc.value.rcvd.code == 1012
    async with client(server) as ws:
        await send(ws, {"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}})
        assert (await recv(ws))["msg"]["sid"] == 1
    assert server.connections == 2


# --- threaded and subprocess -----------------------------------------------------------------------


def test_threaded_sim() -> None:
    import websockets.sync.client as sync_client

    with ThreadedSim(rate=0, seed=2, markets=3, sending_ts=False) as sim:
        assert sim.url.endswith("/trade-api/ws/v2") and len(sim.tickers) == 3
        t = sim.tickers[0]
        with sync_client.connect(sim.url) as ws:
            ws.send(
                orjson.dumps(
                    {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_ticker": t}}
                ).decode()
            )
            assert orjson.loads(ws.recv(5))["type"] == "subscribed"
            assert orjson.loads(ws.recv(5))["msg"] == sim.true_book(t)
            events = sim.step(5)
            assert events and all(e.type for e in events)
            sim.call("drop_connections")
            assert sim.connections == 1
            assert len(sim.sent_frames(-1)) >= 2


def test_module_entry_point_prints_url_and_exits_cleanly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_cli.sim", "--rate", "5", "--seed", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline().decode().strip()
        assert line.startswith("ws://127.0.0.1:") and line.endswith("/trade-api/ws/v2")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert b"Traceback" not in proc.stderr.read()
    finally:
        proc.kill()


async def test_real_slow_consumer_gets_25_and_memory_stays_bounded() -> None:
    import socket

    srv = SimServer(rate=0, buffer_limit=50, sending_ts=False)
    await srv.start()
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a reader that cannot keep up
        sock.connect(("127.0.0.1", srv.port))
        async with connect(srv.url, sock=sock, ping_interval=None, max_queue=1) as ws:
            await send(
                ws,
                {
                    "id": 1,
                    "cmd": "subscribe",
                    "params": {"channels": ["orderbook_delta"], "market_tickers": srv.tickers},
                },
            )
            await asyncio.sleep(0.05)
            conn = srv._conns[-1]
            for _ in range(100):
                srv.step(100)
                await asyncio.sleep(0)
                assert len(conn.queue) <= 52
                if 1 not in conn.engine.subs:
                    break
            assert 1 not in conn.engine.subs
            frames = []
            while not frames or frames[-1]["type"] != "error":
                frames.append(await recv(ws))
            assert frames[-1]["msg"]["code"] == 25 and frames[-1]["sid"] == 1
            last_seq = frames[-2]["seq"] if len(frames) > 1 else 0
            assert frames[-1]["seq"] > last_seq + 1  # data was lost before it
    finally:
        await srv.stop()
