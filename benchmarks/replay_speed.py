"""How fast `kalshi replay --speed max` serves a recording, in frames/s.

Builds a recording from the simulator's exchange model (the sim's own mix of book deltas,
tickers and trades, ~70% orderbook frames), starts ``kalshi replay FILE --speed max`` as a
subprocess, and reads it with one websockets client subscribed to everything in the file.
Reports the client's rate (first data frame to the server's close) and the server's own line.

    python benchmarks/replay_speed.py [--frames 200000] [--markets 5]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kalshi_cli.protocol import channel_of_type  # noqa: E402
from kalshi_cli.sim.market import Exchange  # noqa: E402

CHANNELS = ("orderbook_delta", "ticker", "trade")


def build(path: Path, frames: int, markets: int) -> list[str]:
    """Write a ``kalshi record``-style file of ``frames`` public frames; return its tickers."""
    ex = Exchange(seed=1, n_markets=markets)
    sids = {ch: i + 1 for i, ch in enumerate(CHANNELS)}
    seqs = dict.fromkeys(CHANNELS, 0)
    t = 1_795_615_200_000
    n = 0
    with path.open("wb") as fh:
        for ticker in ex.tickers:
            seqs["orderbook_delta"] += 1
            fh.write(
                orjson.dumps(
                    {
                        "type": "orderbook_snapshot",
                        "sid": 1,
                        "seq": seqs["orderbook_delta"],
                        "msg": ex.snapshot_msg(ticker),
                        "recv_ts_ms": t,
                    }
                )
                + b"\n"
            )
            n += 1
        while n < frames:
            for ev in ex.step():
                ch = channel_of_type(ev.type)
                if ch not in sids:
                    continue
                frame = {"type": ev.type, "sid": sids[ch]}
                if ch != "ticker":
                    seqs[ch] += 1
                    frame["seq"] = seqs[ch]
                frame["msg"] = ev.msg
                t += 1
                frame["recv_ts_ms"] = t
                fh.write(orjson.dumps(frame) + b"\n")
                n += 1
    return ex.tickers


async def read_all(url: str, tickers: list[str]) -> tuple[int, float]:
    async with connect(url, max_size=None) as ws:
        for i, ch in enumerate(CHANNELS, 1):
            params = {"channels": [ch], "market_tickers": tickers}
            await ws.send(orjson.dumps({"id": i, "cmd": "subscribe", "params": params}).decode())
        count, first = 0, 0.0
        try:
            while True:
                raw = await ws.recv(decode=False)
                if b'"id"' not in raw[:40]:
                    if count == 0:
                        first = time.perf_counter()
                    count += 1
        except ConnectionClosedOK:
            pass
        return count, time.perf_counter() - first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--markets", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recording.ndjson"
        tickers = build(path, args.frames, args.markets)
        size = path.stat().st_size
        proc = subprocess.Popen(
            [sys.executable, "-m", "kalshi_cli", "replay", str(path), "--speed", "max"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        try:
            url = proc.stdout.readline().decode().strip() if proc.stdout else ""
            count, took = asyncio.run(read_all(url, tickers))
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        err = proc.stderr.read().decode() if proc.stderr else ""
    print(f"recording: {args.frames:,} frames, {size / 1e6:.1f} MB, {args.markets} markets")
    print(f"client received {count:,} data frames in {took:.2f}s: {count / took:,.0f} frames/s")
    for line in err.splitlines():
        if "frames/s" in line:
            print(f"server: {line.removeprefix('kalshi: ')}")


if __name__ == "__main__":
    main()
