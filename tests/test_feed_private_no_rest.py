"""fills, positions and orders against a WebSocket-only server (every REST path answers 404, as
a relay or a test server would): ONE warning that says what may be missing, and the live stream
goes on across reconnects (fills used to exit 4 at the first reconnect)."""

from __future__ import annotations

import asyncio
import signal
import subprocess

import orjson
import pytest

from tests.conftest import signed_args, spawn_cli
from tests.hostile import HostileConn, HostileServer


def ws_only_server(channel: str, frame_type: str, frames_per_conn: int = 1):
    """Serves ``channel`` (one frame per connection, the first connection dropped after it)
    and 404 on every other path."""
    rest: list[str] = []
    sent: list[bytes] = []

    async def script(conn: HostileConn) -> None:
        request = await conn.read_request()
        if not request.path.startswith("/trade-api/ws/v2"):
            rest.append(request.path)
            await conn.respond(404, {"Content-Type": "text/plain"}, b"404 page not found")
            return
        await conn.accept(request)
        sids = await conn.subscribe_all()
        n = len([c for c in server.conns if c.sids])
        msg = {"trade_id": f"t{n}", "order_id": f"o{n}", "market_ticker": "KXA-1", "ticker": "KXA-1"}
        msg |= {"order_id": f"o{n}", "status": "resting", "position_fp": f"{n}.00", "count_fp": "1.00"}
        raw = orjson.dumps({"type": frame_type, "sid": sids[channel], "msg": msg})
        sent.append(raw)
        await conn.send_text(raw)
        if n == 1:
            await asyncio.sleep(0.3)
            conn.drop()
            return
        await conn.idle()

    server = HostileServer(script)
    return server, rest, sent


@pytest.mark.parametrize(
    ("command", "channel", "frame_type", "missing"),
    [
        ("fills", "fill", "fill", "fills made while disconnected may be missing"),
        ("positions", "market_positions", "market_position", "positions that did not change"),
        ("orders", "user_orders", "user_order", "orders that did not change"),
    ],
)
def test_no_rest_api_is_one_warning_and_the_stream_goes_on(keys, tmp_path, command, channel, frame_type, missing):
    server, rest, sent = ws_only_server(channel, frame_type)
    out = tmp_path / "out.ndjson"
    with server, out.open("wb") as fh:
        proc = spawn_cli([command, "--json", *signed_args(keys, server.url)], stdout=fh)
        try:
            server.wait_for(lambda: len(sent) >= 2 and rest, what="a reconnect and a REST request")
            server.wait_for(lambda: out.read_bytes().count(b"\n") >= 2, what="both frames on stdout")
            assert proc.poll() is None  # still streaming after the reconnect
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
    text = err.decode()
    assert proc.returncode == 0, text
    warnings = [line for line in text.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "REST API" in warnings[0] and missing in warnings[0], text
    assert out.read_bytes().splitlines() == sent  # the live frames, each once, as received


def test_fills_since_without_a_rest_api_says_the_history_may_be_missing(keys, tmp_path):
    server, rest, sent = ws_only_server("fill", "fill")
    out = tmp_path / "out.ndjson"
    with server, out.open("wb") as fh:
        proc = spawn_cli(["fills", "--since", "1h", "--json", *signed_args(keys, server.url)], stdout=fh)
        try:
            server.wait_for(lambda: len(sent) >= 2 and len(rest) >= 2, what="REST asked at the start and again")
            server.wait_for(lambda: out.read_bytes().count(b"\n") >= 2, what="both frames on stdout")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)
    warnings = [line for line in err.decode().splitlines() if "warning" in line]
    assert proc.returncode == 0 and len(warnings) == 1, err.decode()
    assert "the --since history and fills made while disconnected may be missing" in warnings[0]
