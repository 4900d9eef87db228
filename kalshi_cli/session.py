"""A signed, self-healing Kalshi session over one WebSocket connection (``wsconn``).

``Session.run`` connects with freshly signed headers on every attempt, subscribes, reads
frames and hands data frames, in order, to a ``StreamHandler``. It tracks ``seq`` per sid
on every frame that has one, answers pings (websockets does), watches for silence,
resubscribes after terminal subscription errors (10, 25) and reconnects with exponential
backoff and full jitter after network errors and 5xx/429, re-subscribing everything. HTTP
401/403 is fatal with a diagnosis. A frame it cannot read is reported and skipped.
"""

from __future__ import annotations

import asyncio
import email.utils
import enum
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from kalshi_cli import __version__
from kalshi_cli.errors import AuthRejected, ConnectionFailed, ServerError
from kalshi_cli.output import Reporter

if TYPE_CHECKING:
    from websockets.exceptions import InvalidStatus

    from kalshi_cli.wsconn import Connection

from kalshi_cli.protocol import (
    CHANNELS,
    DATA_TYPE_NAMES,
    DATA_TYPES,
    FAST_ENVELOPE,
    TERMINAL_ERROR_CODES,
    FrameError,
    Head,
    SeqTracker,
    describe_error,
    encode_command,
    parse_frame,
    read_head,
)

__all__ = [
    "ProbeResult",
    "Session",
    "SessionState",
    "StreamDone",
    "StreamHandler",
    "Subscription",
    "delays",
    "probe",
]

MAX_FRAME = 64 * 1024 * 1024  # websockets' hard cap; a frame above it costs the connection
SKIP_FRAME = 16 * 1024 * 1024  # frames above this are reported and skipped
USER_AGENT = f"kalshi-cli/{__version__}"
EARLY_LIMIT = 10_000  # frames kept for sids whose `subscribed` has not arrived yet


class SessionState(enum.Enum):
    """Where the session is; views and feeds test these members, never free strings."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


class StreamDone(Exception):
    """Raised by a handler to end the stream cleanly (e.g. ``--count`` reached)."""


@dataclass(eq=False)
class Subscription:
    """One channel the user asked for, with its filters; it survives reconnects.

    ``sid`` is the server's id on the current connection (``None`` until subscribed).
    """

    channel: str
    params: dict[str, Any] = field(default_factory=dict)
    sid: int | None = None

    @property
    def markets(self) -> list[str]:
        tickers = self.params.get("market_tickers")
        if tickers:
            return list(tickers)
        single = self.params.get("market_ticker")
        return [single] if single else []

    @property
    def sequenced(self) -> bool:
        info = CHANNELS.get(self.channel)
        return bool(info and info.sequenced)

    def label(self) -> str:
        return f"{self.channel} (sid {self.sid})" if self.sid is not None else self.channel


class StreamHandler:
    """What a command does with the stream. Every method has a sensible default."""

    session: Session

    #: Optional fast path for handlers that only pass frames on (``tail --json``): when set, an
    #: in-order data frame on a known sid whose envelope the fast path could read is given here
    #: as its raw bytes instead of to ``on_data``, and no ``Head`` is built. It must do what
    #: ``on_data`` would do with that frame.
    passthrough: Callable[[bytes], None] | None = None

    def on_connected(self, url: str) -> None:
        """A new connection is up; sids and seqs start again."""

    def on_subscribed(self, sub: Subscription) -> None:
        """The server confirmed ``sub`` (``sub.sid`` is set)."""

    def on_data(self, raw: bytes, head: Head, sub: Subscription) -> None:
        """A data frame, in the order received. ``raw`` is the frame exactly as sent."""

    def on_gap(self, sub: Subscription, missing: int, head: Head) -> None:
        """``missing`` frames were lost on ``sub`` before this one."""
        self.session.reporter.warn(f"seq gap on {sub.label()}: {missing} frame(s) missing before seq {head.seq}")
        if sub.channel == "orderbook_delta" and sub.markets:
            self.session.request_snapshot(sub, sub.markets)

    def on_subscription_lost(self, sub: Subscription, reason: str) -> None:
        """The server ended ``sub`` (error 10/25); the session resubscribes right after."""

    def on_disconnected(self, reason: str) -> None:
        """The connection ended; a reconnect follows unless the error is fatal."""

    def on_reply(self, obj: dict[str, Any]) -> None:
        """A command reply the session does not handle itself (e.g. ``list_subscriptions``)."""


@dataclass
class _Pending:
    """A command sent and not yet answered."""

    purpose: str  # "subscribe", "snapshot", "update", "unsubscribe", "list"
    subs: list[Subscription]
    payload: bytes
    markets: list[str] = field(default_factory=list)
    retries: int = 0


def _ws_errors() -> tuple[type[Exception], type[Exception], type[Exception]]:
    """websockets' (ConnectionClosed, InvalidHandshake, InvalidStatus), imported on first use."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

    return ConnectionClosed, InvalidHandshake, InvalidStatus


def delays(base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> Iterator[float]:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2**n))."""
    rng = rng or random.Random()
    n = 0
    while True:
        yield rng.uniform(0, min(cap, base * (2**n)))
        n = min(n + 1, 30)


class Session:
    """A signed Kalshi WebSocket session that heals itself.

    Args:
        url: the ``ws://`` or ``wss://`` endpoint.
        subscriptions: what to subscribe, re-sent after every reconnect.
        handler: receives the data.
        signer: returns fresh ``KALSHI-ACCESS-*`` headers per attempt, or ``None`` (unsigned).
        reporter: status lines on stderr.
        stale_after: seconds without any byte (data or ping) before reconnecting.
    """

    def __init__(
        self,
        url: str,
        subscriptions: list[Subscription],
        handler: StreamHandler,
        *,
        signer: Callable[[], dict[str, str]] | None,
        reporter: Reporter,
        stale_after: float = 30.0,
        open_timeout: float = 10.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self.url = url
        self.subscriptions = subscriptions
        self.handler = handler
        handler.session = self
        self.signer = signer
        self.reporter = reporter
        self.stale_after = stale_after
        self.open_timeout = open_timeout
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.seq = SeqTracker()
        self.connects = 0
        self.reconnects = 0
        self.frames = 0
        self.gaps = 0
        self.state = SessionState.CONNECTING
        self._by_sid: dict[int, Subscription] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1
        self._ws: Connection | None = None
        self._outbox: asyncio.Queue[bytes] | None = None
        self._bad_frames = 0
        # Data that arrives for a new sid before its `subscribed` ack (the reference does not
        # promise the order): kept, then delivered right after the ack, so nothing is lost.
        self._early: dict[int, list[bytes]] = {}
        self._early_count = 0
        self._known_sids: set[int] = set()

    # --- commands handlers may send ---------------------------------------------------------

    def _send(
        self,
        purpose: str,
        cmd: str,
        params: dict[str, Any] | None,
        subs: list[Subscription],
        markets: list[str] | None = None,
    ) -> int:
        cmd_id = self._next_id
        self._next_id += 1
        payload = encode_command(cmd_id, cmd, params)
        self._pending[cmd_id] = _Pending(purpose, subs, payload, list(markets or []))
        if self._outbox is not None:
            self._outbox.put_nowait(payload)
        return cmd_id

    def _subscribe(self, sub: Subscription) -> None:
        self._send("subscribe", "subscribe", {"channels": [sub.channel], **sub.params}, [sub])

    def request_snapshot(self, sub: Subscription, markets: list[str]) -> None:
        """Ask for fresh ``orderbook_snapshot``s of ``markets`` on ``sub`` (§5.4 ``get_snapshot``)."""
        if sub.sid is None or not markets:
            return
        params = {"sid": sub.sid, "action": "get_snapshot", "market_tickers": list(markets)}
        self._send("snapshot", "update_subscription", params, [sub], markets)

    def resubscribe(self, sub: Subscription, reason: str) -> None:
        """Drop ``sub``'s sid and subscribe again (the server sends fresh snapshots)."""
        if sub.sid is not None:
            self._by_sid.pop(sub.sid, None)
            self.seq.forget(sub.sid)
            if reason != "lost":
                self._send("unsubscribe", "unsubscribe", {"sids": [sub.sid]}, [sub])
        sub.sid = None
        self._subscribe(sub)

    def list_subscriptions(self) -> None:
        self._send("list", "list_subscriptions", None, [])

    def reconnect(self, reason: str) -> None:
        """Abort the connection; ``run`` reconnects and resubscribes everything."""
        self.reporter.warn(f"{reason}; reconnecting")
        if self._ws is not None:
            self._ws.abort()

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Stream until the handler raises ``StreamDone`` or a fatal error is raised."""
        from kalshi_cli.wsconn import connect

        ConnectionClosed, InvalidHandshake, InvalidStatus = _ws_errors()  # noqa: N806
        backoff = delays(self.backoff_base, self.backoff_cap)
        while True:
            headers = self.signer() if self.signer else {}
            retry_after: float | None = None
            healthy = False
            try:
                # No pings from us: Kalshi pings every 10 s, and the watchdog covers silence.
                async with connect(
                    self.url,
                    headers=headers,
                    user_agent=USER_AGENT,
                    max_size=MAX_FRAME,
                    open_timeout=self.open_timeout,
                    close_timeout=2,
                ) as ws:
                    healthy = await self._serve(ws)
                    cause = "connection closed"
            except StreamDone:
                return
            except InvalidStatus as exc:
                status = exc.response.status_code
                if status in (401, 403):
                    raise AuthRejected(diagnose_rejection(exc, signed=bool(headers), url=self.url)) from None
                if status == 404:
                    raise ConnectionFailed(
                        f"{self.url}: HTTP 404: no Kalshi WebSocket at this URL (the path should be /trade-api/ws/v2)"
                    ) from None
                if 400 <= status < 500 and status not in (408, 429):
                    # Other client errors will not go away by retrying the same request.
                    raise ConnectionFailed(f"{self.url} refused the connection: HTTP {status}") from None
                cause = f"server answered HTTP {status}"
                retry_after = _retry_after(exc)
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                cause = _describe_network_error(exc)
            finally:
                self._ws = None
                self._outbox = None
            if self.state is SessionState.STREAMING:
                self.handler.on_disconnected(cause)
            self.state = SessionState.RECONNECTING
            if healthy:
                backoff = delays(self.backoff_base, self.backoff_cap)
            delay = next(backoff) if retry_after is None else retry_after
            self.reconnects += 1
            self.reporter.info(f"{cause}; reconnecting in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _serve(self, ws: Any) -> bool:
        """Subscribe and read until the connection ends. Returns whether it was healthy."""
        self._ws = ws
        self.connects += 1
        self.state = SessionState.STREAMING
        self.seq.clear()
        self._by_sid.clear()
        self._pending.clear()
        self._early.clear()
        self._early_count = 0
        self._known_sids.clear()
        self._outbox = asyncio.Queue()
        started = time.monotonic()
        self.reporter.info(f"connected to {self.url}")
        self.handler.on_connected(self.url)
        for sub in self.subscriptions:
            sub.sid = None
            self._subscribe(sub)
        sender = asyncio.create_task(self._send_loop(ws, self._outbox))
        watchdog = asyncio.create_task(self._watch(ws))
        frames_before = self.frames
        try:
            await self._read_loop(ws)
        except _ws_errors()[0]:  # ConnectionClosed
            pass
        finally:
            sender.cancel()
            watchdog.cancel()
        return self.frames > frames_before or time.monotonic() - started > 10

    async def _send_loop(self, ws: Connection, outbox: asyncio.Queue[bytes]) -> None:
        while True:
            payload = await outbox.get()
            await ws.send(payload)  # a text frame: Kalshi expects JSON text, not binary

    async def _watch(self, ws: Any) -> None:
        period = max(0.05, min(1.0, self.stale_after / 4))
        while True:
            await asyncio.sleep(period)
            idle = time.monotonic() - ws.last_rx
            if idle > self.stale_after:
                self.reconnect(f"no data or heartbeat for {idle:.0f}s")
                return

    async def _read_loop(self, ws: Any) -> None:
        handler = self.handler
        by_sid = self._by_sid
        last_seq = self.seq.table
        fast = FAST_ENVELOPE.match
        names = DATA_TYPE_NAMES
        passthrough = handler.passthrough
        on_data = handler.on_data
        recv_batch = ws.recv_batch
        while True:
            for raw in await recv_batch():
                # Fast path (most frames): a compact data frame, in order, on a known sid. Anything
                # else (gaps, repeats, replies, odd shapes, oversize) takes _on_frame's general path.
                m = fast(raw)
                if m is not None and raw[-1:] == b"}" and len(raw) <= SKIP_FRAME:
                    kind, sid_text, seq_text = m.groups()
                    name = names.get(kind)
                    if name is not None:
                        sid = int(sid_text)
                        sub = by_sid.get(sid)
                        if sub is not None:
                            if seq_text is not None:
                                seq: int | None = int(seq_text)
                                if last_seq.get(sid, 0) != seq - 1:  # type: ignore[operator]
                                    self._on_frame(raw)
                                    continue
                                last_seq[sid] = seq  # type: ignore[assignment]
                            elif b'"seq"' in raw:
                                self._on_frame(raw)
                                continue
                            else:
                                seq = None
                            self.frames += 1
                            if passthrough is not None:
                                passthrough(raw)
                            else:
                                on_data(raw, Head(name, sid, seq, None, None), sub)
                            continue
                self._on_frame(raw)

    def _on_frame(self, raw: bytes) -> None:
        """Any frame, the general way: size check, envelope, seq check, then data or reply."""
        if len(raw) > SKIP_FRAME:
            self._bad_frame(raw, f"oversize frame ({len(raw)} bytes)")
            return
        try:
            head = read_head(raw)
        except FrameError as exc:
            self._bad_frame(raw, str(exc))
            return
        if head.type not in DATA_TYPES:
            self._on_reply(raw, head)
            return
        sub = self._by_sid.get(head.sid) if head.sid is not None else None
        if sub is None:
            self._stray(head, raw)
            return
        if head.seq is not None:
            missing = self.seq.observe(head.sid, head.seq)  # type: ignore[arg-type]
            if missing:
                if missing < 0:
                    self.reporter.warn(f"dropped a repeated frame on {sub.label()} (seq {head.seq})")
                    return
                self.gaps += 1
                self.handler.on_gap(sub, missing, head)
        self.frames += 1
        self.handler.on_data(raw, head, sub)

    # --- replies --------------------------------------------------------------------------------

    def _on_reply(self, raw: bytes, head: Head) -> None:
        obj = head.obj
        if obj is None:
            try:
                obj = parse_frame(raw)
            except FrameError as exc:
                self._bad_frame(raw, str(exc))
                return
        kind = head.type
        pending = self._pending.get(head.id) if head.id else None
        if kind == "subscribed":
            self._on_subscribed(obj, pending)
        elif kind == "ok":
            if head.sid is not None and head.seq is not None and head.sid in self._by_sid:
                self._observe_reply_seq(head)
            if head.id:
                self._pending.pop(head.id, None)
            if isinstance(obj.get("msg"), list) or (pending and pending.purpose == "list"):
                self.handler.on_reply(obj)
        elif kind == "unsubscribed":
            if head.id:
                self._pending.pop(head.id, None)
        elif kind == "error":
            self._on_error(obj, head, pending)
        else:
            self.reporter.warn_once(f"type:{kind}", f"skipping frames of unexpected type {kind!r}")

    def _observe_reply_seq(self, head: Head) -> None:
        assert head.sid is not None and head.seq is not None
        missing = self.seq.observe(head.sid, head.seq)
        if missing > 0:
            sub = self._by_sid[head.sid]
            self.gaps += 1
            self.handler.on_gap(sub, missing, head)

    def _on_subscribed(self, obj: dict[str, Any], pending: _Pending | None) -> None:
        msg = obj.get("msg") if isinstance(obj.get("msg"), dict) else {}
        # The reference puts sid inside msg; tolerate a server that puts it at the top level.
        sid, channel = msg.get("sid", obj.get("sid")), msg.get("channel")
        if not isinstance(sid, int):
            self.reporter.warn("ignoring a 'subscribed' reply without a sid")
            return
        candidates = pending.subs if pending else [s for s in self.subscriptions if s.sid is None]
        sub = next((s for s in candidates if s.channel == channel), None)
        if sub is None:
            sub = next((s for s in candidates if s.sid is None), None)
        if sub is None:
            return
        if pending and all(s.sid is not None or s is sub for s in pending.subs):
            self._pending.pop(obj.get("id"), None)
        if sub.sid is not None and sub.sid != sid:
            self._by_sid.pop(sub.sid, None)
        sub.sid = sid
        self._by_sid[sid] = sub
        self._known_sids.add(sid)
        self.handler.on_subscribed(sub)
        for raw in self._early.pop(sid, ()):
            self._on_frame(raw)

    def _on_error(self, obj: dict[str, Any], head: Head, pending: _Pending | None) -> None:
        msg = obj.get("msg") if isinstance(obj.get("msg"), dict) else {}
        code = msg.get("code")
        text = describe_error(msg)
        if head.id:
            self._pending.pop(head.id, None)
        sub = self._by_sid.get(head.sid) if head.sid is not None else None
        if sub is None and pending and pending.subs:
            sub = pending.subs[0]
        if code in TERMINAL_ERROR_CODES and sub is not None and pending is None:
            self.reporter.warn(f"{sub.label()}: {text}; resubscribing")
            self.handler.on_subscription_lost(sub, text)
            self.resubscribe(sub, "lost")
            return
        if pending is None:
            self.reporter.warn(text)
            return
        if code in (27, 18) and pending.retries < 5:
            delay = min(30.0, 0.5 * 2**pending.retries) * random.uniform(0.5, 1.0)
            self.reporter.warn(f"{text}; retrying in {delay:.1f}s")
            asyncio.get_running_loop().call_later(delay, self._resend, pending)
            return
        if pending.purpose == "snapshot" and sub is not None:
            self.reporter.warn(f"get_snapshot failed: {text}; resubscribing {sub.channel}")
            self.handler.on_subscription_lost(sub, text)
            self.resubscribe(sub, "snapshot failed")
            return
        if pending.purpose == "subscribe":
            if code == 6:  # legacy "already subscribed": the subscription exists
                return
            raise ServerError(f"cannot subscribe to {sub.channel if sub else 'channel'}: {text}", code=code)
        self.reporter.warn(text)

    def _resend(self, pending: _Pending) -> None:
        if self._outbox is None:
            return
        pending.retries += 1
        cmd = orjson.loads(pending.payload)
        new_id = self._next_id
        self._next_id += 1
        cmd["id"] = new_id
        pending.payload = orjson.dumps(cmd)
        self._pending[new_id] = pending
        self._outbox.put_nowait(pending.payload)

    def _stray(self, head: Head, raw: bytes) -> None:
        sid = head.sid
        if (
            sid is not None
            and sid not in self._known_sids
            and self._early_count < EARLY_LIMIT
            and any(p.purpose == "subscribe" for p in self._pending.values())
        ):
            self._early.setdefault(sid, []).append(raw)
            self._early_count += 1
            return
        # In-flight frames of a subscription we just dropped: expected, not worth a line each.
        self.reporter.warn_once(f"stray:{sid}", f"ignoring frames for unknown sid {sid}")

    def _bad_frame(self, raw: bytes, why: str) -> None:
        self._bad_frames += 1
        if self._bad_frames <= 100:
            preview = raw[:60].decode("utf-8", "replace")
            more = "..." if len(raw) > 60 else ""
            self.reporter.warn(f"skipping unreadable frame: {why}: {preview!r}{more}")
        elif self._bad_frames == 101:
            self.reporter.warn("more unreadable frames; no longer reporting each one")


# --- diagnosis ---------------------------------------------------------------------------------


def _retry_after(exc: InvalidStatus) -> float | None:
    value = exc.response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, min(300.0, float(value)))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, min(300.0, when.timestamp() - time.time())) if when else None


def _describe_network_error(exc: BaseException) -> str:
    if isinstance(exc, _ws_errors()[0]):  # ConnectionClosed
        if exc.rcvd is None:
            return "connection dropped"
        return f"server closed the connection (code {exc.rcvd.code}{': ' + exc.rcvd.reason if exc.rcvd.reason else ''})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def clock_skew(date_header: str | None, now: float | None = None) -> float | None:
    """Local clock minus server clock in seconds, from an HTTP ``Date`` header (1 s resolution)."""
    if not date_header:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError):
        return None
    return (time.time() if now is None else now) - server


def diagnose_rejection(exc: InvalidStatus, *, signed: bool, url: str) -> str:
    """One line that says why the handshake was refused and what to check."""
    status = exc.response.status_code
    body = bytes(exc.response.body or b"").decode("utf-8", "replace").strip()
    body = " ".join(body.split())[:160]
    if not signed:
        return (
            f"the server requires a signed connection (HTTP {status}) and no API key is configured: "
            "give one with --key-id ID --private-key PATH, or KALSHI_API_KEY_ID and "
            "KALSHI_PRIVATE_KEY_PATH, or a profile ('kalshi config init')"
        )
    checks = ["the key id matches the private key"]
    if "demo" in url:
        checks.append("the key was made on demo (production keys do not work there; drop --env demo)")
    elif "kalshi" in url:
        checks.append("the key was made on production (demo keys do not work there; try --env demo)")
    skew = clock_skew(exc.response.headers.get("Date"))
    if skew is not None and abs(skew) >= 5:
        checks.append(f"your clock: it is {abs(skew):.0f}s {'ahead of' if skew > 0 else 'behind'} the server's")
    else:
        checks.append("your clock is in sync (NTP)")
    if status == 403:
        checks.append("the key has the scopes this needs")
    why = f": {body}" if body else ""
    return f"the server rejected the API key (HTTP {status}{why}). Check that " + "; ".join(checks)


@dataclass
class ProbeResult:
    """What a single signed handshake told us."""

    accepted: bool
    status: int | None
    detail: str
    skew: float | None


async def probe(url: str, headers: dict[str, str], *, open_timeout: float = 10.0) -> ProbeResult:
    """Open one connection with ``headers`` and report whether the server accepted it."""
    from websockets.asyncio.client import connect

    ConnectionClosed, InvalidHandshake, InvalidStatus = _ws_errors()  # noqa: N806
    try:
        async with connect(
            url,
            additional_headers=headers,
            user_agent_header=USER_AGENT,
            open_timeout=open_timeout,
            close_timeout=1,
            ping_interval=None,
        ) as ws:
            skew = clock_skew(ws.response.headers.get("Date") if ws.response else None)
            return ProbeResult(True, 101, "accepted", skew)
    except InvalidStatus as exc:
        skew = clock_skew(exc.response.headers.get("Date"))
        body = bytes(exc.response.body or b"").decode("utf-8", "replace").strip()
        return ProbeResult(False, exc.response.status_code, " ".join(body.split())[:200], skew)
    except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed) as exc:
        raise ConnectionFailed(f"cannot reach {url}: {_describe_network_error(exc)}") from None
