"""The bus under failure: nats-server killed and restarted, a cluster node killed, nothing lost."""

from __future__ import annotations

import pytest

from tests.bus_servers import NatsServer, cluster
from tests.test_bus_live import events, recorder, stream_messages, without_recv_ts
from tests.test_cli_tail import data_frames, stop, subscribed, wait_for


def spooled(directory) -> int:
    """Lines in the spool files on disk."""
    if not directory.exists():
        return 0
    return sum(p.read_bytes().count(b"\n") for p in directory.glob("spool-*.ndjson"))


def test_a_restarted_server_gets_the_spooled_frames_complete_and_in_order(keys, sim_factory, tmp_path):
    server = NatsServer(tmp_path).start()
    sim = sim_factory(rate=0, markets=3)
    spool = tmp_path / "spool"
    rec = recorder(keys, sim, f"{server.url}/KALSHI", spool)
    try:
        wait_for(lambda: subscribed(sim) >= 2, what="subs")
        sim.step(40)
        wait_for(lambda: len(stream_messages(server.url, "KALSHI")) >= len(data_frames(sim.sent_frames(0))))
        server.kill()
        sim.step(40)
        sent = data_frames(sim.sent_frames(0))
        wait_for(lambda: spooled(spool) >= 20, what="frames spooled while the server is away")
        server.start()
        sim.step(40)
        sent = data_frames(sim.sent_frames(0))
        wait_for(lambda: len(stream_messages(server.url, "KALSHI")) >= len(sent), what="the backlog drained")
        code, err = stop(rec)
    finally:
        if rec.poll() is None:
            rec.kill()
            rec.wait(10)
        stored = stream_messages(server.url, "KALSHI") if server.proc else []
        server.stop()
    assert code == 0, err
    assert "spooling" in err
    assert "0 backlog" in err.splitlines()[-1]  # the status line's bus part: all acknowledged at the end
    # complete and in order: the connection's frames exactly, byte for byte, once each
    assert [without_recv_ts(p) for _, _, p in stored] == sent
    assert spooled(spool) == 0


def test_a_cluster_with_replicas_3_loses_nothing_when_a_node_dies(keys, sim_factory, tmp_path):
    servers_cm = cluster(tmp_path, 3)
    servers = next(servers_cm)
    try:
        urls = ",".join(f"127.0.0.1:{s.port}" for s in servers)
        sink = f"nats://{urls}/KALSHI"
        sim = sim_factory(rate=0, markets=3)
        rec = recorder(keys, sim, sink, tmp_path / "spool", "--sink-replicas", "3")
        try:
            wait_for(lambda: subscribed(sim) >= 2, what="subs")
            sim.step(40)
            wait_for(lambda: len(stream_messages(servers[1].url, "KALSHI")) >= 20, what="the first frames")
            victim = wait_for(lambda: next((s for s in servers if "kalshi-cli" in s.client_names()), None))
            victim.kill()  # the node the recorder is connected to
            alive = [s for s in servers if s is not victim]
            sim.step(60)
            sent = data_frames(sim.sent_frames(0))
            wait_for(lambda: len(stream_messages(alive[0].url, "KALSHI")) >= len(sent), timeout=40, what="every frame")
            code, err = stop(rec)
        finally:
            if rec.poll() is None:
                rec.kill()
                rec.wait(10)
        assert code == 0, err
        stored = [without_recv_ts(p) for _, _, p in wait_for(lambda: stream_messages(alive[1].url, "KALSHI"))]
        assert sorted(events(stored)) == sorted(events(sent))  # nothing lost, nothing twice
        assert len(stored) == len(sent)
    finally:
        with pytest.raises(StopIteration):
            next(servers_cm)


def test_a_reader_follows_the_stream_across_a_server_restart(tmp_path):
    import asyncio

    import nats

    from tests.conftest import spawn_cli

    server = NatsServer(tmp_path).start()

    async def publish(first: int, last: int) -> None:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        if first == 0:
            await js.add_stream(name="K", subjects=["kalshi.>"])
        for i in range(first, last):
            frame = b'{"type":"trade","sid":1,"seq":%d,"msg":{"trade_id":"t%d","market_ticker":"M"}}' % (i + 1, i)
            await js.publish("kalshi.custom.trade.M", frame, headers={"Nats-Msg-Id": f"custom:t:t{i}"})
        await nc.close()

    reader = None
    try:
        asyncio.run(publish(0, 50))
        out = tmp_path / "out.ndjson"
        with out.open("wb") as fh:
            reader = spawn_cli(["tail", "trade", "--from", f"{server.url}/K", "--json", "--count", "150"], stdout=fh)
            wait_for(lambda: out.read_bytes().count(b"\n") >= 50, what="the first 50")
            server.kill()
            server.start()
            asyncio.run(publish(50, 150))
            _, err = reader.communicate(timeout=60)
    finally:
        if reader is not None and reader.poll() is None:
            reader.kill()
        server.stop()
    assert reader.returncode == 0, err
    got = [line.split(b'"trade_id":"t')[1].split(b'"')[0] for line in out.read_bytes().splitlines()]
    assert got == [str(i).encode() for i in range(150)]  # each once, in order
    assert b"reconnected" in err and err.count(b"Connect call failed") <= 1


def test_messages_that_are_not_frames_are_skipped_with_one_warning(tmp_path):
    import asyncio

    import nats

    from tests.conftest import run_cli

    server = NatsServer(tmp_path).start()

    async def publish() -> None:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="K", subjects=["kalshi.>"])
        for i, data in enumerate([b"not json", b'{"type":"trade","msg":{"trade_id":"a"}}', b"[1]", b'{"x":1}'] * 3):
            await js.publish("kalshi.custom.trade.M", data.replace(b'"a"', b'"a%d"' % i))
        await nc.close()

    try:
        asyncio.run(publish())
        got = run_cli(["tail", "trade", "--from", f"{server.url}/K", "--json", "--count", "3"])
    finally:
        server.stop()
    assert got.returncode == 0, got.stderr
    import orjson

    assert [orjson.loads(line)["msg"]["trade_id"] for line in got.stdout.splitlines()] == ["a1", "a5", "a9"]
    assert got.stderr.count(b"not Kalshi data frames") == 1
