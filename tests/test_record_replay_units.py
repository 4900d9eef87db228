"""The recorder's writer and the replay's exchange and server, without subprocesses."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK

from kalshi_cli.errors import UsageError
from kalshi_cli.recorder import RecordWriter, parse_rotate
from kalshi_cli.recording import with_recv_ts
from kalshi_cli.sim.replay import Recording, ReplayConnection, ReplayExchange, ReplayServer, parse_speed, scan

A, B = "KXA-26NOV25-B1", "KXB-26NOV25-B2"


def snap(ticker: str, sid: int, seq: int, yes: list, no: list | None = None) -> dict:
    msg = {"market_ticker": ticker, "market_id": f"id-{ticker}", "clock": seq, "yes_dollars_fp": yes}
    if no:
        msg["no_dollars_fp"] = no
    return {"type": "orderbook_snapshot", "sid": sid, "seq": seq, "msg": msg}


def delta(ticker: str, sid: int, seq: int, price: str, size: str, side: str = "yes") -> dict:
    return {
        "type": "orderbook_delta",
        "sid": sid,
        "seq": seq,
        "msg": {
            "market_ticker": ticker,
            "market_id": f"id-{ticker}",
            "clock": 100 + seq,
            "price_dollars": price,
            "delta_fp": size,
            "side": side,
        },
    }


def trade(ticker: str, sid: int, seq: int) -> dict:
    return {"type": "trade", "sid": sid, "seq": seq, "msg": {"market_ticker": ticker, "count_fp": f"{seq}.00"}}


def write(path: Path, frames: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(f) + b"\n" for f in frames))
    return path


# --- recorder ----------------------------------------------------------------------------------


def test_recv_ts_is_spliced_in_and_the_rest_kept_byte_for_byte():
    raw = b'{"type":"trade","sid":3,"seq":17,"msg":{"count_fp":"1.00"}}'
    assert with_recv_ts(raw, 42) == raw[:-1] + b',"recv_ts_ms":42}'
    pretty = b'{\n  "type": "trade",\n  "msg": {}\n}\n'
    assert orjson.loads(with_recv_ts(pretty, 7)) == {"type": "trade", "msg": {}, "recv_ts_ms": 7}


def test_rotate_specs():
    assert parse_rotate(["1h"]) == (3600, None)
    assert parse_rotate(["30m", "100MB"]) == (1800, 100_000_000)
    assert parse_rotate(["2KiB"]) == (None, 2048)
    for bad in ("soon", "0h", "-1MB", "10parsecs"):
        with pytest.raises(UsageError):
            parse_rotate([bad])


def test_speed_specs():
    assert parse_speed("max") is None and parse_speed("10") == 10.0
    for bad in ("0", "-2", "fast", "inf"):
        with pytest.raises(UsageError):
            parse_speed(bad)


def test_gzip_is_readable_after_each_flush_without_a_close(tmp_path):
    tmp_path = tmp_path / "rec"
    tmp_path.mkdir()
    writer = RecordWriter(tmp_path, gzip=True)
    writer.write(b'{"n":1}')
    writer.flush()
    writer.write(b'{"n":2}')
    writer.flush()
    writer.write(b'{"n":3}')  # not flushed: the part a crash may lose
    (path,) = tmp_path.iterdir()
    assert gzip.decompress(path.read_bytes()) == b'{"n":1}\n{"n":2}\n'
    writer.close()
    assert gzip.decompress(path.read_bytes()) == b'{"n":1}\n{"n":2}\n{"n":3}\n'


def test_lines_after_close_are_dropped_not_put_in_a_new_file(tmp_path):
    """A stream task still winding down after the recorder closed must not open a file nobody closes."""
    tmp_path = tmp_path / "rec"
    tmp_path.mkdir()
    writer = RecordWriter(tmp_path)
    writer.write(b'{"n":1}')
    writer.close()
    writer.write(b'{"n":2}')
    writer.flush()
    writer.close()
    (path,) = tmp_path.iterdir()
    assert path.read_bytes() == b'{"n":1}\n'
    assert writer.files == [path]


def test_time_rotation_is_aligned_and_names_sort_in_time_order(tmp_path):
    now = [1_795_615_199.5]  # half a second before an hour starts
    tmp_path = tmp_path / "rec"
    tmp_path.mkdir()
    writer = RecordWriter(tmp_path, rotate_seconds=3600, clock=lambda: now[0])
    writer.write(b"1")
    now[0] += 1.0
    writer.write(b"2")
    writer.tick()
    now[0] += 3600
    writer.tick()  # the period ended with nothing new: the file is closed, no empty file opened
    writer.write(b"3")
    writer.close()
    files = sorted(tmp_path.iterdir())
    assert [f.read_bytes() for f in files] == [b"1\n", b"2\n", b"3\n"]
    assert files == writer.files
    assert files[0].name.startswith("kalshi-20261125T135959.500Z-")


# --- replay: the exchange's trust rules ----------------------------------------------------------


def test_deltas_need_a_trusted_book():
    ex = ReplayExchange(Recording([]))
    assert ex.apply(delta(A, 1, 1, "0.4000", "5.00")) is None  # before any snapshot
    assert ex.apply(snap(A, 1, 2, [["0.4000", "10.00"]], [["0.5000", "3.00"]])) is not None
    assert ex.apply(delta(A, 1, 3, "0.4000", "-4.00")) is not None
    assert ex.apply(delta(A, 1, 4, "0.4100", "2.50")) is not None
    assert ex.snapshot_msg(A) == {
        "market_ticker": A,
        "market_id": f"id-{A}",
        "clock": 104,
        "yes_dollars_fp": [["0.4000", "6.00"], ["0.4100", "2.50"]],
        "no_dollars_fp": [["0.5000", "3.00"]],
    }
    # a recorded seq gap: this delta and the next ones cannot be placed until a new snapshot
    assert ex.apply(delta(A, 1, 7, "0.4000", "1.00")) is None
    assert ex.apply(delta(A, 1, 8, "0.4000", "1.00")) is None
    assert A not in ex.markets
    assert ex.apply(snap(A, 1, 9, [["0.3000", "1.00"]])) is not None
    assert ex.apply(delta(A, 1, 10, "0.3000", "-1.00")) is not None
    assert ex.snapshot_msg(A) == {"market_ticker": A, "market_id": f"id-{A}", "clock": 110}


def test_meta_lines_and_impossible_deltas_end_trust():
    ex = ReplayExchange(Recording([]))
    ex.apply(snap(A, 1, 1, [["0.4000", "10.00"]]))
    ex.apply(snap(B, 1, 2, [["0.4000", "10.00"]]))
    ex.apply({"type": "kalshi_cli.meta", "event": "gap", "channel": "trade", "sid": 2})
    assert set(ex.markets) == {A, B}  # a trade gap says nothing about books
    ex.apply({"type": "kalshi_cli.meta", "event": "gap", "channel": "orderbook_delta", "sid": 1})
    assert not ex.markets
    ex.apply(snap(A, 1, 5, [["0.4000", "10.00"]]))
    ex.apply({"type": "kalshi_cli.meta", "event": "disconnect", "reason": "dropped"})
    assert not ex.markets
    ex.apply({"type": "kalshi_cli.meta", "event": "connect"})
    ex.apply(snap(A, 1, 1, [["0.4000", "10.00"]]))  # new connection: seq starts again, no false gap
    assert ex.apply(delta(A, 1, 2, "0.4000", "-11.00")) is None  # below zero: the book is wrong
    assert A not in ex.markets


def test_a_late_subscriber_gets_the_rebuilt_book_first():
    ex = ReplayExchange(Recording([]))
    ex.apply(snap(A, 9, 1, [["0.4000", "10.00"]]))
    ex.apply(delta(A, 9, 2, "0.4200", "7.00"))
    conn = ReplayConnection(ex, on_command=lambda engine: None, sending_ts=False)
    frames = conn.handle_text(
        orjson.dumps(
            {"id": 1, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [A, B]}}
        )
    )
    assert frames == [
        {"type": "subscribed", "id": 1, "msg": {"channel": "orderbook_delta", "sid": 1}},
        {
            "type": "orderbook_snapshot",
            "sid": 1,
            "seq": 1,
            "msg": {
                "market_ticker": A,
                "market_id": f"id-{A}",
                "clock": 102,
                "yes_dollars_fp": [["0.4000", "10.00"], ["0.4200", "7.00"]],
            },
        },
    ]  # B has no recorded book yet: nothing is invented for it


# --- replay: the server ----------------------------------------------------------------------------


async def test_sids_and_seqs_are_the_clients_own(tmp_path):
    frames = [
        {"type": "kalshi_cli.meta", "event": "connect", "recv_ts_ms": 1},
        snap(A, 5, 40, [["0.4000", "10.00"]]),
        snap(B, 5, 41, [["0.6000", "10.00"]]),
        trade(A, 6, 7),
        delta(A, 5, 42, "0.4000", "1.00"),
        delta(B, 5, 43, "0.6000", "1.00"),
        trade(B, 6, 8),
        {"type": "ticker", "sid": 8, "msg": {"market_ticker": A, "price_dollars": "0.4000"}},
        delta(A, 5, 44, "0.4000", "1.00"),
        trade(A, 6, 9),
    ]
    recording = scan([write(tmp_path / "rec.ndjson", frames)])
    server = ReplayServer(recording, speed=None, settle=0.05)
    url = await server.start()
    got: list[dict] = []
    try:
        async with connect(url) as ws:
            await ws.send(orjson.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["trade"]}}).decode())
            await ws.send(
                orjson.dumps(
                    {"id": 2, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"], "market_tickers": [A]}}
                ).decode()
            )
            await ws.send(orjson.dumps({"id": 3, "cmd": "list_subscriptions"}).decode())
            with pytest.raises(ConnectionClosedOK):
                while True:
                    got.append(orjson.loads(await ws.recv()))
    finally:
        await server.stop()
    replies = [f for f in got if "id" in f]
    assert [(f["type"], f["id"]) for f in replies] == [("subscribed", 1), ("subscribed", 2), ("ok", 3)]
    assert replies[2]["msg"] == [{"channel": "trade", "sid": 1}, {"channel": "orderbook_delta", "sid": 2}]
    data = [(f["type"], f["sid"], f["seq"], f["msg"].get("market_ticker")) for f in got if "id" not in f]
    assert data == [
        ("orderbook_snapshot", 2, 1, A),
        ("trade", 1, 1, A),
        ("orderbook_delta", 2, 2, A),
        ("trade", 1, 2, B),
        ("orderbook_delta", 2, 3, A),
        ("trade", 1, 3, A),
    ]
    assert server.replayed == 9
