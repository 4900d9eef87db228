"""The Kalshi WebSocket client with no I/O, in the style of websockets' Sans-I/O ``Protocol``.

Feed it the frames a connection received (``receive``) and it hands back events, in order;
take the commands it wants sent with ``data_to_send``. It owns everything Kalshi-specific:
command ids and pending commands, sids, frames that arrive before their ``subscribed`` ack,
per-sid ``seq`` checks (KALSHI_WS.md §7) and the error-code policy (§9). It never sleeps,
reads a clock or touches a socket: a retry after a delay (codes 18 and 27) is a ``RetryLater``
event that the session schedules, and the session calls ``retry`` when it is due.

Every frame is parsed whole (``orjson.loads``) before anything is delivered: that one call
checks UTF-8 and JSON at once, reads the envelope whatever the key order, and its result rides
along in ``Head.obj`` so no consumer parses the frame again. A frame that fails is reported
(rate-limited) and skipped. With ``passthrough`` set (``tail --json``) an in-order data frame on
a known sid is yielded as its raw ``bytes``: the one fast path, no ``Head`` built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from kalshi_cli.errors import ServerError
from kalshi_cli.events import (
    Command,
    Data,
    Event,
    Gap,
    Lost,
    Reply,
    RetryLater,
    Subscribed,
    Subscription,
    Warning,
)
from kalshi_cli.protocol import (
    CHANNELS,
    DATA_TYPES,
    ORDERBOOK_DELTA,
    TERMINAL_ERROR_CODES,
    Head,
    describe_error,
    encode_command,
)
from kalshi_cli.seq import DUPLICATE, IN_ORDER, WINDOW, SeqWindow, Verdict

__all__ = ["KalshiClient"]

SKIP_FRAME = 16 * 1024 * 1024  # frames above this are reported and skipped
EARLY_LIMIT = 10_000  # frames kept for sids whose `subscribed` has not arrived yet
BAD_FRAME_LINES = 10  # unreadable frames reported one by one; then a single line says so
RETRY_CODES = (18, 27)  # command timeout, too many requests: the same command again, later
MAX_RETRIES = 5
MASK = WINDOW - 1


class KalshiClient:
    """Kalshi's protocol state for one run; ``connected()`` starts each new connection."""

    def __init__(self, subscriptions: list[Subscription], *, passthrough: bool = False) -> None:
        self.subscriptions = subscriptions
        self.passthrough = passthrough
        self.frames = 0  # data frames delivered
        self.gaps = 0
        self.duplicates = 0  # true repeats (same seq, same content) dropped quietly
        self.bad_frames = 0
        self.stale_frames = 0  # frames still arriving on a sid we dropped (unsubscribed, resynced)
        self.connection = 0
        self._outgoing: list[bytes] = []
        self._next_id = 1
        self._pending: dict[int, Command] = {}
        self._by_sid: dict[int, Subscription] = {}
        self._seqs: dict[int, SeqWindow] = {}
        self._lanes: dict[int, tuple[Subscription, SeqWindow]] = {}  # both of a sid, one lookup per frame
        self._early: dict[int, list[tuple[bytes, dict[str, Any]]]] = {}
        self._early_count = 0
        self._known_sids: set[int] = set()
        self._adopting: list[Subscription] = []  # legacy code 6: the sid shows itself in data

    # --- commands -------------------------------------------------------------------------------

    def connected(self) -> None:
        """A new connection: sids and seqs start again; every subscription is sent."""
        self.connection += 1
        for table in (self._pending, self._by_sid, self._seqs, self._lanes, self._early):
            table.clear()
        self._outgoing.clear()
        self._early_count = 0
        self._known_sids.clear()
        self._adopting.clear()
        for sub in self.subscriptions:
            sub.sid = None
            self._subscribe(sub)

    def data_to_send(self) -> list[bytes]:
        """The commands queued since the last call, in order (JSON text)."""
        out, self._outgoing = self._outgoing, []
        return out

    def request_snapshot(self, sub: Subscription, markets: list[str]) -> None:
        """Ask for fresh ``orderbook_snapshot``s of ``markets`` on ``sub`` (§5.4 ``get_snapshot``)."""
        if sub.sid is None or not markets:
            return
        params = {"sid": sub.sid, "action": "get_snapshot", "market_tickers": list(markets)}
        self._send(Command("snapshot", "update_subscription", params, [sub], list(markets)))

    def resubscribe(self, sub: Subscription, reason: str) -> None:
        """Drop ``sub``'s sid and subscribe again (the server sends fresh snapshots)."""
        if sub.sid is not None:
            self._forget(sub.sid)
            if reason != "lost":
                self._send(Command("unsubscribe", "unsubscribe", {"sids": [sub.sid]}, [sub]))
        sub.sid = None
        self._subscribe(sub)

    def list_subscriptions(self) -> None:
        self._send(Command("list", "list_subscriptions", None, []))

    def retry(self, command: Command) -> None:
        """Send ``command`` again under a new id (after its ``RetryLater`` delay)."""
        command.retries += 1
        self._send(command)

    def _subscribe(self, sub: Subscription) -> None:
        self._send(Command("subscribe", "subscribe", {"channels": [sub.channel], **sub.params}, [sub]))

    def _send(self, pending: Command) -> None:
        cmd_id = self._next_id
        self._next_id += 1
        self._pending[cmd_id] = pending
        self._outgoing.append(encode_command(cmd_id, pending.cmd, pending.params))

    def _forget(self, sid: int) -> None:
        self._by_sid.pop(sid, None)
        self._seqs.pop(sid, None)
        self._lanes.pop(sid, None)

    # --- frames ---------------------------------------------------------------------------------

    def receive(self, frames: Iterable[bytes]) -> Iterator[Event | bytes]:
        """Events for ``frames``, lazily: each frame is looked at after the previous one's events
        were taken, so what a consumer does about an event (resubscribe, ...) applies to the next."""
        loads = orjson.loads
        lanes = self._lanes
        data_types = DATA_TYPES
        passthrough = self.passthrough
        for raw in frames:
            try:
                if len(raw) > SKIP_FRAME:
                    raise ValueError(f"oversize frame ({len(raw)} bytes)")
                obj = loads(raw)
            except ValueError as exc:  # orjson.JSONDecodeError is a ValueError (bad UTF-8 too)
                yield from self._bad_frame(raw, str(exc).split(":")[0] or "not valid JSON")
                continue
            if type(obj) is dict:
                sid = obj.get("sid")
                lane = lanes.get(sid) if type(sid) is int else None
                kind = obj.get("type")
                if lane is not None and kind in data_types:
                    sub, window = lane
                    seq = obj.get("seq")
                    if seq is not None:
                        if seq != window.last + 1 or type(seq) is not int:  # (1.0 == 1: not a seq)
                            yield from self._frame(raw, obj)  # not next in line: the general path judges it
                            continue
                        window.last = seq  # SeqWindow.observe's in-order case, inline
                        window.ring[seq & MASK] = (seq, raw)
                    self.frames += 1
                    yield raw if passthrough else Data(raw, Head(kind, sid, seq, None, obj), sub)
                    continue
            yield from self._frame(raw, obj)

    def receive_into(
        self,
        frames: Iterable[bytes],
        on_frame: Callable[[bytes, dict[str, Any], Subscription], None],
        loads: Callable[[bytes], Any] = orjson.loads,
    ) -> Iterator[Event | bytes]:
        """``receive``, but each checked, in-order data frame goes to ``on_frame`` (its bytes, parse
        and subscription) at once instead of being yielded: no ``Data`` or ``Head`` built per frame
        (``--redundant``'s connections, whose merge reads the parse). Everything else as ``receive``.
        ``loads`` parses a frame (``redundant_heads.merge_loads``: only what the merge reads, for
        frames passed on as received); it raises ``ValueError`` where ``orjson.loads`` would."""
        lanes = self._lanes
        data_types = DATA_TYPES
        for raw in frames:
            try:
                if len(raw) > SKIP_FRAME:
                    raise ValueError(f"oversize frame ({len(raw)} bytes)")
                obj = loads(raw)
            except ValueError as exc:
                yield from self._bad_frame(raw, str(exc).split(":")[0] or "not valid JSON")
                continue
            if type(obj) is dict:
                sid = obj.get("sid")
                lane = lanes.get(sid) if type(sid) is int else None
                if lane is not None and obj.get("type") in data_types:
                    sub, window = lane
                    seq = obj.get("seq")
                    if seq is not None:
                        if seq != window.last + 1 or type(seq) is not int:
                            yield from self._frame(raw, obj)
                            continue
                        window.last = seq
                        window.ring[seq & MASK] = (seq, raw)
                    self.frames += 1
                    on_frame(raw, obj, sub)
                    continue
            yield from self._frame(raw, obj)

    def _frame(self, raw: bytes, obj: Any) -> Iterator[Event | bytes]:
        """The general path: replies, frames on sids not (yet) known, odd shapes."""
        if type(obj) is not dict or type(obj.get("type")) is not str:
            yield from self._bad_frame(raw, "not a JSON object with a string 'type'")
            return
        head = _head(obj)
        if head.type not in DATA_TYPES:
            yield from self._reply(raw, head, obj)
            return
        sub = self._by_sid.get(head.sid) if head.sid is not None else None
        if sub is None:
            yield from self._stray(raw, head, obj)
            return
        seq = obj.get("seq")
        if seq is not None:
            if type(seq) is not int or seq < 1:  # unreadable, not a broken stream: no resync loop
                yield from self._bad_frame(raw, f"seq {seq!r} is not a positive integer")
                return
            verdict = self._seqs[sub.sid].observe(seq, raw)  # type: ignore[index]
            if verdict is not IN_ORDER:
                yield from self._out_of_order(raw, obj, sub, verdict)
                return
        self.frames += 1
        yield raw if self.passthrough else Data(raw, head, sub)

    def _out_of_order(
        self, raw: bytes, obj: dict[str, Any], sub: Subscription, verdict: Verdict
    ) -> Iterator[Event | bytes]:
        head = _head(obj)
        if verdict is DUPLICATE:
            self.duplicates += 1
            yield Warning(
                f"dropping repeated frames on {sub.label()} (first: seq {head.seq})",
                key=f"dup:{self.connection}:{head.sid}",
            )
            return
        if isinstance(verdict, int):  # a gap of that many frames; this frame is the new baseline
            self.gaps += 1
            yield Gap(sub, verdict, head)
            self.frames += 1
            yield raw if self.passthrough else Data(raw, head, sub)
            return
        yield from self._broken(sub, str(verdict))

    def _broken(self, sub: Subscription, reason: str, *, dropped: bool = False) -> Iterator[Event]:
        """One line, ``Lost`` for the handler, then a fresh subscription (the old sid unsubscribed
        unless the server ``dropped`` it already)."""
        yield Warning(f"{sub.label()}: {reason}; resubscribing")
        yield Lost(sub, reason)
        self.resubscribe(sub, "lost" if dropped else reason)

    def _stray(self, raw: bytes, head: Head, obj: dict[str, Any]) -> Iterator[Event | bytes]:
        sid = head.sid
        if sid is not None and sid not in self._known_sids:
            adopted = next((s for s in self._adopting if head.type in CHANNELS[s.channel].types), None)
            if adopted is not None:
                self._early.setdefault(sid, []).append((raw, obj))
                yield from self._adopt(adopted, sid)
                return
            if self._early_count < EARLY_LIMIT and any(p.purpose == "subscribe" for p in self._pending.values()):
                self._early.setdefault(sid, []).append((raw, obj))
                self._early_count += 1
                return
        if sid in self._known_sids:  # in flight on a sid we dropped: expected, the resync said so
            self.stale_frames += 1
            return
        yield Warning(f"ignoring frames for unknown sid {sid}", key=f"stray:{self.connection}:{sid}")

    def _adopt(self, sub: Subscription, sid: int) -> Iterator[Event | bytes]:
        """Take ``sid`` as ``sub``'s: a legacy "already subscribed" (code 6) left it without one.
        The stream is joined mid-way: the first seq seen is the baseline, books get snapshots."""
        self._adopting.remove(sub)
        yield from self._subscribed(sub, sid, SeqWindow(fresh=True))
        if sub.channel == ORDERBOOK_DELTA:
            self.request_snapshot(sub, sub.markets)

    def _bad_frame(self, raw: bytes, why: str) -> Iterator[Event]:
        self.bad_frames += 1
        if self.bad_frames <= BAD_FRAME_LINES:
            preview = raw[:60].decode("utf-8", "replace")
            more = "..." if len(raw) > 60 else ""
            yield Warning(f"skipping unreadable frame: {why}: {preview!r}{more}")
        elif self.bad_frames == BAD_FRAME_LINES + 1:
            yield Warning("more unreadable frames are being skipped; no longer reporting each one")

    # --- replies --------------------------------------------------------------------------------

    def _reply(self, raw: bytes, head: Head, obj: dict[str, Any]) -> Iterator[Event | bytes]:
        kind = head.type
        pending = self._pending.get(head.id) if head.id is not None else None
        if kind == "subscribed":
            yield from self._on_subscribed(obj, pending)
        elif kind == "ok":
            self._pending.pop(head.id, None)  # type: ignore[arg-type]
            if head.sid is not None and head.seq is not None and head.sid in self._by_sid:
                # Acks take a number on sequenced sids (§7): a gap shows here too.
                window = self._seqs[head.sid]
                verdict = window.observe(head.seq, raw)
                if type(verdict) is int:
                    self.gaps += 1
                    yield Gap(self._by_sid[head.sid], verdict, head)
            if isinstance(obj.get("msg"), list) and self._adopting:
                yield from self._adopt_listed(obj)
            if isinstance(obj.get("msg"), list) or (pending is not None and pending.purpose == "list"):
                yield Reply(obj)
        elif kind == "unsubscribed":
            self._pending.pop(head.id, None)  # type: ignore[arg-type]
        elif kind == "error":
            yield from self._on_error(obj, head, pending)
        else:
            yield Warning(f"skipping frames of unexpected type {kind!r}", key=f"type:{kind}")

    def _on_subscribed(self, obj: dict[str, Any], pending: Command | None) -> Iterator[Event | bytes]:
        msg = obj.get("msg") if isinstance(obj.get("msg"), dict) else {}
        # The reference puts sid inside msg; tolerate a server that puts it at the top level.
        sid, channel = msg.get("sid", obj.get("sid")), msg.get("channel")  # type: ignore[union-attr]
        if type(sid) is not int:
            yield Warning("ignoring a 'subscribed' reply without a sid")
            return
        candidates = pending.subs if pending else [s for s in self.subscriptions if s.sid is None]
        sub = next((s for s in candidates if s.channel == channel), None)
        if sub is None:
            sub = next((s for s in candidates if s.sid is None), None)
        if sub is None:
            return
        if pending and all(s.sid is not None or s is sub for s in pending.subs):
            self._pending.pop(obj.get("id"), None)  # type: ignore[arg-type]
        yield from self._subscribed(sub, sid)

    def _subscribed(self, sub: Subscription, sid: int, window: SeqWindow | None = None) -> Iterator[Event | bytes]:
        if sub.sid is not None and sub.sid != sid:
            self._forget(sub.sid)
        sub.sid = sid
        self._by_sid[sid] = sub
        self._seqs[sid] = window = window or SeqWindow()
        self._lanes[sid] = (sub, window)
        self._known_sids.add(sid)
        yield Subscribed(sub)
        for raw, obj in self._early.pop(sid, ()):
            yield from self._frame(raw, obj)

    def _on_error(self, obj: dict[str, Any], head: Head, pending: Command | None) -> Iterator[Event]:
        msg = obj.get("msg") if isinstance(obj.get("msg"), dict) else {}
        code = msg.get("code")  # type: ignore[union-attr]
        text = describe_error(msg)
        if head.id is not None:
            self._pending.pop(head.id, None)
        sub = self._by_sid.get(head.sid) if head.sid is not None else None
        if sub is None and pending and pending.subs:
            sub = pending.subs[0]
        if code in TERMINAL_ERROR_CODES and sub is not None and pending is None:
            yield from self._broken(sub, text, dropped=True)
        elif pending is None:
            yield Warning(text)
        elif code in RETRY_CODES and pending.retries < MAX_RETRIES:
            delay = min(30.0, 0.5 * 2**pending.retries)
            yield Warning(f"{text}; retrying in {delay:.1f}s")
            yield RetryLater(delay, pending)
        elif pending.purpose == "snapshot" and sub is not None:
            yield from self._broken(sub, f"get_snapshot failed: {text}")
        elif pending.purpose == "subscribe" and code == 6 and sub is not None:
            # Legacy "already subscribed": the subscription exists and its data may be flowing
            # already; its sid is the one whose frames carry this channel.
            yield Warning(f"{sub.channel}: {text}; using the existing subscription")
            self._adopting.append(sub)
            self.list_subscriptions()
        elif pending.purpose == "subscribe":
            raise ServerError(f"cannot subscribe to {sub.channel if sub else 'channel'}: {text}", code=code)
        else:
            yield Warning(text)

    def _adopt_listed(self, obj: dict[str, Any]) -> Iterator[Event | bytes]:
        """A ``list_subscriptions`` reply names the sid of a subscription being adopted."""
        for entry in obj.get("msg") or ():
            if isinstance(entry, dict) and type(entry.get("sid")) is int and entry["sid"] not in self._known_sids:
                sub = next((s for s in self._adopting if s.channel == entry.get("channel")), None)
                if sub is not None:
                    yield from self._adopt(sub, entry["sid"])


def _head(obj: dict[str, Any]) -> Head:
    def as_int(key: str) -> int | None:
        v = obj.get(key)
        return v if type(v) is int else None

    return Head(obj["type"], as_int("sid"), as_int("seq"), as_int("id"), obj)
