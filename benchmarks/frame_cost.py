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


def measure(frames: int, rounds: int, only: str | None, against: str | None) -> str:
    import transport_section as ts
    from run import env, load_server_and_key

    names = ts.transports_here()
    with load_server_and_key() as (server, key, tmp):
        everything = ts.cases(server, key, names, frames, tmp)
        keep = ["floor", "tail --json ["] if only == "tail" else ["floor", "record"] if only == "record" else None
        picked = [
            c
            for c in everything
            if (keep is None or any(k in c.name for k in keep))
            and (c.name.startswith(("websockets pass", "picows bare", VALIDATING, "tail --json [", "record")))
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
                if c.name.startswith(("record --gzip [", "tail --json [")) and c.name != ts.GZIP_THEN
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
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        asyncio.run(validating_floor(sys.argv[2], sys.argv[3:]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["tail", "record"])
    parser.add_argument("--against", metavar="REV", help="also run record --gzip and tail --json at this revision")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print(measure(args.frames, args.rounds, args.only, args.against))


if __name__ == "__main__":
    main()
