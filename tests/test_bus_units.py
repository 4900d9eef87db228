"""The bus's pure parts fed data: subject tokens, URLs and their secrets, stream checks, the spool, merged books."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.bus.books import MergedBookSet
from kalshi_cli.bus.spool import Item, Spool, decode_line, encode_line
from kalshi_cli.bus.stream import StreamSpec, parse_duration, stream_problems, subject_covers
from kalshi_cli.bus.subjects import (
    NO_MARKET,
    decode_token,
    encode_token,
    filter_subjects,
    subject_for,
    subject_parts,
)
from kalshi_cli.bus.target import parse_target
from kalshi_cli.errors import UsageError

SPECIAL = set(".*> \t\r\n\x0b\x0c")


@given(st.text(min_size=1))
def test_a_token_decodes_to_its_text_and_holds_no_special_character(text):
    token = encode_token(text)
    assert decode_token(token) == text
    assert not SPECIAL & set(token)
    assert all(c.isascii() and c.isprintable() for c in token)
    assert token != NO_MARKET


@given(st.text(min_size=1), st.text(min_size=1))
def test_different_texts_get_different_tokens(a, b):
    if a != b:
        assert encode_token(a) != encode_token(b)


@given(st.text(min_size=1, alphabet=st.characters(codec="utf-8")))
def test_a_subject_gives_back_its_env_channel_and_market(ticker):
    frame = {"type": "orderbook_snapshot", "msg": {"market_ticker": ticker}}
    subject = subject_for("prod", frame)
    assert subject.count(".") == 3
    assert subject_parts(subject) == ("prod", "orderbook_snapshot", ticker)  # beside its deltas' subject
    deltas = subject_for("prod", {"type": "orderbook_delta", "msg": {"market_ticker": ticker}})
    assert subject_parts(deltas) == ("prod", "orderbook_delta", ticker)


def test_tickers_with_dots_and_frames_without_a_market():
    frame = {"type": "trade", "msg": {"market_ticker": "KXBTCD-26NOV2517-T97999.99"}}
    assert subject_for("prod", frame) == "kalshi.prod.trade.KXBTCD-26NOV2517-T97999%2E99"
    assert subject_for("demo", {"type": "cfbenchmarks_value", "msg": {"index_id": "BRTI"}}) == (
        "kalshi.demo.cfbenchmarks_value.%"
    )
    assert subject_parts("kalshi.demo.cfbenchmarks_value.%") == ("demo", "cfbenchmarks_value", None)
    assert filter_subjects(None, ["trade"], ["A.B"]) == ["kalshi.*.trade.A%2EB"]
    assert filter_subjects(None, [], []) == ["kalshi.*.*.*"]
    assert filter_subjects("sim", ["orderbook_delta", "trade"], ["M"]) == [  # the book channel: both subjects
        "kalshi.sim.orderbook_delta.M",
        "kalshi.sim.orderbook_snapshot.M",
        "kalshi.sim.trade.M",
    ]


@pytest.mark.parametrize("token", ["", "a.b", "%2", "%zz", "%41", "a b", "%C3", ">"])
def test_tokens_encode_never_writes_are_refused(token):
    with pytest.raises(ValueError):
        decode_token(token)


def test_urls_and_credentials_and_their_redaction():
    t = parse_target("nats://alice:s%40cret@127.0.0.1:4333/REC", option="--sink", environ={})
    assert (t.user, t.password, t.stream, t.servers) == ("alice", "s@cret", "REC", ["nats://127.0.0.1:4333"])
    assert "s@cret" not in t.display and "s%40cret" not in t.display and t.display.startswith("nats://alice:***@")
    assert "s@cret" not in repr(t)
    tok = parse_target("tls://tok123@h1,h2:4223", option="--from", environ={})
    assert tok.token == "tok123" and tok.stream == "KALSHI" and tok.scheme == "tls"
    assert tok.servers == ["tls://h1:4222", "tls://h2:4223"] and "tok123" not in tok.display
    env = parse_target("nats://h", option="--from", environ={"NATS_USER": "bob", "NATS_PASSWORD": "pw"})
    assert (env.user, env.password) == ("bob", "pw") and "pw" not in env.display
    assert parse_target("nats://h", option="--from", environ={"NATS_TOKEN": "t"}).token == "t"


@pytest.mark.parametrize(
    "url, needle",
    [
        ("http://h:1/S", "expects nats://"),
        ("nats://h:99999/S", "bad host or port"),
        ("nats://h/A.B", "stream name"),
        ("nats://u:hunter2@h/S?x=1", "no query"),
    ],
)
def test_bad_urls_are_one_line_without_the_password(url, needle):
    with pytest.raises(UsageError) as err:
        parse_target(url, option="--sink", environ={})
    assert needle in str(err.value) and "hunter2" not in str(err.value)


def test_missing_credential_files_are_named(tmp_path):
    with pytest.raises(UsageError, match="NATS_CREDS"):
        parse_target("nats://h", option="--from", environ={"NATS_CREDS": str(tmp_path / "none.creds")})


def config(**kw):
    base = {"duplicate_window": 120.0, "subjects": ["kalshi.>"], "mirror": None, "sealed": False, "no_ack": False}
    return SimpleNamespace(**{**base, **kw})


def test_stream_settings_that_break_deduplication():
    spec = StreamSpec(duplicate_window=120.0)
    assert stream_problems(config(), spec, "prod") == []
    assert stream_problems(config(subjects=["kalshi.prod.>"]), spec, "prod") == []
    assert "0" in stream_problems(config(duplicate_window=0), spec, "prod")[0]
    assert "shorter" in stream_problems(config(duplicate_window=30.0), spec, "prod")[0]
    assert "do not include" in stream_problems(config(subjects=["kalshi.demo.>"]), spec, "prod")[0]
    assert "do not include" in stream_problems(config(subjects=["kalshi.prod.trade.*"]), spec, "prod")[0]
    assert len(stream_problems(config(mirror=object(), sealed=True), spec, "prod")) == 2


@pytest.mark.parametrize(
    "patterns, subject, covered",
    [
        (["kalshi.>"], "kalshi.prod.*.*", True),
        (["kalshi.*.*.*"], "kalshi.prod.*.*", True),
        ([">"], "kalshi.prod.*.*", True),
        (["kalshi.prod.*.*"], "kalshi.prod.*.*", True),
        (["kalshi.prod.trade.*"], "kalshi.prod.*.*", False),
        (["kalshi.*"], "kalshi.prod.*.*", False),
        (["other.>", "kalshi.prod.>"], "kalshi.prod.*.*", True),
    ],
)
def test_subject_cover(patterns, subject, covered):
    assert subject_covers(patterns, subject) is covered


def test_durations():
    assert parse_duration("2m", "--x") == 120.0
    assert parse_duration("1h30m", "--x") == 5400.0
    with pytest.raises(UsageError):
        parse_duration("soon", "--x")


@given(st.lists(st.tuples(st.text(min_size=1), st.one_of(st.none(), st.text()), st.binary(max_size=40))))
def test_a_spool_line_gives_back_subject_id_and_the_payload_bytes(items):
    for subject, msg_id, body in items:
        payload = orjson.dumps({"raw": body.hex(), "s": subject})
        item = decode_line(encode_line(Item(subject, msg_id, payload)) + b"\n")
        assert item is not None and (item.subject, item.msg_id, item.payload) == (subject, msg_id, payload)


def make_items(n: int, start: int = 0) -> list[Item]:
    return [Item(f"kalshi.sim.trade.M{i % 3}", f"sim:t:{i}", b'{"n":%d}' % i) for i in range(start, start + n)]


def test_the_spool_keeps_order_across_files_and_runs(tmp_path, monkeypatch):
    monkeypatch.setattr("kalshi_cli.bus.spool.SPOOL_FILE_BYTES", 200)
    directory = tmp_path / "spool"
    spool = Spool(directory)
    for item in make_items(50):
        spool.append(item)
    taken = spool.take(7)
    assert [i.payload for i in taken] == [i.payload for i in make_items(7)]
    for item in taken[:3]:
        spool.acked(item)
    spool.close(taken[3:])  # 3..6 were not acknowledged: kept first for the next run
    again = Spool(directory)
    assert again.leftover == 47
    for item in make_items(5, start=50):
        again.append(item)
    out = []
    while len(again):
        batch = again.take(6)
        out += batch
        for item in batch:
            again.acked(item)
    assert [i.payload for i in out] == [i.payload for i in make_items(52, start=3)]
    again.close()
    assert not directory.exists()


def test_a_second_recorder_is_kept_off_a_locked_spool(tmp_path):
    first = Spool(tmp_path / "s")
    with pytest.raises(UsageError, match="another running recorder"):
        Spool(tmp_path / "s")
    first.close()


def snap(ticker, clock, yes):
    return {
        "type": "orderbook_snapshot",
        "sid": 1,
        "seq": 1,
        "msg": {"market_ticker": ticker, "clock": clock, "yes_dollars_fp": yes, "no_dollars_fp": []},
    }


def delta(ticker, clock, price, size, sid=2):
    return {
        "type": "orderbook_delta",
        "sid": sid,
        "seq": 2,
        "msg": {"market_ticker": ticker, "clock": clock, "price_dollars": price, "delta_fp": size, "side": "yes"},
    }


def test_merged_books_skip_what_an_older_snapshot_or_a_lagging_copy_holds():
    books = MergedBookSet()
    assert books.apply(snap("M", 10, [["0.4000", "5.00"]])) is not None
    assert books.apply(delta("M", 11, "0.4000", "1.00", sid=7)) is not None  # another connection's sid
    assert books.apply(snap("M", 10, [["0.4000", "6.00"]])) is None  # older than the book: a copy
    assert books.apply(delta("M", 12, "0.4100", "2.00")) is not None
    b = books.apply(snap("M", 20, [["0.4500", "1.00"]]))
    assert b is not None and b.best_yes_bid() == 4500
    assert books.apply(delta("M", 19, "0.4500", "3.00")) is None  # inside the snapshot
    assert books.apply(delta("M", 21, "0.4500", "3.00")) is not None
    book = books.book("M")
    assert book is not None and book.is_live and book.yes == {4500: 400}
    assert books.skipped == 2


def test_a_torn_last_line_of_a_killed_run_is_skipped_and_the_spool_empties(tmp_path):
    directory = tmp_path / "spool"
    directory.mkdir()
    lines = [encode_line(i) for i in make_items(3)]
    (directory / "spool-20261204T000000.000Z-0001.ndjson").write_bytes(b"\n".join(lines) + b"\n" + lines[0][:9])
    spool = Spool(directory)
    got = spool.take(10)
    assert [i.payload for i in got] == [i.payload for i in make_items(3)]
    assert len(spool) == 0 and spool.take(10) == []
    for item in got:
        spool.acked(item)
    spool.close()
    assert not directory.exists()


def test_while_the_server_is_away_frames_go_to_disk_not_memory(tmp_path):
    from kalshi_cli.bus.publisher import Publisher

    target = parse_target("nats://127.0.0.1:1/S", option="--sink", environ={})
    pub = Publisher(target, StreamSpec(), "sim", spool_dir=tmp_path / "spool", memory_items=10)
    for item in make_items(500):
        pub.submit(item.subject, item.msg_id, item.payload)
    assert len(pub.queue) == 0 and pub.backlog == 500
    pub.tick()
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "spool").glob("spool-*.ndjson"))
    assert on_disk.count(b"\n") == 500
    pub.spool.close()


def test_recorders_reaching_kalshi_by_url_or_env_share_subjects():
    from kalshi_cli.bus.tap import bus_env
    from kalshi_cli.config import Endpoint

    def env(url: str, name: str) -> str:
        return bus_env(Endpoint(url, "", name))

    assert env("wss://external-api-ws.kalshi.com/trade-api/ws/v2", "custom") == "prod"
    assert env("wss://api.elections.kalshi.com/trade-api/ws/v2", "custom") == "prod"
    assert env("wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2", "demo") == "demo"
    assert env("ws://127.0.0.1:9/trade-api/ws/v2", "custom") == "custom"


@given(
    st.lists(
        st.tuples(st.sampled_from(["append", "take", "ack", "restart"]), st.integers(1, 9), st.randoms()),
        max_size=40,
    )
)
def test_the_spool_loses_nothing_and_keeps_order_across_any_story(tmp_path_factory, story):
    """Random appends, takes, acknowledgements (any subset) and restarts: every item comes out, first
    times in append order; an item comes out again only if it was not acknowledged before a restart."""
    directory = tmp_path_factory.mktemp("spool")
    spool = Spool(directory)
    spool_bytes = pytest.MonkeyPatch()
    spool_bytes.setattr("kalshi_cli.bus.spool.SPOOL_FILE_BYTES", 150)  # several files per story
    appended = 0
    taken: list[int] = []
    outstanding: list[Item] = []  # taken, not acknowledged, in take order
    acked: set[int] = set()
    repeats_allowed: set[int] = set()

    def number(item: Item) -> int:
        return int(orjson.loads(item.payload)["n"])

    for op, n, rnd in story:
        if op == "append":
            for item in make_items(n, start=appended):
                spool.append(item)
            appended += n
        elif op == "take":
            got = spool.take(n)
            taken += [number(i) for i in got]
            outstanding += got
        elif op == "ack":
            for item in [i for i in outstanding if rnd.random() < 0.5]:
                spool.acked(item)
                acked.add(number(item))
                outstanding.remove(item)
        else:
            repeats_allowed |= {number(i) for i in outstanding}
            spool.close(outstanding)
            spool, outstanding = Spool(directory), []
    while len(spool):  # drain
        got = spool.take(7)
        taken += [number(i) for i in got]
        for item in got:
            spool.acked(item)
    spool.close()
    spool_bytes.undo()
    first_times = list(dict.fromkeys(taken))
    assert first_times == list(range(appended))
    repeated = {i for i in taken if taken.count(i) > 1}
    assert repeated <= repeats_allowed
    assert not directory.exists() or not list(directory.glob("spool-*"))


@given(st.data())
def test_merged_books_end_on_the_truth_however_two_connections_interleave(data):
    """Two connections join a market's story at different points (each with its own snapshot);
    the bus keeps each event once, first copy wins, in any interleaving: the book ends exact."""
    groups = data.draw(st.lists(st.lists(st.tuples(st.integers(1, 9), st.integers(1, 5)), min_size=1, max_size=3)))
    truth: dict[int, int] = {}
    states = [dict(truth)]  # the book after each group (a snapshot never splits one exchange action)
    events = []  # (clock, position in group, price, delta)
    for clock, group in enumerate(groups, start=1):
        for pos, (price, size) in enumerate(group):
            delta = -truth[price] if price in truth and data.draw(st.booleans()) else size
            truth[price] = truth.get(price, 0) + delta
            if truth[price] == 0:
                del truth[price]
            events.append((clock, pos, price, delta))
        states.append(dict(truth))

    def frames_from(join: int) -> list[tuple[str, dict]]:
        yes = [[f"0.{p:02d}00", f"{s}.00"] for p, s in sorted(states[join].items())]
        out = [(f"s:{join}", snap("M", join, yes))]
        for clock, pos, price, delta in events:
            if clock > join:
                out.append((f"d:{clock}:{pos}", delta_frame(clock, price, delta)))
        return out

    a = frames_from(data.draw(st.integers(0, len(groups))))
    b = frames_from(data.draw(st.integers(0, len(groups))))
    merged, seen = [], set()
    while a or b:
        source = a if (a and (not b or data.draw(st.booleans()))) else b
        key, frame = source.pop(0)
        if key not in seen:
            seen.add(key)
            merged.append(frame)
    books = MergedBookSet()
    for frame in merged:
        books.apply(frame)
    book = books.book("M")
    assert book is not None and book.is_live
    assert book.yes == {p * 100: s * 100 for p, s in truth.items()}


def delta_frame(clock: int, price: int, delta: int) -> dict:
    size = f"{delta}.00"
    return {
        "type": "orderbook_delta",
        "sid": 1,
        "seq": 2,
        "msg": {
            "market_ticker": "M",
            "clock": clock,
            "price_dollars": f"0.{price:02d}00",
            "delta_fp": size,
            "side": "yes",
        },
    }


class Collect:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, bytes]] = []

    def submit(self, subject: str, msg_id: str | None, payload: bytes) -> None:
        self.sent.append((subject, msg_id, payload))


def test_the_tap_publishes_recorded_lines_with_keys_and_keeps_unsure_deltas_off_the_bus():
    from kalshi_cli.bus.tap import BusRecordHandler, DiscardWriter
    from kalshi_cli.events import Subscription
    from kalshi_cli.protocol import head_of

    bus = Collect()
    handler = BusRecordHandler(DiscardWriter(), bus, "prod", now_ms=lambda: 7)  # type: ignore[arg-type]
    book = Subscription("orderbook_delta", {"market_tickers": ["A.B"]}, sid=1)
    frames = [
        snap("A.B", 5, [["0.4000", "5.00"]]) | {"seq": 1},
        delta("A.B", 6, "0.4000", "1.00", sid=1) | {"seq": 2},
        delta("A.B", 6, "0.4000", "1.00", sid=1) | {"seq": 5},  # a seq gap: this action may be part-lost
        delta("A.B", 7, "0.4000", "1.00", sid=1) | {"seq": 6},  # a higher clock: sure again
        {"type": "ticker", "sid": 2, "msg": {"market_ticker": "A.B", "price_dollars": "0.4000"}},
        {"type": "trade", "sid": 3, "seq": 1, "msg": {"market_ticker": "A.B", "trade_id": "t1"}},
    ]
    for frame in frames:
        raw = orjson.dumps(frame)
        handler.on_data(raw, head_of(orjson.loads(raw)), book)
    assert [(s, i) for s, i, _ in bus.sent] == [
        ("kalshi.prod.orderbook_snapshot.A%2EB", "prod:s:A.B:5"),
        ("kalshi.prod.orderbook_delta.A%2EB", "prod:d:A.B:6:0"),
        ("kalshi.prod.orderbook_delta.A%2EB", "prod:d:A.B:7:0"),
        ("kalshi.prod.ticker.A%2EB", None),
        ("kalshi.prod.trade.A%2EB", "prod:t:t1"),
    ]
    assert all(p.endswith(b',"recv_ts_ms":7}') for _, _, p in bus.sent)
    assert handler.unkeyed_deltas == 1 and handler.frames == len(frames)  # all of them still recorded
