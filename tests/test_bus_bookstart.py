"""book --from starts each market at its latest safe snapshot (``bus.bookstart``).

Against a real nats-server: a stream whose latest snapshot of one market is safe (the book is read
from it, not from the stream's start) and of another is a lagging connection's, stored after a
quicker connection's later delta (the book steps back to the snapshot before, and ends exact).
Fed data: two or three connections joining a market's story anywhere, in any interleaving, first
copy wins: the book read from the chosen start ends on the truth.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.bus.books import MergedBookSet
from kalshi_cli.bus.bookstart import DirectHistory, Stored, book_starts, safe_start
from kalshi_cli.bus.subjects import subject_for
from tests.bus_servers import NatsServer
from tests.conftest import spawn_cli
from tests.test_bus_units import delta_frame
from tests.test_cli_tail import stop, wait_for


def snapshot(market: str, clock: int, yes: dict[int, int]) -> dict:
    levels = [[f"0.{p:02d}00", f"{s}.00"] for p, s in sorted(yes.items())]
    msg = {"market_ticker": market, "clock": clock, "yes_dollars_fp": levels, "no_dollars_fp": []}
    return {"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": msg}


def delta(market: str, clock: int, price: int, size: int) -> dict:
    frame = delta_frame(clock, price, size)
    frame["msg"]["market_ticker"] = market
    return frame


# M: the latest snapshot (clock 12) is safe. N: connection A joined at clock 5, B at clock 6 and lags:
# B's snapshot is stored after A's delta 7 (B's copy of delta 7 was then a duplicate), so reading N
# from B's snapshot would miss delta 7; it is read from A's.
STORY = [
    snapshot("M", 10, {30: 1}),
    delta("M", 11, 30, 1),
    snapshot("N", 5, {40: 5}),
    delta("N", 6, 41, 2),
    delta("M", 12, 31, 1),
    delta("N", 7, 40, 1),
    snapshot("N", 6, {40: 5, 41: 2}),
    snapshot("M", 12, {30: 2, 31: 1}),
    delta("M", 13, 32, 1),
    delta("N", 8, 42, 3),
]
TRUTH = {"M": [["0.3000", "2.00"], ["0.3100", "1.00"], ["0.3200", "1.00"]]}
TRUTH["N"] = [["0.4000", "6.00"], ["0.4100", "2.00"], ["0.4200", "3.00"]]


def publish(url: str, *, direct: bool) -> list[int]:
    """STORY into stream K, as record --sink publishes it; the stream sequence of each frame."""
    import nats

    async def main() -> list[int]:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await js.add_stream(name="K", subjects=["kalshi.>"], duplicate_window=120.0, allow_direct=direct)
        seqs = []
        for frame in STORY:
            line = orjson.dumps({**frame, "recv_ts_ms": 1})
            seqs.append((await js.publish(subject_for("sim", frame), line)).seq)
        await nc.close()
        return seqs

    return asyncio.run(main())


def starts_of(url: str, markets: list[str]) -> dict[str, int]:
    import nats

    async def main() -> dict[str, int]:
        nc = await nats.connect(url)
        try:
            return await book_starts(DirectHistory(nc, "K"), markets, 120.0)
        finally:
            await nc.close()

    return asyncio.run(main())


def book_lines(tmp_path, url: str, want: int) -> tuple[list[dict], str]:
    """``book M N --from --json --every`` until ``want`` lines: a line after every applied frame."""
    out = tmp_path / "books.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["book", "M", "N", "--from", f"{url}/K", "--json", "--every"], stdout=fh)
        try:
            wait_for(lambda: out.read_bytes().count(b"\n") >= want, what=f"{want} book lines")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    return [orjson.loads(line) for line in out.read_bytes().splitlines()], err


def clocks(lines: list[dict], market: str) -> list[int]:
    return [line["clock"] for line in lines if line["market_ticker"] == market]


def finals(lines: list[dict]) -> dict[str, list]:
    return {line["market_ticker"]: line["yes_dollars_fp"] for line in lines}


@pytest.fixture
def server(tmp_path):
    started = NatsServer(tmp_path).start()
    yield started
    started.stop()


def test_each_book_starts_at_its_latest_safe_snapshot(tmp_path, server):
    seqs = publish(server.url, direct=True)
    assert starts_of(server.url, ["M", "N", "NONE"]) == {"M": seqs[7], "N": seqs[2]}  # NONE: no snapshot
    lines, _ = book_lines(tmp_path, server.url, 6)
    assert clocks(lines, "M") == [12, 13]  # from its latest snapshot: no line for clocks 10 and 11
    assert clocks(lines, "N") == [5, 6, 7, 8]  # B's lagging snapshot (clock 6, after 7) skipped
    assert finals(lines) == TRUTH


def test_a_stream_without_direct_get_is_read_from_its_start(tmp_path, server):
    publish(server.url, direct=False)
    lines, err = book_lines(tmp_path, server.url, 8)
    assert "has no direct get: books are read from its start" in err
    assert clocks(lines, "M") == [10, 11, 12, 12, 13]
    assert finals(lines) == TRUTH


@dataclass
class Log:
    """An in-memory stream: (stored time, frame) in stream order, sequences from 1."""

    frames: list[dict]

    async def last_snapshot(self, market: str, up_to: int | None) -> Stored | None:
        end = len(self.frames) if up_to is None else up_to
        for seq in range(end, 0, -1):
            frame = self.frames[seq - 1]
            if frame["type"] == "orderbook_snapshot" and frame["msg"]["market_ticker"] == market:
                return Stored(seq, float(seq), frame["msg"]["clock"])
        return None

    async def book_clocks(self, market: str, since: float, before: int) -> list[int] | None:
        first = max(1, math.ceil(since))  # a frame's stored time is its sequence
        return [f["msg"]["clock"] for f in self.frames[first - 1 : before - 1] if f["msg"]["market_ticker"] == market]


@given(st.data())
def test_books_read_from_the_chosen_start_end_on_the_truth(data):
    """Connections join a market's story at any points (each with its snapshot, as a resync is), in
    any interleaving, first copy wins: the book read from ``safe_start`` ends exact."""
    groups = data.draw(st.lists(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 5)), min_size=1, max_size=3)))
    truth: dict[int, int] = {}
    states = [dict(truth)]
    actions = []
    for clock, group in enumerate(groups, start=1):
        for pos, (price, size) in enumerate(group):
            change = -truth[price] if price in truth and data.draw(st.booleans()) else size
            truth[price] = truth.get(price, 0) + change
            if truth[price] == 0:
                del truth[price]
            actions.append((clock, pos, price, change))
        states.append(dict(truth))

    def connection(join: int) -> list[tuple[str, dict]]:
        out = [(f"s:{join}", snapshot("M", join, states[join]))]
        return out + [(f"d:{c}:{p}", delta("M", c, price, n)) for c, p, price, n in actions if c > join]

    feeds = [connection(data.draw(st.integers(0, len(groups)))) for _ in range(data.draw(st.integers(2, 3)))]
    merged, seen = [], set()
    while any(feeds):
        source = data.draw(st.sampled_from([f for f in feeds if f]))
        key, frame = source.pop(0)
        if key not in seen:
            seen.add(key)
            merged.append(frame)
    start = asyncio.run(safe_start(Log(merged), "M", window=float(len(merged) + 1)))
    assert start is not None  # the first snapshot is always safe
    books = MergedBookSet()
    for frame in merged[start - 1 :]:
        books.apply(frame)
    book = books.book("M")
    assert book is not None and book.is_live
    assert book.yes == {p * 100: s * 100 for p, s in truth.items()}


def test_every_replica_of_a_three_node_stream_gives_the_same_starts(tmp_path):
    """Direct get is answered by any replica (a follower too): each node, asked in turn, finds the
    same starts, and a reader through the cluster rebuilds the true books."""
    import nats

    from tests.bus_servers import cluster

    servers_cm = cluster(tmp_path, 3)
    servers = next(servers_cm)
    try:

        async def make() -> bool:
            nc = await nats.connect(servers[0].url)
            try:
                await nc.jetstream().add_stream(name="K", subjects=["kalshi.>"], num_replicas=3, allow_direct=True)
            finally:
                await nc.close()
            return True

        async def fill() -> list[int]:
            nc = await nats.connect(servers[0].url)
            js = nc.jetstream()
            seqs = [(await js.publish(subject_for("sim", f), orjson.dumps({**f, "recv_ts_ms": 1}))).seq for f in STORY]
            await nc.close()
            return seqs

        wait_for(lambda: _or_none(lambda: asyncio.run(make())), what="a replicated stream")
        seqs = asyncio.run(fill())
        for node in servers:
            got = wait_for(lambda node=node: starts_of(node.url, ["M", "N"]) or None, what=f"starts from {node.name}")
            assert got == {"M": seqs[7], "N": seqs[2]}, node.name
        urls = ",".join(f"127.0.0.1:{s.port}" for s in servers)
        lines, _ = book_lines(tmp_path, f"nats://{urls}", 6)
        assert clocks(lines, "M") == [12, 13] and clocks(lines, "N") == [5, 6, 7, 8]
        assert finals(lines) == TRUTH
    finally:
        with pytest.raises(StopIteration):
            next(servers_cm)


def _or_none(call):
    """``call()``, or None while the cluster is not ready for it (a leader being elected)."""
    try:
        return call()
    except Exception:
        return None
