"""The batch WebSocket connection against a real websockets server over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

from kalshi_cli import wsconn
from kalshi_cli.transport import HandshakeFailed, HandshakeRejected, TransportClosed
from tests.hostile import HostileConn, HostileServer

Handler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def server(handler: Handler, **kwargs: Any) -> AsyncIterator[str]:
    async with serve(handler, "127.0.0.1", 0, **kwargs) as srv:
        port = srv.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/trade-api/ws/v2"


def open_conn(url: str, **kwargs: Any):
    opts: dict[str, Any] = {
        "headers": {"X-Test": "1"},
        "user_agent": "kalshi-cli/test",
        "max_size": 2**20,
        "open_timeout": 5,
        "close_timeout": 1,
    }
    return wsconn.connect(url, **{**opts, **kwargs})


async def receive_all(conn: wsconn.Connection) -> tuple[list[bytes], int]:
    got: list[bytes] = []
    batches = 0
    try:
        while True:
            got.extend(await conn.recv_batch())
            batches += 1
    except TransportClosed:
        return got, batches


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


@pytest.mark.parametrize("compression", ["deflate", None])  # None: wsframes reads the frames
def test_messages_arrive_whole_in_order_and_in_batches(compression: str | None) -> None:
    seen_headers: list[Headers] = []

    async def handler(ws: ServerConnection) -> None:
        seen_headers.append(ws.request.headers)
        for i in range(5000):
            await ws.send(f'{{"type":"trade","sid":1,"seq":{i + 1}}}')
        await ws.send(iter(['{"type":', '"frag', 'mented"}']))  # one message in three frames
        await ws.send(b"\x00binary")
        await ws.close(1000)

    async def main() -> tuple[list[bytes], int]:
        async with server(handler, compression=compression) as url, open_conn(url) as conn:
            assert isinstance(conn, wsconn.BatchConnection)
            assert (conn._frames is not None) == (compression is None)  # the lean reader, when plain
            return await receive_all(conn)

    got, batches = run(main())
    assert got[:5000] == [f'{{"type":"trade","sid":1,"seq":{i + 1}}}'.encode() for i in range(5000)]
    assert got[5000:] == [b'{"type":"fragmented"}', b"\x00binary"]
    assert batches < 5000  # several messages per read
    assert seen_headers[0]["X-Test"] == "1"
    assert seen_headers[0]["User-Agent"] == "kalshi-cli/test"


@pytest.mark.parametrize("compression", ["deflate", None])  # None: wsframes reads the frames
def test_pings_are_answered_and_bytes_are_noticed(compression: str | None) -> None:
    async def handler(ws: ServerConnection) -> None:
        waiter = await ws.ping(b"heartbeat")
        await asyncio.wait_for(waiter, 5)  # the client's pong
        await ws.send("after ping")
        await ws.close()

    async def main() -> tuple[list[bytes], float]:
        async with server(handler, compression=compression) as url, open_conn(url) as conn:
            before = conn.last_rx
            got, _ = await receive_all(conn)
            return got, conn.last_rx - before

    got, moved = run(main())
    assert got == [b"after ping"]
    assert moved >= 0


def test_send_is_a_text_frame() -> None:
    received: list[Any] = []

    async def handler(ws: ServerConnection) -> None:
        received.append(await ws.recv())
        await ws.send("ok")
        await ws.close()

    async def main() -> list[bytes]:
        async with server(handler) as url, open_conn(url) as conn:
            await conn.send(b'{"id":1,"cmd":"subscribe"}')
            got, _ = await receive_all(conn)
            return got

    assert run(main()) == [b"ok"]
    assert received == ['{"id":1,"cmd":"subscribe"}']  # str: a text frame


def test_refused_handshake_raises_handshake_rejected_with_the_answer() -> None:
    async def handler(ws: ServerConnection) -> None:  # pragma: no cover - never reached
        await ws.close()

    def refuse(conn: ServerConnection, request: Any) -> Response:
        return conn.respond(401, "bad signature\n")

    async def main() -> HandshakeRejected:
        async with server(handler, process_request=refuse) as url:
            with pytest.raises(HandshakeRejected) as info:
                async with open_conn(url):
                    pass
            return info.value

    exc = run(main())
    assert exc.status == 401
    assert b"bad signature" in exc.body
    assert exc.headers.get("content-type", "").startswith("text/plain")


@pytest.mark.parametrize("compression", ["deflate", None])  # None: wsframes reads the frames
def test_server_close_code_reaches_the_reader_after_pending_messages(compression: str | None) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send("last words")
        await ws.close(1011, "internal error")

    async def main() -> tuple[list[bytes], TransportClosed]:
        async with server(handler, compression=compression) as url, open_conn(url) as conn:
            got = list(await conn.recv_batch())
            with pytest.raises(TransportClosed) as info:
                while True:
                    got.extend(await conn.recv_batch())
            return got, info.value

    got, exc = run(main())
    assert got == [b"last words"]
    assert (exc.code, exc.reason) == (1011, "internal error")
    assert str(exc) == "closed by the server: 1011 internal error"


def test_client_close_is_a_clean_closing_handshake() -> None:
    codes: list[int | None] = []

    async def handler(ws: ServerConnection) -> None:
        try:
            await ws.recv()
        except ConnectionClosed as exc:
            codes.append(exc.rcvd.code if exc.rcvd else None)

    async def main() -> None:
        async with server(handler) as url, open_conn(url):
            pass

    run(main())
    assert codes == [1000]


def test_abort_ends_the_reader() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async def main() -> TransportClosed:
        async with server(handler) as url, open_conn(url) as conn:
            asyncio.get_running_loop().call_later(0.1, conn.abort)
            with pytest.raises(TransportClosed) as info:
                await conn.recv_batch()
            return info.value

    exc = run(main())
    assert exc.code is None and str(exc) == "connection dropped"  # dropped, not closed by the server


def test_refused_connection_is_an_os_error() -> None:
    async def main() -> None:
        async with server(lambda ws: ws.close()) as url:
            pass
        async with open_conn(url):  # the server is gone
            pass

    with pytest.raises(OSError):
        run(main())


def test_proxy_settings_select_websockets_own_client(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    assert not wsconn._proxied(url)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert wsconn._proxied(url)
    monkeypatch.setenv("NO_PROXY", "kalshi.com,127.0.0.1")
    assert not wsconn._proxied(url)
    assert not wsconn._proxied("ws://127.0.0.1:9000/trade-api/ws/v2")


def test_websockets_client_path_offers_the_same_interface() -> None:
    async def handler(ws: ServerConnection) -> None:
        received = await ws.recv()
        for i in range(100):
            await ws.send(f"{received}-{i}")
        await ws.close()

    async def main() -> list[bytes]:
        async with server(handler) as url:
            async with wsconn._websockets_client(
                url, headers={}, user_agent="t", max_size=2**20, open_timeout=5, close_timeout=1
            ) as conn:
                await conn.send(b"x")
                assert conn.last_rx > 0
                got, _ = await receive_all(conn)
                return got

    assert run(main()) == [f"x-{i}".encode() for i in range(100)]


# --- against the hand-written server: answers websockets' own server would never give ----------


def _answer(status: int, headers: dict[str, str], body: bytes, *, content_length: bool) -> HostileServer:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.respond(status, headers, body, content_length=content_length)

    return HostileServer(script)


def test_a_refusal_without_content_length_is_read_to_the_close() -> None:
    """A 401 whose body ends when the server closes is still the 401, not a failed handshake."""
    with _answer(401, {"Date": "Thu, 03 Dec 2026 10:00:00 GMT"}, b"invalid signature", content_length=False) as srv:

        async def main() -> HandshakeRejected:
            with pytest.raises(HandshakeRejected) as info:
                async with open_conn(srv.url):
                    pass
            return info.value

        exc = run(main())
    assert exc.status == 401 and exc.body == b"invalid signature"
    assert exc.headers.get("Date", "").endswith("GMT")


@pytest.mark.parametrize("proxied", [False, True])
def test_a_redirect_is_a_refusal_and_is_never_followed(proxied: bool) -> None:
    with _answer(302, {"Location": "ws://evil.example/trade-api/ws/v2"}, b"", content_length=True) as srv:
        opener = (
            wsconn._websockets_client(
                srv.url,
                headers={"KALSHI-ACCESS-KEY": "k"},
                user_agent="t",
                max_size=2**20,
                open_timeout=5,
                close_timeout=1,
            )
            if proxied
            else open_conn(srv.url)
        )

        async def main() -> HandshakeRejected:
            with pytest.raises(HandshakeRejected) as info:
                async with opener:
                    pass
            return info.value

        exc = run(main())
        assert srv.connections == 1  # nothing went anywhere else
    assert exc.status == 302 and exc.headers["Location"] == "ws://evil.example/trade-api/ws/v2"


def test_an_answer_that_is_not_http_is_a_failed_handshake() -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        conn.writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        conn.writer.close()

    with HostileServer(script) as srv:

        async def main() -> None:
            async with open_conn(srv.url):
                pass

        with pytest.raises(HandshakeFailed):
            run(main())
