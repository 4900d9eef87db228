"""The recorder's side of ``--sink``: every data frame it writes, also published to the bus.

``BusRecordHandler`` is ``recorder.RecordHandler`` with a tap: each data frame's recorded line
(the frame byte for byte as received, plus ``recv_ts_ms``: what ``-o`` writes, so ``tail --from``
prints exactly the recorded lines) is handed to a ``Publisher`` under the frame's subject, with its
``EventKeyer`` key as ``Nats-Msg-Id`` (prefixed by the environment, so prod and demo never collide).
Keys are taken in the order the connection delivered the frames, even for frames the trade backfill
holds back and writes later. Only data frames are published: ``kalshi_cli.meta`` lines describe one
recorder's connection, and nothing about the Kalshi key or its signatures is ever in a frame. A
frame with no key goes without ``Nats-Msg-Id`` (kept once per recorder), except a book delta (see
``BusRecordHandler._route``).
``DiscardWriter`` stands in for the files when there is no ``-o``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from kalshi_cli.bus.publisher import Publisher
from kalshi_cli.bus.subjects import subject_for
from kalshi_cli.event_keys import EventKeyer
from kalshi_cli.feeds.trades import FetchTrades
from kalshi_cli.output import Reporter
from kalshi_cli.protocol import ORDERBOOK_DELTA, Head, parse_frame
from kalshi_cli.recorder import RecordHandler, RecordWriter
from kalshi_cli.recording import with_recv_ts
from kalshi_cli.session import Subscription

__all__ = ["BusRecordHandler", "DiscardWriter", "bus_env"]

_KEEP = 100_000  # routes kept for frames held back (a held frame the backfill drops leaves one behind)


#: Kalshi's hosts reached through ``--url``: the same exchange, so the same subjects and keys.
_KALSHI_HOSTS = {
    "external-api-ws.kalshi.com": "prod",
    "api.elections.kalshi.com": "prod",
    "trading-api.kalshi.com": "prod",
    "external-api-ws.demo.kalshi.co": "demo",
    "demo-api.kalshi.co": "demo",
}


def bus_env(endpoint: Any) -> str:
    """The environment token of a recorder's subjects and keys: ``prod``/``demo`` whether named by
    ``--env`` or by a ``--url`` to one of Kalshi's hosts (recorders reaching one exchange by
    different spellings must agree), else the endpoint's own (``custom``, ``sim``)."""
    env = str(endpoint.env)
    if env == "custom":
        return _KALSHI_HOSTS.get(str(endpoint.host).lower(), env)
    return env


class DiscardWriter(RecordWriter):
    """A ``RecordWriter`` that keeps nothing (``record --sink`` without ``-o``), counting what it is given."""

    discards = True

    def __init__(self) -> None:
        super().__init__(Path("."))

    def write(self, line: bytes) -> None:
        self.lines += 1
        self.bytes_in += len(line) + 1

    def flush(self) -> None:
        return

    def tick(self) -> None:
        return

    def close(self) -> None:
        self.closed = True


class BusRecordHandler(RecordHandler):
    """A ``RecordHandler`` whose data frames also go to ``publisher``."""

    def __init__(
        self,
        writer: RecordWriter,
        publisher: Publisher,
        env: str,
        *,
        now_ms: Callable[[], int] | None = None,
        trades: FetchTrades | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        now = now_ms or (lambda: time.time_ns() // 1_000_000)
        super().__init__(writer, now_ms=now, trades=trades, reporter=reporter)
        self.publisher = publisher
        self.env = env
        self.keyer = EventKeyer()
        self._routes: dict[int, tuple[str, str | None] | None] = {}  # id(raw) -> (subject, msg id)
        self.unkeyed_deltas = 0  # book deltas kept off the bus (see _route)

    def _route(self, obj: dict[str, Any]) -> tuple[str, str | None] | None:
        """(subject, Nats-Msg-Id) of a frame, or None: not published.

        A book delta with no key is one of an exchange action this connection lost part of (a seq
        gap; the recorder asks for a snapshot): published without an id it could be applied twice
        by a reader when another recorder published the same delta under its key, so it is kept
        off the bus (the snapshot that follows repairs the book). Other frames without a key are
        published without ``Nats-Msg-Id``: kept once per recorder.
        """
        key = self.keyer.key(obj)
        if key is None and obj.get("type") == ORDERBOOK_DELTA:
            self.unkeyed_deltas += 1
            return None
        return subject_for(self.env, obj), (f"{self.env}:{key}" if key is not None else None)

    def on_connected(self, url: str) -> None:
        self.keyer.reset()  # a new connection: delta groups are sure again only from a snapshot
        super().on_connected(url)

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        obj = head.obj if head.obj is not None else parse_frame(raw)
        if len(self._routes) >= _KEEP:
            self._routes.clear()
        self._routes[id(raw)] = self._route(obj)
        super().on_data(raw, head, sub)

    def _write_live(self, raw: bytes, recv_ts_ms: int) -> None:
        line = with_recv_ts(raw, recv_ts_ms)
        self.writer.write(line)
        self.frames += 1
        key = id(raw)
        route = self._routes.pop(key) if key in self._routes else self._route(parse_frame(raw))
        if route is not None:
            self.publisher.submit(route[0], route[1], line)

    def _write_backfill(self, frame: dict[str, Any]) -> None:
        line = orjson.dumps({**frame, "recv_ts_ms": self.now_ms()})
        self.writer.write(line)
        self.frames += 1
        route = self._route(frame)
        if route is not None:
            self.publisher.submit(route[0], route[1], line)
