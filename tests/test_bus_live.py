"""record --sink and tail/book --from against real nats-server processes and the simulator.

Two recorders on two connections feed one stream and one is killed: the stream still holds every
event once, ``tail --from`` prints each trade once and ``book --from`` ends on the simulator's books.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import orjson
import pytest

from tests.bus_servers import NatsServer
from tests.conftest import run_cli, signed_args, spawn_cli
from tests.test_cli_tail import data_frames, stop, subscribed, wait_for


def markets(sim) -> list[str]:
    return [arg for t in sim.tickers for arg in ("-m", t)]


def stream_messages(url: str, stream: str) -> list[tuple[str, dict[str, str], bytes]]:
    """Every message of ``stream`` (subject, headers, payload), read with nats-py directly."""
    import nats
    from nats.js import errors as js_errors

    async def main() -> list[tuple[str, dict[str, str], bytes]]:
        nc = await nats.connect(url, max_reconnect_attempts=1)
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(stream)
            except js_errors.NotFoundError:
                return []
            out = []
            if info.state.messages:
                for seq in range(info.state.first_seq, info.state.last_seq + 1):
                    msg = await js.get_msg(stream, seq)
                    out.append((msg.subject, dict(msg.headers or {}), msg.data or b""))
            return out
        finally:
            await nc.close()

    import nats.errors

    try:
        return asyncio.run(main())
    except (nats.errors.TimeoutError, nats.errors.NoServersError, TimeoutError):
        return []  # a cluster electing a leader: the caller waits and asks again


def without_recv_ts(line: bytes) -> bytes:
    head, sep, tail = line.rpartition(b',"recv_ts_ms":')
    assert sep and tail[:-1].isdigit() and tail.endswith(b"}"), line
    return head + b"}"


def msg_of(frame: bytes) -> bytes:
    """A frame's ``msg``, re-encoded: the exchange event whatever connection (sid, seq) carried it."""
    return orjson.dumps(orjson.loads(frame)["msg"], option=orjson.OPT_SORT_KEYS)


def events(frames: list[bytes]) -> list[bytes]:
    return [msg_of(f) for f in frames]


def trade_ids(lines: list[bytes]) -> list[str]:
    return [orjson.loads(line)["msg"]["trade_id"] for line in lines if b'"type":"trade"' in line]


@pytest.fixture
def nats_server(tmp_path):
    server = NatsServer(tmp_path).start()
    yield server
    server.stop()


def recorder(keys, sim, sink: str, spool: Path, *extra: str):
    return spawn_cli(
        ["record", "orderbook_delta", "trade", *markets(sim), "--sink", sink, "--spool", str(spool), *extra]
        + signed_args(keys, sim.url)
    )


def test_two_recorders_one_killed_every_event_once_and_the_true_books(keys, sim_factory, tmp_path, nats_server):
    sim = sim_factory(rate=0, markets=3)
    sink = f"{nats_server.url}/KALSHI"
    first = recorder(keys, sim, sink, tmp_path / "s1")
    second = recorder(keys, sim, sink, tmp_path / "s2")
    try:
        wait_for(lambda: sim.connections >= 2 and subscribed(sim, 0) >= 2 and subscribed(sim, 1) >= 2, what="subs")
        sim.step(40)
        wait_for(lambda: len(stream_messages(nats_server.url, "KALSHI")) >= 20, what="the first events")
        sim.step(20)  # and killed while these are on their way
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        sim.step(60)
        # the survivor's connection has every frame (which index it has depends on who connected first)
        sent = max(data_frames(sim.sent_frames(0)), data_frames(sim.sent_frames(1)), key=len)
        wait_for(lambda: len(stream_messages(nats_server.url, "KALSHI")) >= len(sent), what="every event")
        truth = {t: sim.true_book(t) for t in sim.tickers}
        code, err = stop(second)
        assert code == 0, err
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    stored = stream_messages(nats_server.url, "KALSHI")
    payloads = [data for _, _, data in stored]
    # every exchange event of the surviving connection exactly once, in its order
    assert events([without_recv_ts(p) for p in payloads]) == events(sent)
    assert all(h.get("Nats-Msg-Id", "").startswith("custom:") for _, h, _ in stored)
    trades = trade_ids(payloads)
    assert trades and len(trades) == len(set(trades))

    tail = run_cli(["tail", "trade", "--from", sink, "--count", str(len(trades)), "--json"], timeout=60)
    assert tail.returncode == 0, tail.stderr
    lines = tail.stdout.splitlines()
    assert trade_ids(lines) == trades
    assert lines == [p for p in payloads if b'"type":"trade"' in p]  # byte for byte as recorded

    out = tmp_path / "books.ndjson"
    with out.open("wb") as fh:
        book = spawn_cli(["book", *sim.tickers, "--from", sink, "--json"], stdout=fh)
        try:

            def last_books():
                seen = {}
                for line in out.read_bytes().splitlines():
                    obj = orjson.loads(line)
                    seen[obj["market_ticker"]] = obj
                return seen

            def at_truth():
                seen = last_books()
                return all(t in seen and seen[t]["clock"] == truth[t]["clock"] for t in sim.tickers) and seen

            final = wait_for(at_truth, what="books at the simulator's clocks")
        finally:
            code, err = stop(book)
    assert code == 0, err
    for t in sim.tickers:
        assert (final[t]["yes_dollars_fp"], final[t]["no_dollars_fp"]) == (
            truth[t].get("yes_dollars_fp", []),
            truth[t].get("no_dollars_fp", []),
        )


def test_a_durable_consumer_resumes_and_since_starts_at_a_time(keys, sim_factory, tmp_path, nats_server):
    sim = sim_factory(rate=0, markets=2)
    sink = f"{nats_server.url}/KALSHI"
    rec = recorder(keys, sim, sink, tmp_path / "s1")
    try:
        wait_for(lambda: subscribed(sim) >= 2, what="subs")
        sim.step(40)
        wait_for(lambda: len(stream_messages(nats_server.url, "KALSHI")) >= len(data_frames(sim.sent_frames(0))))
    finally:
        code, err = stop(rec)
    assert code == 0, err
    trades = trade_ids([p for _, _, p in stream_messages(nats_server.url, "KALSHI")])
    assert len(trades) >= 6
    args = ["tail", "trade", "--from", sink, "--durable", "reader1", "--json", "--count"]
    one = run_cli([*args, "3"])
    two = run_cli([*args, "3"])
    assert one.returncode == 0 and two.returncode == 0, (one.stderr, two.stderr)
    assert trade_ids(one.stdout.splitlines()) + trade_ids(two.stdout.splitlines()) == trades[:6]
    # --since: a time after everything stored so far, then nothing older comes back
    import time

    later = int(time.time() * 1000) + 500
    time.sleep(1.0)
    rec = recorder(keys, sim, sink, tmp_path / "s2")
    try:
        wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 2, what="subs")
        before = len(stream_messages(nats_server.url, "KALSHI"))
        sim.step(40)
        wait_for(lambda: len(stream_messages(nats_server.url, "KALSHI")) > before + 10, what="new events")
    finally:
        code, err = stop(rec)
    newer = [p for _, _, p in stream_messages(nats_server.url, "KALSHI")][before:]
    want = trade_ids(newer)
    assert want
    since = run_cli(["tail", "trade", "--from", sink, "--since", str(later), "--json", "--count", str(len(want))])
    assert since.returncode == 0, since.stderr
    assert trade_ids(since.stdout.splitlines()) == want


def test_with_o_and_sink_the_bus_holds_the_recorded_lines_byte_for_byte(keys, sim_factory, tmp_path, nats_server):
    from tests.test_cli_record_replay import recorded_data

    sim = sim_factory(rate=0, markets=2)
    out = tmp_path / "rec"
    rec = recorder(keys, sim, f"{nats_server.url}/KALSHI", tmp_path / "s", "-o", str(out))
    try:
        wait_for(lambda: subscribed(sim) >= 2, what="subs")
        sim.step(30)
        sent = data_frames(sim.sent_frames(0))
        wait_for(lambda: len(stream_messages(nats_server.url, "KALSHI")) >= len(sent), what="every frame")
    finally:
        code, err = stop(rec)
    assert code == 0, err
    on_disk = recorded_data(out)
    assert len(on_disk) == len(sent)
    assert [p for _, _, p in stream_messages(nats_server.url, "KALSHI")] == on_disk
    assert not (out / ".spool").exists()  # drained and removed: nothing left behind
    # tail --from with no channel: every channel of the stream, each recorded line as written, in order
    every = run_cli(["tail", "--from", f"{nats_server.url}/KALSHI", "--count", str(len(on_disk)), "--json"])
    assert every.returncode == 0, every.stderr
    assert every.stdout.splitlines() == on_disk
    assert {orjson.loads(line)["type"] for line in on_disk} >= {"orderbook_snapshot", "orderbook_delta", "trade"}
    # the book channel is two subjects (snapshots apart, for book --from): read together, in order
    book_lines = [line for line in on_disk if orjson.loads(line)["type"].startswith("orderbook_")]
    books = run_cli(
        ["tail", "orderbook_delta", "--from", f"{nats_server.url}/KALSHI", "--count", str(len(book_lines)), "--json"]
    )
    assert books.returncode == 0, books.stderr
    assert books.stdout.splitlines() == book_lines
