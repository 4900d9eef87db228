"""Benchmarks for kalshi-cli: ``python benchmarks/run.py [--quick]`` (never part of the test suite).

Runs, in one go, against a loopback load server in its own process (``loadserver.py``):
  * throughput, side by side and alternating, median of ``--rounds``: ``kalshi tail --json >
    /dev/null``, ``kalshi tail --json | cat > /dev/null``, a seed-style client (websockets +
    json.loads + print), the websockets pass-through floor, and websocat when installed;
    plus a delivery check per client (every frame delivered once, in order);
  * the order book: deltas applied per second by ``kalshi_cli.book`` alone, ``kalshi book
    --json`` frames/s end to end, and the live view's CPU share and lag at 50k frames/s;
  * both transports side by side (``transport_section.py``): the floors, every feed's rate and
    CPU per million frames per transport, and latency at 1k frames/s against a bare socket;
  * startup (``kalshi --help``, ``kalshi sign``) against the floors under them (python, typer,
    cryptography) in the same run, and RSS over a long run.
Writes a markdown report to stdout and ``benchmarks/RESULTS.md``. ``--only book`` runs just the
order book section (with the floor its ratios refer to) and prints it, writing nothing;
``--only transport`` the transports section.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from feed import Encoder, build_cycle, snapshot_frames, tickers  # noqa: E402

PY = sys.executable
KALSHI = [PY, "-m", "kalshi_cli"]
TICK = os.sysconf("SC_CLK_TCK")
MARKETS = 20


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI") and k != "PYTHONUNBUFFERED"}
    e["PYTHONPATH"] = str(ROOT)
    return e


def proc_cpu(pid: int) -> float:
    """utime + stime of a live process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return 0.0


def proc_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reap(proc: subprocess.Popen) -> tuple[int, float, int]:
    """Wait for ``proc``: (status, CPU seconds, peak RSS KiB)."""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


class LoadServer:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PY, str(HERE / "loadserver.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env(),
        )
        first = self.proc.stdout.readline().split()
        self.port = int(first[1])
        self.url = f"ws://127.0.0.1:{self.port}/trade-api/ws/v2"
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.strip())
                self.cond.notify_all()

    def expect(self, prefix: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, line in enumerate(self.lines):
                    if line.startswith(prefix):
                        return self.lines.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"load server never said {prefix!r}")
                self.cond.wait(left)

    def job(self, **kw: object) -> None:
        self.proc.stdin.write("job " + " ".join(f"{k}={v}" for k, v in kw.items()) + "\n")
        self.proc.stdin.flush()
        self.expect("ready")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
        with contextlib.suppress(Exception):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()


def parse_done(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[1:])


# --- keys ---------------------------------------------------------------------------------------


def make_key(tmp: Path) -> list[str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp / "bench.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    return ["--key-id", "a952bcbe-ec3b-4b5b-b8f9-11dae589608c", "--private-key", str(path)]


# --- throughput -----------------------------------------------------------------------------------


@dataclass
class Sample:
    fps: float
    cpu_per_m: float
    rss_mb: float
    server_cpu: float


@dataclass
class ClientSpec:
    name: str
    argv: list[str]
    pipe_to_cat: bool = False
    extra_lines: int = 0  # lines a client prints besides data frames (e.g. "subscribed" replies)
    ndjson: bool = True
    samples: list[Sample] = field(default_factory=list)
    delivered: str = ""


def tail_argv(server: LoadServer, key: list[str], total: int, transport: str = "auto") -> list[str]:
    ms = sum((["-m", t] for t in tickers(MARKETS)), [])
    return [
        *KALSHI,
        "tail",
        "orderbook_delta",
        "ticker",
        "trade",
        *ms,
        "--json",
        "--count",
        str(total),
        "-q",
        "--url",
        server.url,
        *key,
        "--transport",
        transport,
    ]


def clients(server: LoadServer, key: list[str], total: int) -> list[ClientSpec]:
    names = tickers(MARKETS)
    from transport_section import transports_here

    specs = []
    for t in transports_here():
        specs.append(ClientSpec(f"kalshi tail --json > /dev/null [{t}]", tail_argv(server, key, total, t)))
    specs.append(
        ClientSpec("kalshi tail --json | cat > /dev/null [auto]", tail_argv(server, key, total), pipe_to_cat=True)
    )
    specs += [
        ClientSpec(
            "seed-style (websockets + json.loads + print)",
            [PY, str(HERE / "clients.py"), "seed", server.url, *names],
            extra_lines=3,
            ndjson=False,
        ),
        ClientSpec(
            "websockets pass-through (floor)",
            [PY, str(HERE / "clients.py"), "floor", server.url, *names],
            extra_lines=3,
        ),
    ]
    if "picows" in transports_here():
        specs.append(
            ClientSpec(
                "picows bare pass-through (floor)",
                [PY, str(HERE / "clients.py"), "picows", server.url, *names],
                extra_lines=3,
            )
        )
    websocat = shutil.which("websocat")
    if websocat:
        sub = orjson.dumps(
            {
                "id": 1,
                "cmd": "subscribe",
                "params": {"channels": ["orderbook_delta", "ticker", "trade"], "market_tickers": names},
            }
        ).decode()
        specs.append(
            ClientSpec("websocat", ["sh", "-c", f"echo '{sub}' | {websocat} -n -t {server.url}"], extra_lines=3)
        )
    return specs


def run_client(server: LoadServer, spec: ClientSpec, frames: int, stdout: object) -> tuple[Sample, int]:
    server.job(frames=frames, channels="orderbook_delta,ticker,trade", markets=MARKETS)
    proc = subprocess.Popen(
        spec.argv, stdout=subprocess.PIPE if spec.pipe_to_cat else stdout, stderr=subprocess.PIPE, env=env()
    )
    cat = None
    if spec.pipe_to_cat:
        cat = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=stdout)
        proc.stdout.close()
    err_chunks: list[bytes] = []
    threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True).start()
    server.expect("start")
    cpu_start = proc_cpu(proc.pid)
    status, cpu, rss = reap(proc)
    if cat is not None:
        reap(cat)
    end = time.monotonic_ns()
    done = parse_done(server.expect("done"))
    if status != 0:
        time.sleep(0.1)
        raise RuntimeError(f"{spec.name} exited {status}: {b''.join(err_chunks)[-500:]!r}")
    seconds = (end - int(done["start_ns"])) / 1e9
    sample = Sample(frames / seconds, (cpu - cpu_start) / frames * 1e6, rss / 1024, float(done["cpu"]) / seconds)
    return sample, status


def check_delivery(server: LoadServer, spec: ClientSpec, frames: int, tmp: Path) -> str:
    out = tmp / "delivery.out"
    with out.open("wb") as fh:
        run_client(server, spec, frames, fh)
    data = out.read_bytes()
    lines = data.split(b"\n")[:-1] if data else []
    expected = frames + spec.extra_lines
    verdict = f"{len(lines):,}/{expected:,} lines"
    if spec.ndjson and len(lines) == expected:
        last: dict[int, int] = {}
        for line in lines:
            obj = orjson.loads(line)
            seq = obj.get("seq")
            if seq is not None:
                if last.get(obj["sid"], 0) + 1 != seq:
                    return verdict + ", SEQ BROKEN"
                last[obj["sid"]] = seq
        verdict += ", seq dense, no repeats"
    out.unlink()
    return verdict


def throughput(
    server: LoadServer, key: list[str], frames: int, rounds: int, verify_frames: int, tmp: Path
) -> list[ClientSpec]:
    specs = clients(server, key, frames)
    with open(os.devnull, "wb") as devnull:
        for r in range(rounds):
            order = specs[r % len(specs) :] + specs[: r % len(specs)]
            for spec in order:
                sample, _ = run_client(server, spec, frames, devnull)
                spec.samples.append(sample)
                print(f"  round {r + 1}: {spec.name}: {sample.fps:,.0f} frames/s", file=sys.stderr)
    verify = clients(server, key, verify_frames)
    for spec, vspec in zip(specs, verify, strict=True):
        spec.delivered = check_delivery(server, vspec, verify_frames, tmp)
    return specs


# --- the order book -------------------------------------------------------------------------------


def book_frames(cycles: int) -> tuple[list[bytes], list[bytes]]:
    templates, advance = build_cycle({"orderbook_delta"}, MARKETS)
    snaps = snapshot_frames(MARKETS)
    enc = Encoder(templates, advance, seq_start={"seq1": len(snaps) + 1})
    raws: list[bytes] = []
    for _ in range(cycles):
        data, _ = enc.next_block()
        raws += enc.frames(data)
    return snaps, raws


def book_module(rounds: int, deltas: int) -> dict[str, float]:
    from kalshi_cli.book import OrderBook
    from kalshi_cli.bookset import BookSet
    from kalshi_cli.encoders import book_json_bytes

    snaps, raws = book_frames(max(1, deltas // 1400))
    snap_objs = [orjson.loads(s) for s in snaps]
    objs = [orjson.loads(r) for r in raws]
    msgs = [(o["msg"]["market_ticker"], o["msg"]) for o in objs]
    results: dict[str, list[float]] = {"apply": [], "frame": [], "line": []}
    for _ in range(rounds):
        books = {}
        for s in snap_objs:
            b = books[s["msg"]["market_ticker"]] = OrderBook(s["msg"]["market_ticker"])
            b.apply_snapshot(s["msg"])
        t = time.perf_counter()
        for ticker, msg in msgs:
            books[ticker].apply_delta(msg)
        results["apply"].append(len(msgs) / (time.perf_counter() - t))
        assert all(b.is_live for b in books.values())

        bs = BookSet()
        for s in snaps:
            bs.apply(orjson.loads(s))
        loads, apply = orjson.loads, bs.apply
        t = time.perf_counter()
        for raw in raws:
            apply(loads(raw))
        results["frame"].append(len(raws) / (time.perf_counter() - t))
        assert all(b.is_live for b in bs.books.values())

        bs = BookSet()
        for s in snaps:
            bs.apply(orjson.loads(s))
        apply = bs.apply
        t = time.perf_counter()
        for raw in raws:
            book_json_bytes(apply(loads(raw)), None, 0)  # what `kalshi book --json --every` writes per frame
        results["line"].append(len(raws) / (time.perf_counter() - t))
    return {k: statistics.median(v) for k, v in results.items()}


def book_json_e2e(server: LoadServer, key: list[str], frames: int, rounds: int, tmp: Path) -> dict[str, dict]:
    """``kalshi book --json`` (a line per changed market per burst) and ``--every`` (a line per frame).

    Alternating rounds; then one checked run of each on the same feed: ``--every`` must print one
    line per frame, and both must end with the same book for every market.
    """
    names = tickers(MARKETS)
    modes = {"default": [], "--every": ["--every"]}
    stats: dict[str, dict] = {m: {"fps": [], "cpu_per_m": [], "rss": [], "lines": []} for m in modes}
    final: dict[str, dict[str, bytes]] = {}
    for r in range(rounds + 1):
        verify = r == rounds
        n = min(frames, 200_000) if verify else frames
        for mode, extra in modes.items() if r % 2 == 0 else reversed(modes.items()):
            argv = [*KALSHI, "book", *names, "--json", *extra, "--url", server.url, *key]
            server.job(frames=n, channels="orderbook_delta", markets=MARKETS)
            out = tmp / "book.out"
            with out.open("wb") as fh:
                proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.PIPE, env=env())
                server.expect("start")
                cpu0 = proc_cpu(proc.pid)
                while True:
                    line = proc.stderr.readline()
                    if not line or b"reconnecting in" in line:
                        break
                end = time.monotonic_ns()
                cpu1 = proc_cpu(proc.pid)
                rss = proc_rss_kb(proc.pid) / 1024
                proc.send_signal(signal.SIGTERM)
                threading.Thread(target=proc.stderr.read, daemon=True).start()
                reap(proc)
            done = parse_done(server.expect("done"))
            data = out.read_bytes()
            out.unlink()
            if verify:
                last = {}
                for raw in data.splitlines():
                    obj = orjson.loads(raw)
                    obj.pop("ts_ms", None)
                    last[obj["market_ticker"]] = orjson.dumps(obj)
                final[mode] = last
                lines = data.count(b"\n")
                stats[mode]["check"] = f"{lines:,} lines for {n:,} frames; other commands sent: {done['other_cmds']}"
                continue
            seconds = (end - int(done["start_ns"])) / 1e9
            st = stats[mode]
            st["fps"].append(n / seconds)
            st["cpu_per_m"].append((cpu1 - cpu0) / n * 1e6)
            st["rss"].append(rss)
            st["lines"].append(data.count(b"\n") / n)
            print(f"  round {r + 1}: kalshi book --json {mode}: {n / seconds:,.0f} frames/s", file=sys.stderr)
    same = final["default"] == final["--every"] and len(final["default"]) == len(names)
    result: dict[str, dict] = {}
    for mode, st in stats.items():
        result[mode] = {
            "fps": statistics.median(st["fps"]),
            "cpu_per_m": statistics.median(st["cpu_per_m"]),
            "rss": max(st["rss"]),
            "lines_per_frame": statistics.median(st["lines"]),
            "check": st["check"],
        }
    result["default"]["check"] += ", final books equal --every's" if same else ", FINAL BOOKS DIFFER"
    return result


def book_section(args: argparse.Namespace, book: dict, book_e2e: dict, view: dict, floor: float) -> str:
    out = io.StringIO()
    w = out.write
    w("\n## Order book\n\n| measure | result |\n| --- | ---: |\n")
    w(
        f"| `OrderBook.apply_delta`, pre-parsed msgs (20 markets, ~15-30 levels a side) | "
        f"{book['apply']:,.0f} deltas/s |\n"
    )
    w(f"| `BookSet.apply(orjson.loads(frame))` | {book['frame']:,.0f} deltas/s |\n")
    w(
        f"| parse + apply + `book_json_bytes` (all levels; the line `--every` writes per frame) | "
        f"{book['line']:,.0f} lines/s |\n"
    )
    for mode, st in book_e2e.items():
        label = "kalshi book --json" + (" --every" if mode == "--every" else "")
        w(
            f"| `{label}`, end to end, {args.frames // 3:,} frames (median of {args.rounds}) | "
            f"{st['fps']:,.0f} frames/s = {st['fps'] / floor:.2f}x the floor, "
            f"{st['lines_per_frame']:.3f} lines per frame "
            f"({st['cpu_per_m']:.2f} CPU s / 1M, {st['rss']:.0f} MB RSS) |\n"
        )
        w(f"| `{label}` check | {st['check']} |\n")
    for fps, v in sorted(view.items()):
        label = f"live view, {fps} redraws/s" + (" (the default)" if fps == 12 else "")
        w(
            f"| {label}, {v['rate']:,.0f} frames/s applied (3 markets, 120x40): CPU of redraws; redraws/s; "
            f"interval p50 / max | {v['view_cpu']:.1%} of a core; {v['redraws']:.1f}/s; {v['gap_p50_ms']:.0f} / "
            f"{v['gap_max_ms']:.0f} ms |\n"
        )
        w(
            f"| {label}: lag, frame applied -> on screen (oldest frame of each redraw) p50 / p99 / max | "
            f"{v['lag_p50_ms']:.0f} / {v['lag_p99_ms']:.0f} / {v['lag_max_ms']:.0f} ms |\n"
        )
    w(f"| live view: CPU of applying the frames themselves (not drawing) | {view[12]['feed_cpu']:.1%} of a core |\n")
    return out.getvalue()


@contextlib.contextmanager
def load_server_and_key() -> Iterator[tuple[LoadServer, list[str], Path]]:
    """The load server process, a signing key for the CLI and a scratch dir; all gone afterwards."""
    server = LoadServer()
    try:
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            yield server, make_key(tmp), tmp
    finally:
        server.stop()


def book_sections(args: argparse.Namespace, server: LoadServer, key: list[str], tmp: Path) -> tuple[dict, dict, dict]:
    """The order book module, ``kalshi book --json`` end to end, and the live view."""
    print("book...", file=sys.stderr)
    book = book_module(args.rounds, 200_000)
    # kalshi book --json is far slower than tail (see RESULTS.md): a third of the frames keeps the run short
    book_e2e = book_json_e2e(server, key, args.frames // 3, args.rounds, tmp)
    view = {fps: live_view(3.0 if args.quick else 6.0, 50_000, fps) for fps in (10, 12)}
    return book, book_e2e, view


def book_only(args: argparse.Namespace) -> None:
    """``--only book``: the order book section alone, printed (RESULTS.md is left as it is).

    The websockets pass-through floor its ratios refer to is measured first, in the same run.
    """
    began = time.monotonic()
    with load_server_and_key() as (server, key, tmp):
        print("floor...", file=sys.stderr)
        floor = next(spec for spec in clients(server, key, args.frames) if spec.name.startswith("websockets pass"))
        with open(os.devnull, "wb") as devnull:
            for r in range(args.rounds):
                sample, _ = run_client(server, floor, args.frames, devnull)
                floor.samples.append(sample)
                print(f"  round {r + 1}: {floor.name}: {sample.fps:,.0f} frames/s", file=sys.stderr)
        book, book_e2e, view = book_sections(args, server, key, tmp)
    floor_fps = statistics.median(s.fps for s in floor.samples)
    print(
        f"# Benchmark results: the order book\n\n`python benchmarks/run.py --only book"
        f"{' --quick' if args.quick else ''}` on {machine()}; {time.strftime('%Y-%m-%d')}; took "
        f"{(time.monotonic() - began) / 60:.1f} min. The floor (websockets pass-through, {args.frames:,} frames "
        f"of the mixed feed, median of {args.rounds}): {floor_fps:,.0f} frames/s."
    )
    print(book_section(args, book, book_e2e, view, floor_fps))


def transport_sections(args: argparse.Namespace, server: LoadServer, key: list[str], tmp: Path) -> str:
    """Both transports side by side: every feed's rate and CPU, the floors, latency (transport_section.py)."""
    import transport_section

    frames = args.frames // 3
    rounds = 3 if args.quick else args.rounds
    print("transports...", file=sys.stderr)
    measured = transport_section.throughput(server, key, frames, rounds, tmp, env)
    print("latency...", file=sys.stderr)
    # p99 of 2,000 frames is the 20th worst: 5 rounds at least, or one busy moment on the box decides it
    lat = transport_section.latency(server, key, 2000 if args.quick else 5000, max(rounds, 5), tmp, env)
    return transport_section.section(frames, rounds, measured, lat, max(rounds, 5))


def transport_only(args: argparse.Namespace) -> None:
    """``--only transport``: the transports section alone, printed (RESULTS.md is left as it is)."""
    began = time.monotonic()
    with load_server_and_key() as (server, key, tmp):
        text = transport_sections(args, server, key, tmp)
    print(
        f"# Benchmark results: the transports\n\n`python benchmarks/run.py --only transport"
        f"{' --quick' if args.quick else ''}` on {machine()}; {time.strftime('%Y-%m-%d')}; took "
        f"{(time.monotonic() - began) / 60:.1f} min.\n{text}"
    )


def live_view(seconds: float, rate: int, fps: float = 10.0) -> dict[str, float]:
    """The view in-process (Console to /dev/null, 120x40) while frames are applied at ``rate``."""
    from rich.console import Console

    from kalshi_cli.feeds.book import BookHandler
    from kalshi_cli.render.live import BookLiveView
    from kalshi_cli.session import SessionState, Subscription

    cycles = int(rate * seconds / 2000) + 2
    templates, advance = build_cycle({"orderbook_delta", "ticker", "trade"}, MARKETS)
    snaps = snapshot_frames(MARKETS)
    enc = Encoder(templates, advance, seq_start={"seq1": len(snaps) + 1})
    raws = list(snaps)
    for _ in range(cycles):
        data, _ = enc.next_block()
        raws += enc.frames(data)
    from kalshi_cli.protocol import read_head

    heads = [(raw, read_head(raw)) for raw in raws]
    shown = names = tickers(MARKETS)[:3]
    subs = {
        1: Subscription("orderbook_delta", {"market_tickers": names}, sid=1),
        2: Subscription("ticker", {}, sid=2),
        3: Subscription("trade", {}, sid=3),
    }

    class FakeSession:
        state = SessionState.STREAMING
        reporter = None

    async def main() -> dict[str, float]:
        handler = BookHandler(names, depth=10, once=False)
        handler.session = FakeSession()  # type: ignore[assignment]
        handler.on_subscribed(subs[1])
        devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230
        console = Console(file=devnull, width=120, height=40, force_terminal=True, color_system="truecolor")
        view = BookLiveView(handler, shown, console=console, fps=fps)
        draw_cpu = [0.0]
        draws: list[float] = []

        draw = view.draw

        pending_since: list[float | None] = [None]  # when the oldest frame not yet on screen was applied
        lags: list[float] = []

        def timed_draw() -> None:  # the view's own redraw beat; each draw (build + rich refresh) timed
            t0 = time.thread_time()
            draw()
            draw_cpu[0] += time.thread_time() - t0
            now = time.monotonic()
            draws.append(now)
            if pending_since[0] is not None:
                lags.append(now - pending_since[0])
                pending_since[0] = None

        view.draw = timed_draw  # type: ignore[method-assign]
        feed_cpu = [0.0]
        async with view:
            start = time.monotonic()
            i = 0
            tick = 0.01
            per_tick = int(rate * tick)
            on_data = handler.on_data
            while time.monotonic() - start < seconds and i < len(heads):
                t0 = time.thread_time()
                for raw, head in heads[i : i + per_tick]:
                    on_data(raw, head, subs[head.sid])
                if pending_since[0] is None:
                    pending_since[0] = time.monotonic()
                feed_cpu[0] += time.thread_time() - t0
                i += per_tick
                due = start + (i / per_tick) * tick
                await asyncio.sleep(max(0.0, due - time.monotonic()))
            wall = time.monotonic() - start
        gaps = [b - a for a, b in zip(draws, draws[1:], strict=False)]
        return {
            "view_cpu": draw_cpu[0] / wall,
            "feed_cpu": feed_cpu[0] / wall,
            "rate": i / wall,
            "redraws": len(draws) / wall,
            "gap_p50_ms": statistics.median(gaps) * 1000,
            "gap_max_ms": max(gaps) * 1000,
            "lag_p50_ms": statistics.median(lags) * 1000,
            "lag_p99_ms": statistics.quantiles(lags, n=100, method="inclusive")[98] * 1000,
            "lag_max_ms": max(lags) * 1000,
        }

    return asyncio.run(main())


# --- startup and memory ---------------------------------------------------------------------------


CRYPTO = "import typer, cryptography.hazmat.primitives.asymmetric.rsa, cryptography.hazmat.primitives.serialization"


def startup(key: list[str], runs: int) -> dict:
    """Median wall ms of ``kalshi --help``, ``kalshi sign`` and the floors under them.

    The floor is python plus what a command cannot avoid importing: typer for ``--help``, typer and
    cryptography for ``sign`` (which also loads the key: its own row). Each case runs in two modes:
    with bytecode cached in a private PYTHONPYCACHEPREFIX (what an installed package has), and as this
    checkout runs under PYTHONDONTWRITEBYTECODE=1 (an editable install with no __pycache__: kalshi_cli
    is compiled from source on every run, its dependencies are not). Every case and mode runs once per
    round, so a noisy moment on the box hits them alike; the first round fills the cache, uncounted.
    """
    kalshi = shutil.which("kalshi", path=str(Path(PY).parent)) or "kalshi"
    pem = key[key.index("--private-key") + 1]
    load_key = f"; cryptography.hazmat.primitives.serialization.load_pem_private_key(open({pem!r}, 'rb').read(), None)"
    cases = {
        "python -c pass": [PY, "-c", "pass"],
        "import typer": [PY, "-c", "import typer"],
        "import typer + cryptography": [PY, "-c", CRYPTO],
        "import typer + cryptography, load the key": [PY, "-c", CRYPTO + load_key],
        "kalshi --help": [kalshi, "--help"],
        "kalshi sign": [kalshi, "sign", *key],
    }
    with tempfile.TemporaryDirectory() as cache:
        envs = {}
        for mode, extra in {"pyc": {"PYTHONPYCACHEPREFIX": cache}, "source": {"PYTHONDONTWRITEBYTECODE": "1"}}.items():
            envs[mode] = {k: v for k, v in env().items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
            envs[mode].update(extra)
        walls: dict[tuple[str, str], list[float]] = {(mode, name): [] for mode in envs for name in cases}
        for i in range(runs + 1):
            for mode, name in walls:
                t = time.perf_counter()
                subprocess.run(
                    cases[name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=envs[mode], check=True
                )
                if i:
                    walls[mode, name].append(time.perf_counter() - t)
    res: dict = {"runs": runs, **{mode: {} for mode in envs}}
    for (mode, name), w in walls.items():
        res[mode][name] = statistics.median(w) * 1000
    return res


def startup_table(start: dict) -> str:
    floors = {"kalshi --help": "import typer", "kalshi sign": "import typer + cryptography"}
    labels = {
        "python -c pass": "`python -c pass`",
        "import typer": '`python -c "import typer"` (floor of --help)',
        "import typer + cryptography": f'`python -c "{CRYPTO}"` (floor of sign)',
        "import typer + cryptography, load the key": "the same + `load_pem_private_key` of the key sign uses",
        "kalshi --help": "`kalshi --help`",
        "kalshi sign": "`kalshi sign` (the three headers)",
    }

    def over(mode: str, name: str) -> str:
        if name not in floors:
            return ""
        ms, floor = start[mode][name], start[mode][floors[name]]
        return f"{ms - floor:+.0f} ms ({ms / floor:.2f}x)"

    out = [
        f"\n## Startup (median wall ms of {start['runs']} interleaved runs; floor = python + the imports "
        "a command cannot avoid)\n\n",
        "| command | bytecode cached (installed) | over floor | no bytecode for kalshi_cli (this checkout) "
        "| over floor |\n| --- | ---: | ---: | ---: | ---: |\n",
    ]
    for name, label in labels.items():
        out.append(
            f"| {label} | {start['pyc'][name]:.0f} | {over('pyc', name)} | {start['source'][name]:.0f} "
            f"| {over('source', name)} |\n"
        )
    return "".join(out)


def memory(server: LoadServer, key: list[str], frames: int) -> dict[str, float]:
    server.job(frames=frames, channels="orderbook_delta,ticker,trade", markets=MARKETS)
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(tail_argv(server, key, frames), stdout=devnull, stderr=subprocess.DEVNULL, env=env())
        server.expect("start")
        start = time.monotonic()
        samples: list[tuple[float, int]] = []
        while proc.poll() is None:
            rss = proc_rss_kb(proc.pid)
            if rss:
                samples.append((time.monotonic() - start, rss))
            time.sleep(0.25)
    done = parse_done(server.expect("done"))
    seconds = (int(done["end_ns"]) - int(done["start_ns"])) / 1e9
    rss = [kb for _, kb in samples]
    tenth = max(1, len(rss) // 10)
    return {
        "frames": frames,
        "seconds": seconds,
        "early_mb": statistics.median(rss[:tenth]) / 1024,
        "late_mb": statistics.median(rss[-tenth:]) / 1024,
        "max_mb": max(rss) / 1024,
    }


# --- report -------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import websockets

    try:
        from picows.version import __version__ as picows_version
    except ImportError:
        picows_version = "not installed"
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, Python {platform.python_version()}, "
        f"websockets {websockets.__version__}, picows {picows_version}, orjson {orjson.__version__}"
    )


def report(
    args: argparse.Namespace,
    specs: list[ClientSpec],
    book: dict,
    book_e2e: dict,
    view: dict,
    transport_text: str,
    start: dict,
    mem: dict,
    elapsed: float,
) -> str:
    med = {
        s.name: Sample(
            *(statistics.median(getattr(x, f) for x in s.samples) for f in ("fps", "cpu_per_m", "rss_mb", "server_cpu"))
        )
        for s in specs
    }
    seed = next(v.fps for k, v in med.items() if k.startswith("seed"))
    floor = next(v.fps for k, v in med.items() if k.startswith("websockets pass-through"))
    out = io.StringIO()
    w = out.write
    w(
        f"# Benchmark results\n\n`python benchmarks/run.py{' --quick' if args.quick else ''}` on {machine()}; "
        f"{time.strftime('%Y-%m-%d')}; took {elapsed / 60:.1f} min.\n\n"
    )
    w(
        f"## Throughput: {args.frames:,} frames per run (70% orderbook_delta, 20% ticker, 10% trade, ~350 B; "
        f"loopback, no compression), median of {args.rounds} alternating rounds\n\n"
    )
    w("| client | frames/s | vs seed | vs floor | CPU s / 1M frames | peak RSS MB | load server CPU | delivered |\n")
    w("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
    for s in specs:
        m = med[s.name]
        w(
            f"| {s.name} | {m.fps:,.0f} | {m.fps / seed:.2f}x | {m.fps / floor:.2f}x | {m.cpu_per_m:.2f} | "
            f"{m.rss_mb:.0f} | {m.server_cpu:.0%} | {s.delivered} |\n"
        )
    if not shutil.which("websocat"):
        w("\nwebsocat: not installed, skipped.\n")
    w(book_section(args, book, book_e2e, view, floor))
    w(transport_text)
    w(startup_table(start))
    w(f"\n## Memory: `kalshi tail --json > /dev/null` over {mem['frames']:,} frames ({mem['seconds']:.0f} s)\n\n")
    w("| RSS first 10% | RSS last 10% | RSS max |\n| ---: | ---: | ---: |\n")
    w(f"| {mem['early_mb']:.1f} MB | {mem['late_mb']:.1f} MB | {mem['max_mb']:.1f} MB |\n")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fewer frames and rounds (about 3 minutes).")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--frames", type=int, default=None)
    parser.add_argument("--no-write", action="store_true", help="Do not write benchmarks/RESULTS.md.")
    parser.add_argument(
        "--only", choices=["book", "transport"], help="Run just this section and print it (writes nothing)."
    )
    args = parser.parse_args()
    args.rounds = args.rounds or 5
    args.frames = args.frames or (300_000 if args.quick else 1_000_000)
    if args.only == "book":
        book_only(args)
        return
    if args.only == "transport":
        transport_only(args)
        return
    mem_frames = 2_000_000 if args.quick else 10_000_000
    began = time.monotonic()
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    with load_server_and_key() as (server, key, tmp):
        print("throughput...", file=sys.stderr)
        specs = throughput(server, key, args.frames, args.rounds, min(args.frames, 200_000), tmp)
        book, book_e2e, view = book_sections(args, server, key, tmp)
        transport_text = transport_sections(args, server, key, tmp)
        print("startup...", file=sys.stderr)
        start = startup(key, 11 if args.quick else 15)  # 12 cases a round: medians of 7 were too noisy
        print("memory...", file=sys.stderr)
        mem = memory(server, key, mem_frames)
    text = report(args, specs, book, book_e2e, view, transport_text, start, mem, time.monotonic() - began)
    print(text)
    if not args.no_write:
        (HERE / "RESULTS.md").write_text(text)


if __name__ == "__main__":
    main()
