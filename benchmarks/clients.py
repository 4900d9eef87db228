"""Reference clients for the side-by-side run: ``python clients.py MODE URL TICKER...``.

``seed`` is the shape of Kalshi's quick start: websockets, ``json.loads`` and ``print`` per
frame. ``floor`` is the least a websockets client can do: receive bytes and write them through
its own 64 KiB buffer, unparsed. ``picows`` is the same pass-through loop on picows (its own
listener callback, the fastest Python client we know). ``orjson`` is websockets + orjson NDJSON:
each frame parsed and written back with ``orjson.dumps`` (what a careful hand-written client
does). ``socket`` is the latency floor: a bare socket, frames split by hand and each read's lines
written at once with ``os.write``. All subscribe to the channels in ``$CHANNELS`` (default
orderbook_delta, ticker and trade) in one command and stop when the server closes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import sys
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import connect

CHANNELS = os.environ.get("CHANNELS", "orderbook_delta,ticker,trade").split(",")


def subscribe(tickers: list[str]) -> str:
    return json.dumps(
        {
            "id": 1,
            "cmd": "subscribe",
            "params": {"channels": CHANNELS, "market_tickers": tickers},
        }
    )


async def seed(url: str, tickers: list[str]) -> None:
    async with connect(url) as websocket:
        await websocket.send(subscribe(tickers))
        try:
            async for message in websocket:
                data = json.loads(message)
                print(f"{data['type']}: {data}")
        except websockets.ConnectionClosed:
            pass


async def floor(url: str, tickers: list[str]) -> None:
    out = open(sys.stdout.fileno(), "wb", buffering=65536, closefd=False)  # noqa: SIM115, ASYNC230
    write = out.write
    async with connect(url) as ws:
        await ws.send(subscribe(tickers))
        recv = ws.recv
        try:
            while True:
                raw = await recv(decode=False)
                write(raw)
                write(b"\n")
        except websockets.ConnectionClosed:
            pass
    out.flush()


async def with_orjson(url: str, tickers: list[str]) -> None:
    import orjson

    out = open(sys.stdout.fileno(), "wb", buffering=65536, closefd=False)  # noqa: SIM115, ASYNC230
    write, loads, dumps, newline = out.write, orjson.loads, orjson.dumps, orjson.OPT_APPEND_NEWLINE
    async with connect(url) as ws:
        await ws.send(subscribe(tickers))
        recv = ws.recv
        try:
            while True:
                write(dumps(loads(await recv(decode=False)), option=newline))
        except websockets.ConnectionClosed:
            pass
    out.flush()


async def picows_floor(url: str, tickers: list[str]) -> None:
    from picows import WSListener, WSMsgType, ws_connect

    out = open(sys.stdout.fileno(), "wb", buffering=65536, closefd=False)  # noqa: SIM115, ASYNC230
    write = out.write
    text, close = WSMsgType.TEXT, WSMsgType.CLOSE

    class PassThrough(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport) -> None:  # type: ignore[no-untyped-def]
            transport.send(text, subscribe(tickers).encode())

        def on_ws_frame(self, transport, frame) -> None:  # type: ignore[no-untyped-def]
            if frame.msg_type is text:
                write(frame.get_payload_as_bytes())
                write(b"\n")
            elif frame.msg_type is close:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    transport, _ = await ws_connect(PassThrough, url)
    await transport.wait_disconnected()
    out.flush()


def bare_socket(url: str, tickers: list[str]) -> None:
    """The latency floor: no library, each read's lines written at once (no buffering to flush)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(65536)
    buf = buf.split(b"\r\n\r\n", 1)[1]
    payload = subscribe(tickers).encode()
    sock.sendall(bytes((0x81, 0x80 | 126)) + len(payload).to_bytes(2, "big") + b"\0\0\0\0" + payload)
    fd = sys.stdout.fileno()
    while True:
        pos, lines = 0, []
        while len(buf) - pos >= 2:
            n, head = buf[pos + 1] & 0x7F, 2
            if n == 126:
                n, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif n == 127:
                n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if len(buf) - pos < head + n:
                break
            if buf[pos] & 0x0F == 0x8:
                os.write(fd, b"".join(lines))
                return
            lines.append(buf[pos + head : pos + head + n] + b"\n")
            pos += head + n
        if lines:
            os.write(fd, b"".join(lines))
        buf = buf[pos:]
        data = sock.recv(262144)
        if not data:
            return
        buf += data


if __name__ == "__main__":
    mode, url, *names = sys.argv[1:]
    if mode == "socket":
        bare_socket(url, names)
    else:
        modes = {"seed": seed, "floor": floor, "orjson": with_orjson, "picows": picows_floor}
        asyncio.run(modes[mode](url, names))
