"""`kalshi export` on what users hand it: gzip and plain, torn and truncated files, files that are
not recordings, output directories in the way, a full disk, CSV, --from/--to and -m, no pyarrow.

Recordings here are written from the simulator's exchange model (its virtual clock), shaped
as `kalshi record` writes them; the export runs in-process where a subprocess adds nothing.
"""

from __future__ import annotations

import csv
import gzip
import os
import resource
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import orjson
import pytest

from kalshi_cli.protocol import channel_of_type
from kalshi_cli.sim.market import Exchange
from tests.conftest import ROOT, assert_clean_error, cli_env, run_cli
from tests.inprocess import run_inprocess

T0 = 1_795_615_200_000
SIDS = {
    "orderbook_delta": 1,
    "trade": 2,
    "ticker": 3,
    "fill": 4,
    "user_orders": 5,
    "market_positions": 6,
    "market_lifecycle_v2": 7,
}


def recording_lines(steps: int = 300, seed: int = 3, markets: int = 3) -> list[bytes]:
    """A `kalshi record` recording of the simulator's model: meta lines, snapshots, then its events."""
    ex = Exchange(seed=seed, n_markets=markets)
    seqs = dict.fromkeys(SIDS, 0)
    lines = [orjson.dumps({"type": "kalshi_cli.meta", "event": "connect", "connection": 1, "recv_ts_ms": ex.now_ms()})]

    def frame(kind: str, msg: dict) -> bytes:
        ch = channel_of_type(kind) or ""
        f: dict = {"type": kind, "sid": SIDS[ch]}
        if ch in ("orderbook_delta", "trade"):
            seqs[ch] += 1
            f["seq"] = seqs[ch]
        f["msg"] = msg
        f["recv_ts_ms"] = ex.now_ms() + 2
        return orjson.dumps(f)

    for ticker in ex.tickers:
        lines.append(frame("orderbook_snapshot", ex.snapshot_msg(ticker)))
    for _ in range(steps):
        for ev in ex.step():
            if channel_of_type(ev.type) in SIDS:
                lines.append(frame(ev.type, ev.msg))
    return lines


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def parquet(out: Path, name: str) -> str:
    return f"read_parquet('{out}/{name}/*/*.parquet', hive_partitioning=true)"


def export(*args: str) -> subprocess.CompletedProcess[bytes]:
    return run_inprocess(["export", *args])


def test_plain_gzip_and_rotated_sets_give_the_same_tables(tmp_path):
    lines = recording_lines()
    plain = write(tmp_path / "one.ndjson", lines)
    rotated = tmp_path / "rotated"
    rotated.mkdir()
    third = len(lines) // 3
    for i, chunk in enumerate((lines[:third], lines[third : 2 * third], lines[2 * third :])):
        data = b"".join(line + b"\n" for line in chunk)
        name = f"kalshi-20261125T14000{i}.000Z-000{i + 1}.ndjson"
        if i == 1:  # a gzip file among plain ones, named as 'record --gzip' names them
            (rotated / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (rotated / name).write_bytes(data)
    a, b = tmp_path / "a", tmp_path / "b"
    assert export(str(plain), "-o", str(a)).returncode == 0
    done = export(str(rotated), "-o", str(b))
    assert done.returncode == 0, done.stderr
    tables = ("trades", "book_top", "book_snapshots", "deltas", "tickers", "lifecycle", "fills", "orders", "positions")
    for name in tables:
        q = "SELECT * EXCLUDE (date) FROM {} ORDER BY ALL"
        assert duckdb.sql(q.format(parquet(a, name))).fetchall() == duckdb.sql(q.format(parquet(b, name))).fetchall()
        assert duckdb.sql(f"SELECT count(*) FROM {parquet(a, name)}").fetchall()[0][0] > 0, name


def test_a_truncated_gzip_member_and_a_torn_last_line_warn_and_go_on(tmp_path):
    lines = recording_lines()
    data = gzip.compress(b"".join(line + b"\n" for line in lines[:200])) + gzip.compress(
        b"".join(line + b"\n" for line in lines[200:])
    )
    cut = tmp_path / "kalshi-a.ndjson.gz"
    cut.write_bytes(data[:-30])  # the second member ends early: a killed recorder with --gzip
    torn = tmp_path / "kalshi-b.ndjson"
    torn.write_bytes(b"".join(line + b"\n" for line in lines[:100]) + lines[100][:40])  # half a line at the end
    out = tmp_path / "out"
    done = export(str(cut), str(torn), "-o", str(out))
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert "compressed data ends early" in err and "last line is incomplete" in err and "Traceback" not in err
    assert duckdb.sql(f"SELECT count(*) FROM {parquet(out, 'deltas')}").fetchall()[0][0] > 0


@pytest.mark.parametrize(
    "content,needle",
    [
        (b"time,price\n1,2\n", "is not a Kalshi recording"),
        (b'{"market_ticker":"X","yes_dollars_fp":[]}\n', "is not a Kalshi recording"),
        (b"\x1f\x8b\x08garbage", "is not a Kalshi recording"),
        (b"", "is empty"),
        (None, "no such file"),
    ],
    ids=["csv", "json-but-not-kalshi", "bad-gzip", "empty", "missing"],
)
def test_a_file_that_is_not_a_recording_is_one_line_and_nothing_written(tmp_path, content, needle):
    path = tmp_path / "rec.ndjson"
    if content is not None:
        path.write_bytes(content)
    out = tmp_path / "out"
    assert_clean_error(export(str(path), "-o", str(out)), 2, needle)
    assert not out.exists()


def test_an_existing_output_directory_is_refused_unless_overwrite(tmp_path):
    rec = write(tmp_path / "rec.ndjson", recording_lines(100))
    out = tmp_path / "out"
    assert export(str(rec), "-o", str(out)).returncode == 0
    mine = out / "notes.txt"
    mine.write_text("keep me")
    assert_clean_error(export(str(rec), "-o", str(out)), 2, "is not empty", "--overwrite")
    done = export(str(rec), "-o", str(out), "--overwrite", "--tables", "trades")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "trades"]  # old tables gone, the rest kept
    assert mine.read_text() == "keep me"
    (tmp_path / "file").write_text("x")
    assert_clean_error(export(str(rec), "-o", str(tmp_path / "file")), 2, "not a directory")


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--format", "xlsx"], "--format"),
        (["--every", "0s"], "--every"),
        (["--every", "soon"], "--every"),
        (["--tables", "trade"], "did you mean trades"),
        (["--from", "yesterday"], "--from"),
        (["--depth", "0"], "--depth"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path, args, needle):
    rec = write(tmp_path / "rec.ndjson", recording_lines(20))
    assert_clean_error(export(str(rec), "-o", str(tmp_path / "out"), *args), 2, needle)


def test_without_pyarrow_parquet_names_the_extra_and_csv_works(tmp_path, monkeypatch):
    rec = write(tmp_path / "rec.ndjson", recording_lines(50))
    for name in ("pyarrow", "pyarrow.parquet", "pyarrow.compute"):
        monkeypatch.setitem(sys.modules, name, None)  # import pyarrow now raises ImportError
    assert_clean_error(export(str(rec), "-o", str(tmp_path / "p")), 2, "[parquet] extra", "pip install")
    assert not (tmp_path / "p").exists()
    assert export(str(rec), "-o", str(tmp_path / "c"), "--format", "csv").returncode == 0


def test_csv_has_the_same_rows_as_parquet_with_exact_decimal_strings(tmp_path):
    rec = write(tmp_path / "rec.ndjson", recording_lines())
    assert export(str(rec), "-o", str(tmp_path / "p")).returncode == 0
    assert export(str(rec), "-o", str(tmp_path / "c"), "--format", "csv").returncode == 0
    for name in ("trades", "book_top", "deltas", "tickers", "continuity", "fills"):
        files = sorted((tmp_path / "c" / name).glob("date=*/part-*.csv"))
        assert files, name
        with files[0].open(newline="") as fh:
            header = next(csv.reader(fh))
        cols = duckdb.sql(f"SELECT * EXCLUDE (date) FROM {parquet(tmp_path / 'p', name)} LIMIT 0").columns
        assert header == cols, name
        got = duckdb.sql(
            f"SELECT * EXCLUDE (date) FROM read_csv('{tmp_path}/c/{name}/*/*.csv', all_varchar=true) ORDER BY ALL"
        ).fetchall()
        want = duckdb.sql(f"SELECT * EXCLUDE (date) FROM {parquet(tmp_path / 'p', name)}").fetchall()
        assert len(got) == len(want), name
    trades = list(csv.DictReader((tmp_path / "c" / "trades").glob("*/*.csv").__next__().open()))
    raw = {
        obj["msg"]["trade_id"]: obj["msg"]
        for obj in map(orjson.loads, rec.read_bytes().splitlines())
        if obj.get("type") == "trade"
    }
    for row in trades:  # the exchange's own strings, to the last digit
        assert row["yes_price"] == raw[row["trade_id"]]["yes_price_dollars"]
        assert row["count"] == raw[row["trade_id"]]["count_fp"]
        assert row["ts"].endswith("Z") and len(row["ts"]) == len("2026-11-25T14:00:00.123Z")


def test_a_float_where_a_whole_number_belongs_is_empty_in_parquet_as_in_csv_never_cut(tmp_path):
    """Arrow turns 2.5 into 2 in an int64 column without a word: a hostile frame's float seq,
    clock or receive time must be empty (null), as CSV leaves it, not a plausible wrong number."""
    lines = recording_lines(40)
    delta = next(i for i, line in enumerate(lines) if b'"type":"orderbook_delta"' in line)
    obj = orjson.loads(lines[delta])
    good = (obj["seq"], obj["msg"]["clock"])
    obj["seq"], obj["msg"]["clock"], obj["recv_ts_ms"] = obj["seq"] + 0.5, obj["msg"]["clock"] + 0.7, 1.5
    lines[delta] = orjson.dumps(obj)
    rec = write(tmp_path / "rec.ndjson", lines)
    assert export(str(rec), "-o", str(tmp_path / "p"), "--tables", "deltas").returncode == 0
    assert export(str(rec), "-o", str(tmp_path / "c"), "--tables", "deltas", "--format", "csv").returncode == 0
    kinds = "type = 'delta' AND market = '{}'".format(obj["msg"]["market_ticker"])
    row = "SELECT recv_ts, seq, clock FROM {} WHERE " + kinds + " AND (seq IS NULL OR seq = {}) ORDER BY ts LIMIT 1"
    cut = duckdb.sql(row.format(parquet(tmp_path / "p", "deltas"), good[0])).fetchall()
    assert cut == [(None, None, None)], cut  # not seq good[0], clock good[1] (the float cut down)
    text = f"read_csv('{tmp_path}/c/deltas/*/*.csv', all_varchar=true)"
    assert duckdb.sql(row.format(text, good[0])).fetchall() == [(None, None, None)]
    whole = duckdb.sql(f"SELECT count(*) FROM {parquet(tmp_path / 'p', 'deltas')} WHERE seq IS NOT NULL").fetchall()
    assert whole[0][0] > 0  # the rest of the batch keeps its numbers


def test_from_to_and_markets_select_rows_from_books_rebuilt_before_the_window(tmp_path):
    lines = recording_lines(400)
    rec = write(tmp_path / "rec.ndjson", lines)
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert export(str(rec), "-o", str(whole)).returncode == 0
    (lo, hi), ticker = (
        duckdb.sql(f"SELECT quantile_disc(epoch_ms(ts), [0.4, 0.7]) FROM {parquet(whole, 'book_top')}").fetchall()[0][
            0
        ],
        duckdb.sql(f"SELECT any_value(market) FROM {parquet(whole, 'book_top')}").fetchall()[0][0],
    )
    done = export(str(rec), "-o", str(part), "--from", str(lo), "--to", f"{hi}", "-m", ticker)
    assert done.returncode == 0, done.stderr
    for name in ("book_top", "trades", "deltas", "book_snapshots"):
        q = "SELECT * EXCLUDE (date) FROM {} WHERE {} ORDER BY ALL"
        window = f"epoch_ms(ts) >= {lo} AND epoch_ms(ts) < {hi} AND market = '{ticker}'"
        want = duckdb.sql(q.format(parquet(whole, name), window)).fetchall()
        got = duckdb.sql(q.format(parquet(part, name), "true")).fetchall() if (part / name).exists() else []
        assert got == want, name  # the same rows: the books were whole before the window began
    iso = duckdb.sql(f"SELECT strftime(make_timestamp({lo} * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')").fetchall()[0][0]
    again = tmp_path / "iso"
    assert export(str(rec), "-o", str(again), "--from", iso, "--tables", "book_top").returncode == 0
    assert duckdb.sql(f"SELECT min(epoch_ms(ts)) >= {lo} FROM {parquet(again, 'book_top')}").fetchall()[0][0]


def test_decimals_keep_every_digit(tmp_path):
    trade = {
        "type": "trade",
        "sid": 2,
        "seq": 1,
        "msg": {
            "trade_id": "t1",
            "market_ticker": "KXA-1",
            "yes_price_dollars": "0.0001",
            "no_price_dollars": "0.9999",
            "count_fp": "123456789012.34",
            "taker_side": "yes",
            "ts_ms": 1_795_615_200_123,
        },
        "recv_ts_ms": 1_795_615_200_125,
    }
    odd = {**trade, "seq": 2, "msg": {**trade["msg"], "trade_id": "t2", "yes_price_dollars": "0.12345"}}
    listy = {**trade, "seq": 3, "msg": {**trade["msg"], "trade_id": ["t3"], "count_fp": {"x": 1}}}
    # a list where a price belongs, under a good id: the trade is kept (its id is not taken by the
    # failed first reading), that price emptied
    listed_price = {**trade, "seq": 4, "msg": {**trade["msg"], "trade_id": "t4", "yes_price_dollars": ["0.5"]}}
    # more digits than a decimal(18, 2) column holds: refused (one warning), never cut or a crash
    huge = {**trade, "seq": 5, "msg": {**trade["msg"], "trade_id": "t5", "count_fp": "90000000000000000.00"}}
    rec = write(tmp_path / "rec.ndjson", [orjson.dumps(f) for f in (trade, odd, listy, listed_price, huge)])
    done = export(str(rec), "-o", str(tmp_path / "out"), "--tables", "trades")
    assert done.returncode == 0, done.stderr
    rows = duckdb.sql(
        f"SELECT trade_id, yes_price, no_price, count, ts, recv_ts FROM {parquet(tmp_path / 'out', 'trades')} "
        "ORDER BY seq"
    ).fetchall()
    assert rows[3][:4] == ("t4", None, Decimal("0.9999"), Decimal("123456789012.34"))
    assert rows[4][:4] == ("t5", Decimal("0.0001"), Decimal("0.9999"), None)
    assert rows[0][1:4] == (Decimal("0.0001"), Decimal("0.9999"), Decimal("123456789012.34"))
    assert rows[1][1] is None  # 0.12345 is finer than Kalshi's price unit: refused, never rounded
    assert rows[2][0] is None and rows[2][3] is None  # a list or object where a string belongs: emptied
    assert "not exact decimal strings" in done.stderr.decode()
    assert rows[0][4].timestamp() == 1_795_615_200.123 and rows[0][5].timestamp() == 1_795_615_200.125


def _limit_file_size(limit: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing us

    return apply


def _check_left_complete(out: Path) -> int:
    files = [p for p in out.rglob("*") if p.is_file()]
    for path in files:
        duckdb.sql(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0]  # raises if torn
    return len(files)


def test_a_file_size_limit_is_one_line_and_leaves_only_complete_files(tmp_path):
    """A full disk, as RLIMIT_FSIZE makes one (EFBIG) in the export's own process."""
    rec = write(tmp_path / "rec.ndjson", recording_lines(3000))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "kalshi_cli", "export", str(rec), "-o", str(out), "--tables", "deltas,book_top"],
        env=cli_env(),
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        preexec_fn=_limit_file_size(60_000),
    )
    line = assert_clean_error(proc, 1, "cannot write", "complete and readable")
    assert "File too large" in line
    assert _check_left_complete(out) >= 1  # the tables that fit were closed properly: readable


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]).returncode == 0


def test_a_full_tmpfs_is_one_line_and_leaves_only_complete_files(tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "300k"):
        pytest.skip("cannot mount a tmpfs here (needs root); the RLIMIT_FSIZE test covers EFBIG")
    try:
        rec = write(tmp_path / "rec.ndjson", recording_lines(3000))
        proc = run_cli(["export", str(rec), "-o", str(disk / "out")], timeout=120)
        line = assert_clean_error(proc, 1, "cannot write", "complete and readable")
        assert "No space left" in line
        _check_left_complete(disk / "out")
    finally:
        subprocess.run(["umount", str(disk)])


def test_export_help_imports_neither_pyarrow_nor_the_export_package():
    probe = (
        "import contextlib, io, sys\nfrom kalshi_cli.cli import _run\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    _run(['export', '--help'])\n"
        "print(' '.join(sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, env=cli_env(), cwd=ROOT, timeout=60)
    modules = done.stdout.decode().split()
    assert "kalshi_cli.commands.export" in modules
    assert not [m for m in modules if m.startswith(("pyarrow", "kalshi_cli.export", "orjson", "asyncio"))]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_mid_export_leaves_only_complete_files(tmp_path, sig):
    """Ctrl-C (to the whole process group, as a terminal sends it) or SIGTERM while both passes
    write: every file left is readable, and the line says the tables are partial."""
    rec = write(tmp_path / "rec.ndjson", recording_lines(40_000, markets=5))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_cli", "export", str(rec), "-o", str(out)],
        env=cli_env(),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    while proc.poll() is None and not list(out.rglob("*.parquet")):
        time.sleep(0.01)  # a part file exists: both passes are writing
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    text = err.decode()
    assert "Traceback" not in text
    if "interrupted" in text:  # (on a fast machine the export may have finished first)
        assert proc.returncode == (130 if sig == signal.SIGINT else 0), text
    else:
        assert proc.returncode == 0, text
    assert _check_left_complete(out) >= 1


def test_a_book_the_data_makes_stale_writes_nothing_until_its_next_snapshot(tmp_path):
    """A delta that drives a level below zero: a 'stale' row, no book_top until the snapshot, a 'fresh' row."""

    def delta(seq: int, clock: int, price: str, size: str) -> dict:
        msg = {"market_ticker": "KXA-1", "market_id": "m", "clock": clock, "price_dollars": price}
        msg |= {"delta_fp": size, "side": "yes", "ts_ms": T0 + seq}
        return {"type": "orderbook_delta", "sid": 1, "seq": seq, "msg": msg, "recv_ts_ms": T0 + seq}

    def snapshot(seq: int, clock: int, yes: list) -> dict:
        msg = {"market_ticker": "KXA-1", "market_id": "m", "clock": clock, "yes_dollars_fp": yes}
        return {"type": "orderbook_snapshot", "sid": 1, "seq": seq, "msg": msg, "recv_ts_ms": T0 + seq}

    frames = [
        snapshot(1, 10, [["0.4000", "100.00"]]),
        delta(2, 11, "0.4100", "5.00"),  # a new best bid
        delta(3, 12, "0.4000", "-150.00"),  # below zero: the book is not what the exchange has
        delta(4, 13, "0.4200", "7.00"),  # ignored: the book is stale
        snapshot(5, 14, [["0.4000", "100.00"], ["0.4300", "1.00"]]),
        delta(6, 15, "0.4300", "1.00"),
    ]
    rec = write(tmp_path / "rec.ndjson", [orjson.dumps(f) for f in frames])
    out = tmp_path / "out"
    assert export(str(rec), "-o", str(out), "--tables", "book_top,continuity").returncode == 0
    tops = duckdb.sql(f"SELECT clock, bid, bid_size FROM {parquet(out, 'book_top')} ORDER BY clock").fetchall()
    assert tops == [
        (10, Decimal("0.4"), Decimal("100")),
        (11, Decimal("0.41"), Decimal("5")),
        (14, Decimal("0.43"), Decimal("1")),
        (15, Decimal("0.43"), Decimal("2")),
    ]
    rows = duckdb.sql(
        "SELECT event, markets, source, epoch_ms(from_ts), epoch_ms(until_ts), reason "
        f"FROM {parquet(out, 'continuity')} ORDER BY ts"
    ).fetchall()
    assert [r[:3] for r in rows] == [("stale", ["KXA-1"], "data"), ("fresh", ["KXA-1"], "data")]
    assert rows[0][4] == rows[1][4] == T0 + 5 and "below zero" in rows[0][5]


def test_each_bad_line_is_reported_once_whichever_pass_reads_it(tmp_path):
    """The book pass skips ticker lines unread and the other pass reads them: each bad line is one warning."""
    lines = recording_lines(100)
    bad_ticker = b'{"type":"ticker","sid":3,"msg":{"market_ticker":oops}}'  # whole, but not JSON
    bad_trade = b'{"type":"trade","sid":2,"seq":1,"msg":{"trade_id":]}}'
    rec = write(tmp_path / "rec.ndjson", [*lines[:50], bad_ticker, *lines[50:80], bad_trade, *lines[80:]])
    done = export(str(rec), "-o", str(tmp_path / "out"))
    err = done.stderr.decode()
    assert done.returncode == 0, err
    assert err.count("not a JSON line") == 2, err
    assert "rec.ndjson:51: " in err and "rec.ndjson:82: " in err, err  # (line numbers from 1)


def test_one_market_alone_gets_the_rows_it_gets_among_all_through_a_gap(tmp_path):
    lines = recording_lines(400)
    deltas = [i for i, line in enumerate(lines) if line.startswith(b'{"type":"orderbook_delta"')]
    del lines[deltas[len(deltas) // 2]]  # a frame lost: a seq gap on the book sid
    rec = write(tmp_path / "rec.ndjson", lines)
    whole = tmp_path / "whole"
    assert export(str(rec), "-o", str(whole), "--tables", "book_top,continuity").returncode == 0
    gaps = duckdb.sql(f"SELECT count(*) FROM {parquet(whole, 'continuity')} WHERE event = 'gap'").fetchall()[0][0]
    assert gaps == 1
    for (ticker,) in duckdb.sql(f"SELECT DISTINCT market FROM {parquet(whole, 'book_top')}").fetchall():
        alone = tmp_path / ticker
        assert export(str(rec), "-o", str(alone), "--tables", "book_top", "-m", ticker).returncode == 0
        q = "SELECT * EXCLUDE (date) FROM {} WHERE market = '{}' ORDER BY ALL"
        assert (
            duckdb.sql(q.format(parquet(alone, "book_top"), ticker)).fetchall()
            == duckdb.sql(q.format(parquet(whole, "book_top"), ticker)).fetchall()
        )


def test_rows_go_to_the_utc_day_of_their_exchange_time(tmp_path):
    day = 86_400_000
    frames = [
        {"type": "trade", "sid": 2, "seq": i + 1, "msg": {"trade_id": f"t{i}", "market_ticker": "KXA-1", "ts_ms": ts}}
        for i, ts in enumerate((T0, T0 + day - T0 % day - 1, T0 + 3 * day, T0 + day))  # the last one comes late
    ]
    rec = write(tmp_path / "rec.ndjson", [orjson.dumps(f) for f in frames])
    out = tmp_path / "out"
    assert export(str(rec), "-o", str(out), "--tables", "trades").returncode == 0
    days = sorted(p.name for p in (out / "trades").iterdir())
    assert days == ["date=2026-11-25", "date=2026-11-26", "date=2026-11-28"]
    utc_day = "strftime(make_timestamp(epoch_ms(ts) * 1000), '%Y-%m-%d')"  # (not ts::DATE: the session's zone)
    got = duckdb.sql(f"SELECT trade_id, date::VARCHAR, {utc_day} FROM {parquet(out, 'trades')}").fetchall()
    assert all(d == ts_day for _, d, ts_day in got) and len(got) == 4


def test_continuity_alone_is_the_continuity_of_a_whole_export(tmp_path):
    """The continuity table does not depend on the other tables asked for: its books are rebuilt
    (a gap's until_ts is the market's next snapshot, a 'fresh' row) even when no book table is."""

    def frame(kind: str, seq: int, clock: int, **fields: object) -> bytes:
        msg = {"market_ticker": "KXA-1", "market_id": "m", "clock": clock, "ts_ms": T0 + seq, **fields}
        return orjson.dumps({"type": kind, "sid": 1, "seq": seq, "msg": msg, "recv_ts_ms": T0 + seq})

    meta = [
        {"type": "kalshi_cli.meta", "event": "connect", "connection": 1, "recv_ts_ms": T0},
        {"type": "kalshi_cli.meta", "event": "subscribed", "channel": "orderbook_delta", "sid": 1,
         "markets": ["KXA-1"], "recv_ts_ms": T0},
    ]  # fmt: skip
    rec = write(
        tmp_path / "rec.ndjson",
        [orjson.dumps(m) for m in meta]
        + [
            frame("orderbook_snapshot", 1, 10, yes_dollars_fp=[["0.4000", "100.00"]]),
            frame("orderbook_delta", 2, 11, price_dollars="0.4100", delta_fp="5.00", side="yes"),
            frame("orderbook_delta", 4, 13, price_dollars="0.4200", delta_fp="1.00", side="yes"),  # seq 3 lost
            frame("orderbook_snapshot", 5, 15, yes_dollars_fp=[["0.4000", "100.00"]]),
        ],
    )
    got = {}
    for tables in ("continuity", "continuity,book_top", "continuity,deltas,trades"):
        out = tmp_path / tables.replace(",", "-")
        assert export(str(rec), "-o", str(out), "--tables", tables).returncode == 0
        got[tables] = duckdb.sql(
            "SELECT event, markets, epoch_ms(from_ts), epoch_ms(ts), epoch_ms(until_ts), source "
            f"FROM {parquet(out, 'continuity')} ORDER BY ts, event"
        ).fetchall()
    assert got["continuity"] == got["continuity,book_top"] == got["continuity,deltas,trades"]
    assert [r[0] for r in got["continuity"]] == ["connect", "gap", "fresh"]
    gap = got["continuity"][1]
    assert gap[1] == ["KXA-1"] and gap[4] == T0 + 5  # not trusted until the snapshot after the gap
