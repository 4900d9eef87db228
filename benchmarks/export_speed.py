"""How fast `kalshi export` turns a recording into Parquet, against DuckDB's own read_json.

Builds a `kalshi record`-style recording from the simulator's exchange model (its mix of book
deltas, tickers and trades: about 70% / 20% / 10%; meta lines, sending_ts_ms and recv_ts_ms
as the recorder writes them; time advancing 1 ms per frame, so 1,000 frames/s of exchange
activity), then, alternating in the same run, times

  * `kalshi export FILE -o OUT` (all tables, Parquet): parse, rebuild every book exactly,
    write ten date-partitioned tables; and
  * DuckDB: `CREATE TABLE t AS SELECT * FROM read_json(FILE)` into an in-memory database
    (parse only: no book, no partitions), in a fresh process each round like the export.

Both are subprocesses timed from spawn to exit, peak RSS from wait4 (the largest process: the
export runs two, DuckDB two threads), and the CPU each spent (user + system, its worker
included): on a machine other work shares, the wall clock is what the run got of the cores,
the CPU what it cost. Medians of --rounds. With ``--against REV`` the export of
every table at that git revision (its ``kalshi_cli`` extracted by ``git archive``) is timed too,
in the same rounds: a before/after on the same machine load.

    python benchmarks/export_speed.py [--frames 100000] [--markets 20] [--rounds 3] [--against REV]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kalshi_cli.protocol import channel_of_type  # noqa: E402
from kalshi_cli.sim.market import Exchange  # noqa: E402

CHANNELS = ("orderbook_delta", "ticker", "trade")
DUCKDB = """
import sys, duckdb
con = duckdb.connect()
con.execute("CREATE TABLE t AS SELECT * FROM read_json(?, format='newline_delimited')", [sys.argv[1]])
print(con.execute("SELECT count(*) FROM t").fetchone()[0])
"""


#: share of the model's tickers and trades kept, for the issue's mix (~70% book, 20% ticker, 10% trade)
KEEP = {"ticker": 0.85, "trade": 0.6}


#: what is timed each round, in this order: the export of every table, of the three a study of
#: trades against the book usually needs, and DuckDB's parse of the same file.
RUNS: dict[str, list[str]] = {"all": [], "three": ["--tables", "trades,book_top,continuity"], "duckdb": []}
LABELS = {
    "all": "`kalshi export FILE -o OUT` (Parquet, all ten tables)",
    "three": "`kalshi export ... --tables trades,book_top,continuity`",
    "duckdb": "DuckDB `read_json` into a table",
}


def build(path: Path, frames: int, markets: int) -> dict[str, int]:
    """Write ``frames`` data frames (plus the recorder's meta lines); return the count per type."""
    import random

    keep = random.Random(7)
    clock = [1_795_615_200_000]
    ex = Exchange(seed=1, n_markets=markets, now_ms=lambda: clock[0])
    sids = {ch: i + 1 for i, ch in enumerate(CHANNELS)}
    seqs = dict.fromkeys(CHANNELS, 0)
    kinds: dict[str, int] = {}
    n = 0

    def meta(event: str, **fields: object) -> bytes:
        return orjson.dumps({"type": "kalshi_cli.meta", "event": event, **fields, "recv_ts_ms": clock[0]}) + b"\n"

    with path.open("wb") as fh:
        fh.write(meta("connect", url="ws://127.0.0.1:1/trade-api/ws/v2", connection=1))
        for ch, sid in sids.items():
            fh.write(meta("subscribed", channel=ch, sid=sid, markets=ex.tickers))

        def emit(kind: str, msg: dict[str, object]) -> None:
            nonlocal n
            ch = channel_of_type(kind) or ""
            frame: dict[str, object] = {"type": kind, "sid": sids[ch]}
            if ch != "ticker":
                seqs[ch] += 1
                frame["seq"] = seqs[ch]
            frame["msg"] = msg
            frame["sending_ts_ms"] = clock[0]
            frame["recv_ts_ms"] = clock[0] + 1
            fh.write(orjson.dumps(frame) + b"\n")
            kinds[kind] = kinds.get(kind, 0) + 1
            n += 1

        for ticker in ex.tickers:
            emit("orderbook_snapshot", ex.snapshot_msg(ticker))
        while n < frames:
            for ev in ex.step():
                if channel_of_type(ev.type) in sids and n < frames and keep.random() < KEEP.get(ev.type, 1.0):
                    clock[0] += 1
                    emit(ev.type, ev.msg)
    return kinds


def timed(argv: list[str], cwd: Path = ROOT) -> tuple[float, int, bytes, float]:
    """Run ``argv`` in ``cwd`` (whose ``kalshi_cli`` ``-m`` runs); (wall seconds, peak RSS in KiB,
    stderr, CPU seconds: user + system of the process and the children it waited for)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return took, usage.ru_maxrss, err, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--markets", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", metavar="REV", help="also time the export at this git revision")
    parser.add_argument("--build", metavar="PATH", help=argparse.SUPPRESS)  # the child that writes the file
    args = parser.parse_args()
    if args.build:
        print(orjson.dumps(build(Path(args.build), args.frames, args.markets)).decode())
        return
    with tempfile.TemporaryDirectory(prefix="export-bench-") as tmp:
        rec = Path(tmp) / "kalshi-20261125T140000.000Z-0001.ndjson"
        # built by a child, so this process stays small: a fork copies its size into the peak RSS it reports
        made = subprocess.run(
            [sys.executable, __file__, "--build", str(rec), "--frames", str(args.frames)]
            + ["--markets", str(args.markets)],
            capture_output=True,
            check=True,
        )
        kinds = orjson.loads(made.stdout)
        runs_now = dict(RUNS)
        if args.against:
            before = Path(tmp) / "before"
            before.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.against, "kalshi_cli"], cwd=ROOT, capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
            runs_now = {"before": [], **RUNS}
            LABELS["before"] = f"`kalshi export FILE -o OUT` at {args.against} (all tables)"
        size_mb = rec.stat().st_size / 1e6
        runs: dict[str, list[tuple[float, int]]] = {name: [] for name in runs_now}
        cpu: dict[str, list[float]] = {name: [] for name in runs_now}
        last_err = b""
        for i in range(args.rounds):
            for name, extra in runs_now.items():
                out = Path(tmp) / f"out{i}"
                cwd = ROOT
                if name == "duckdb":
                    argv = [sys.executable, "-c", DUCKDB, str(rec)]
                else:
                    argv = [sys.executable, "-m", "kalshi_cli", "export", str(rec), "-o", str(out), *extra]
                    if name == "before":
                        cwd = Path(tmp) / "before"
                took, rss, err, spent = timed(argv, cwd)
                runs[name].append((took, rss))
                cpu[name].append(spent)
                if name == "all":
                    last_err = err
                shutil.rmtree(out, ignore_errors=True)
    frames = sum(kinds.values())
    median = {name: statistics.median(t for t, _ in got) for name, got in runs.items()}
    peak = {name: max(r for _, r in got) / 1024 for name, got in runs.items()}
    mix = ", ".join(f"{k} {v / frames:.0%}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
    print(f"## kalshi export ({frames:,} frames, {size_mb:.0f} MB NDJSON, {args.markets} markets)\n")
    print(f"Mix: {mix}. Medians of {args.rounds} rounds, alternating, each a fresh process.\n")
    print("| run | median s | frames/s | vs DuckDB | CPU s (median) | peak RSS MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in runs:
        label = LABELS[name]
        secs = median[name]
        spent = statistics.median(cpu[name])
        print(
            f"| {label} | {secs:.2f} | {frames / secs:,.0f} | {median['duckdb'] / secs:.2f}x | {spent:.2f} "
            f"| {peak[name]:.0f} |"
        )
    print(f"\nexport (all tables) / DuckDB rate: **{median['duckdb'] / median['all']:.2f}x** (target >= 0.5x)")
    if "before" in median:
        then = median["duckdb"] / median["before"]
        print(f"at {args.against}: {then:.2f}x; now / then: {median['before'] / median['all']:.2f}x as fast")
    print()
    print(f"Export's own summary: `{last_err.decode().strip().splitlines()[-1]}`")


if __name__ == "__main__":
    main()
