"""``record --redundant 2 --sink nats://...``: two connections merged, one dropped in turn, into the bus.

The simulator is driven by hand (``tests/test_redundant_cli.py``'s ``run_with_drops``), so the
exchange's true events are known. The stream must hold each of them once, in the exchange's
order, exactly the lines written under ``-o``; ``tail --from`` prints them and ``book --from``
ends on the simulator's true books.
"""

from __future__ import annotations

import orjson

from tests.bus_servers import NatsServer
from tests.conftest import run_cli, signed_args, spawn_cli
from tests.test_bus_live import stream_messages
from tests.test_cli_tail import stop, wait_for
from tests.test_redundant_cli import run_with_drops, truth_of


def test_record_redundant_with_a_sink_publishes_each_event_once_through_drops(keys, sim_factory, tmp_path):
    from tests.test_cli_record_replay import recorded_data

    server = NatsServer(tmp_path).start()
    sink = f"{server.url}/KALSHI"
    try:
        sim = sim_factory(rate=0, markets=3)
        rec = tmp_path / "rec"
        markets = sum((["-m", t] for t in sim.tickers), [])
        args = ["record", "trade", "orderbook_delta", *markets, "-o", str(rec), "--redundant", "2"]
        args += ["--sink", sink, "--spool", str(tmp_path / "spool"), *signed_args(keys, sim.url)]

        def published() -> list[bytes]:
            return [data for _, _, data in stream_messages(server.url, "KALSHI")]

        def caught_up(events) -> bool:
            return sum(b'"type":"trade"' in p for p in published()) >= len(truth_of(events)[0])

        proc = spawn_cli(args)
        try:
            events = run_with_drops(sim, proc, rec, subs=2, caught_up=caught_up)
            truth_books = {t: sim.true_book(t) for t in sim.tickers}
        finally:
            code, err = stop(proc)
        assert code == 0, err
        stored = published()
        assert stored == recorded_data(rec)  # the bus holds what -o wrote, byte for byte
        got = [orjson.loads(p) for p in stored]
        trades, deltas = truth_of(events)
        assert [f["msg"]["trade_id"] for f in got if f["type"] == "trade"] == trades  # each once, in order
        for ticker, true in deltas.items():
            mine = [f["msg"] for f in got if f["type"] == "orderbook_delta" and f["msg"]["market_ticker"] == ticker]
            assert [(m["clock"], m["side"], m["price_dollars"], m["delta_fp"]) for m in mine] == true, ticker

        tail = run_cli(["tail", "--from", sink, "--json", "--count", str(len(stored))])
        assert tail.returncode == 0, tail.stderr
        assert tail.stdout.splitlines() == stored

        out = tmp_path / "books.ndjson"
        with out.open("wb") as fh:
            book = spawn_cli(["book", *sim.tickers, "--from", sink, "--json"], stdout=fh)
            try:

                def at_truth() -> dict | None:
                    seen = {}
                    for line in out.read_bytes().splitlines():
                        obj = orjson.loads(line)
                        seen[obj["market_ticker"]] = obj
                    done = all(t in seen and seen[t]["clock"] == truth_books[t]["clock"] for t in sim.tickers)
                    return seen if done else None

                final = wait_for(at_truth, what="books at the simulator's clocks")
            finally:
                code, err = stop(book)
        assert code == 0, err
        for t in sim.tickers:
            assert (final[t]["yes_dollars_fp"], final[t]["no_dollars_fp"]) == (
                truth_books[t].get("yes_dollars_fp", []),
                truth_books[t].get("no_dollars_fp", []),
            )
    finally:
        server.stop()
