"""Where ``book --from`` starts reading a market: its latest snapshot that is safe to build on.

A snapshot with clock C holds every change of its market up to C. A reader from the stream's
start (``books.MergedBookSet``) rebuilds its book from that snapshot when nothing stored before it
has a clock above C; from there on both readers hold the same state, so reading from the snapshot
gives the same books. When something before it is above C (a lagging connection's snapshot, stored
after a quicker connection's delta or snapshot), reading from it would miss that delta (its copy
from the lagging connection was dropped as a duplicate) or meet the two connections' deltas out of
clock order. Copies are de-duplicated only inside the stream's duplicate window W (beyond it the
stream holds both, and no reader is exact), so only what was stored less than W before the
snapshot matters. ``safe_start`` takes the latest snapshot, looks at the market's book messages
stored in the 2·W before it (W, plus as much again for the server's purge timer), and when one is
above C steps back to the snapshot before, a few times, then gives up: the stream's start (None).

``DirectHistory`` asks the server with JetStream's direct get (``allow_direct``, which ``record
--sink`` sets on the streams it makes; a stream without it is read from its start). The scan
covers all of the market's subjects, so it reaches the snapshot itself: a replica that has not
stored it yet cannot pass for one with no deltas.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from kalshi_cli.bus.subjects import BOOK_TOKENS, ROOT, SNAPSHOT_TOKEN, encode_token

__all__ = ["DirectHistory", "History", "Stored", "book_starts", "safe_start"]

TRIES = 4  # snapshots tried, latest first, before reading the market from the stream's start
_BATCH = 512


@dataclass(frozen=True)
class Stored:
    """A stored snapshot: its stream sequence, store time (Unix seconds) and clock."""

    seq: int
    time: float
    clock: int


class History(Protocol):
    async def last_snapshot(self, market: str, up_to: int | None) -> Stored | None:
        """The market's last snapshot at or before sequence ``up_to`` (None: the stream's end)."""

    async def book_clocks(self, market: str, since: float, before: int) -> list[int] | None:
        """Clocks of the market's snapshots and deltas stored from time ``since`` up to sequence
        ``before`` (not included); None when that cannot be told."""


async def safe_start(history: History, market: str, window: float, tries: int = TRIES) -> int | None:
    """The stream sequence to read ``market``'s book from, or None: from the stream's start."""
    up_to: int | None = None
    for _ in range(tries):
        snap = await history.last_snapshot(market, up_to)
        if snap is None:
            return None
        clocks = await history.book_clocks(market, snap.time - 2 * window, snap.seq)
        if clocks is None:
            return None
        if all(c <= snap.clock for c in clocks):
            return snap.seq
        if snap.seq <= 1:
            return None
        up_to = snap.seq - 1
    return None


async def book_starts(history: History, markets: Iterable[str], window: float) -> dict[str, int]:
    """``safe_start`` of each market that has one (the others: from the stream's start)."""
    starts = {}
    for market in dict.fromkeys(markets):
        seq = await safe_start(history, market, window)
        if seq is not None:
            starts[market] = seq
    return starts


def _clock(data: bytes | None) -> int | None:
    try:
        obj = orjson.loads(data or b"")
        clock = obj["msg"]["clock"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return clock if type(clock) is int else None


def _stored_at(headers: Any) -> float:
    stamp = str(headers.get("Nats-Time-Stamp", "")).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(stamp).timestamp()  # digits past microseconds are dropped


class DirectHistory:
    """``History`` from a server's direct get on stream ``stream`` (``nc``: a connected nats-py client)."""

    def __init__(self, nc: Any, stream: str, *, prefix: str = "$JS.API", timeout: float = 5.0) -> None:
        self.nc = nc
        self.subject = f"{prefix}.DIRECT.GET.{stream}"
        self.timeout = timeout

    async def _get(self, request: dict[str, Any]) -> list[Any]:
        """The messages a direct get answers with, up to its end-of-batch (or not-found) status."""
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        try:
            await self.nc.publish(self.subject, json.dumps(request).encode(), reply=inbox)
            out = []
            while True:
                msg = await sub.next_msg(timeout=self.timeout)
                status = msg.headers.get("Status") if msg.headers else None
                if status is None:
                    out.append(msg)
                    continue
                if status in ("204", "404"):
                    return out
                raise LookupError(f"direct get answered {status}")
        finally:
            await sub.unsubscribe()

    async def last_snapshot(self, market: str, up_to: int | None) -> Stored | None:
        request: dict[str, Any] = {"multi_last": [f"{ROOT}.*.{SNAPSHOT_TOKEN}.{encode_token(market)}"]}
        if up_to is not None:
            request["up_to_seq"] = up_to  # >= 1: 0 would mean the stream's end
        found = await self._get(request)
        latest = max(found, key=lambda m: int(m.headers["Nats-Sequence"]), default=None)  # one per env
        if latest is None:
            return None
        clock = _clock(latest.data)
        seq = int(latest.headers["Nats-Sequence"])
        if clock is None:  # not a snapshot we can trust: step back past it
            return await self.last_snapshot(market, seq - 1) if seq > 1 else None
        return Stored(seq, _stored_at(latest.headers), clock)

    async def book_clocks(self, market: str, since: float, before: int) -> list[int] | None:
        subject = f"{ROOT}.*.*.{encode_token(market)}"
        start = datetime.datetime.fromtimestamp(max(since, 0.0), tz=datetime.UTC).isoformat()
        request: dict[str, Any] = {"next_by_subj": subject, "start_time": start, "batch": _BATCH}
        clocks: list[int] = []
        while True:
            found = await self._get(request)
            for msg in found:
                seq = int(msg.headers["Nats-Sequence"])
                if seq >= before:
                    return clocks  # reached the snapshot: everything before it was seen
                if msg.headers["Nats-Subject"].split(".")[2] in BOOK_TOKENS:
                    clock = _clock(msg.data)
                    if clock is not None:
                        clocks.append(clock)
            if not found:
                return None  # the answering server does not hold the snapshot (yet): cannot tell
            request = {"next_by_subj": subject, "seq": int(found[-1].headers["Nats-Sequence"]) + 1, "batch": _BATCH}
