"""How fast ``kalshi markets --json`` lists a big catalogue, and how fast tickers complete.

Serves the simulator with ``--markets`` markets (REST only, no activity) in a thread of this
process, then times, as subprocesses writing to /dev/null, in alternation:

* ``kalshi markets --json --status all --url URL`` (pages of 1000, then the cache is saved);
* the baseline: a plain ``urllib.request`` + ``orjson`` pager over the same ``GET /markets``,
  printing each market as one line, nothing else.

Both walk the same pages of the same server in the same run; the ratio is baseline time over
kalshi time (1.0: as fast as the plain pager); the clients' CPU time is shown too, as on a
busy machine it decides the wall time. Then both again into a pipe this process reads, timed
to the end of their output (what ``kalshi markets --json | jq`` waits for: kalshi closes its
stdout before it saves the cache) and to their exit. Then completion of a prefix from the warm cache
that run wrote: the completer alone (in-process), and a whole ``<TAB>`` (a CLI process).

    python benchmarks/markets_speed.py [--markets 10000] [--runs 5] [--before DIR]

``--before DIR`` times another copy of the package too (``DIR/kalshi_cli``, e.g. from
``git archive HEAD~3 kalshi_cli | tar -x -C DIR``), in the same alternation, with its own
cache folder, for a before/after in one run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kalshi_cli.catalogue import env_name_for, load_catalogue  # noqa: E402
from kalshi_cli.completers import cached_tickers_of  # noqa: E402
from kalshi_cli.sim import ThreadedSim  # noqa: E402

BASELINE = r"""
import sys, urllib.request, orjson
base, out, cursor = sys.argv[1], sys.stdout.buffer, ""
while True:
    url = base + "/markets?limit=1000" + ("&cursor=" + cursor if cursor else "")
    with urllib.request.urlopen(url) as reply:
        body = orjson.loads(reply.read())
    for m in body["markets"]:
        out.write(orjson.dumps(m) + b"\n")
    cursor = body.get("cursor") or ""
    if not cursor:
        break
"""


def timed(
    args: list[str], env: dict[str, str], check_lines: int | None = None, cwd: Path = ROOT
) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of ``args``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    if check_lines is None:
        proc = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    else:
        proc = subprocess.run(args, env=env, capture_output=True, cwd=cwd)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{args[:4]} failed: {proc.stderr.decode()[-500:]}")
    if check_lines is not None and len(proc.stdout.splitlines()) != check_lines:
        raise SystemExit(f"{args[:4]} printed {len(proc.stdout.splitlines())} lines, not {check_lines}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def piped(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds until the reader of ``args``' stdout sees its end, and until it exits."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
    assert proc.stdout is not None
    while proc.stdout.read1(1 << 20):
        pass
    eof = time.perf_counter() - start
    if proc.wait() != 0:
        raise SystemExit(f"{args[:4]} failed")
    return eof, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markets", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="a folder holding another kalshi_cli to time beside this one")
    args = parser.parse_args()
    cache = tempfile.mkdtemp(prefix="kalshi-bench-cache-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI")}
    env["XDG_CACHE_HOME"] = cache
    with ThreadedSim(markets=args.markets, rate=0) as sim:
        rest = sim.url.replace("ws://", "http://").replace("/trade-api/ws/v2", "/trade-api/v2")
        kalshi = [sys.executable, "-m", "kalshi_cli", "markets", "--json", "--status", "all", "--url", sim.url]
        baseline = [sys.executable, "-c", BASELINE, rest]
        timed(kalshi, env, check_lines=args.markets)  # warm-up, and both print every market
        timed(baseline, env, check_lines=args.markets)
        before_env = {**env, "XDG_CACHE_HOME": tempfile.mkdtemp(prefix="kalshi-bench-before-")}
        if args.before:
            timed(kalshi, before_env, check_lines=args.markets, cwd=args.before)
        ours: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        earlier: list[tuple[float, float]] = []
        for _ in range(args.runs):
            ours.append(timed(kalshi, env))
            theirs.append(timed(baseline, env))
            if args.before:
                earlier.append(timed(kalshi, before_env, cwd=args.before))
        ours_piped: list[tuple[float, float]] = []
        theirs_piped: list[tuple[float, float]] = []
        for _ in range(args.runs):
            ours_piped.append(piped(kalshi, env))
            theirs_piped.append(piped(baseline, env))
        name = env_name_for("custom", sim.url)
    environ = {"XDG_CACHE_HOME": cache}
    cat = load_catalogue(name, environ=environ)
    assert cat is not None and len(cat.markets) == args.markets
    prefix = next(iter(sorted(cat.markets)))[:12]
    complete_ms = []
    for _ in range(max(args.runs, 5) * 4):
        start = time.perf_counter()
        found = cached_tickers_of(name, prefix, environ)
        complete_ms.append((time.perf_counter() - start) * 1000)
    words = f"kalshi book {prefix}"
    tab_env = {**env, "_KALSHI_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": "2"}
    tab = [timed([sys.executable, "-m", "kalshi_cli"], tab_env)[0] * 1000 for _ in range(args.runs)]
    load_ms = []
    for _ in range(args.runs):
        start = time.perf_counter()
        load_catalogue(name, environ=environ)
        load_ms.append((time.perf_counter() - start) * 1000)
    k, b = statistics.median(w for w, _ in ours), statistics.median(w for w, _ in theirs)
    kc, bc = statistics.median(c for _, c in ours), statistics.median(c for _, c in theirs)
    n = args.markets
    ke, be = statistics.median(e for e, _ in ours_piped), statistics.median(e for e, _ in theirs_piped)
    kx, bx = statistics.median(x for _, x in ours_piped), statistics.median(x for _, x in theirs_piped)
    rows = [
        ("`kalshi markets --json --status all` (pages of 1000, cache saved)", f"{k:.3f} s", f"{kc:.3f} s"),
        ("plain `urllib.request` + `orjson` pager, same server", f"{b:.3f} s", f"{bc:.3f} s"),
        ("**ratio** (baseline / kalshi; target >= 0.8)", f"**{b / k:.2f}x**", f"{bc / kc:.2f}x"),
        *_before_rows(earlier, b, bc, args.before),
        ("into a pipe: kalshi, to the end of its output / to its exit", f"{ke:.3f} s / {kx:.3f} s", ""),
        ("into a pipe: the plain pager, to the end of its output / to its exit", f"{be:.3f} s / {bx:.3f} s", ""),
        ("ratio into a pipe, to the end of the output / to the exit", f"{be / ke:.2f}x / {bx / kx:.2f}x", ""),
        (
            f"completion of `{prefix}` from the warm cache ({len(found)} found)",
            f"{statistics.median(complete_ms):.1f} ms",
            "",
        ),
        ("the same `<TAB>` as a whole CLI process (bash protocol)", f"{statistics.median(tab):.0f} ms", ""),
        (f"`load_catalogue` of {n:,} markets (what a resolver reads)", f"{statistics.median(load_ms):.1f} ms", ""),
    ]
    print(f"### kalshi markets: {n:,} simulated markets ({args.runs} runs, medians)\n")
    print("| run | wall | client CPU |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _before_rows(earlier: list[tuple[float, float]], b: float, bc: float, where: Path | None) -> list[tuple[str, ...]]:
    if not earlier:
        return []
    w, c = statistics.median(x for x, _ in earlier), statistics.median(x for _, x in earlier)
    return [
        (f"the same, the package in {where} (before)", f"{w:.3f} s", f"{c:.3f} s"),
        ("ratio before (baseline / before)", f"{b / w:.2f}x", f"{bc / c:.2f}x"),
    ]


if __name__ == "__main__":
    main()
