"""What the Kalshi client hands back: subscriptions, the events of a stream, pending commands,
and the session's state.

Plain data with no behaviour beyond naming, shared by ``client`` (which makes them) and
``session`` (which dispatches them to a ``StreamHandler``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from kalshi_cli.protocol import CHANNELS, Head

__all__ = [
    "Command",
    "Data",
    "Event",
    "Gap",
    "Lost",
    "Reply",
    "RetryLater",
    "SessionState",
    "StreamDone",
    "Subscribed",
    "Subscription",
    "Warning",
]


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


# --- events ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Data:
    """A data frame for ``sub``; ``raw`` is the frame exactly as sent, ``head.obj`` its parse."""

    raw: bytes
    head: Head
    sub: Subscription


@dataclass(slots=True)
class Subscribed:
    sub: Subscription


@dataclass(slots=True)
class Gap:
    """``missing`` frames were lost on ``sub`` before the frame ``head`` (delivered next)."""

    sub: Subscription
    missing: int
    head: Head


@dataclass(slots=True)
class Lost:
    """``sub`` is broken (server error, seq went back): the client resubscribes right after."""

    sub: Subscription
    reason: str


@dataclass(slots=True)
class Reply:
    """A command reply the client does not handle itself (``list_subscriptions``)."""

    obj: dict[str, Any]


@dataclass(slots=True)
class Warning:  # noqa: A001 - the event's name; the builtin is never needed here
    """One line for the user; with ``key``, said once per key for the whole run."""

    text: str
    key: str | None = None


@dataclass(slots=True)
class RetryLater:
    """Call ``client.retry(command)`` after ``delay`` seconds (and send what it queues)."""

    delay: float
    command: Command


Event = Data | Subscribed | Gap | Lost | Reply | Warning | RetryLater


@dataclass(eq=False)
class Command:
    """A command sent and not yet answered (what ``RetryLater`` hands back to ``retry``)."""

    purpose: str  # "subscribe", "snapshot", "unsubscribe", "list"
    cmd: str
    params: dict[str, Any] | None
    subs: list[Subscription]
    markets: list[str] = field(default_factory=list)
    retries: int = 0
