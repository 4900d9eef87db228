"""The README's Research commands run as written: record, export, then DuckDB queries on the tables.

``RESEARCH`` is the text proposed for README.md's "Research" section; every DuckDB query the
README shows must be one of ``QUERIES`` (checked below), and each runs here, in a shell, on
tables exported from a recording of the simulator, exactly as a user types it.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow

RECORD = "kalshi record orderbook_delta trade ticker --sim -o data/"
EXPORT = "kalshi export data/ -o research/"
QUERIES = [
    # trades per market: count, contracts, price range (exact decimals)
    'python3 -c "import duckdb; duckdb.sql(\\"SELECT market, count(*) AS trades, sum(count) AS contracts, '
    "min(yes_price) AS low, max(yes_price) AS high FROM 'research/trades/*/*.parquet' GROUP BY market "
    'ORDER BY trades DESC\\").show()"',
    # each trade with the best bid and ask just before it (an as-of join on exchange time)
    'python3 -c "import duckdb; duckdb.sql(\\"SELECT t.ts, t.market, t.taker_side, t.yes_price, b.bid, b.ask '
    "FROM 'research/trades/*/*.parquet' t ASOF JOIN 'research/book_top/*/*.parquet' b "
    'ON t.market = b.market AND t.ts >= b.ts ORDER BY t.ts LIMIT 10\\").show()"',
    # when not to trust the data, and which markets
    'python3 -c "import duckdb; duckdb.sql(\\"SELECT event, from_ts, until_ts, markets, reason '
    "FROM 'research/continuity/*/*.parquet' ORDER BY ts\\\").show()\"",
]


def test_readme_queries_are_the_tested_ones():
    readme = (ROOT / "README.md").read_text()
    shown = [line.strip() for line in readme.splitlines() if line.strip().startswith('python3 -c "import duckdb')]
    for line in shown:
        assert re.sub(r"\s+#\s.*$", "", line) in QUERIES, line


def test_record_export_query_as_written(tmp_path: Path):
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    rec = subprocess.Popen(
        ["bash", "-c", f"exec {RECORD}"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(4)  # the simulator's market moves meanwhile
    rec.send_signal(signal.SIGINT)
    _, err = rec.communicate(timeout=30)
    assert rec.returncode in (0, 130), err
    done = subprocess.run(["bash", "-c", EXPORT], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for query in QUERIES:
        ran = subprocess.run(["bash", "-c", query], cwd=tmp_path, env=env, capture_output=True, timeout=120)
        assert ran.returncode == 0, (query, ran.stderr.decode())
        assert b"rows" in ran.stdout or b"\xe2\x94\x82" in ran.stdout, ran.stdout  # a table was printed
