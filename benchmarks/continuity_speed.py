"""What ``--continuity`` and ``--stats`` cost ``kalshi tail --json``, in frames/s, same run.

Uses ``run.py``'s loopback load server and its tail command line (orderbook_delta, ticker and
trade over 20 markets, every frame stamped with ``sending_ts_ms``, to /dev/null), and runs four
variants in alternating rounds: plain (the session's raw fast path), ``--continuity`` (the same
fast path: the lines come from the session's callbacks, and a clean stream has none),
``--stats`` (each frame's parse read for its age: the general path), and both. Prints a markdown
section with medians and ratios against plain measured in the same run.

    python benchmarks/continuity_speed.py [--frames 300000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    server = bench.LoadServer()
    samples: dict[str, list[bench.Sample]] = {name: [] for name in VARIANTS}
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


if __name__ == "__main__":
    main()
