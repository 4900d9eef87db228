"""CPU of ``--redundant 2`` against one connection, in the same run (never part of the test suite).

    python benchmarks/redundant_cpu.py [--frames N] [--rounds R] [--rate FRAMES_PER_S] [--only tail|book]
                                       [--no-msgspec]

Against the loopback load server of ``run.py`` (``loadserver.py``, its own process), for
``kalshi tail --json`` (order book, ticker and trade frames) and ``kalshi book --json`` (order
book frames), one connection and then two (or the other way round, alternating by round): the
client's CPU seconds from the first frame streamed until every connection has read its whole
stream (each ends with a close, and the client says "reconnecting in"), per million frames one
connection carries. ``--rate`` paces each connection's stream (both then carry every frame at
about the same time, as two live connections would); by default they stream as fast as read.
Prints a markdown section: medians, and the ratio two / one (the issue's target: at most 2.2x).
A last run per command checks the merged output against one connection's: the same frames,
each once (ticker frames by content), and books ending where one connection's end.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from kalshi_cli.framehead import FAST  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from feed import tickers  # noqa: E402
from run import KALSHI, MARKETS, LoadServer, env, make_key, proc_cpu, reap  # noqa: E402

COMMANDS = {
    "tail --json": (["tail", "orderbook_delta", "ticker", "trade"], "orderbook_delta,ticker,trade"),
    "book --json": (["book"], "orderbook_delta"),
}


def argv(command: str, server: LoadServer, key: list[str], connections: int) -> list[str]:
    names = tickers(MARKETS)
    words, _ = COMMANDS[command]
    markets = sum((["-m", t] for t in names), []) if words[0] == "tail" else names
    extra = ["--redundant", str(connections)] if connections > 1 else []
    return [*KALSHI, *words, *markets, "--json", *extra, "--url", server.url, *key]


BLOCK_MSGSPEC: Path | None = None  # --no-msgspec: a directory first on the CLI's path where msgspec fails


def cli_env() -> dict[str, str]:
    e = env()
    if BLOCK_MSGSPEC is not None:
        e["PYTHONPATH"] = f"{BLOCK_MSGSPEC}:{e['PYTHONPATH']}"
    return e


def block_msgspec(tmp: Path) -> Path:
    stub = tmp / "no_msgspec"
    (stub / "msgspec").mkdir(parents=True)
    (stub / "msgspec" / "__init__.py").write_text("raise ImportError('blocked by redundant_cpu.py --no-msgspec')\n")
    return stub


def run_once(
    server: LoadServer, key: list[str], command: str, connections: int, frames: int, out: Path | None, rate: float = 0
) -> float:
    """CPU seconds of the client while ``connections`` connections stream ``frames`` frames each."""
    channels = COMMANDS[command][1]
    server.job(frames=frames, channels=channels, markets=MARKETS, rate=rate)
    sink = out.open("wb") if out is not None else subprocess.DEVNULL
    proc = subprocess.Popen(argv(command, server, key, connections), stdout=sink, stderr=subprocess.PIPE, env=cli_env())
    try:
        server.expect("start")
        cpu0 = proc_cpu(proc.pid)
        for _ in range(connections - 1):  # each connection takes its own copy of the job
            server.job(frames=frames, channels=channels, markets=MARKETS, rate=rate)
            server.expect("start")
        ended = 0
        while ended < connections:
            line = proc.stderr.readline()
            if not line:
                raise RuntimeError(f"{command} x{connections} ended early (exit {proc.poll()})")
            ended += b"reconnecting in" in line
        cpu1 = proc_cpu(proc.pid)
        proc.send_signal(signal.SIGTERM)
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        reap(proc)
        for _ in range(connections):
            server.expect("done")
    finally:
        if proc.poll() is None:
            proc.kill()
        if out is not None:
            sink.close()  # type: ignore[union-attr]
    return cpu1 - cpu0


def check(server: LoadServer, key: list[str], command: str, frames: int, tmp: Path) -> str:
    """The merged output against one connection's, for the same frames."""
    outputs = {}
    for n in (1, 2):
        out = tmp / f"check{n}.out"
        run_once(server, key, command, n, frames, out)
        outputs[n] = out.read_bytes().splitlines()
        out.unlink()
    one, two = outputs[1], outputs[2]
    if command.startswith("tail"):  # every frame once (ticker frames merged by content, see redundant_merge)

        def keyed(lines: list[bytes]) -> list[bytes]:
            return sorted(lines)

        def unique(lines: list[bytes]) -> bool:  # the load feed repeats ticker frames byte for byte
            placed = [line for line in lines if not line.startswith(b'{"type":"ticker"')]
            return len(set(placed)) == len(placed)

        same = keyed(one) == keyed(two) and unique(two)
        if not same:  # say how, on stderr
            a, b = set(keyed(one)), set(keyed(two))
            print(f"check: {len(a - b)} lines only with one connection, {len(b - a)} only with two", file=sys.stderr)
            for line in sorted(a - b)[:3] + sorted(b - a)[:3]:
                print(f"  {line[:200]!r}", file=sys.stderr)
        tickers = sum(line.startswith(b'{"type":"ticker"') for line in two)
        return (
            f"{len(two):,} lines for {frames:,} frames a connection: "
            f"{'each frame once, as one connection' if same else 'MISMATCH'} ({tickers:,} ticker frames)"
        )

    def last(lines: list[bytes]) -> dict[str, bytes]:
        books = {}
        for raw in lines:
            obj = orjson.loads(raw)
            obj.pop("ts_ms", None)
            books[obj["market_ticker"]] = orjson.dumps(obj)
        return books

    same = last(one) == last(two)
    return f"{len(last(two))} books {'as one connection ends them' if same else 'MISMATCH'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300_000, help="frames each connection streams")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--rate", type=float, default=0, help="frames/s each connection is paced at (0: as fast as it reads)"
    )
    parser.add_argument("--only", choices=["tail", "book"], help="measure one command (default: both)")
    parser.add_argument(
        "--no-msgspec", action="store_true", help="the CLI without msgspec (every frame parsed by orjson, both sides)"
    )
    args = parser.parse_args()
    global BLOCK_MSGSPEC
    commands = [c for c in COMMANDS if args.only is None or c.startswith(args.only)]
    server = LoadServer()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            key = make_key(tmp)
            if args.no_msgspec:
                BLOCK_MSGSPEC = block_msgspec(tmp)
            cpu: dict[tuple[str, int], list[float]] = {(c, n): [] for c in commands for n in (1, 2)}
            for r in range(args.rounds):
                for command in commands:
                    for n in (1, 2) if r % 2 == 0 else (2, 1):
                        print(f"round {r + 1}: {command} x{n}...", file=sys.stderr)
                        cpu[command, n].append(run_once(server, key, command, n, args.frames, None, args.rate))
            checks = {c: check(server, key, c, min(args.frames, 100_000), tmp) for c in commands}
    finally:
        server.stop()
    pace = f"paced at {args.rate:,.0f} frames/s" if args.rate else "as fast as they are read"
    print(f"## --redundant 2: CPU against one connection ({args.frames:,} frames a connection, {pace}, ", end="")
    print(f"{args.rounds} rounds)\n")
    print("| command | 1 connection, CPU s / 1M frames | 2 connections, CPU s / 1M frames | ratio | check |")
    print("|---|---|---|---|---|")
    for command in commands:
        one = statistics.median(cpu[command, 1]) / args.frames * 1e6
        two = statistics.median(cpu[command, 2]) / args.frames * 1e6
        print(f"| kalshi {command} | {one:.2f} | {two:.2f} | {two / one:.2f}x | {checks[command]} |")
    print("\nTarget (issue 16): at most 2.2x. Medians; the order of 1 and 2 alternates by round.")
    used = FAST and not args.no_msgspec
    if used:
        print("msgspec used: one connection's tail reads frame heads with it (framehead); each redundant")
        print("connection reads of book and trade frames only the merge's fields, and its common frames")
        print("take the lane through the merge to the handler (tail --json: redundant_lane).")
    else:
        print("msgspec not used (--no-msgspec, or not installed): orjson parses every frame, on both sides.")


if __name__ == "__main__":
    main()
