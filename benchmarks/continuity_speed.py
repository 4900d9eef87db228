"""What ``--continuity`` and ``--stats`` cost ``kalshi tail --json`` and ``book --json``, same run.

Uses ``run.py``'s loopback load server and its tail command line (orderbook_delta, ticker and
trade over 20 markets, every frame stamped with ``sending_ts_ms``, to /dev/null), and runs four
variants in alternating rounds: plain (the session's raw fast path), ``--continuity`` (the same
fast path: the lines come from the session's callbacks, and a clean stream has none),
``--stats`` (each frame's parse read for its age: the general path), and both; then ``book --json``
over the book channel, plain and with both flags (the book always takes the general path). Prints
a markdown section with medians and ratios against plain measured in the same run.

    python benchmarks/continuity_speed.py [--frames 300000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as bench  # noqa: E402

VARIANTS = {
    "tail --json (plain)": [],
    "tail --json --continuity": ["--continuity"],
    "tail --json --stats": ["--stats"],
    "tail --json --continuity --stats": ["--continuity", "--stats"],
}


BOOK_VARIANTS = {"book --json (plain)": [], "book --json --continuity --stats": ["--continuity", "--stats"]}


def run_book(server: bench.LoadServer, key: list[str], frames: int, flags: list[str]) -> tuple[float, float]:
    """One ``book --json`` run over ``frames`` book frames: (frames/s, CPU us per frame)."""
    names = bench.tickers(bench.MARKETS)
    server.job(frames=frames, channels="orderbook_delta", markets=bench.MARKETS)
    argv = [*bench.KALSHI, "book", *names, "--json", *flags, "--url", server.url, *key]
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, stdout=devnull, stderr=subprocess.PIPE, env=bench.env())
        server.expect("start")
        cpu0 = bench.proc_cpu(proc.pid)
        while True:  # the load server closes after the job: the book's next line says so
            line = proc.stderr.readline()
            if not line or b"reconnecting in" in line:
                break
        end = time.monotonic_ns()
        cpu1 = bench.proc_cpu(proc.pid)
        proc.send_signal(signal.SIGTERM)
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        bench.reap(proc)
    done = bench.parse_done(server.expect("done"))
    seconds = (end - int(done["start_ns"])) / 1e9
    return frames / seconds, (cpu1 - cpu0) / frames * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = bench.LoadServer()
    samples: dict[str, list[bench.Sample]] = {name: [] for name in VARIANTS}
    book: dict[str, list[tuple[float, float]]] = {name: [] for name in BOOK_VARIANTS}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            key = bench.make_key(Path(tmp))
            base = bench.tail_argv(server, key, args.frames)
            specs = [bench.ClientSpec(name, [*base, *flags]) for name, flags in VARIANTS.items()]
            with open(os.devnull, "wb") as devnull:
                for r in range(args.rounds):
                    for spec in specs[r % len(specs) :] + specs[: r % len(specs)]:
                        sample, _ = bench.run_client(server, spec, args.frames, devnull)
                        samples[spec.name].append(sample)
                        print(f"  round {r + 1}: {spec.name}: {sample.fps:,.0f} frames/s", file=sys.stderr)
            for r in range(args.rounds):
                order = list(BOOK_VARIANTS.items())
                for name, flags in order if r % 2 == 0 else reversed(order):
                    book[name].append(run_book(server, key, args.frames, flags))
                    print(f"  round {r + 1}: {name}: {book[name][-1][0]:,.0f} frames/s", file=sys.stderr)
    finally:
        server.stop()
    plain = statistics.median(s.fps for s in samples["tail --json (plain)"])
    print(f"## --continuity and --stats on tail --json ({args.frames:,} frames, {args.rounds} rounds, same run)\n")
    print("| client | frames/s (median) | vs plain | CPU µs/frame | peak RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, runs in samples.items():
        fps = statistics.median(s.fps for s in runs)
        cpu = statistics.median(s.cpu_per_m for s in runs)
        rss = max(s.rss_mb for s in runs)
        print(f"| {name} | {fps:,.0f} | {fps / plain:.2f}x | {cpu:.2f} | {rss:.0f} |")
    book_plain = statistics.median(fps for fps, _ in book["book --json (plain)"])
    for name, runs in book.items():
        fps = statistics.median(f for f, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"| {name} | {fps:,.0f} | {fps / book_plain:.2f}x | {cpu:.2f} | |")


if __name__ == "__main__":
    main()
