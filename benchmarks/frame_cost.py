"""The per-frame cost of ``tail --json`` and ``record --gzip`` (issue 17), standalone and short.

``python benchmarks/frame_cost.py [--frames N] [--rounds R] [--only tail|record] [--against REV]``
runs, against the load server, the floors (websockets' pass-through loop, picows' bare loop, and a *validating*
picows floor: picows + ``orjson.loads`` of every frame + a check that it is an object + a buffered
write, the least a client that validates each frame can do), then ``tail --json`` and ``record``
plain and ``--gzip`` for each transport installed; medians of alternating rounds, ratios against
the floors and against websockets' ``record --gzip`` at ``transport_section.GZIP_BEFORE`` (the
recorder before its compression worker), all in the same run. With ``--against
REV`` the ``record --gzip`` and ``tail --json`` runs are also made with the ``kalshi_cli`` of that git
revision (``git archive``), in the same rounds: "today's rate" measured under the same load.

``--why`` adds what the gap to picows' bare loop is made of: ``kalshi_cli``'s picows connection
alone (``picowsconn`` + ``recv_batch`` + a buffered write, no client: ``frame_cost.py conn``),
``tail --json`` with ``gc.freeze()`` once done (the interpreter's teardown, which the rate
includes, then skips its collections), and an in-process breakdown of the client's share per frame
(head read, lane, sink, trade backfill; no sockets).

``python benchmarks/frame_cost.py client URL TICKER...`` is the validating floor itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

PY = sys.executable
VALIDATING = "picows + orjson.loads + write (validating floor)"


async def validating_floor(url: str, tickers: list[str]) -> None:
    """picows, every frame parsed by orjson and checked to be an object, written through a 64 KiB buffer."""
    import orjson
    from clients import subscribe
    from picows import WSListener, WSMsgType, ws_connect

    out = open(sys.stdout.fileno(), "wb", buffering=65536, closefd=False)  # noqa: SIM115, ASYNC230
    write, loads = out.write, orjson.loads
    text, close = WSMsgType.TEXT, WSMsgType.CLOSE

    class Validating(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport) -> None:  # type: ignore[no-untyped-def]
            transport.send(text, subscribe(tickers).encode())

        def on_ws_frame(self, transport, frame) -> None:  # type: ignore[no-untyped-def]
            if frame.msg_type is text:
                raw = frame.get_payload_as_bytes()
                if type(loads(raw)) is not dict:
                    raise ValueError("not an object")
                write(raw)
                write(b"\n")
            elif frame.msg_type is close:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    transport, _ = await ws_connect(Validating, url)
    await transport.wait_disconnected()
    out.flush()


async def conn_floor(url: str, tickers: list[str]) -> None:
    """kalshi_cli's picows connection alone: its listener and ``recv_batch``, each frame written."""
    from clients import subscribe

    from kalshi_cli.picowsconn import connect
    from kalshi_cli.transport import TransportClosed

    out = open(sys.stdout.fileno(), "wb", buffering=65536, closefd=False)  # noqa: SIM115, ASYNC230
    write = out.write
    opened = connect(url, headers={}, user_agent="bench", max_size=2**26, open_timeout=10, close_timeout=2)
    async with opened as conn:
        await conn.send(subscribe(tickers).encode())
        try:
            while True:
                for raw in await conn.recv_batch():
                    write(raw)
                    write(b"\n")
        except TransportClosed:
            pass
    out.flush()


#: ``kalshi`` as the console script runs it, plus ``gc.freeze()`` once the command is done: the
#: interpreter's teardown then skips its collections over every object the imports made (what a
#: one-line change to ``entry.main`` would save each command).
NO_TEARDOWN = (
    "import gc\n"
    "from kalshi_cli.startup import hold_signals\n"
    "hold_signals()\n"
    "from kalshi_cli.cli import main\n"
    "try:\n    main()\n"
    "finally:\n    gc.freeze()\n"
)


WHY = (", gc.freeze() at exit", "kalshi_cli picows connection alone")  # the rows' names end so


def why_cases(everything: list, names: list[str], url: str) -> list:  # type: ignore[type-arg]
    """The rows that split the gap between ``tail --json [picows]`` and picows' bare loop
    (``transport_section.cases`` adds them; ``measure`` keeps them with ``--why``)."""
    import transport_section as ts
    from feed import tickers

    out = []
    if "picows" in names:
        out.append(ts.Case(WHY[1], [PY, str(HERE / "frame_cost.py"), "conn", url, *tickers(20)]))
    for c in everything:
        if c.name.startswith("tail --json [") and c.argv[1:3] == ["-m", "kalshi_cli"]:
            argv = [PY, "-c", NO_TEARDOWN, *c.argv[3:]]
            out.append(ts.Case(c.name + WHY[0], argv, ends=c.ends))
    return out


def layers(frames: int = 20_000, batch: int = 500, rounds: int = 25) -> str:
    """Per frame, in-process (no sockets, a /dev/null sink): what the client adds to the transport."""
    import time

    import orjson
    from feed import Encoder, build_cycle

    from kalshi_cli.client import KalshiClient
    from kalshi_cli.events import Subscription
    from kalshi_cli.fastlane import FastLaneClient
    from kalshi_cli.feeds.tail import TailHandler
    from kalshi_cli.framehead import decode_head
    from kalshi_cli.output import LineWriter
    from kalshi_cli.sinks import NdjsonSink

    templates, advance = build_cycle({"orderbook_delta", "ticker", "trade"}, 20)
    enc = Encoder(templates, advance, seq_start={"seq1": 1, "seq3": 1})
    lines: list[bytes] = []
    while len(lines) < frames:
        data, _ = enc.next_block()
        lines += enc.frames(data)
    lines = lines[:frames]
    batches = [lines[i : i + batch] for i in range(0, len(lines), batch)]
    trades_only = [raw for raw in lines if raw.startswith(b'{"type":"trade"')]

    async def no_trades(markets: list[str], since_ms: int) -> list[dict]:  # type: ignore[type-arg]
        return []

    def started(fast: bool, trades: bool):  # type: ignore[no-untyped-def]
        subs = [
            Subscription("orderbook_delta", {"market_tickers": ["X"]}),
            Subscription("ticker"),
            Subscription("trade"),
        ]
        client = FastLaneClient(subs) if fast else KalshiClient(subs, passthrough=True)
        client.connected()
        sids = {"orderbook_delta": 1, "ticker": 2, "trade": 3}
        for cmd in map(orjson.loads, client.data_to_send()):
            channel = cmd["params"]["channels"][0]
            ack = {"id": cmd["id"], "type": "subscribed", "msg": {"channel": channel, "sid": sids[channel]}}
            list(client.receive([orjson.dumps(ack)]))
        sink = NdjsonSink(LineWriter(open(os.devnull, "wb")))  # noqa: SIM115
        return client, TailHandler(sink, count=10**9 if trades else None, trades=no_trades if trades else None)

    def reference(trades: bool) -> float:
        client, h = started(False, trades)
        pass_on = h.passthrough
        began = time.perf_counter()
        for b in batches:
            for event in client.receive(b):
                pass_on(event)
        return time.perf_counter() - began

    def lane(trades: bool) -> float:
        client, h = started(True, trades)
        pass_on, batch_of, apart = h.passthrough, h.passthrough_batch, h.passthrough_apart
        began = time.perf_counter()
        for b in batches:
            for event in client.receive_passing(b, pass_on, batch_of, apart):
                pass_on(event)
        return time.perf_counter() - began

    def each(fn, over: list[bytes]) -> float:  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        for raw in over:
            fn(raw)
        return time.perf_counter() - began

    def trade_way() -> float:
        _, h = started(True, True)
        return each(h.passthrough, trades_only)

    def sink_batches() -> float:
        _, h = started(True, False)
        write = h.passthrough_batch
        began = time.perf_counter()
        for b in batches:
            write(b)
        return time.perf_counter() - began

    rows = {
        "orjson.loads of the whole frame": (lambda: each(orjson.loads, lines), frames),
        "framehead.decode_head (msgspec: type, sid, seq)": (lambda: each(decode_head, lines), frames),
        "sink: NdjsonSink.frames of each batch (join, newline look, one append)": (sink_batches, frames),
        "a trade frame through the backfill's dedupe (TradeGapFiller.live: tradehead with msgspec, else orjson)": (
            trade_way,
            len(trades_only),
        ),
        "reference path (receive + orjson) + tail's passthrough, no trades": (lambda: reference(False), frames),
        "fast lane + batches to the sink, no trades (tail --json)": (lambda: lane(False), frames),
        "reference path + passthrough, trades and --count": (lambda: reference(True), frames),
        "fast lane + batches, trades and --count (the benchmark's tail --json)": (lambda: lane(True), frames),
    }
    best = {name: min(fn() for _ in range(rounds)) / n * 1e9 for name, (fn, n) in rows.items()}
    out = [
        f"\n### Where the client's time goes, per frame, in-process ({frames:,} frames of the mixed feed in batches "
        f"of {batch}, best of {rounds}; no sockets, a /dev/null sink)\n\n| step | ns a frame |\n| --- | ---: |\n"
    ]
    out += [f"| {name} | {ns:,.0f} |\n" for name, ns in best.items()]
    return "".join(out)


def measure(frames: int, rounds: int, only: str | None, against: str | None, why: bool = False) -> str:
    import transport_section as ts
    from run import env, load_server_and_key

    names = ts.transports_here()
    with load_server_and_key() as (server, key, tmp):
        everything = ts.cases(server, key, names, frames, tmp)
        keep = (
            ["floor", "tail --json [", WHY[1]] if only == "tail" else ["floor", "record"] if only == "record" else None
        )
        picked = [
            c
            for c in everything
            if (keep is None or any(k in c.name for k in keep))
            and (c.name.startswith(("websockets pass", "picows bare", VALIDATING, "tail --json [", "record", WHY[1])))
            and (why or not c.name.endswith(WHY))
        ]
        if against:
            before = tmp / f"at-{against}"
            before.mkdir()
            archive = subprocess.run(["git", "archive", against, "kalshi_cli"], cwd=HERE.parent, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
            old = {"PYTHONPATH": str(before)}  # -P: not the working directory's kalshi_cli either
            picked += [
                ts.Case(f"{c.name} at {against}", [PY, "-P", *c.argv[1:]], ends=c.ends, extra_env=old)
                for c in list(picked)
                if c.name.startswith(("record --gzip [", "tail --json ["))
                and c.name != ts.GZIP_THEN
                and not c.name.endswith(WHY)
            ]
        for r in range(rounds):
            order = picked[r % len(picked) :] + picked[: r % len(picked)]
            if r % 2:
                order.reverse()
            for case in order:
                argv = [str(frames) if a == "COUNT" else a for a in case.argv]
                fps, cpu = ts.run_case(server, ts.Case(**{**case.__dict__, "argv": argv}), frames, env)
                case.fps.append(fps)
                case.cpu.append(cpu)
                print(f"  round {r + 1}: {case.name}: {fps:,.0f} frames/s, {cpu:.2f} CPU s/1M", file=sys.stderr)
    med = {c.name: (statistics.median(c.fps), statistics.median(c.cpu)) for c in picked}
    ws = med["websockets pass-through (floor)"][0]
    bare = med.get("picows bare pass-through (floor)", (0.0, 0.0))[0]
    valid = med.get(VALIDATING, (0.0, 0.0))[0]
    gz_ws = med.get(f"record --gzip [websockets] at {against}", med.get(ts.GZIP_THEN, (0.0, 0.0)))[0]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "n/a"

    lines = [
        f"## Per-frame cost: tail --json and record ({frames:,} frames of the mixed feed per run, "
        f"median of {rounds} alternating rounds)\n\n",
        "| run | frames/s | vs websockets floor | vs picows bare | vs validating floor "
        "| vs websockets record --gzip | CPU s / 1M frames |\n",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        # (vs websockets record --gzip: at REV when --against REV is given, else in this revision)
    ]
    for c in picked:
        fps, cpu = med[c.name]
        gz = ratio(fps, gz_ws) if "record" in c.name else ""
        lines.append(
            f"| {c.name} | {fps:,.0f} | {ratio(fps, ws)} | {ratio(fps, bare)} | {ratio(fps, valid)} | {gz} "
            f"| {cpu:.2f} |\n"
        )
    return "".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("client", "conn"):
        asyncio.run((validating_floor if sys.argv[1] == "client" else conn_floor)(sys.argv[2], sys.argv[3:]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["tail", "record"])
    parser.add_argument("--against", metavar="REV", help="also run record --gzip and tail --json at this revision")
    parser.add_argument("--why", action="store_true", help="also the rows that split the gap to picows' bare loop")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print(measure(args.frames, args.rounds, args.only, args.against, args.why))
    if args.why:
        print(layers())


if __name__ == "__main__":
    main()
