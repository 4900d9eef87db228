"""``kalshi replay --from/--to``: a time window of a recording made through faults against the simulator.

The recording is made by ``kalshi record`` (a seq gap, a dropped connection, then quiet moments at
which the simulator's true books are noted with the time). A client connecting to the replay at
``--from`` must get each market's book as it stood then: the simulator's truth at that moment, and
the book rebuilt here by reading the recording up to that time with ``kalshi_cli.book``; then the
deltas after it, and nothing recorded after ``--to``.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from websockets.sync.client import connect

from kalshi_cli.book import DeltaOutcome, OrderBook
from kalshi_cli.protocol import DATA_TYPES, ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT
from kalshi_cli.recording import META, read_records, record_time
from kalshi_cli.sim import ThreadedSim
from tests.conftest import assert_clean_error, run_cli, spawn_cli
from tests.test_cli_tail import stop, subscribed, wait_for


@dataclass
class Recorded:
    path: Path
    tickers: list[str]
    moments: list[tuple[int, dict[str, dict]]]  # (Unix ms, the true book of each market then)
    lines: list[dict]


def book_fields(msg: dict) -> tuple:
    return (msg.get("yes_dollars_fp", []), msg.get("no_dollars_fp", []), msg.get("clock"))


def on_disk(rec: Path) -> list[dict]:
    return list(read_records(sorted(rec.iterdir()))) if rec.exists() else []


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, rsa_key) -> Recorded:
    tmp = tmp_path_factory.mktemp("window")
    key = tmp / "k.pem"
    key.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    key.chmod(0o600)
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    rec = tmp / "rec"
    moments: list[tuple[int, dict[str, dict]]] = []
    with ThreadedSim(rate=0, markets=3, public_key_pem=public) as sim:
        tickers = sim.tickers
        args = ["record", "orderbook_delta", *sum((["-m", t] for t in tickers), []), "-o", str(rec)]
        proc = spawn_cli([*args, "--url", sim.url, "--key-id", "kid", "--private-key", str(key)])
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="subscriptions")

            def settle(what: str) -> None:
                """Wait until everything sent is on disk, then note the time and the truth."""
                sent = sum(1 for c in range(sim.connections) for f in sim.sent_frames(c) if _is_data(f))
                wait_for(lambda: sum(o.get("type") in DATA_TYPES for o in on_disk(rec)) >= sent, what=what)  # noqa: B023
                time.sleep(0.02)
                moments.append((time.time_ns() // 1_000_000, {t: sim.true_book(t) for t in tickers}))
                time.sleep(0.02)

            sim.step(20)
            settle("the first frames")
            sim.skip_seq("orderbook_delta", 2)
            sim.step(20)
            wait_for(lambda: any(o.get("id") for o in on_disk(rec)), what="the re-requested snapshots")
            settle("the frames after the gap")
            sim.drop_connections()
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 1, what="reconnect")
            sim.step(20)
            settle("the frames after the reconnect")
            sim.step(20)
            settle("the last frames")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    path = sorted(rec.iterdir())
    assert len(path) == 1, path
    lines = on_disk(rec)
    events = [o["event"] for o in lines if o.get("type") == META]
    assert {"gap", "disconnect", "connect"} <= set(events), events
    return Recorded(path[0], tickers, moments, lines)


def _is_data(frame: str) -> bool:
    return orjson.loads(frame).get("type") in DATA_TYPES


def rebuilt(lines: list[dict], until_ms: int) -> dict[str, OrderBook]:
    """The books a reader of the recording has at ``until_ms`` (lines before it): each from its
    last snapshot and the deltas after it; none for a market whose stream broke since."""
    books: dict[str, OrderBook] = {}
    for obj in lines:
        t = record_time(obj)
        if t is not None and t >= until_ms:
            break
        kind = obj.get("type")
        if kind == META:
            if obj["event"] in ("connect", "disconnect") or obj["event"] == "gap" and obj["channel"] == ORDERBOOK_DELTA:
                books.clear()
            continue
        msg = obj.get("msg") or {}
        ticker = msg.get("market_ticker")
        if kind == ORDERBOOK_SNAPSHOT:
            book = OrderBook(ticker, skip_contained=False)
            book.apply_snapshot(msg)
            books[ticker] = book
        elif kind == ORDERBOOK_DELTA and ticker in books and books[ticker].apply_delta(msg) is not DeltaOutcome.APPLIED:
            del books[ticker]
    return books


def as_msg(book: OrderBook) -> tuple:
    yes, no = book.ladders()
    return (yes, no, book.clock)


def replay_to_client(path: Path, tickers: list[str], *flags: str) -> tuple[list[dict], str]:
    """Serve ``path`` with ``flags`` and read it to the end as a client subscribed to the books."""
    proc = spawn_cli(["replay", str(path), "--speed", "max", *flags])
    try:
        url = proc.stdout.readline().decode().strip()
        assert url.startswith("ws://"), proc.stderr.read().decode()
        frames = []
        with connect(url) as ws:
            params = {"channels": [ORDERBOOK_DELTA], "market_tickers": tickers}
            ws.send(orjson.dumps({"id": 1, "cmd": "subscribe", "params": params}).decode())
            for message in ws:
                frame = orjson.loads(message)
                frame.pop("sending_ts_ms", None)  # the replay server's clock, not the recording's
                frames.append(frame)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate(timeout=20)
    return [f for f in frames if f["type"] in DATA_TYPES], err.decode()


def first_snapshots(frames: list[dict], tickers: list[str]) -> dict[str, tuple]:
    """The snapshots a client gets on subscribing: the frames before anything else."""
    out = {}
    for frame in frames:
        if frame["type"] != ORDERBOOK_SNAPSHOT or frame["msg"]["market_ticker"] in out:
            break
        out[frame["msg"]["market_ticker"]] = book_fields(frame["msg"])
    assert set(out) == set(tickers), out
    return out


def final_books(frames: list[dict]) -> dict[str, tuple]:
    books: dict[str, OrderBook] = {}
    for frame in frames:
        ticker = frame["msg"]["market_ticker"]
        if frame["type"] == ORDERBOOK_SNAPSHOT:
            books[ticker] = OrderBook(ticker, skip_contained=False)
            books[ticker].apply_snapshot(frame["msg"])
        else:
            assert books[ticker].apply_delta(frame["msg"]) is DeltaOutcome.APPLIED, frame
    return {t: as_msg(b) for t, b in books.items()}


@pytest.mark.parametrize("moment", [1, 2])
def test_a_client_at_from_gets_the_books_as_they_stood_then(recorded, moment):
    start, truth = recorded.moments[moment]
    end, truth_at_end = recorded.moments[moment + 1]
    frames, err = replay_to_client(recorded.path, recorded.tickers, "--from", str(start), "--to", str(end))
    got = first_snapshots(frames, recorded.tickers)
    expected = {t: as_msg(b) for t, b in rebuilt(recorded.lines, start).items()}
    assert got == expected  # the recording read up to --from with the client's own book
    assert got == {t: book_fields(truth[t]) for t in recorded.tickers}  # and the simulator's truth then
    # Then the deltas after --from, and nothing recorded after --to: the books end as they stood then.
    assert final_books(frames) == {t: book_fields(truth_at_end[t]) for t in recorded.tickers}
    in_window = [o for o in recorded.lines if o.get("type") == ORDERBOOK_DELTA and start <= record_time(o) <= end]
    assert sum(f["type"] == ORDERBOOK_DELTA for f in frames) == len(in_window)
    assert "Traceback" not in err


def test_window_edges_are_included(recorded):
    after, before = recorded.moments[2][0], recorded.moments[3][0]  # a stretch with every book trusted
    deltas = [o for o in recorded.lines if o.get("type") == ORDERBOOK_DELTA and after < record_time(o) < before]
    first, last = record_time(deltas[2]), record_time(deltas[-3])
    frames, _ = replay_to_client(recorded.path, recorded.tickers, "--from", str(first), "--to", str(last))
    want = [o["msg"] for o in deltas if first <= record_time(o) <= last]
    assert [f["msg"] for f in frames if f["type"] == ORDERBOOK_DELTA] == want


def test_from_before_the_recording_and_to_after_it_play_everything(recorded):
    frames, _ = replay_to_client(recorded.path, recorded.tickers, "--from", "2000-01-01T00:00:00Z", "--to", "+1h")
    whole, _ = replay_to_client(recorded.path, recorded.tickers)
    assert frames == whole
    assert final_books(frames) == {t: book_fields(recorded.moments[-1][1][t]) for t in recorded.tickers}


def test_an_offset_counts_from_the_recordings_first_frame(recorded):
    first = next(record_time(o) for o in recorded.lines if o.get("type") in DATA_TYPES)
    start = recorded.moments[1][0]
    by_offset, _ = replay_to_client(recorded.path, recorded.tickers, "--from", f"+{start - first}ms")
    by_time, _ = replay_to_client(recorded.path, recorded.tickers, "--from", str(start))
    assert by_offset == by_time


def test_book_at_from_through_the_cli(recorded):
    start, truth = recorded.moments[2]
    proc = spawn_cli(["replay", str(recorded.path), "--from", str(start), "--speed", "max"])
    try:
        url = proc.stdout.readline().decode().strip()
        book = run_cli(["book", *recorded.tickers, "--once", "--json", "--url", url])
        assert proc.wait(timeout=20) == 0  # the replay plays on to the end and exits
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=20)
    assert book.returncode == 0, book.stderr
    got = {o["market_ticker"]: book_fields(o) for o in map(orjson.loads, book.stdout.splitlines())}
    assert got == {t: book_fields(truth[t]) for t in recorded.tickers}


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--from", "soon"], "--from expects an ISO 8601 time"),
        (["--to", "+5 minutes"], "--to expects an offset like +90s"),
        (["--from", "+1h", "--to", "+1s"], "is after --to"),
        (["--from", "2100-01-01T00:00:00Z"], "after the end of the recording"),
        (["--to", "2000-01-01"], "before the start of the recording"),
        (["--to", "1764000000"], "before the start of the recording"),  # seconds, not ms: 1970
    ],
    ids=["not-a-time", "bad-offset", "from-after-to", "after-the-end", "before-the-start", "seconds"],
)
def test_a_window_outside_the_recording_is_one_clear_line(recorded, flags, needle):
    line = assert_clean_error(run_cli(["replay", str(recorded.path), *flags]), 2, needle)
    if "recording" in needle:
        assert "the recording runs from " in line


def test_a_recording_without_times_cannot_seek(tmp_path):
    rec = tmp_path / "untimed.ndjson"
    rec.write_bytes(orjson.dumps({"type": "trade", "sid": 1, "seq": 1, "msg": {"market_ticker": "KXA"}}) + b"\n")
    assert_clean_error(run_cli(["replay", str(rec), "--from", "+1s"]), 2, "no times")


def test_a_window_over_rotated_gzip_files_is_the_same_as_over_one_file(recorded, tmp_path):
    raw = recorded.path.read_bytes().splitlines(keepends=True)
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    third = len(raw) // 3
    for i, part in enumerate((raw[:third], raw[third : 2 * third], raw[2 * third :])):
        (rotated / f"kalshi-{i:04d}.ndjson.gz").write_bytes(gzip.compress(b"".join(part)))
    start, end = recorded.moments[1][0], recorded.moments[3][0]
    window = ["--from", str(start), "--to", str(end)]
    whole, _ = replay_to_client(recorded.path, recorded.tickers, *window)
    parts, _ = replay_to_client(rotated, recorded.tickers, *window)
    assert parts == whole and len(whole) > len(recorded.tickers)


# --- the same window on tail/book --replay (--replay-from/--replay-to: tail's --from is the bus) ----


def test_tail_replay_window_prints_what_the_replay_commands_window_serves(recorded):
    start, end = recorded.moments[1][0], recorded.moments[2][0]
    served, _ = replay_to_client(recorded.path, recorded.tickers, "--from", str(start), "--to", str(end))
    markets = sum((["-m", t] for t in recorded.tickers), [])
    proc = run_cli(
        ["tail", "orderbook_delta", *markets, "--json", "--replay", str(recorded.path), "--replay-speed", "max"]
        + ["--replay-from", str(start), "--replay-to", str(end)]
    )
    assert proc.returncode == 0, proc.stderr
    printed = [orjson.loads(line) for line in proc.stdout.splitlines()]
    assert [(f["type"], f["msg"]) for f in printed] == [(f["type"], f["msg"]) for f in served]
    whole = run_cli(
        ["tail", "orderbook_delta", *markets, "--json", "--replay", str(recorded.path), "--replay-speed", "max"]
    )
    assert len(whole.stdout.splitlines()) > len(printed)  # the window is a part of it
    assert " from " in proc.stderr.decode() and " to " in proc.stderr.decode()  # said on the status line


def test_book_replay_from_shows_the_books_as_they_stood_then(recorded):
    start, truth = recorded.moments[2]
    proc = run_cli(
        ["book", *recorded.tickers, "--once", "--json", "--replay", str(recorded.path), "--replay-from", str(start)]
    )
    assert proc.returncode == 0, proc.stderr
    got = {o["market_ticker"]: book_fields(o) for o in map(orjson.loads, proc.stdout.splitlines())}
    assert got == {t: book_fields(truth[t]) for t in recorded.tickers}


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--replay-from", "soon"], "--replay-from expects an ISO 8601 time"),
        (["--replay-to", "2000-01-01"], "--replay-to 2000-01-01T00:00:00.000Z is before the start of the recording"),
        (["--replay-from", "+1h", "--replay-to", "+1s"], "--replay-from"),
    ],
    ids=["not-a-time", "before-the-start", "from-after-to"],
)
def test_a_bad_replay_window_is_one_line_naming_the_flag(recorded, flags, needle):
    assert_clean_error(run_cli(["tail", "trade", "--replay", str(recorded.path), *flags]), 2, needle)


def test_a_replay_window_needs_a_replay():
    assert_clean_error(run_cli(["book", "KXA-1", "--sim", "--replay-from", "+1s"]), 2, "need --replay FILE|DIR")
