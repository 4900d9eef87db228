"""``--continuity`` on tail and book: the CLI as a subprocess against the simulator's faults.

The lines a consumer should see are worked out from the simulator's own log of what it sent
(a seq that jumps is a gap, an async 10/25 error a resubscribe, a new connection a disconnect and
a connect) and compared with the output line by line: each continuity line exactly where its
fault is among the data, and without ``--continuity`` the data alone, byte for byte.
"""

from __future__ import annotations

import orjson
import pytest

from kalshi_cli.continuity import CONTINUITY, meta_line, read_continuity
from kalshi_cli.protocol import DATA_TYPES
from tests.conftest import assert_clean_error, signed_args, spawn_cli
from tests.inprocess import run_inprocess
from tests.test_cli_tail import lines_of, live_and_wanted, stop, subscribed, subscribed_total, wait_for

TERMINAL = (10, 17, 25)


def transcript(sim) -> list:
    """What ``tail --json --continuity`` must print for everything the simulator sent: the data
    frames as bytes, and a tuple for each continuity line, in place."""
    out: list = []
    for conn in range(sim.connections):
        if conn:
            out.append(("connect", conn + 1))
        channel_of: dict[int, str] = {}
        last: dict[int, int] = {}
        dead: set[int] = set()
        for text in sim.sent_frames(conn):
            frame = orjson.loads(text)
            kind, sid = frame.get("type"), frame.get("sid")
            if kind == "subscribed":
                channel_of[frame["msg"]["sid"]] = frame["msg"]["channel"]
                continue
            if sid not in channel_of or sid in dead:
                continue
            if kind == "error" and frame["msg"]["code"] in TERMINAL:
                out.append(("resubscribe", channel_of[sid], sid))
                dead.add(sid)
                continue
            seq = frame.get("seq")
            if seq is not None:
                before = last.get(sid, 0)
                if seq != before + 1:
                    out.append(("gap", channel_of[sid], sid, seq - before - 1, seq))
                last[sid] = seq
            if kind in DATA_TYPES:
                out.append(text.encode())
        if conn < sim.connections - 1:
            out.append(("disconnect",))
    return out


def as_transcript(lines: list[bytes]) -> list:
    """The output in ``transcript``'s terms (continuity lines checked for their shape on the way)."""
    out: list = []
    last_ts = 0
    for line in lines:
        obj = orjson.loads(line)
        if CONTINUITY not in obj:
            out.append(line)
            continue
        event = obj[CONTINUITY]
        assert isinstance(obj["recv_ts_ms"], int) and obj["recv_ts_ms"] >= last_ts, line
        assert list(obj)[-1] == "recv_ts_ms", line  # the recorder's order: the time last
        last_ts = obj["recv_ts_ms"]
        if event == "connect":
            out.append(("connect", obj["connection"]))
        elif event == "disconnect":
            assert obj["reason"], line
            out.append(("disconnect",))
        elif event == "gap":
            assert obj["markets"], line
            out.append(("gap", obj["channel"], obj["sid"], obj["missing"], obj["seq"]))
        elif event == "resubscribe":
            assert "Kalshi error" in obj["reason"], line
            out.append(("resubscribe", obj["channel"], obj["sid"]))
        else:
            out.append((event,))
    return out


def data_only(items: list) -> list[bytes]:
    return [item for item in items if isinstance(item, bytes)]


def run_faults(sim, proc, out) -> list:
    """A gap, a dropped connection and an error 25, with data between; returns the transcript."""
    wait_for(lambda: subscribed(sim) >= 2, what="subscriptions")
    sim.step(15)
    sim.skip_seq("orderbook_delta", 2)
    sim.step(15)
    wait_for(lambda: len(data_only(as_transcript(lines_of(out)))) >= len(data_only(transcript(sim))), what="frames")
    sim.drop_connections()
    wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 2, what="reconnect")
    sim.step(15)
    sim.send_error(25, "orderbook_delta")
    wait_for(lambda: subscribed_total(sim) >= 5, what="resubscribe after 25")
    sim.step(15)
    wait_for(lambda: len(data_only(as_transcript(lines_of(out)))) >= len(data_only(transcript(sim))), what="all")
    return transcript(sim)


@pytest.mark.parametrize("continuity", [True, False], ids=["continuity", "plain"])
def test_tail_continuity_lines_sit_exactly_at_the_faults(keys, sim_factory, tmp_path, continuity):
    sim = sim_factory(rate=0, markets=2)
    out = tmp_path / "out.ndjson"
    flags = ["--continuity"] if continuity else []
    args = ["tail", "orderbook_delta", "ticker", "-m", sim.tickers[0], "-m", sim.tickers[1], "--json", *flags]
    with out.open("wb") as fh:
        proc = spawn_cli([*args, *signed_args(keys, sim.url)], stdout=fh)
        try:
            want = run_faults(sim, proc, out)
        finally:
            code, err = stop(proc)
    assert code == 0, err
    got = lines_of(out)
    kinds = [item[0] for item in want if isinstance(item, tuple)]
    assert kinds == ["gap", "disconnect", "connect", "resubscribe"], kinds  # the faults happened as planned
    if continuity:
        assert as_transcript(got) == want
    else:  # without the flag: the frames as sent, nothing else, byte for byte
        assert got == data_only(want)
        assert not any(CONTINUITY.encode() in line for line in got)


def test_tail_continuity_through_a_trade_backfill_keeps_lines_and_count_apart(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=2)
    out = tmp_path / "out.ndjson"
    with out.open("wb") as fh:
        proc = spawn_cli(["tail", "trade", "--json", "--continuity", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(lambda: subscribed(sim) >= 1, what="subscription")
            sim.step(30)
            wait_for(lambda: len(lines_of(out)) >= len(data_only(transcript(sim))), what="first frames")
            sim.drop_connections()
            sim.step(30)  # trades while away: only the REST backfill brings them
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 1, what="reconnect")
            sim.step(30)
            sent = lambda: data_only(transcript(sim))  # noqa: E731
            wait_for(lambda: caught_up(frames_of(out), sent()), what="every trade")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    got = lines_of(out)
    events = [(i, orjson.loads(line)[CONTINUITY]) for i, line in enumerate(got) if CONTINUITY.encode() in line]
    assert [e for _, e in events] == ["disconnect", "connect"]
    (down, _), (up, _) = events
    first_conn = [line for line in got[:down] if b'"backfill"' not in line]
    assert first_conn == data_only(transcript(sim))[: len(first_conn)]
    # Trades made while away come back from REST between the two lines; the live stream follows.
    assert all(b'"backfill":true' in line for line in got[down + 1 : up])
    assert not any(b'"backfill":true' in line for line in got[up + 1 :])
    live, wanted = live_and_wanted(frames_of(out), sent())
    assert live == wanted


def caught_up(got: list[bytes], sent: list[bytes]) -> bool:
    live, wanted = live_and_wanted(got, sent)
    return len(live) >= len(wanted)


def frames_of(path) -> list[bytes]:
    return [line for line in lines_of(path) if CONTINUITY.encode() not in line]


def test_tail_count_does_not_count_continuity_lines(keys, sim_factory):
    sim = sim_factory(rate=200, markets=2)
    proc = run_inprocess(["tail", "ticker", "--json", "--continuity", "--count", "7", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 7  # no fault: no continuity line, seven frames


def book_events(lines: list[bytes]) -> list[dict]:
    return [orjson.loads(line) for line in lines]


def test_book_continuity_says_which_markets_are_stale_and_when_fresh(keys, sim_factory, tmp_path):
    sim = sim_factory(rate=0, markets=3)
    tickers = sim.tickers
    out = tmp_path / "book.ndjson"

    def books_true() -> bool:
        last = {obj["market_ticker"]: obj for obj in book_events(lines_of(out)) if CONTINUITY not in obj}
        for t in tickers:
            truth = sim.true_book(t)
            want = (truth.get("yes_dollars_fp", []), truth.get("no_dollars_fp", []), truth["clock"])
            if t not in last or (last[t]["yes_dollars_fp"], last[t]["no_dollars_fp"], last[t]["clock"]) != want:
                return False
        return True

    with out.open("wb") as fh:
        proc = spawn_cli(["book", *tickers, "--json", "--continuity", *signed_args(keys, sim.url)], stdout=fh)
        try:
            wait_for(books_true, what="first books")
            sim.skip_seq("orderbook_delta", 3)
            sim.step(20)
            wait_for(books_true, what="books healed after a gap")
            sim.drop_connections()
            wait_for(lambda: sim.connections >= 2 and subscribed(sim) >= 1, what="reconnect")
            sim.step(20)
            wait_for(books_true, what="books healed after reconnect")
            sim.send_error(25, "orderbook_delta")
            wait_for(lambda: subscribed_total(sim) >= 3, what="resubscribe")
            sim.step(20)
            wait_for(books_true, what="books healed after a resubscribe")
        finally:
            code, err = stop(proc)
    assert code == 0, err
    lines = book_events(lines_of(out))
    said = [obj[CONTINUITY] for obj in lines if CONTINUITY in obj]
    causes = [e for e in said if e not in ("stale", "fresh")]
    assert causes == ["gap", "disconnect", "connect", "resubscribe"], said
    gap = next(obj for obj in lines if obj.get(CONTINUITY) == "gap")
    assert (gap["channel"], gap["missing"], sorted(gap["markets"])) == ("orderbook_delta", 3, sorted(tickers))
    # Each cause is followed by a stale line naming every market, each market's fresh line, and
    # no book line of a market between its stale line and its fresh line.
    stale: set[str] = set()
    stale_lines = fresh_lines = 0
    for obj in lines:
        event = obj.get(CONTINUITY)
        if event == "stale":
            assert not stale & set(obj["markets"]), obj  # said once per change
            stale |= set(obj["markets"])
            stale_lines += 1
        elif event == "fresh":
            assert set(obj["markets"]) <= stale, obj
            stale -= set(obj["markets"])
            fresh_lines += len(obj["markets"])
        elif event is None:
            assert obj["market_ticker"] not in stale, obj
    assert not stale
    assert stale_lines >= 3 and fresh_lines >= 3 * len(tickers)


def test_book_without_continuity_prints_book_lines_only(keys, sim_factory):
    sim = sim_factory(rate=50, markets=2)
    proc = run_inprocess(["book", *sim.tickers, "--once", "--json", *signed_args(keys, sim.url)])
    assert proc.returncode == 0, proc.stderr
    assert sorted(orjson.loads(line)["market_ticker"] for line in proc.stdout.splitlines()) == sorted(sim.tickers)


@pytest.mark.parametrize("command", [["tail", "trade"], ["book"]])
def test_continuity_on_a_terminal_without_json_is_a_clear_error(command):
    proc = run_inprocess([*command, "--sim", "--continuity"], stdout_isatty=True)
    assert_clean_error(proc, 2, "--continuity", "--json")


def test_record_and_live_output_share_one_vocabulary():
    meta = orjson.loads(meta_line("gap", 5, channel="trade", sid=2, missing=1, seq=9, markets=[]))
    assert meta == {"type": "kalshi_cli.meta", "event": "gap", "channel": "trade", "sid": 2, "missing": 1,
                    "seq": 9, "markets": [], "recv_ts_ms": 5}  # fmt: skip
    live = {CONTINUITY: "gap", **{k: v for k, v in meta.items() if k not in ("type", "event")}}
    assert (
        read_continuity(meta)
        == read_continuity(live)
        == (
            "gap",
            {"channel": "trade", "sid": 2, "missing": 1, "seq": 9, "markets": [], "recv_ts_ms": 5},
        )
    )
    assert read_continuity({"type": "trade", "sid": 1, "msg": {}}) is None
