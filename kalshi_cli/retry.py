"""The one retry policy: which failures retry, how long to wait, and how to say what failed.

Used by the WebSocket session and the REST client alike, so both back off the same way,
read ``Retry-After`` the same way (any header value, never an exception) and describe a
network failure in the same words.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import re
import socket
import ssl
import time

__all__ = [
    "Backoff",
    "describe_network_error",
    "parse_retry_after",
    "retryable_status",
]

_ERRNO = re.compile(r"\[Errno (\d+)\]")

#: The longest wait a ``Retry-After`` header may impose on us.
RETRY_AFTER_CAP = 300.0


class Backoff:
    """Exponential backoff with jitter: attempt n waits uniform(c/2, c), c = min(cap, base * 2**n).

    Half the ceiling is kept as a floor so a flapping server is never hammered; the other half
    is random so many clients do not come back in step. ``reset`` starts again from ``base``.
    """

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        ceiling = min(self.cap, self.base * 2 ** min(self.attempt, 30))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


def retryable_status(status: int) -> bool:
    """HTTP statuses worth retrying: timeouts, rate limits and server errors."""
    return status in (408, 425, 429) or 500 <= status <= 599


def parse_retry_after(value: object, *, cap: float = RETRY_AFTER_CAP, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta seconds or an HTTP date), capped.

    Anything else (``soon``, ``-5``, ``nan``, an unparsable date, not a string) is ``None``:
    the caller then uses its own backoff. A header never makes the caller fail.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return min(cap, seconds) if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    try:
        seconds = when.timestamp() - (time.time() if now is None else now)
    except (OverflowError, OSError, ValueError):
        return None
    return max(0.0, min(cap, seconds))


def describe_network_error(exc: BaseException) -> str:
    """A short plain phrase for a failure below HTTP (no errno numbers, one line)."""
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = getattr(exc, "verify_message", "") or ""
        return f"TLS certificate not accepted{': ' + detail if detail else ''}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or type(exc).__name__})"
    text = str(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
    errno_in_text = _ERRNO.search(text)  # asyncio's "Multiple exceptions: [Errno 111] ..." (one per address)
    if errno_in_text and not getattr(exc, "strerror", None):
        text = os.strerror(int(errno_in_text[1]))
    text = text.splitlines()[0][:200]
    return text[:1].lower() + text[1:]
