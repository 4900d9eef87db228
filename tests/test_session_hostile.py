"""The session end to end against servers written here (tests/hostile.py), on 127.0.0.1.

Each test runs a real ``Session`` over a real socket against a server that misbehaves in one
way, and checks what the handler saw and what the user was told.
"""

from __future__ import annotations

import asyncio
import io
import re
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest

from kalshi_cli.errors import AuthRejected, ConnectionFailed
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import Head
from kalshi_cli.session import Session, StreamDone, StreamHandler, Subscription
from tests.hostile import HostileConn, HostileServer


class Recorder(StreamHandler):
    """Keeps what the session handed over; ends the stream after ``stop_after`` data frames."""

    def __init__(self, stop_after: int | None = None, *, passthrough: bool = False) -> None:
        self.data: list[bytes] = []
        self.gaps: list[int] = []
        self.lost: list[str] = []
        self.subscribed: list[int | None] = []
        self.stop_after = stop_after
        if passthrough:
            self.passthrough = self._keep

    def _keep(self, raw: bytes) -> None:
        self.data.append(raw)
        if self.stop_after is not None and len(self.data) >= self.stop_after:
            raise StreamDone

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        assert head.obj is not None and head.obj == orjson.loads(raw)
        self._keep(raw)

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        self.gaps.append(missing)

    def on_subscribed(self, sub: Subscription) -> None:
        self.subscribed.append(sub.sid)

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        self.lost.append(reason)


def stream(
    script: Callable[[HostileConn], Awaitable[None]],
    handler: Recorder,
    *,
    channel: str = "trade",
    timeout: float = 20,
    **options: Any,
) -> tuple[Session, str, HostileServer]:
    """Run a session against ``script`` until the handler stops it (or it fails); stderr text too."""
    err = io.StringIO()
    with HostileServer(script) as server:
        session = Session(
            options.pop("url", server.url),
            [Subscription(channel, {"market_tickers": ["KX"]})],
            handler,
            signer=options.pop("signer", None),
            reporter=Reporter(stream=err),
            open_timeout=5,
            **{"backoff_base": 0.02, "backoff_cap": 0.2, **options},
        )
        try:
            asyncio.run(asyncio.wait_for(session.run(), timeout))
        except Exception as exc:
            exc.add_note(err.getvalue())
            raise
    return session, err.getvalue(), server


def trade(sid: int, seq: int, tag: str = "") -> bytes:
    return orjson.dumps({"type": "trade", "sid": sid, "seq": seq, "msg": {"trade_id": f"{tag}{seq}"}})


def delays(err: str) -> list[float]:
    return [float(d) for d in re.findall(r"reconnecting in ([0-9.]+)s", err)]


def test_retry_after_soon_on_a_503_backs_off_instead_of_crashing() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        if conn.index == 0:
            await conn.respond(503, {"Retry-After": "soon"}, b"busy")
            return
        await conn.accept(conn.request)  # type: ignore[arg-type]
        sid = (await conn.subscribe_all())["trade"]
        await conn.send_text(trade(sid, 1))
        await conn.idle()

    handler = Recorder(stop_after=1)
    session, err, _ = stream(script, handler)
    assert handler.data == [trade(1, 1)] and session.connects == 1
    assert "server answered HTTP 503; reconnecting in" in err


def test_a_401_without_content_length_is_the_key_diagnosis() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.respond(401, {}, b"signature mismatch", content_length=False)

    with pytest.raises(AuthRejected) as info:
        stream(script, Recorder(), signer=lambda: {"KALSHI-ACCESS-KEY": "key-id"})
    assert "HTTP 401: signature mismatch" in str(info.value)


def test_a_redirect_is_refused_and_never_followed() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.redirect("ws://elsewhere.example/trade-api/ws/v2")

    with pytest.raises(ConnectionFailed) as info:
        stream(script, Recorder())
    assert "elsewhere.example" in str(info.value) and "not followed" in str(info.value)


def test_backoff_grows_when_every_connection_drops_after_its_first_frame() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["trade"]
        await conn.send_text(trade(sid, 1, tag=f"c{conn.index}-"))
        if conn.index < 6:
            conn.drop()
            return
        await conn.idle()

    handler = Recorder(stop_after=7)
    session, err, _ = stream(script, handler, backoff_base=0.01, backoff_cap=10.0)
    waits = delays(err)
    assert len(waits) == 6 and session.connects == 7
    assert waits == sorted(waits) and waits[-1] >= 8 * waits[0]  # a short connection resets nothing
    assert len(handler.data) == 7  # each connection's frame, once


def test_a_server_that_never_answers_gives_up_in_one_sentence() -> None:
    with socket.socket() as sock:  # a port that refuses: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/trade-api/ws/v2"

        async def unused(conn: HostileConn) -> None:  # pragma: no cover - never connected
            pass

        with pytest.raises(ConnectionFailed) as info:
            stream(unused, Recorder(), url=url, connect_tries=3)
    assert str(info.value) == f"cannot connect to {url}: connection refused (3 tries)"
    assert info.value.status == 4


def test_once_a_stream_ran_drops_are_retried_past_connect_tries() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["trade"]
        await conn.send_text(trade(sid, 1, tag=f"c{conn.index}-"))
        if conn.index < 4:
            await conn.send_close(1011, "bye")
            return
        await conn.idle()

    handler = Recorder(stop_after=5)
    session, err, _ = stream(script, handler, connect_tries=1)
    assert session.connects == 5
    assert err.count("closed by the server: 1011 bye; reconnecting in") == 4


def test_a_seq_restart_resyncs_the_subscription_with_one_line() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["trade"]
        for seq in range(1, 6):
            await conn.send_text(trade(sid, seq, "a"))
        for seq in range(1, 4):  # the server restarted the sid's numbering: new content from 1
            await conn.send_text(trade(sid, seq, "b"))
        while True:
            cmd = await conn.recv_json()
            if cmd.get("cmd") == "subscribe":
                conn.sids.clear()
                new = (await conn.ack_subscribe(cmd))["trade"]
                await conn.send_text(trade(new, 1, "c"))
                await conn.idle()
                return

    handler = Recorder(stop_after=6, passthrough=True)
    _, err, server = stream(script, handler)
    assert handler.data == [*(trade(1, s, "a") for s in range(1, 6)), trade(2, 1, "c")]
    assert handler.lost == ["seq restarted at 1 (was 5)"]
    assert err.count("resubscribing") == 1 and err.count("warning") == 1  # one line, not one per frame
    assert [c["cmd"] for c in server.conns[0].commands] == ["subscribe", "unsubscribe", "subscribe"]


def test_repeats_in_another_key_order_are_dropped_and_gaps_seen() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["trade"]
        for seq in (1, 2, 2, 1, 5):
            await conn.send_text(f'{{"msg": {{"trade_id": "{seq}"}}, "seq": {seq}, "sid": {sid}, "type": "trade"}}')
        await conn.idle()

    handler = Recorder(stop_after=3, passthrough=True)
    _, err, _ = stream(script, handler)
    assert [orjson.loads(d)["seq"] for d in handler.data] == [1, 2, 5]
    assert handler.gaps == [2]
    assert err.count("dropping repeated frames") == 1


@pytest.mark.parametrize(
    "bad",
    [
        b'{"type":"trade","sid":1,"seq":2,"msg":{"a":1,}}',
        b'{"type":"trade","sid":1,"seq":2,"msg":{"p":NaN}}',
        b'{"type":"trade","sid":1,"seq":2,"msg":{}}{"junk":1}',
        b'{"type":"trade","sid":1,"seq":2,"msg":{"t":"\xc3\x28"}}',
    ],
)
def test_an_unreadable_frame_is_skipped_and_the_stream_goes_on(bad: bytes) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["trade"]
        await conn.send_text(trade(sid, 1))
        await conn.send_text(bad)
        await conn.send_text(trade(sid, 2))
        await conn.idle()

    handler = Recorder(stop_after=2, passthrough=True)
    _, err, _ = stream(script, handler)
    assert handler.data == [trade(1, 1), trade(1, 2)] and handler.gaps == []
    assert err.count("skipping unreadable frame") == 1


def test_legacy_already_subscribed_while_data_flows_does_not_hang() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        cmd = await conn.recv_json()
        await conn.send_text(
            orjson.dumps({"id": cmd["id"], "type": "error", "msg": {"code": 6, "msg": "Already subscribed"}})
        )
        for seq in range(40, 43):
            await conn.send_text(trade(9, seq))
        await conn.idle()

    handler = Recorder(stop_after=3)
    _, err, _ = stream(script, handler)
    assert handler.data == [trade(9, s) for s in range(40, 43)] and handler.subscribed == [9]
    assert "using the existing subscription" in err


def test_waits_before_any_connection_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    import kalshi_cli.session as session_module

    monkeypatch.setattr(session_module, "FIRST_CONNECT_CAP", 0.01)

    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.respond(503, {}, b"warming up")

    with pytest.raises(ConnectionFailed) as info:
        stream(script, Recorder(), connect_tries=4, backoff_base=60.0, backoff_cap=60.0)
    assert "server answered HTTP 503 (4 tries)" in str(info.value)
    assert delays(str(info.value.__notes__)) == [0.0, 0.0, 0.0]  # not a minute each
