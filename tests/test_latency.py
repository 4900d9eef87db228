"""``--stats``: exact frame ages per channel, from the pure histogram to the CLI's summary on stderr.

The histogram is checked against sorting every age (hypothesis); the CLI against a server in the
test that stamps frames with known ``sending_ts_ms`` while the run's clock stands still (so every
age is known to the millisecond), and against the simulator for every way a run can end.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import threading
from collections.abc import Iterator

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.cli import _run
from kalshi_cli.environment import Environment, using
from kalshi_cli.latency import HIGH_MS, LOW_MS, AgeHistogram, FrameAges, ReadClock
from tests.conftest import run_cli, signed_args, spawn_cli
from tests.test_cli_tail import data_frames, lines_of, stop, subscribed, wait_for

NOW_MS = 1_800_000_000_000  # the frozen clock of the in-process runs (a whole second: exact as a float)


def nearest_rank(ages: list[int], p: float) -> int:
    ordered = sorted(ages)
    rank = max(1, -(-(round(p * 1000) * len(ordered)) // 100_000))
    return ordered[rank - 1]


@given(
    ages=st.lists(st.integers(-LOW_MS - 50, HIGH_MS + 50), min_size=1, max_size=300),
    p=st.sampled_from([0.1, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0]),
)
def test_percentiles_are_exact_or_say_they_lie_beyond_the_bounds(ages, p):
    hist = AgeHistogram()
    for age in ages:
        hist.add(age)
    want = nearest_rank(ages, p)
    got = hist.percentile(p)
    if -LOW_MS <= want < HIGH_MS:
        assert got == want
        assert hist.describe(p) == str(want)
    else:
        assert got is None
        assert hist.describe(p) == (f"<-{LOW_MS}" if want < -LOW_MS else f">{HIGH_MS - 1}")
    assert (hist.min, hist.max, hist.timed) == (min(ages), max(ages), len(ages))


def test_channels_group_their_types_and_untimed_frames_are_counted():
    ages = FrameAges()
    ages.observe({"type": "orderbook_snapshot", "sending_ts_ms": 100}, 103)
    ages.observe({"type": "orderbook_delta", "sending_ts_ms": 100}, 101)
    ages.observe({"type": "orderbook_delta"}, 500)
    ages.observe({"type": "trade", "sending_ts_ms": "100"}, 500)  # not an integer: not a time
    assert list(ages.channels) == ["orderbook_delta", "trade"]
    book, trade = ages.channels["orderbook_delta"], ages.channels["trade"]
    assert (book.frames, book.timed, book.min, book.max) == (3, 2, 1, 3)
    assert (trade.frames, trade.timed, trade.percentile(50)) == (1, 0, None)
    assert ages.frames == 4
    assert FrameAges().report()[-1] == "  no data frames"


# --- the CLI, against a server that stamps known ages ------------------------------------------

TICKER_AGES = [5] * 50 + [7] * 40 + [100] * 9 + [70_000]  # p50 5, p99 100, max beyond the histogram
BOOK_AGES = [-3, 0, 2, 2, 4]  # a local clock behind Kalshi's shows as negative ages
UNTIMED_TRADES = 6


def stamped_frames() -> list[bytes]:
    frames = []
    for i, age in enumerate(TICKER_AGES):
        msg = {"market_ticker": "KXA", "price_dollars": "0.5000", "ts": i}
        frames.append(orjson.dumps({"type": "ticker", "sid": 1, "msg": msg, "sending_ts_ms": NOW_MS - age}))
    seq = 0
    for age in BOOK_AGES:
        seq += 1
        kind = "orderbook_snapshot" if seq == 1 else "orderbook_delta"
        msg = {"market_ticker": "KXA", "clock": seq}
        msg.update(
            {"yes_dollars_fp": [["0.4000", "5.00"]]}
            if seq == 1
            else {"price_dollars": "0.4000", "delta_fp": "1.00", "side": "yes"}
        )
        frames.append(orjson.dumps({"type": kind, "sending_ts_ms": NOW_MS - age, "sid": 2, "seq": seq, "msg": msg}))
    for i in range(UNTIMED_TRADES):
        frames.append(orjson.dumps({"type": "trade", "sid": 3, "seq": i + 1, "msg": {"trade_id": f"t{i}"}}))
    return frames


@contextlib.contextmanager
def stamping_server() -> Iterator[str]:
    """A Kalshi-like endpoint: acks each subscribe, then sends that channel's ``stamped_frames``."""
    channels = {"ticker": 1, "orderbook_delta": 2, "trade": 3}
    frames = stamped_frames()

    async def handler(ws):
        async for text in ws:
            cmd = orjson.loads(text)
            if cmd.get("cmd") != "subscribe":
                continue
            channel = cmd["params"]["channels"][0]
            sid = channels[channel]
            ack = {"id": cmd["id"], "type": "subscribed", "msg": {"channel": channel, "sid": sid}}
            await ws.send(orjson.dumps(ack).decode())
            for frame in frames:
                if orjson.loads(frame)["sid"] == sid:
                    await ws.send(frame.decode())

    from websockets.asyncio.server import serve

    ready = threading.Event()
    state: dict = {}

    def run() -> None:
        async def main() -> None:
            async with serve(handler, "127.0.0.1", 0) as server:
                state["port"] = server.sockets[0].getsockname()[1]
                state["loop"] = asyncio.get_running_loop()
                state["stop"] = state["loop"].create_future()
                ready.set()
                await state["stop"]

        asyncio.run(main())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield f"ws://127.0.0.1:{state['port']}/trade-api/ws/v2"
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set_result, None)
        thread.join(10)


def run_frozen(args: list[str]) -> tuple[int, bytes, str]:
    """``kalshi ARGS`` in this process, with a clock that stands still at ``NOW_MS``."""
    out, err = io.BytesIO(), io.StringIO()
    text = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    env = Environment(out, text, err, clock=lambda: NOW_MS / 1000)
    with using(env), contextlib.redirect_stderr(err), contextlib.redirect_stdout(text):
        status = _run(args)
    return status, out.getvalue(), err.getvalue()


def stats_rows(err: str) -> dict[str, list[str]]:
    """The summary's rows by channel: frames, no ts, min, p50, p99, max (as printed)."""
    lines = err.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("kalshi: stats: age_ms"))
    assert lines[start + 1].split() == ["channel", "frames", "no", "ts", "min", "p50", "p99", "max"], err
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("  "):
            break
        name, *cells = line.split()
        rows[name] = [c.replace(",", "") for c in cells]
    return rows


def test_stats_report_the_known_ages_per_channel_exactly():
    total = len(TICKER_AGES) + len(BOOK_AGES) + UNTIMED_TRADES
    with stamping_server() as url:
        status, out, err = run_frozen(
            ["tail", "ticker", "orderbook_delta", "trade", "-m", "KXA", "--json", "--stats", "--count", str(total),
             "--url", url]
        )  # fmt: skip
    assert status == 0, err
    assert out.splitlines() == stamped_frames()  # --stats reads the frames; it writes them as received
    rows = stats_rows(err)
    assert rows == {
        "ticker": [str(len(TICKER_AGES)), "0", "5", "5", "100", "70000"],
        "orderbook_delta": [str(len(BOOK_AGES)), "0", "-3", "2", "4", "4"],
        "trade": [str(UNTIMED_TRADES), str(UNTIMED_TRADES), "-", "-", "-", "-"],
    }


def test_stats_are_written_even_when_quiet():
    with stamping_server() as url:
        status, _, err = run_frozen(["tail", "ticker", "--json", "--stats", "-q", "--count", "3", "--url", url])
    assert status == 0, err
    assert stats_rows(err)["ticker"][:4] == ["3", "0", "5", "5"]
    assert "connected" not in err


# --- every end of a run, against the simulator --------------------------------------------------


def frames_in_summary(err: str) -> int:
    return sum(int(row[0]) for row in stats_rows(err).values())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
@pytest.mark.parametrize("command", ["tail", "book"])
def test_stats_at_a_signal_count_every_frame_printed(keys, sim_factory, tmp_path, sig, command):
    sim = sim_factory(rate=0, markets=2)
    out = tmp_path / "out.ndjson"
    args = {
        "tail": ["tail", "orderbook_delta", "ticker", "-m", sim.tickers[0], "-m", sim.tickers[1]],
        "book": ["book", *sim.tickers, "--every"],
    }[command]
    with out.open("wb") as fh:
        proc = spawn_cli([*args, "--json", "--stats", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="subscription")
            sim.step(30)
            want = len(data_frames(sim.sent_frames(-1))) if command == "tail" else 2
            wait_for(lambda: len(lines_of(out)) >= want, what="lines")  # noqa: B023
        finally:
            code, err = stop(proc, sig)
    assert code == (0 if sig == signal.SIGTERM else 130), err
    assert "Traceback" not in err
    rows = stats_rows(err)
    assert all(row[1] == "0" for row in rows.values()), err  # the simulator stamps every frame
    if command == "tail":
        assert frames_in_summary(err) == len(lines_of(out))
        assert set(rows) == {"orderbook_delta", "ticker"}
    else:
        assert set(rows) == {"orderbook_delta"}
        assert int(rows["orderbook_delta"][0]) >= len(lines_of(out))  # --every: a line per applied frame


def test_stats_without_sending_ts_count_the_frames_only(keys, sim_factory):
    sim = sim_factory(rate=200, markets=2, sending_ts=False)
    proc = run_cli(["tail", "ticker", "--json", "--stats", "--count", "20", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    assert stats_rows(proc.stderr.decode()) == {"ticker": ["20", "20", "-", "-", "-", "-"]}


def test_stats_at_the_end_of_a_replay(tmp_path):
    rec = tmp_path / "rec.ndjson"
    frames = [{"type": "trade", "sid": 4, "seq": i, "msg": {"market_ticker": "KXA", "trade_id": f"t{i}"}} for i in
              range(1, 9)]  # fmt: skip
    rec.write_bytes(b"".join(orjson.dumps(f) + b"\n" for f in frames))
    proc = run_cli(["tail", "trade", "--json", "--stats", "--replay", str(rec), "--replay-speed", "max"])
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 8
    assert stats_rows(proc.stderr.decode())["trade"][:2] == ["8", "0"]  # the replay server stamps its frames


def test_stats_off_leaves_stderr_without_a_summary(keys, sim_factory):
    sim = sim_factory(rate=200, markets=2)
    proc = run_cli(["tail", "ticker", "--json", "--count", "5", *signed_args(keys, sim.url)])
    assert proc.returncode == 0
    assert b"stats" not in proc.stderr


def test_the_receive_time_is_read_once_per_turn_of_the_loop():
    ticks = iter(range(1, 100))
    clock = ReadClock(lambda: next(ticks))

    async def main() -> list[int]:
        first_read = [clock.now_ms(), clock.now_ms(), clock.now_ms()]  # the frames of one read
        await asyncio.sleep(0)  # the loop turns: the next read's frames
        return [*first_read, clock.now_ms(), clock.now_ms()]

    assert asyncio.run(main()) == [1000, 1000, 1000, 2000, 2000]
    assert [clock.now_ms(), clock.now_ms()] == [3000, 4000]  # no loop: read every time
