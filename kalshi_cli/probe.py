"""The key probe behind ``kalshi sign --check``, and the words for a refused handshake.

``probe`` opens one signed handshake and reports what the server said. It goes through the
transport seam, which drives the handshake itself and never follows a redirect: a 3xx answer
is a refusal naming where it pointed, so signed headers never reach a host that was not asked.
``diagnose_rejection`` is the one sentence a 401/403 gets, for the probe and the session alike.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from kalshi_cli import __version__
from kalshi_cli.errors import AuthRejected, ConnectionFailed, KalshiCliError
from kalshi_cli.hints import API_KEY_HINT, REDIRECT_HINT
from kalshi_cli.retry import describe_network_error, retryable_status
from kalshi_cli.transport import Connector, HandshakeFailed, HandshakeRejected, TransportClosed

__all__ = [
    "USER_AGENT",
    "ProbeResult",
    "clock_skew",
    "diagnose_rejection",
    "probe",
    "redirect_refusal",
    "refusal_error",
]

USER_AGENT = f"kalshi-cli/{__version__}"


def clock_skew(date_header: str | None, now: float | None = None) -> float | None:
    """Local clock minus server clock in seconds, from an HTTP ``Date`` header (1 s resolution)."""
    if not date_header:
        return None
    try:
        server = email.utils.parsedate_to_datetime(date_header).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return (time.time() if now is None else now) - server


def _body_text(body: bytes, limit: int) -> str:
    return " ".join(body.decode("utf-8", "replace").split())[:limit]


def redirect_refusal(exc: HandshakeRejected) -> str:
    """A 3xx answer in words: where it pointed, and that it was not followed."""
    location = exc.headers.get("Location") or ""
    host = urlsplit(location).hostname or "an unnamed place"
    return f"HTTP {exc.status}: the server redirects to {host}; {REDIRECT_HINT} (use that URL if you trust it)"


def diagnose_rejection(exc: HandshakeRejected, *, signed: bool, url: str) -> str:
    """One line that says why the handshake was refused and what to check."""
    status = exc.status
    body = _body_text(exc.body, 160)
    if not signed:
        return f"the server requires a signed connection (HTTP {status}) and no API key is configured: {API_KEY_HINT}"
    checks = ["the key id matches the private key"]
    if "demo" in url:
        checks.append("the key was made on demo (production keys do not work there; drop --env demo)")
    elif "kalshi" in url:
        checks.append("the key was made on production (demo keys do not work there; try --env demo)")
    skew = clock_skew(exc.headers.get("Date"))
    if skew is not None and abs(skew) >= 5:
        checks.append(f"your clock: it is {abs(skew):.0f}s {'ahead of' if skew > 0 else 'behind'} the server's")
    else:
        checks.append("your clock is in sync (NTP)")
    if status == 403:
        checks.append("the key has the scopes this needs")
    why = f": {body}" if body else ""
    return f"the server rejected the API key (HTTP {status}{why}). Check that " + "; ".join(checks)


def refusal_error(exc: HandshakeRejected, *, signed: bool, url: str) -> KalshiCliError | None:
    """The error that ends a session for a refusal retrying cannot fix; ``None``: retry it."""
    status = exc.status
    if status in (401, 403):
        return AuthRejected(diagnose_rejection(exc, signed=signed, url=url))
    if status == 404:
        where = "the path should be /trade-api/ws/v2"
        return ConnectionFailed(f"{url}: HTTP 404: no Kalshi WebSocket at this URL ({where})")
    if 300 <= status < 400:
        return ConnectionFailed(f"{url}: {redirect_refusal(exc)}")
    if not retryable_status(status):
        return ConnectionFailed(f"{url} refused the connection: HTTP {status}")
    return None


@dataclass
class ProbeResult:
    """What a single signed handshake told us."""

    accepted: bool
    status: int | None
    detail: str
    skew: float | None


async def probe(
    url: str, headers: dict[str, str], *, open_timeout: float = 10.0, transport: Connector | None = None
) -> ProbeResult:
    """Open one connection with ``headers`` and report whether the server accepted it.

    Raises:
        ConnectionFailed: no HTTP answer at all (refused, DNS, TLS, closed early).
    """
    if transport is None:
        from kalshi_cli.wsconn import connect

        transport = connect
    try:
        async with transport(
            url,
            headers=headers,
            user_agent=USER_AGENT,
            max_size=1 << 20,
            open_timeout=open_timeout,
            close_timeout=1,
        ) as conn:
            return ProbeResult(True, 101, "accepted", clock_skew(conn.response_headers.get("Date")))
    except HandshakeRejected as exc:
        skew = clock_skew(exc.headers.get("Date"))
        detail = redirect_refusal(exc) if 300 <= exc.status < 400 else _body_text(exc.body, 200)
        return ProbeResult(False, exc.status, detail, skew)
    except (OSError, TimeoutError, HandshakeFailed, TransportClosed) as exc:
        raise ConnectionFailed(f"cannot reach {url}: {describe_network_error(exc)}") from None
