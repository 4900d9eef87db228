"""The transport contract: every installed transport behaves as the reference (websockets) does.

Each test runs once per transport in ``transports.available()`` against real servers on
loopback: the hand-written ``tests.hostile`` server for answers a real server would never give,
websockets' own server where TLS is needed, and a CONNECT proxy written here.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import struct
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve

from kalshi_cli import transports
from kalshi_cli.session import Session, Subscription
from kalshi_cli.transport import Connection, Connector, HandshakeFailed, HandshakeRejected, TransportClosed
from tests.hostile import BINARY, CLOSE, CONT, PING, PONG, TEXT, HostileConn, HostileServer, encode_frame

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "ws_proxy", "wss_proxy", "socks_proxy")


@pytest.fixture(params=transports.available())
def connect(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Connector:
    for name in PROXY_VARS:  # no proxy unless a test sets one
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    return transports.choose_connector(request.param)


def opener(connect: Connector, url: str, **kwargs: Any) -> Any:
    opts: dict[str, Any] = {
        "headers": {"KALSHI-ACCESS-KEY": "key-id", "KALSHI-ACCESS-SIGNATURE": "c2lnbmF0dXJl"},
        "user_agent": "kalshi-cli/contract",
        "max_size": 2**20,
        "open_timeout": 5,
        "close_timeout": 1,
    }
    return connect(url, **{**opts, **kwargs})


async def receive_all(conn: Connection) -> tuple[list[bytes], TransportClosed]:
    got: list[bytes] = []
    while True:
        try:
            got.extend(await conn.recv_batch())
        except TransportClosed as exc:
            return got, exc


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 20))  # type: ignore[arg-type]


def stream_from(connect: Connector, script: Callable[[HostileConn], Awaitable[None]], **kwargs: Any) -> Any:
    """Open a connection to a hostile server running ``script``; everything received, and how it ended."""
    with HostileServer(script) as srv:

        async def main() -> tuple[list[bytes], TransportClosed]:
            async with opener(connect, srv.url, **kwargs) as conn:
                return await receive_all(conn)

        got, closed = run(main())
    return got, closed, srv


async def next_control(conn: HostileConn, opcode: int) -> bytes:
    """The payload of the next frame with ``opcode`` the client sends (others skipped)."""
    while True:
        frame = await conn.recv_frame()
        if frame.opcode == opcode:
            return frame.payload


# --- the handshake ------------------------------------------------------------------------------


def test_the_handshake_carries_the_signed_headers_and_our_user_agent(connect: Connector) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        await conn.send_close(1000)

    _, _, srv = stream_from(connect, script)
    request = srv.conns[0].request
    assert request is not None and request.path == "/trade-api/ws/v2"
    headers = request.headers
    assert headers["kalshi-access-key"] == "key-id" and headers["kalshi-access-signature"] == "c2lnbmF0dXJl"
    assert headers["user-agent"] == "kalshi-cli/contract"
    assert headers["host"] == f"127.0.0.1:{srv.port}" and headers["sec-websocket-version"] == "13"


def test_the_answers_headers_are_kept(connect: Connector) -> None:
    async def script(conn: HostileConn) -> None:
        request = await conn.read_request()
        await conn.accept(request, {"Date": "Thu, 03 Dec 2026 10:00:00 GMT"})
        await conn.send_close(1000)

    with HostileServer(script) as srv:

        async def main() -> str:
            async with opener(connect, srv.url) as conn:
                date = conn.response_headers.get("Date", "")
                await receive_all(conn)
                return date

        assert run(main()) == "Thu, 03 Dec 2026 10:00:00 GMT"


@pytest.mark.parametrize(
    ("status", "headers"),
    [(401, {}), (403, {"Content-Type": "text/plain"}), (429, {"Retry-After": "7"}), (503, {"Retry-After": "soon"})],
)
@pytest.mark.parametrize("content_length", [True, False])
def test_a_refusal_is_handshake_rejected_with_status_headers_and_the_whole_body(
    connect: Connector, status: int, headers: dict[str, str], content_length: bool
) -> None:
    body = b"invalid signature " + b"x" * 3000  # written after the head: it may come in later reads

    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.respond(status, headers, body, content_length=content_length)

    with HostileServer(script) as srv:

        async def main() -> HandshakeRejected:
            with pytest.raises(HandshakeRejected) as info:
                async with opener(connect, srv.url):
                    pass
            return info.value

        exc = run(main())
    assert exc.status == status and exc.body == body
    for name, value in headers.items():
        assert exc.headers[name] == value


@pytest.mark.parametrize("status", [301, 302, 307, 308])
@pytest.mark.parametrize("proxied", [False, True])
def test_a_redirect_is_refused_and_never_followed(
    connect: Connector, status: int, proxied: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await conn.redirect(f"ws://127.0.0.1:{srv.port}/elsewhere", status)

    with HostileServer(script) as srv, ConnectProxy() as proxy:
        if proxied:
            monkeypatch.setenv("HTTP_PROXY", proxy.url)

        async def main() -> HandshakeRejected:
            with pytest.raises(HandshakeRejected) as info:
                async with opener(connect, srv.url):
                    pass
            return info.value

        exc = run(main())
        assert srv.connections == 1 and [c.request.path for c in srv.conns if c.request] == ["/trade-api/ws/v2"]
        assert len(proxy.tunnels) == (1 if proxied else 0)
    assert exc.status == status and exc.headers["Location"].endswith("/elsewhere")


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.6\r\n",  # not HTTP at all
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: d3Jvbmc=\r\n\r\n",  # a 101 that does not answer our key
        b"HTTP/1.1 200 OK\r\nContent-Le",  # cut off in its head
    ],
)
def test_an_answer_that_is_not_a_websocket_upgrade_is_a_failed_handshake(connect: Connector, answer: bytes) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        conn.writer.write(answer)
        await conn.writer.drain()
        conn.writer.close()

    with HostileServer(script) as srv:

        async def main() -> None:
            async with opener(connect, srv.url):
                pass

        with pytest.raises(HandshakeFailed):
            run(main())


def test_a_refused_connection_is_an_os_error(connect: Connector) -> None:
    with socket.socket() as sock:  # bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}/trade-api/ws/v2"

        async def main() -> None:
            async with opener(connect, url):
                pass

        with pytest.raises(OSError):
            run(main())


def test_a_server_that_never_answers_times_out(connect: Connector) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.read_request()
        await asyncio.sleep(5)

    with HostileServer(script) as srv:

        async def main() -> None:
            async with opener(connect, srv.url, open_timeout=0.3):
                pass

        with pytest.raises(TimeoutError):
            run(main())


# --- messages -------------------------------------------------------------------------------------


def test_messages_arrive_whole_in_order_and_in_batches(connect: Connector) -> None:
    big = b'{"big":"' + b"y" * 100_000 + b'"}'  # a 64-bit length

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        data = b"".join(encode_frame(TEXT, b'{"seq":%d}' % i) for i in range(5000))
        conn.writer.write(data)
        await conn.send_text(b'{"type":"fragmented","pad":"' + b"z" * 300 + b'"}', fragments=3)
        await conn.send_frame(BINARY, b"\x00binary")
        await conn.send_text(big)
        await conn.send_text(b"")
        await conn.send_close(1000)

    batches: list[int] = []

    async def main(url: str) -> list[bytes]:
        async with opener(connect, url) as conn:
            got: list[bytes] = []
            try:
                while True:
                    batch = await conn.recv_batch()
                    batches.append(len(batch))
                    got.extend(batch)
            except TransportClosed:
                return got

    with HostileServer(script) as srv:
        got = run(main(srv.url))
    assert got[:5000] == [b'{"seq":%d}' % i for i in range(5000)]
    assert got[5000:] == [b'{"type":"fragmented","pad":"' + b"z" * 300 + b'"}', b"\x00binary", big, b""]
    assert len(batches) < 1000  # many messages per read


def test_any_split_of_the_byte_stream_gives_the_same_messages(connect: Connector) -> None:
    messages = [b'{"a":1}', b"m" * 200, b"L" * 70_000, b'{"z":26}']
    stream = b"".join(encode_frame(TEXT, m) for m in messages[:2])
    stream += encode_frame(TEXT, messages[2][:30_000], fin=False) + encode_frame(PING, b"hb")
    stream += encode_frame(CONT, messages[2][30_000:]) + encode_frame(TEXT, messages[3])

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        conn.writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(stream), 997):  # odd-sized pieces: headers and payloads cut anywhere
            conn.writer.write(stream[i : i + 997])
            await conn.writer.drain()
            await asyncio.sleep(0)
        assert await next_control(conn, PONG) == b"hb"
        await conn.send_close(1000)

    got, closed, _ = stream_from(connect, script)
    assert got == messages and closed.code == 1000


def test_a_consumer_that_stalls_loses_nothing(connect: Connector) -> None:
    """Reading pauses while too much waits to be taken (wsconn.PAUSE_AT) and resumes: all arrive, in order."""
    from kalshi_cli.wsconn import PAUSE_AT

    total = PAUSE_AT * 3

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        for start in range(0, total, 5000):
            conn.writer.write(b"".join(encode_frame(TEXT, b"%099d" % i) for i in range(start, start + 5000)))
            await conn.writer.drain()
        await conn.send_close(1000)

    with HostileServer(script) as srv:

        async def main() -> tuple[list[bytes], TransportClosed, int]:
            async with opener(connect, srv.url) as conn:
                first = await conn.recv_batch()
                await asyncio.sleep(0.5)  # the consumer stalls: the connection stops reading
                biggest = 0
                got = list(first)
                while True:
                    try:
                        batch = await conn.recv_batch()
                    except TransportClosed as exc:
                        return got, exc, biggest
                    biggest = max(biggest, len(batch))
                    got.extend(batch)

        got, closed, biggest = run(main())
    assert got == [b"%099d" % i for i in range(total)] and closed.code == 1000
    assert biggest < 2 * PAUSE_AT  # it stopped reading: the stall did not pile everything up


def test_sent_messages_are_text_frames(connect: Connector) -> None:
    seen: list[tuple[int, bytes]] = []

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        frame = await conn.recv_frame()
        seen.append((frame.opcode, frame.payload))
        await conn.send_text(b"ok")
        await conn.send_close(1000)

    with HostileServer(script) as srv:

        async def main() -> list[bytes]:
            async with opener(connect, srv.url) as conn:
                await conn.send(b'{"id":1,"cmd":"subscribe"}')
                got, _ = await receive_all(conn)
                return got

        assert run(main()) == [b"ok"]
    assert seen == [(TEXT, b'{"id":1,"cmd":"subscribe"}')]


# --- pings, heartbeats and closes -----------------------------------------------------------------


def test_pings_are_answered_and_move_last_rx(connect: Connector) -> None:
    pongs: list[bytes] = []
    answered = threading.Event()

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        await conn.recv_message()  # "go": the client took its clock reading
        await asyncio.sleep(0.01)
        await conn.send_frame(PING, b"heartbeat")
        pongs.append(await next_control(conn, PONG))
        answered.set()
        await conn.recv_message()  # "done"
        await conn.send_close(1000)

    with HostileServer(script) as srv:

        async def main() -> tuple[float, float]:
            async with opener(connect, srv.url) as conn:
                before = time.monotonic()
                await conn.send(b"go")
                # a ping is not a message (nothing for recv_batch): wait for the server's word
                assert await asyncio.to_thread(answered.wait, 10)
                after = conn.last_rx
                await conn.send(b"done")
                await receive_all(conn)
                return before, after

        before, after = run(main())
    assert pongs == [b"heartbeat"]
    assert after > before  # the watchdog sees the heartbeat


@pytest.mark.parametrize(
    ("payload", "code", "reason"),
    [
        (struct.pack("!H", 1011) + b"internal error", 1011, "internal error"),
        (struct.pack("!H", 4003) + "d\u00e9j\u00e0".encode(), 4003, "d\u00e9j\u00e0"),
        (struct.pack("!H", 1000), 1000, ""),
        (b"", 1005, ""),
    ],
)
def test_the_servers_close_code_reaches_the_reader_after_pending_messages_and_is_echoed(
    connect: Connector, payload: bytes, code: int, reason: str
) -> None:
    echoed: list[bytes] = []

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        await conn.send_text(b"last words")
        await conn.send_frame(CLOSE, payload)
        echoed.append(await next_control(conn, CLOSE))

    got, closed, _ = stream_from(connect, script)
    assert got == [b"last words"]
    assert (closed.code, closed.reason) == (code, reason)
    assert echoed == [payload]


def test_a_dropped_connection_is_transport_closed_without_a_code(connect: Connector) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        await conn.send_text(b"before the drop")
        await asyncio.sleep(0.05)
        conn.drop()

    got, closed, _ = stream_from(connect, script)
    assert got == [b"before the drop"]
    assert closed.code is None and str(closed) == "connection dropped"


def test_leaving_the_context_is_a_clean_closing_handshake(connect: Connector) -> None:
    codes: list[bytes] = []

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        codes.append(await next_control(conn, CLOSE))
        await conn.send_frame(CLOSE, codes[0])

    with HostileServer(script) as srv:

        async def main() -> None:
            async with opener(connect, srv.url):
                pass

        run(main())
        srv.wait_for(lambda: codes, what="the close frame")
    assert codes == [struct.pack("!H", 1000)]


def test_abort_ends_the_reader_at_once(connect: Connector) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        await conn.idle()

    with HostileServer(script) as srv:

        async def main() -> TransportClosed:
            async with opener(connect, srv.url) as conn:
                asyncio.get_running_loop().call_later(0.05, conn.abort)
                _, closed = await receive_all(conn)
                return closed

        closed = run(main())
    assert closed.code is None


# --- frames the client must refuse ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("frames", "close_code"),
    [
        ([encode_frame(TEXT, b"x" * (2**20 + 1))], 1009),  # one frame over max_size
        # over max_size in fragments: wsframes hands the stream to websockets at the continuation,
        # which no longer knows the message began (1002 where websockets alone says 1009)
        ([encode_frame(TEXT, b"a" * 2**19, fin=False), encode_frame(CONT, b"b" * (2**19 + 1))], (1009, 1002)),
        ([encode_frame(TEXT, b"x", rsv=4)], 1002),  # compressed, but no extension was agreed
        ([encode_frame(CONT, b"x")], 1002),  # a continuation of nothing
        pytest.param(
            [encode_frame(TEXT, b"a", fin=False), encode_frame(TEXT, b"b")], 1002, id="a new message inside one"
        ),
        ([encode_frame(0x3, b"x")], 1002),  # a reserved opcode
        ([bytes([0x81, 0x81]) + b"\0\0\0\0x"], 1002),  # masked: servers must not mask
        ([encode_frame(PING, b"p" * 126)], 1002),  # a control frame over 125 bytes
    ],
)
def test_a_frame_breaking_the_rules_fails_the_connection_after_the_good_ones(
    connect: Connector, frames: list[bytes], close_code: int | tuple[int, ...]
) -> None:
    sent_close: list[bytes] = []

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        conn.writer.write(encode_frame(TEXT, b"good") + b"".join(frames) + encode_frame(TEXT, b"never"))
        await conn.writer.drain()
        sent_close.append(await next_control(conn, CLOSE))

    got, closed, _ = stream_from(connect, script)
    assert got == [b"good"]  # nothing after the bad frame, nothing before it lost
    assert closed.code is None  # the server sent no close: the client failed the connection
    codes = close_code if isinstance(close_code, tuple) else (close_code,)
    assert sent_close and struct.unpack("!H", sent_close[0][:2])[0] in codes


def test_a_message_of_exactly_max_size_is_accepted(connect: Connector) -> None:
    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        await conn.send_text(b"a" * 1000, fragments=4)
        await conn.send_text(b"b" * 1000)
        await conn.send_close(1000)

    got, closed, _ = stream_from(connect, script, max_size=1000)
    assert got == [b"a" * 1000, b"b" * 1000] and closed.code == 1000


# --- TLS --------------------------------------------------------------------------------------------


class Pki:
    """A test CA and server certificates it signs (or not), written as PEM files."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kalshi-cli test CA")])
        self.ca_name = name
        self.ca_cert = (
            self._builder(name, self.ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_file = tmp / "ca.pem"
        self.ca_file.write_bytes(self.ca_cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def _builder(subject: x509.Name, public_key: Any, issuer: x509.Name | None = None) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer or subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
        )

    def server_context(self, hosts: list[str], *, signed_by_ca: bool = True) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        builder = self._builder(subject, key.public_key(), self.ca_name if signed_by_ca else None)
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.ca_key if signed_by_ca else key, hashes.SHA256())
        cert_file, key_file = self.tmp / f"{hosts[0]}-{signed_by_ca}.pem", self.tmp / f"{hosts[0]}-{signed_by_ca}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context


@pytest.fixture
def pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Pki:
    """A test CA the client trusts (OpenSSL's SSL_CERT_FILE: the default context reads it)."""
    authority = Pki(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return authority


@asynccontextmanager
async def tls_server(context: ssl.SSLContext) -> AsyncIterator[int]:
    async def handler(ws: ServerConnection) -> None:
        for i in range(300):
            await ws.send(f'{{"seq":{i}}}')
        await ws.close(1000)

    async with serve(handler, "127.0.0.1", 0, ssl=context, compression=None) as srv:
        yield srv.sockets[0].getsockname()[1]


def test_tls_with_a_trusted_certificate_for_the_host(connect: Connector, pki: Pki) -> None:
    async def main() -> list[bytes]:
        async with tls_server(pki.server_context(["localhost", "127.0.0.1"])) as port:
            async with opener(connect, f"wss://localhost:{port}/trade-api/ws/v2") as conn:
                got, closed = await receive_all(conn)
                assert closed.code == 1000
                return got

    assert run(main()) == [b'{"seq":%d}' % i for i in range(300)]


@pytest.mark.parametrize(
    ("hosts", "signed_by_ca"),
    [(["localhost"], False), (["elsewhere.example"], True)],
    ids=["self-signed", "another-host"],
)
def test_tls_refuses_a_certificate_it_cannot_verify(
    connect: Connector, pki: Pki, hosts: list[str], signed_by_ca: bool
) -> None:
    async def main() -> None:
        async with tls_server(pki.server_context(hosts, signed_by_ca=signed_by_ca)) as port:
            async with opener(connect, f"wss://localhost:{port}/trade-api/ws/v2"):
                pass

    with pytest.raises(ssl.SSLCertVerificationError):
        run(main())


# --- proxies ------------------------------------------------------------------------------------------


class ConnectProxy:
    """An HTTP CONNECT proxy on loopback (a thread of its own) that keeps the tunnels it opened."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            assert method == "CONNECT", method
            self.tunnels.append(target)
            host, port = target.rsplit(":", 1)
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[ConnectProxy]:
    with ConnectProxy() as server:
        monkeypatch.setenv("HTTP_PROXY", server.url)
        yield server


def test_a_proxy_from_the_environment_carries_the_connection(connect: Connector, proxy: ConnectProxy) -> None:
    async def script(conn: HostileConn) -> None:
        request = await conn.handshake()
        await conn.send_text(request.headers.get("kalshi-access-key", "unsigned"))
        await conn.send_close(1000)

    got, closed, srv = stream_from(connect, script)
    assert got == [b"key-id"] and closed.code == 1000
    assert proxy.tunnels == [f"127.0.0.1:{srv.port}"]


def test_no_proxy_is_respected(connect: Connector, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        await conn.send_text(b"direct")
        await conn.send_close(1000)

    got, _, _ = stream_from(connect, script)
    assert got == [b"direct"] and proxy.tunnels == []


# --- the session over each transport ----------------------------------------------------------------


def test_a_session_streams_and_reconnects_on_a_close_code(connect: Connector) -> None:
    """The session's view: frames in order, a close code told as the reason, the next connection resubscribed."""
    import io

    import orjson

    from kalshi_cli.output import Reporter
    from kalshi_cli.protocol import Head
    from kalshi_cli.session import StreamDone, StreamHandler

    class Keep(StreamHandler):
        def __init__(self) -> None:
            self.data: list[bytes] = []

        def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
            self.data.append(raw)
            if len(self.data) == 6:
                raise StreamDone

    def trade(sid: int, seq: int, tag: str) -> bytes:
        return orjson.dumps({"type": "trade", "sid": sid, "seq": seq, "msg": {"trade_id": f"{tag}{seq}"}})

    async def script(conn: HostileConn) -> None:
        await conn.handshake()
        sid = (await conn.subscribe_all())["trade"]
        for seq in (1, 2, 3):
            await conn.send_text(trade(sid, seq, f"c{conn.index}-"), fragments=1 + seq % 2)
        if conn.index == 0:
            await conn.send_close(1012, "restarting")
            await conn.recv_message()
            return
        await conn.idle()

    err = io.StringIO()
    handler = Keep()
    with HostileServer(script) as srv:
        session = Session(
            srv.url,
            [Subscription("trade", {"market_tickers": ["KX"]})],
            handler,
            signer=None,
            reporter=Reporter(stream=err),
            backoff_base=0.01,
            transport=connect,
        )
        run(session.run())
    assert handler.data == [trade(1, s, f"c{c}-") for c in (0, 1) for s in (1, 2, 3)]
    assert "closed by the server: 1012 restarting; reconnecting in" in err.getvalue()
    assert session.connects == 2


# --- end to end: the CLI over each transport ---------------------------------------------------------

WALL_CLOCK = {"sending_ts_ms", "ts", "ts_ms", "time"}  # when the sim sent or stamped it: differs per run


def _story(ndjson: bytes) -> list[Any]:
    """The frames without their wall-clock stamps: what a seeded sim tells the same way each run."""
    import orjson

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in WALL_CLOCK}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [strip(orjson.loads(line)) for line in ndjson.splitlines()]


@pytest.mark.skipif("picows" not in transports.available(), reason="needs the [fast] extra")
def test_tail_json_over_picows_prints_what_websockets_prints(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    channels = ["trade", "ticker", "orderbook_delta"]
    runs = {}
    for name in ("websockets", "picows"):
        proc = run_cli(["tail", *channels, "--json", "--sim", "--count", "400", "--transport", name, "-q"])
        assert proc.returncode == 0, proc.stderr.decode()
        runs[name] = proc.stdout
    assert len(runs["picows"].splitlines()) == 400
    assert _story(runs["picows"]) == _story(runs["websockets"])

    recording = tmp_path / "sim.ndjson"  # and a recording replayed through each: the same lines
    recording.write_bytes(runs["websockets"])
    replayed = {}
    for name in ("websockets", "picows"):
        args = ["tail", *channels, "--json", "--replay", str(recording), "--replay-speed", "max", "-q"]
        proc = run_cli([*args, "--transport", name])
        assert proc.returncode == 0, proc.stderr.decode()
        replayed[name] = proc.stdout
    assert _story(replayed["picows"]) == _story(replayed["websockets"]) == _story(runs["websockets"])


def test_an_unknown_transport_is_one_usage_line() -> None:
    from tests.conftest import assert_clean_error
    from tests.inprocess import run_inprocess

    proc = run_inprocess(["tail", "trade", "--sim", "--transport", "fastest"])
    assert_clean_error(proc, 2, "--transport expects auto, websockets or picows; got 'fastest'")


def test_picows_without_the_fast_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from tests.conftest import assert_clean_error
    from tests.inprocess import run_inprocess

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "picows" else real(name, *a))
    assert transports.available() == ["websockets"] and transports.resolve("auto") == "websockets"
    proc = run_inprocess(["tail", "trade", "--sim", "--transport", "picows"])
    assert_clean_error(proc, 2, "needs the [fast] extra", "pip install 'kalshi-cli[fast]'")
