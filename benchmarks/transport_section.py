"""Both transports side by side: the floors, every feed's rate and CPU, and latency (``run.py``).

Every measured run is a real ``kalshi`` process against the load server; rounds alternate the
order of the runs, and medians of the rounds are reported, so a noisy moment on a shared box
hits every row alike. Ratios are taken within this run only:

* floors: websockets' pass-through loop and picows' own bare pass-through loop (``clients.py``),
  and the validating floor: picows + ``orjson.loads`` of every frame + a buffered write
  (``frame_cost.py client``), the least a client that checks each frame can do;
* ``tail --json``, ``book --json --depth 10`` (against the websockets + orjson NDJSON client on
  the same book feed), ``record`` plain and ``--gzip`` (against websockets' ``--gzip`` at
  ``GZIP_BEFORE``, the record rate before picows and the compression worker: its ``kalshi_cli``
  from ``git archive``), the readable ``tail`` and the book's live view on a terminal (a pty),
  ``tail --json --replay`` (the in-process replay server included), ``fills --json``: frames/s
  and CPU seconds per million frames, per transport;
* latency at 1,000 frames/s, frame sent -> line read, per transport, against a bare socket;
* what the gap between ``tail --json`` and picows' bare loop is made of (``frame_cost.why_cases``
  and ``frame_cost.layers``): ``kalshi_cli``'s picows connection alone, ``tail --json`` with ``gc.freeze()``
  at exit (the interpreter's teardown lighter), and the client's share per frame in-process.
"""

from __future__ import annotations

import os
import pty
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from feed import Encoder, build_cycle, snapshot_frames, tickers
from frame_cost import VALIDATING, layers, why_cases

HERE = Path(__file__).resolve().parent
PY = sys.executable
KALSHI = [PY, "-m", "kalshi_cli"]
MIXED = "orderbook_delta,ticker,trade"
GZIP_BEFORE = "a5bcbf9"  # the last revision whose recorder compressed on the event loop's thread
GZIP_THEN = f"record --gzip [websockets] at {GZIP_BEFORE} (before)"


def transports_here() -> list[str]:
    sys.path.insert(0, str(HERE.parent))
    from kalshi_cli.transports import available

    return available()


@dataclass
class Case:
    """One row: how to run it, on which feed, and how it ends."""

    name: str
    argv: list[str]
    channels: str = MIXED
    frames_share: float = 1.0  # of the section's frame count (slow feeds get fewer frames)
    ends: str = "exit"  # "exit": by itself (--count, end of a recording); "close": at the server's close
    terminal: bool = False  # stdout is a pty (the readable lines, the live view)
    extra_env: dict[str, str] = field(default_factory=dict)
    local: int = 0  # > 0: no load server, this many frames come from a recording (replay)
    fps: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass


def run_case(server, case: Case, frames: int, env: Callable[[], dict[str, str]]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(frames/s, CPU s per 1M frames) of one run of ``case``."""
    from run import parse_done, proc_cpu, reap

    if not case.local:
        server.job(frames=frames, channels=case.channels, markets=20)
    master = None
    if case.terminal:
        master, slave = pty.openpty()
        os.set_blocking(master, True)
        stdout: int = slave
    else:
        stdout = os.open(os.devnull, os.O_WRONLY)
    proc_env = {**env(), "COLUMNS": "120", "LINES": "40", **case.extra_env}
    proc = subprocess.Popen(case.argv, stdout=stdout, stderr=subprocess.PIPE, env=proc_env)
    os.close(stdout)
    if master is not None:
        threading.Thread(target=_drain, args=(master,), daemon=True).start()
    if case.local:  # the clock starts once connected: not the start-up, not the recording's scan
        while True:
            line = proc.stderr.readline()
            if not line or b"connected to" in line:
                break
        start_ns, cpu0 = time.monotonic_ns(), proc_cpu(proc.pid)
    else:
        _started(server, proc, case.name)
        start_ns, cpu0 = time.monotonic_ns(), proc_cpu(proc.pid)
    if case.ends == "close":
        while True:
            line = proc.stderr.readline()
            if not line or b"reconnecting in" in line:
                break
        end, cpu1 = time.monotonic_ns(), proc_cpu(proc.pid)
        proc.send_signal(signal.SIGTERM)  # (a client that ended by itself is reaped by this already)
        threading.Thread(target=proc.stderr.read, daemon=True).start()
        if proc.returncode is None:
            reap(proc)
    else:
        err: list[bytes] = []
        threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True).start()
        status, cpu1, _ = reap(proc)
        end = time.monotonic_ns()
        if status != 0:
            time.sleep(0.1)
            raise RuntimeError(f"{case.name} exited {status}: {b''.join(err)[-400:]!r}")
    if master is not None:
        os.close(master)
    n = case.local or frames
    if not case.local:
        done = parse_done(server.expect("done"))
        start_ns = int(done["start_ns"])
    return n / ((end - start_ns) / 1e9), (cpu1 - cpu0) / n * 1e6


def _started(server, proc: subprocess.Popen[bytes], name: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for the load server's start, but not for a client that died before it."""
    while True:
        try:
            server.expect("start", timeout=1)
            return
        except TimeoutError:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} ended before streaming: {proc.stderr.read()[-400:]!r}") from None


def write_recording(path: Path, frames: int) -> int:
    """A ``tail --json``-style recording of the mixed feed (snapshots first): the replay's input."""
    templates, advance = build_cycle(set(MIXED.split(",")), 20)
    snaps = snapshot_frames(20)
    enc = Encoder(templates, advance, seq_start={"seq1": len(snaps) + 1, "seq3": 1})
    lines = list(snaps)
    while len(lines) < frames:
        data, _ = enc.next_block()
        lines += enc.frames(data)
    lines = lines[:frames]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)


def cases(server, key: list[str], names: list[str], frames: int, tmp: Path) -> list[Case]:  # type: ignore[no-untyped-def]
    ms = sum((["-m", t] for t in tickers(20)), [])
    url = ["--url", server.url, *key]
    recording = tmp / "replay.ndjson"
    replayed = write_recording(recording, max(20_000, frames // 2))
    out: list[Case] = [
        Case("websockets pass-through (floor)", [PY, str(HERE / "clients.py"), "floor", server.url, *tickers(20)]),
        Case(
            "websockets + orjson NDJSON, book feed",
            [PY, str(HERE / "clients.py"), "orjson", server.url, *tickers(20)],
            channels="orderbook_delta",
            frames_share=1 / 3,
            extra_env={"CHANNELS": "orderbook_delta"},
        ),
    ]
    if "picows" in names:
        out.append(
            Case("picows bare pass-through (floor)", [PY, str(HERE / "clients.py"), "picows", server.url, *tickers(20)])
        )
        out.append(Case(VALIDATING, [PY, str(HERE / "frame_cost.py"), "client", server.url, *tickers(20)]))
    before = tmp / "before"
    archive = subprocess.run(["git", "archive", GZIP_BEFORE, "kalshi_cli"], cwd=HERE.parent, capture_output=True)
    if archive.returncode == 0:  # (not a git checkout: no row)
        before.mkdir(exist_ok=True)
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        argv = [PY, "-P", "-m", "kalshi_cli", "record", *MIXED.split(","), *ms, "-o", str(tmp / "recgz-before")]
        out.append(Case(GZIP_THEN, [*argv, "--gzip", *url], ends="close", extra_env={"PYTHONPATH": str(before)}))
    for t in names:
        tr = ["--transport", t]
        count = ["--count", "COUNT"]
        out += [
            Case(f"tail --json [{t}]", [*KALSHI, "tail", *MIXED.split(","), *ms, "--json", *count, "-q", *url, *tr]),
            Case(
                f"tail, readable, on a terminal [{t}]",
                [*KALSHI, "tail", *MIXED.split(","), *ms, *count, "-q", "--color", "never", *url, *tr],
                frames_share=1 / 30,  # ~100 µs a line through rich: a tenth of the others' frames
                terminal=True,
            ),
            Case(
                f"book --json --depth 10 [{t}]",
                [*KALSHI, "book", *tickers(20), "--json", "--depth", "10", *url, *tr],
                channels="orderbook_delta",
                frames_share=1 / 3,
                ends="close",
            ),
            Case(
                f"book, live view on a terminal (120x40) [{t}]",
                [*KALSHI, "book", *tickers(20), "--color", "never", *url, *tr],
                channels="orderbook_delta",
                frames_share=1 / 3,
                ends="close",
                terminal=True,
            ),
            Case(
                f"record [{t}]",
                [*KALSHI, "record", *MIXED.split(","), *ms, "-o", str(tmp / f"rec-{t}"), *url, *tr],
                ends="close",
            ),
            Case(
                f"record --gzip [{t}]",
                [*KALSHI, "record", *MIXED.split(","), *ms, "-o", str(tmp / f"recgz-{t}"), "--gzip", *url, *tr],
                ends="close",
            ),
            Case(
                f"tail --json --replay (server in-process) [{t}]",
                [*KALSHI, "tail", *MIXED.split(","), *ms, "--json", "--replay", str(recording)]
                + ["--replay-speed", "max", *tr],
                local=replayed,
            ),
            Case(
                f"fills --json [{t}]",
                [*KALSHI, "fills", "--json", *count, "-q", *url, *tr],
                channels="fill",
                frames_share=1 / 3,
            ),
        ]
    return out + why_cases(out, names, server.url)  # what the gap to picows' bare loop is made of


def throughput(server, key: list[str], frames: int, rounds: int, tmp: Path, env) -> list[Case]:  # type: ignore[no-untyped-def]
    names = transports_here()
    all_cases = cases(server, key, names, frames, tmp)
    for r in range(rounds):
        order = all_cases[r % len(all_cases) :] + all_cases[: r % len(all_cases)]
        if r % 2:
            order.reverse()
        for case in order:
            n = max(5_000, int(frames * case.frames_share))
            argv = [str(n) if a == "COUNT" else a for a in case.argv]
            fps, cpu = run_case(server, Case(**{**case.__dict__, "argv": argv}), n, env)
            case.fps.append(fps)
            case.cpu.append(cpu)
            print(f"  round {r + 1}: {case.name}: {fps:,.0f} frames/s, {cpu:.2f} CPU s/1M", file=sys.stderr)
    return all_cases


def latency(server, key: list[str], frames: int, rounds: int, tmp: Path, env) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    """p50 and p99 of frame sent -> line read at 1,000 frames/s; medians of ``rounds`` alternating rounds."""
    from run import reap

    ms = sum((["-m", t] for t in tickers(20)), [])
    specs = {"bare socket (floor)": [PY, str(HERE / "clients.py"), "socket", server.url, *tickers(20)]}
    for t in transports_here():
        specs[f"tail --json [{t}]"] = [*KALSHI, "tail", *MIXED.split(","), *ms, "--json", "--count", str(frames)]
        specs[f"tail --json [{t}]"] += ["-q", "--url", server.url, *key, "--transport", t]
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in specs}
    names = list(specs)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            times = tmp / "times.txt"
            server.job(frames=frames, channels=MIXED, markets=20, rate=1000, times=times)
            proc = subprocess.Popen(specs[name], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env())
            arrivals: list[int] = []
            for line in proc.stdout:
                if b'"type":"subscribed"' not in line:
                    arrivals.append(time.monotonic_ns())
            reap(proc)
            server.expect("done")
            sent = [int(x) for x in times.read_text().split()]
            lat = sorted((a - s) / 1e3 for a, s in zip(arrivals, sent, strict=False))
            runs[name].append((lat[len(lat) // 2], lat[int(len(lat) * 0.99)]))
            print(f"  round {r + 1}: latency {name}: p50 {runs[name][-1][0]:,.0f} µs", file=sys.stderr)
    return {
        name: {
            "p50": statistics.median(p for p, _ in got),
            "p99": statistics.median(q for _, q in got),
            "n": frames,
        }
        for name, got in runs.items()
    }


def section(frames: int, rounds: int, measured: list[Case], lat: dict[str, dict[str, float]], lat_rounds: int) -> str:
    med = {c.name: (statistics.median(c.fps), statistics.median(c.cpu)) for c in measured}
    ws_floor = med["websockets pass-through (floor)"][0]
    pico_floor = med.get("picows bare pass-through (floor)", (0.0, 0.0))[0]
    valid_floor = med.get(VALIDATING, (0.0, 0.0))[0]
    orjson_client = med["websockets + orjson NDJSON, book feed"][0]
    names = transports_here()

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "n/a"

    lines = [
        f"\n## Transports side by side: websockets and picows ({frames:,} frames of the mixed feed per run, "
        f"a third of that for the book, the terminal and fills; median of {rounds} alternating rounds)\n\n",
        "| run | frames/s | vs websockets floor | vs picows floor | vs validating floor | CPU s / 1M frames |\n",
        "| --- | ---: | ---: | ---: | ---: | ---: |\n",
    ]
    for c in measured:
        fps, cpu = med[c.name]
        lines.append(
            f"| {c.name} | {fps:,.0f} | {ratio(fps, ws_floor)} | {ratio(fps, pico_floor)} "
            f"| {ratio(fps, valid_floor)} | {cpu:.2f} |\n"
        )
    lines.append("\n| target (issue 17) | measured | met |\n| --- | ---: | --- |\n")

    def target(label: str, value: float, floor: float) -> None:
        lines.append(f"| {label} | {value:.2f}x | {'yes' if value >= floor else 'no'} |\n")

    if "picows" in names:
        tail_p = med["tail --json [picows]"][0]
        target("picows: tail --json >= 2.5x the websockets floor", tail_p / ws_floor, 2.5)
        target("picows: tail --json >= 0.8x picows' bare loop", tail_p / pico_floor, 0.8)
        target(
            "picows: book --json --depth 10 >= 1.2x websockets + orjson",
            med["book --json --depth 10 [picows]"][0] / orjson_client,
            1.2,
        )
        then = med.get(GZIP_THEN, med["record --gzip [websockets]"])[0]
        target(
            f"picows: record --gzip >= 1.5x record --gzip over websockets at {GZIP_BEFORE}",
            med["record --gzip [picows]"][0] / then,
            1.5,
        )
    target("websockets: tail --json >= 0.95x its floor", med["tail --json [websockets]"][0] / ws_floor, 0.95)
    floor = lat["bare socket (floor)"]
    for t in names:
        p99 = lat[f"tail --json [{t}]"]["p99"] / floor["p99"]
        lines.append(
            f"| {t}: p99 at 1k frames/s within 2x the bare socket's | {p99:.2f}x | {'yes' if p99 <= 2 else 'no'} |\n"
        )
    lines.append(
        f"\n### Latency at 1,000 frames/s (frame sent -> line read from the client's stdout pipe; medians of "
        f"{lat_rounds} alternating rounds)\n\n"
        "| client | p50 µs | p99 µs | p99 vs floor | frames |\n| --- | ---: | ---: | ---: | ---: |\n"
    )
    for name, v in lat.items():
        lines.append(f"| {name} | {v['p50']:,.0f} | {v['p99']:,.0f} | {v['p99'] / floor['p99']:.2f}x | {v['n']:,} |\n")
    lines.append(layers())
    return "".join(lines)
