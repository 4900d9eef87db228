"""The one output seam: a sink chosen once per run, from the settings and the environment.

Feeds hand a sink what they have (a frame as received, a frame they built, a book state);
the sink decides how it looks on stdout. ``choose`` picks the kind: NDJSON when asked for
or when stdout is not a terminal, else the feed's terminal form (readable lines for
``tail``, a live view for the others, which draw their own state and write nothing per
frame). A new format or destination is one new ``Sink`` here and one line in ``open_sink``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

import orjson

from kalshi_cli.environment import Environment
from kalshi_cli.output import LineWriter, OutputClosed

if TYPE_CHECKING:
    from rich.console import Console

    from kalshi_cli.book import OrderBook

__all__ = [
    "LinesSink",
    "NdjsonSink",
    "NullSink",
    "OutputKind",
    "Sink",
    "choose",
    "one_line",
    "open_sink",
    "view_console",
]


class OutputKind(enum.Enum):
    NDJSON = "ndjson"  # one JSON value per line, for pipes and files
    LINES = "lines"  # one readable line per frame (tail on a terminal)
    VIEW = "view"  # a live terminal view drawn from the feed's state


def choose(json_out: bool, env: Environment, terminal: OutputKind) -> OutputKind:
    """NDJSON when asked for or when stdout is not a terminal; else the feed's terminal form."""
    return OutputKind.NDJSON if json_out or not env.stdout_isatty else terminal


def one_line(raw: bytes) -> bytes:
    """A frame as one NDJSON line: a trailing newline stripped, pretty JSON re-encoded on one line."""
    raw = raw.strip()
    return orjson.dumps(orjson.loads(raw)) if b"\n" in raw else raw


class Sink:
    """Where a feed's output goes. The base writes nothing (a view draws the state instead)."""

    closed = False
    writes = False  # does anything reach stdout
    passes_raw = False  # frame(raw) writes the bytes as they are: a feed need not parse them

    def frame(self, raw: bytes) -> None:
        """A data frame exactly as received."""

    def frames(self, raws: list[bytes]) -> None:
        """Several data frames exactly as received, in order (``frame`` of each)."""
        for raw in raws:
            self.frame(raw)

    def obj(self, frame: dict[str, Any]) -> None:
        """A frame the tool built (a REST row in the WS shape, a parsed frame)."""

    def book(self, book: OrderBook, depth: int | None, ts_ms: int) -> None:
        """A market's book state."""

    def flush(self) -> None:
        """Write out what is buffered."""


class NullSink(Sink):
    """Nothing on stdout: the feed's terminal view shows its state."""


class NdjsonSink(Sink):
    """NDJSON on the environment's stdout, through one ``LineWriter`` (big writes, idle flushes)."""

    writes = True
    passes_raw = True

    def __init__(self, writer: LineWriter) -> None:
        self.writer = writer
        self.write_line = writer.write_line

    @property
    def closed(self) -> bool:  # type: ignore[override]
        return self.writer.closed

    def frame(self, raw: bytes) -> None:
        self.write_line(raw if raw.find(b"\n") < 0 else one_line(raw))  # (find: quicker than `in` here)

    def frames(self, raws: list[bytes]) -> None:
        if b"".join(raws).find(b"\n") < 0:  # one look for all (~30 ns a frame, against ~40 each)
            self.writer.write_lines(raws)
        else:
            for raw in raws:
                self.frame(raw)

    def obj(self, frame: dict[str, Any]) -> None:
        self.write_line(orjson.dumps(frame))

    def book(self, book: OrderBook, depth: int | None, ts_ms: int) -> None:
        from kalshi_cli.encoders import book_json_bytes

        self.write_line(book_json_bytes(book, depth, ts_ms))

    def flush(self) -> None:
        self.writer.flush()


class LinesSink(Sink):
    """One readable, coloured line per frame (``render.lines``) on a terminal."""

    writes = True

    def __init__(self, env: Environment, color: str = "auto") -> None:
        self.console = view_console(color, env)
        self.console.soft_wrap = True

    def frame(self, raw: bytes) -> None:
        from kalshi_cli.protocol import parse_frame

        self.obj(parse_frame(raw))

    def obj(self, frame: dict[str, Any]) -> None:
        from kalshi_cli.render.lines import format_line

        try:
            self.console.print(format_line(frame, width=self.console.size.width))
        except BrokenPipeError:
            raise OutputClosed from None


def view_console(color: str, env: Environment) -> Console:
    """The console a terminal view or line draws on: ``env``'s stdout, coloured as ``--color``
    (``auto``: on a terminal, unless ``NO_COLOR`` is set or ``TERM=dumb``) says."""
    from kalshi_cli.render.style import make_console

    return make_console(color, file=env.stdout_text)


def open_sink(kind: OutputKind, env: Environment, color: str = "auto") -> Sink:
    """The sink for ``kind`` on ``env``'s stdout (``color``: ``--color``, for readable lines)."""
    if kind is OutputKind.NDJSON:
        return NdjsonSink(LineWriter(env.stdout))
    if kind is OutputKind.LINES:
        return LinesSink(env, color)
    return NullSink()
