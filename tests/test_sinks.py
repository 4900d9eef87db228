"""The output seam: the kind chosen once from the flag and the environment, and what each sink
puts on stdout."""

from __future__ import annotations

import io

import orjson
import pytest

from kalshi_cli.book import OrderBook
from kalshi_cli.encoders import book_json_bytes
from kalshi_cli.environment import Environment
from kalshi_cli.output import LineWriter, OutputClosed
from kalshi_cli.sinks import LinesSink, NdjsonSink, NullSink, OutputKind, choose, open_sink

TRADE = (
    b'{"type":"trade","sid":1,"seq":1,"msg":{"market_ticker":"KXA-1","yes_price_dollars":"0.4400",'
    b'"count_fp":"3.00","taker_side":"no","ts":1787925912}}'
)


@pytest.mark.parametrize(
    ("json_out", "tty", "terminal", "kind"),
    [
        (True, True, OutputKind.VIEW, OutputKind.NDJSON),
        (False, False, OutputKind.VIEW, OutputKind.NDJSON),  # into a pipe: NDJSON by default
        (False, True, OutputKind.VIEW, OutputKind.VIEW),
        (False, True, OutputKind.LINES, OutputKind.LINES),
    ],
)
def test_the_kind_is_chosen_from_the_flag_and_the_terminal(json_out, tty, terminal, kind):
    assert choose(json_out, Environment.captured(stdout_isatty=tty), terminal) is kind


def test_open_sink_gives_one_sink_per_kind():
    env = Environment.captured()
    assert isinstance(open_sink(OutputKind.NDJSON, env), NdjsonSink)
    assert isinstance(open_sink(OutputKind.LINES, env), LinesSink)
    assert isinstance(open_sink(OutputKind.VIEW, env), NullSink)


def test_ndjson_writes_frames_as_received_one_per_line():
    env = Environment.captured()
    sink = open_sink(OutputKind.NDJSON, env)
    assert sink.passes_raw and sink.writes
    sink.frame(TRADE)
    sink.frame(TRADE + b"\n")  # a trailing newline is not a second line
    sink.frame(b'{\n  "type": "trade",\n  "sid": 1\n}')  # pretty-printed: one line
    sink.obj({"type": "fill", "msg": {}, "backfill": True})
    sink.flush()
    assert env.stdout.getvalue().splitlines() == [  # type: ignore[attr-defined]
        TRADE,
        TRADE,
        b'{"type":"trade","sid":1}',
        b'{"type":"fill","msg":{},"backfill":true}',
    ]


def test_ndjson_book_lines_are_the_book_encoder_s():
    book = OrderBook("KXA-1")
    book.apply_snapshot(
        {"market_ticker": "KXA-1", "yes_dollars_fp": [["0.4000", "10.00"]], "no_dollars_fp": [["0.5000", "2.00"]]}
    )
    out = io.BytesIO()
    sink = NdjsonSink(LineWriter(out))
    sink.book(book, 5, 1_700_000_000_000)
    sink.flush()
    assert out.getvalue() == book_json_bytes(book, 5, 1_700_000_000_000) + b"\n"
    assert orjson.loads(out.getvalue())["market_ticker"] == "KXA-1"


def test_ndjson_sink_reports_a_closed_pipe():
    class ClosedPipe(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            raise BrokenPipeError

    sink = NdjsonSink(LineWriter(ClosedPipe(), flush_each=True))
    with pytest.raises(OutputClosed):
        sink.frame(TRADE)
    assert sink.closed


def test_lines_sink_writes_one_readable_line_per_frame():
    env = Environment.captured()
    sink = open_sink(OutputKind.LINES, env)
    assert not sink.passes_raw
    sink.frame(TRADE)
    sink.obj(orjson.loads(TRADE))
    text = env.stdout.getvalue().decode()  # type: ignore[attr-defined]
    lines = text.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]
    assert "KXA-1" in lines[0] and "0.4400" in lines[0] and "{" not in lines[0]


def test_null_sink_writes_nothing():
    env = Environment.captured()
    sink = open_sink(OutputKind.VIEW, env)
    sink.frame(TRADE)
    sink.obj({"type": "x"})
    sink.flush()
    assert env.stdout.getvalue() == b"" and not sink.writes  # type: ignore[attr-defined]
