"""How fast names resolve: 20 names (10 markets, 10 events) from a warm local catalogue, in
process and as a whole command, against the same names resolved cold (one REST call each) and
the bare read of the catalogue (``load_catalogue``), all measured in this run against one local simulator.

    .venv/bin/python benchmarks/resolve_speed.py [--markets 10000] [--runs 7]

Prints a markdown section: medians and ratios. Target (issue 14): 20 warm names under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kalshi_cli.catalogue import Catalogue, catalogue_path, env_name_for, load_catalogue  # noqa: E402
from kalshi_cli.catalogue_save import save_catalogue  # noqa: E402
from kalshi_cli.config import Endpoint, rest_from_ws  # noqa: E402
from kalshi_cli.feeds.context import StreamContext  # noqa: E402
from kalshi_cli.feeds.markets import OPEN_STATUSES, resolve_names  # noqa: E402
from kalshi_cli.output import Reporter  # noqa: E402
from kalshi_cli.sim.threaded import ThreadedSim  # noqa: E402


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as reply:
        body: dict[str, Any] = orjson.loads(reply.read())
    return body


def _all(rest: str, path: str, key: str, limit: int, extra: str = "") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = _get(f"{rest}{path}?limit={limit}{extra}" + (f"&cursor={cursor}" if cursor else ""))
        found += page[key]
        cursor = page.get("cursor") or ""
        if not cursor:
            return found


def _names(markets: list[dict[str, Any]]) -> list[str]:
    """10 open market tickers and 10 open events of at least two markets, spread over the list."""
    open_markets = [m for m in markets if m.get("status") in OPEN_STATUSES]
    sizes: dict[str, int] = {}
    for m in open_markets:
        sizes[m["event_ticker"]] = sizes.get(m["event_ticker"], 0) + 1
    events = [e for e, n in sizes.items() if n >= 2]
    step_m, step_e = max(1, len(open_markets) // 10), max(1, len(events) // 10)
    return [m["ticker"] for m in open_markets[::step_m][:10]] + events[::step_e][:10]


def _ctx(url: str) -> StreamContext:
    return StreamContext(Endpoint(url, rest_from_ws(url), "custom"), None, Reporter(quiet=True))


def _in_process(url: str, names: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    resolved = asyncio.run(resolve_names(_ctx(url), names))
    return time.perf_counter() - start, len(resolved.tickers)


def _key(directory: str) -> tuple[bytes, str]:
    """A throwaway RSA key: the public PEM for the simulator, the private key's file for the CLI."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = Path(directory) / "bench.key"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return public, str(path)


def _command(url: str, names: list[str], count: int, env: dict[str, str], key: str) -> float:
    args = [sys.executable, "-m", "kalshi_cli", "tail", "orderbook_delta", "--url", url, "--count", str(count)]
    args += ["--key-id", "bench", "--private-key", key]
    args += [a for n in names for a in ("-m", n)] + ["--json", "-q"]
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=120, cwd=ROOT)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markets", type=int, default=10_000, help="simulated catalogue size")
    parser.add_argument("--runs", type=int, default=7, help="runs per measurement (medians)")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="kalshi-resolve-bench-")
    os.environ["XDG_CACHE_HOME"] = cache
    os.environ.pop("KALSHI_MARKETS_CACHE", None)
    public, key = _key(cache)
    with ThreadedSim(rate=0, markets=args.markets, public_key_pem=public) as sim:
        rest = rest_from_ws(sim.url)
        markets = _all(rest, "/markets", "markets", 1000)
        events = _all(rest, "/events", "events", 200)
        names = _names(markets)
        env_name = env_name_for("custom", sim.url)
        warm = Catalogue()
        warm.remember_events(events)
        warm.remember_markets(markets)

        def fill() -> None:
            save_catalogue(env_name, warm)

        def empty() -> None:
            catalogue_path(env_name).unlink(missing_ok=True)

        cold_s, warm_s, load_s = [], [], []
        n_tickers = 0
        for _ in range(args.runs):
            empty()
            cold_s.append(_in_process(sim.url, names)[0])
            fill()
            elapsed, n_tickers = _in_process(sim.url, names)
            warm_s.append(elapsed)
            start = time.perf_counter()
            load_catalogue(env_name)
            load_s.append(time.perf_counter() - start)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd_cold, cmd_warm = [], []
        for _ in range(max(3, args.runs // 2)):
            empty()
            cmd_cold.append(_command(sim.url, names, n_tickers, env, key))
            fill()
            cmd_warm.append(_command(sim.url, names, n_tickers, env, key))
        size = catalogue_path(env_name).stat().st_size

    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    print(f"## Resolving names ({args.markets:,} simulated markets, {len(names)} names -> {n_tickers} markets)\n")
    print(f"Catalogue: {len(warm.markets):,} markets, {len(warm.events):,} events, {size / 1e6:.1f} MB; ")
    print(f"medians of {args.runs} runs (whole commands: {len(cmd_warm)}).\n")
    print("| measurement | median | ratio |")
    print("|---|---|---|")
    print(f"| in process, warm cache (target < 50 ms) | {ms(warm_s):.1f} ms | 1.00x |")
    print(
        f"| of which: reading the catalogue (`load_catalogue`) | {ms(load_s):.1f} ms | {ms(load_s) / ms(warm_s):.2f}x |"
    )
    print(f"| in process, cold cache (one REST call per name) | {ms(cold_s):.1f} ms | {ms(cold_s) / ms(warm_s):.2f}x |")
    print(f"| `kalshi tail orderbook_delta -m ...` to its last snapshot, warm | {ms(cmd_warm):.0f} ms | 1.00x |")
    print(f"| the same command, cold cache | {ms(cmd_cold):.0f} ms | {ms(cmd_cold) / ms(cmd_warm):.2f}x |")
    print(f"\nWarm resolution is {'within' if ms(warm_s) < 50 else 'OVER'} the 50 ms target.")


if __name__ == "__main__":
    main()
