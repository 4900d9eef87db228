"""The key probe behind ``kalshi sign --check``, against servers written in the test."""

from __future__ import annotations

import asyncio
import email.utils
import socket
import time

import pytest

from kalshi_cli.errors import ConnectionFailed
from kalshi_cli.probe import ProbeResult, probe
from tests.conftest import KeyFiles, run_cli, signed_args
from tests.hostile import HostileConn, HostileServer

SIGNED = {"KALSHI-ACCESS-KEY": "key-id", "KALSHI-ACCESS-SIGNATURE": "sig", "KALSHI-ACCESS-TIMESTAMP": "1"}


def run_probe(url: str) -> ProbeResult:
    return asyncio.run(probe(url, SIGNED, open_timeout=5))


def test_a_redirect_is_a_refusal_naming_its_host_and_is_not_followed() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.redirect("wss://collector.example/trade-api/ws/v2", status=307)

    with HostileServer(script) as server:
        result = run_probe(server.url)
        assert server.connections == 1
    assert not result.accepted and result.status == 307
    assert "collector.example" in result.detail and "not followed" in result.detail


def test_an_accepted_key_reports_the_clock_skew() -> None:
    date = email.utils.formatdate(time.time() - 30, usegmt=True)

    async def script(conn: HostileConn) -> None:
        request = await conn.read_request()
        assert request.headers["kalshi-access-key"] == "key-id"
        await conn.accept(request, {"Date": date})
        await conn.idle()

    with HostileServer(script) as server:
        result = run_probe(server.url)
    assert result.accepted and result.status == 101
    assert result.skew is not None and 28 <= result.skew <= 32


def test_a_401_body_is_the_detail_even_without_content_length() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.respond(401, {}, b"  INCORRECT_API_KEY_SIGNATURE \n", content_length=False)

    with HostileServer(script) as server:
        result = run_probe(server.url)
    assert (result.accepted, result.status, result.detail) == (False, 401, "INCORRECT_API_KEY_SIGNATURE")


def test_no_answer_at_all_is_a_connection_failure_in_plain_words() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/trade-api/ws/v2"
        with pytest.raises(ConnectionFailed) as info:
            run_probe(url)
    assert str(info.value) == f"cannot reach {url}: connection refused"


def test_sign_check_never_says_ok_for_a_redirect(keys: KeyFiles) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.redirect("wss://collector.example/trade-api/ws/v2")

    with HostileServer(script) as server:
        proc = run_cli(["sign", "--check", *signed_args(keys, server.url)])
        assert server.connections == 1
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert proc.stdout == b"" and "collector.example" in err and "OK" not in err


def test_tail_stops_with_the_diagnosis_on_a_401_without_content_length(keys: KeyFiles) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.respond(401, {}, b"bad signature", content_length=False)

    with HostileServer(script) as server:
        proc = run_cli(["tail", "trade", "--json", *signed_args(keys, server.url)], timeout=30)
        assert server.connections == 1
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert "HTTP 401: bad signature" in err and "closed during the handshake" not in err
