"""Reference clients for the side-by-side run: ``python clients.py seed|floor URL TICKER...``.

``seed`` is the shape of Kalshi's quick start: websockets, ``json.loads`` and ``print`` per
frame. ``floor`` is the least a websockets client can do: receive bytes and write them through
its own 64 KiB buffer, unparsed. Both subscribe to orderbook_delta, ticker and trade in one
command and stop when the server closes the connection.
"""

from __future__ import annotations

import asyncio
import json
import sys

import websockets
from websockets.asyncio.client import connect


def subscribe(tickers: list[str]) -> str:
    return json.dumps(
        {
            "id": 1,
            "cmd": "subscribe",
            "params": {"channels": ["orderbook_delta", "ticker", "trade"], "market_tickers": tickers},
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


if __name__ == "__main__":
    mode, url, *names = sys.argv[1:]
    asyncio.run({"seed": seed, "floor": floor}[mode](url, names))
