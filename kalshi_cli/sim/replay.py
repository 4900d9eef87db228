"""Serve recorded frames as a Kalshi endpoint, through the simulator's protocol engine.

A recording is NDJSON: ``kalshi record`` files (plain or gzip, with ``recv_ts_ms`` and
``kalshi_cli.meta`` lines) or a ``kalshi tail --json`` capture. ``scan`` checks the files
once up front; ``read_records`` streams them again for each pass, so memory stays flat
whatever their size.

``ReplayExchange`` stands in for ``market.Exchange``: it rebuilds every market's order
book from the recorded snapshots and deltas and knows which books it can vouch for. A book
becomes trustworthy at a recorded snapshot and stops being so at a recorded seq gap, a
``kalshi_cli.meta`` gap, connect or disconnect; the deltas of an untrusted book are not
sent, so a client's first frame for a market is always a snapshot and a recorded gap heals
at the next recorded snapshot (the recorder asks for one on every gap). A client that
subscribes mid-replay, or asks ``get_snapshot``, gets the rebuilt book.

``ReplayServer`` is a ``SimServer`` (auth, pings, per-connection queues) whose events come
from the recording: one timeline shared by every connection, started by the first
subscribe, paced by the recorded times divided by ``speed``. sids and seqs are the
engine's, so they are dense from 1 for each client's own subscriptions. A replay never
drops a slow client (code 25): it waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import signal
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from kalshi_cli.errors import UsageError
from kalshi_cli.fixed import format_price, format_size, parse_price, parse_size
from kalshi_cli.protocol import DATA_TYPES
from kalshi_cli.recording import META

from .engine import Connection, Frame, Sub
from .market import Event
from .server import SimServer

__all__ = [
    "META",
    "Recording",
    "ReplayExchange",
    "ReplayServer",
    "expand",
    "parse_speed",
    "read_records",
    "record_time",
    "scan",
    "serve_replay",
    "stream_until_replayed",
]

BOOK_TYPES = frozenset({"orderbook_snapshot", "orderbook_delta"})
HIGH_WATER = 512  # frames queued for one client before the timeline waits for it
BATCH = 256  # events fanned out at once at full speed


def parse_speed(text: str) -> float | None:
    """``"max"`` -> ``None`` (as fast as the clients read); ``"10"`` -> 10.0."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = 0.0
    if not speed > 0 or speed == float("inf"):
        raise UsageError(f"--speed expects a number above 0 or 'max', got {text!r}")
    return speed


def record_time(obj: dict[str, Any]) -> int | None:
    """When a recorded frame happened, in Unix ms: receive time, else send time, else ``msg.ts_ms``."""
    for key in ("recv_ts_ms", "sending_ts_ms"):
        v = obj.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    msg = obj.get("msg")
    if isinstance(msg, dict):
        v = msg.get("ts_ms")
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


# --- reading ---------------------------------------------------------------------------------------


def _open(path: Path) -> IO[bytes]:
    fh = open(path, "rb")  # noqa: SIM115 - returned to the caller
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        return gzip.open(path, "rb")
    fh.seek(0)
    return fh


def _lines(path: Path, on_truncated: Callable[[str], None] | None = None) -> Iterator[bytes]:
    """The lines of a plain or gzip file; a gzip stream cut short (a killed writer) just ends."""
    try:
        with _open(path) as fh:
            yield from fh
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        if on_truncated is not None:
            on_truncated(f"{path}: compressed data ends early ({exc}); using what was readable")


def read_records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every JSON object line of ``paths`` in order (lines that do not parse are skipped)."""
    loads = orjson.loads
    for path in paths:
        for line in _lines(path):
            if not line.strip():
                continue
            try:
                obj = loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                yield obj


@dataclass
class Recording:
    """What ``scan`` learnt about a set of recorded files."""

    paths: list[Path]
    frames: int = 0  # data frames
    meta: int = 0
    tickers: dict[str, None] = field(default_factory=dict)  # every market, in order of appearance
    book_tickers: dict[str, None] = field(default_factory=dict)  # markets with a recorded snapshot
    ids: dict[str, str] = field(default_factory=dict)  # market_id -> ticker
    first_ms: int | None = None
    last_ms: int | None = None

    @property
    def duration_s(self) -> float:
        if self.first_ms is None or self.last_ms is None:
            return 0.0
        return max(0, self.last_ms - self.first_ms) / 1000


def expand(paths: Iterable[Path]) -> list[Path]:
    """Paths with each directory replaced by its ``*.ndjson``/``*.ndjson.gz`` files in name (= time) order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith((".ndjson", ".ndjson.gz")))
            if not found:
                raise UsageError(f"no .ndjson or .ndjson.gz files in {path}")
            out += found
        else:
            out.append(path)
    return out


def scan(paths: list[Path], warn: Callable[[str], None] | None = None) -> Recording:
    """Check that ``paths`` are readable NDJSON recordings and summarise them.

    Raises:
        UsageError: a file is missing or unreadable, is not NDJSON, or no file holds a data frame.
    """
    warn = warn or (lambda text: None)
    paths = expand(paths)
    rec = Recording(paths)
    empty: list[Path] = []
    for path in paths:
        if not path.is_file():
            reason = "no such file" if not path.exists() else "not a regular file"
            raise UsageError(f"cannot read recording {path}: {reason}")
        line_no = 0
        parsed = 0
        bad: int | None = None
        try:
            for line in _lines(path, warn):
                line_no += 1
                if not line.strip():
                    continue
                if bad is not None:
                    warn(f"{path}:{bad}: not a JSON line; skipped")
                    bad = None
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    if parsed == 0:
                        raise UsageError(f"{path} is not NDJSON (line {line_no}: {exc})") from None
                    bad = line_no
                    continue
                parsed += 1
                if isinstance(obj, dict):
                    _note(rec, obj)
        except OSError as exc:
            raise UsageError(f"cannot read recording {path}: {exc.strerror or exc}") from None
        if bad is not None:  # the last line of a file killed mid-write
            warn(f"{path}:{bad}: last line is incomplete; skipped")
        if line_no == 0:
            empty.append(path)
    names = ", ".join(str(p) for p in paths)
    if rec.frames == 0 and len(empty) == len(paths):
        raise UsageError(f"recording {names} {'is' if len(paths) == 1 else 'are'} empty")
    if rec.frames == 0:
        raise UsageError(
            f"no Kalshi data frames in {names} (expected NDJSON from 'kalshi record' or 'kalshi tail --json')"
        )
    for path in empty:
        warn(f"{path} is empty")
    return rec


def _note(rec: Recording, obj: dict[str, Any]) -> None:
    kind = obj.get("type")
    if kind == META:
        rec.meta += 1
        return
    if kind not in DATA_TYPES:
        return
    rec.frames += 1
    t = record_time(obj)
    if t is not None:
        if rec.first_ms is None:
            rec.first_ms = t
        rec.last_ms = t
    msg = obj.get("msg")
    if isinstance(msg, dict):
        ticker = msg.get("market_ticker")
        if isinstance(ticker, str):
            rec.tickers[ticker] = None
            if kind == "orderbook_snapshot":
                rec.book_tickers[ticker] = None
            market_id = msg.get("market_id")
            if isinstance(market_id, str):
                rec.ids[market_id] = ticker


# --- the exchange a recording describes ------------------------------------------------------------


class _Book:
    """One market's aggregated levels: price units -> centi-contracts, per side."""

    __slots__ = ("clock", "market_id", "sides")

    def __init__(self, msg: dict[str, Any]) -> None:
        self.market_id = msg.get("market_id")
        self.clock = msg.get("clock")
        self.sides: dict[str, dict[int, int]] = {"yes": {}, "no": {}}
        for side, levels in self.sides.items():
            for price, size in msg.get(f"{side}_dollars_fp") or ():
                c = _centi(size)
                if c > 0:
                    levels[_price(price)] = c


_PRICES: dict[str, int] = {}


def _price(text: str) -> int:
    p = _PRICES.get(text)
    if p is None:
        p = parse_price(text)
        if len(_PRICES) < 100_000:  # prices repeat; a bounded cache saves a Decimal per delta
            _PRICES[text] = p
    return p


def _centi(text: str) -> int:
    if len(text) > 3 and text[-3] == "." and text[-2:].isdigit():
        return int(text[:-3] + text[-2:])
    return parse_size(text)


class ReplayExchange:
    """The market state a recording describes, for the protocol engine (the ``Exchange`` role).

    ``markets`` holds only the books that can be vouched for, so the engine sends initial
    snapshots and ``get_snapshot`` answers for those alone.
    """

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.markets: dict[str, _Book] = {}
        self.last_ticker: dict[str, dict[str, Any]] = {}
        self._seq: dict[int, int] = {}  # recorded orderbook sid -> last recorded seq

    @property
    def tickers(self) -> list[str]:
        return list(self.recording.tickers)

    def ticker_of_id(self, market_id: str) -> str | None:
        return self.recording.ids.get(market_id)

    def snapshot_msg(self, ticker: str) -> dict[str, Any]:
        """The current rebuilt book of a trusted market as an ``orderbook_snapshot`` msg."""
        book = self.markets[ticker]
        msg: dict[str, Any] = {"market_ticker": ticker}
        if book.market_id is not None:
            msg["market_id"] = book.market_id
        if book.clock is not None:
            msg["clock"] = book.clock
        for side, levels in book.sides.items():
            if levels:
                msg[f"{side}_dollars_fp"] = [[format_price(p), format_size(levels[p])] for p in sorted(levels)]
        return msg

    true_book = snapshot_msg

    def ticker_msg(self, ticker: str) -> dict[str, Any]:
        return self.last_ticker[ticker]

    def reset(self) -> None:
        """Forget everything (the start of a new pass with ``--loop``)."""
        self.markets.clear()
        self.last_ticker.clear()
        self._seq.clear()

    def distrust_books(self) -> None:
        self.markets.clear()

    def apply(self, obj: dict[str, Any]) -> Event | None:
        """Take one recorded line into the state; return the event to publish, if any."""
        kind = obj.get("type")
        if kind == META:
            if obj.get("event") in ("connect", "disconnect") or (
                obj.get("event") == "gap" and obj.get("channel") == "orderbook_delta"
            ):
                self.distrust_books()
                if obj.get("event") != "gap":
                    self._seq.clear()
            return None
        if kind not in DATA_TYPES:
            return None
        msg = obj.get("msg")
        if not isinstance(msg, dict):
            return None
        ticker = msg.get("market_ticker")
        if not isinstance(ticker, str):
            ticker = None
        if kind in BOOK_TYPES:
            return self._book_frame(kind, ticker, obj, msg)
        if kind == "ticker" and ticker is not None:
            self.last_ticker[ticker] = msg
        return Event(kind, ticker, msg)

    def _book_frame(self, kind: str, ticker: str | None, obj: dict[str, Any], msg: dict[str, Any]) -> Event | None:
        sid, seq = obj.get("sid"), obj.get("seq")
        if isinstance(sid, int) and isinstance(seq, int):
            last = self._seq.get(sid)
            if last is not None and seq != last + 1:  # frames were lost here (or a new connection began)
                self.distrust_books()
            self._seq[sid] = seq
        if ticker is None:
            return None
        if kind == "orderbook_snapshot":
            self.markets[ticker] = _Book(msg)
            return Event(kind, ticker, msg)
        book = self.markets.get(ticker)
        if book is None:
            return None  # no trusted book to place it on: wait for the next snapshot
        try:
            levels = book.sides[msg["side"]]
            price = _price(msg["price_dollars"])
            size = levels.get(price, 0) + _centi(msg["delta_fp"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            del self.markets[ticker]
            return None
        if size < 0:
            del self.markets[ticker]
            return None
        if size:
            levels[price] = size
        else:
            levels.pop(price, None)
        if "clock" in msg:
            book.clock = msg["clock"]
        return Event(kind, ticker, msg)


class ReplayConnection(Connection):
    """The simulator's engine, told about commands (the timeline starts at the first subscribe)."""

    def __init__(self, exchange: ReplayExchange, *, on_command: Callable[[Connection], None], **kwargs: Any) -> None:
        super().__init__(exchange, **kwargs)  # type: ignore[arg-type]
        self._on_command = on_command

    def handle_text(self, text: str | bytes) -> list[Frame]:
        frames = super().handle_text(text)
        self._on_command(self)
        return frames

    def _initial(self, sub: Sub, added: Iterable[str], send_ticker: bool) -> list[Frame]:
        if sub.channel == "ticker":  # only markets whose ticker state was recorded
            added = [t for t in added if t in self.exchange.last_ticker]  # type: ignore[attr-defined]
        return super()._initial(sub, added, send_ticker)


# --- the server ------------------------------------------------------------------------------------


class ReplayServer(SimServer):
    """A Kalshi WebSocket endpoint that plays a recording to every client.

    Args:
        recording: from ``scan``.
        speed: recorded time runs this many times faster; ``None`` = as fast as clients read.
        loop: start again at the end instead of closing connections.
        settle: the timeline starts once no command arrived for this long after the first subscribe,
            so the subscribes a client sends back to back all see the start.
        kwargs: for ``SimServer`` (host, port, public_key_pem, ...).
    """

    def __init__(
        self, recording: Recording, *, speed: float | None = 1.0, loop: bool = False, settle: float = 0.1, **kwargs: Any
    ) -> None:
        kwargs.setdefault("frame_log_limit", 1000)
        super().__init__(rate=0, markets=1, **kwargs)
        self.http_routes.clear()  # the simulator's REST layer describes its own market, not the recording
        self.recording = recording
        self.exchange = ReplayExchange(recording)  # type: ignore[assignment]
        self.speed = speed
        self.loop = loop
        self.settle = settle
        self.replayed = 0  # events published (one frame for each client subscribed to it)
        self.passes = 0
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.ending: asyncio.Event | None = None  # set when everything is queued, before the closes
        self.ended: asyncio.Event | None = None  # set once every connection is closed
        self._first_subscribe: float | None = None
        self._last_command = 0.0

    @property
    def tickers(self) -> list[str]:
        """Markets with recorded books (else every recorded market): ``--replay``'s default markets."""
        return list(self.recording.book_tickers or self.recording.tickers)

    def true_book(self, ticker: str) -> dict[str, Any]:
        return self.exchange.snapshot_msg(ticker)

    async def start(self) -> str:
        self.ending, self.ended = asyncio.Event(), asyncio.Event()
        url = await super().start()
        self._spawn(self._play())
        return url

    def _new_engine(self, *, authenticated: bool) -> Connection:
        return ReplayConnection(
            self.exchange,
            on_command=self._on_command,  # type: ignore[arg-type]
            authenticated=authenticated,
            sending_ts=self.sending_ts,
        )

    def _on_command(self, engine: Connection) -> None:
        self._last_command = time.monotonic()
        if self._first_subscribe is None and engine.subs:
            self._first_subscribe = self._last_command

    async def _play(self) -> None:
        while True:  # the first subscribe, then a moment of quiet (at most a second)
            await asyncio.sleep(0.01)
            first = self._first_subscribe
            now = time.monotonic()
            if first is not None and (now - self._last_command >= self.settle or now - first >= 1.0):
                break
        self.started_at = time.monotonic()
        while True:
            self.passes += 1
            await self._play_once()
            if not self.loop:
                break
            self.exchange.reset()
        self.ended_at = time.monotonic()
        assert self.ending is not None and self.ended is not None
        self.ending.set()
        await self._close_all()
        self.ended.set()

    async def _play_once(self) -> None:
        loop = asyncio.get_running_loop()
        apply = self.exchange.apply
        speed = self.speed
        batch: list[Event] = []
        due = loop.time()
        last_t: int | None = None
        for obj in read_records(self.recording.paths):
            if speed is not None:
                t = record_time(obj)
                if t is not None:
                    if last_t is not None and t > last_t:
                        due += (t - last_t) / 1000 / speed
                    last_t = t
                    if due - loop.time() > 0.001:
                        await self._publish(batch)
                        batch = []
                        await asyncio.sleep(due - loop.time())
            ev = apply(obj)
            if ev is not None:
                batch.append(ev)
                if len(batch) >= BATCH:
                    await self._publish(batch)
                    batch = []
        await self._publish(batch)

    async def _publish(self, batch: list[Event]) -> None:
        """Fan ``batch`` out, then wait while any client is more than ``HIGH_WATER`` frames behind."""
        if batch:
            self.replayed += len(batch)
            self._fan_out(batch)
        await asyncio.sleep(0)
        while True:  # polled: the writers have no "drained" signal, and 1 ms is far below a frame's worth
            if not any(len(c.queue) > HIGH_WATER and not c.closed for c in self._live):
                return
            await asyncio.sleep(0.001)

    async def _close_all(self, flush_wait: float = 30.0) -> None:
        """Let every queued frame go out (``flush_wait`` seconds at most), then close normally (1000)."""
        for _ in range(int(flush_wait / 0.005)):
            if not any((c.queue or c.sending) and not c.closed for c in self._live):
                break
            await asyncio.sleep(0.005)
        await asyncio.gather(*(c.ws.close(1000, "end of recording") for c in list(self._live)), return_exceptions=True)


async def serve_replay(
    paths: list[Path],
    *,
    speed: float | None,
    loop: bool,
    host: str = "127.0.0.1",
    port: int = 0,
    public_key_pem: bytes | None = None,
    on_ready: Callable[[str, Recording], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> ReplayServer:
    """Scan ``paths``, serve them until the end of the recording (or SIGINT/SIGTERM); return the server."""
    recording = scan(paths, warn)
    server = ReplayServer(recording, speed=speed, loop=loop, host=host, port=port, public_key_pem=public_key_pem)
    try:
        url = await server.start()
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    stop = asyncio.Event()
    running = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            running.add_signal_handler(sig, stop.set)
    try:
        if on_ready is not None:
            on_ready(url, recording)
        assert server.ended is not None
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(server.ended.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
    finally:
        await server.stop()
    return server


async def stream_until_replayed(run: Any, session: Any, server: ReplayServer) -> None:
    """Run ``run`` (a session's ``run()``) until the replay ``server`` has sent everything.

    The server closes the connection at the end of the recording; the session then reads
    what it still holds and would reconnect: it is stopped there instead.
    """
    from kalshi_cli.session import SessionState

    assert server.ending is not None
    task = asyncio.ensure_future(run)
    ended = asyncio.ensure_future(server.ending.wait())
    try:
        await asyncio.wait([task, ended], return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()
            return
        session.reporter.info("end of the recording")
        session.reporter.quiet = True  # no "reconnecting" line: there is nothing left to replay
        while True:  # the session leaves "streaming" once it has read the whole connection
            if session.state is not SessionState.STREAMING or task.done():
                break
            await asyncio.sleep(0.005)
        if task.done():
            task.result()
    finally:
        ended.cancel()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
