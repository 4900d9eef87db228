"""Pure pieces around the session: backoff, Retry-After, clock skew, the 401 diagnosis, wording."""

from __future__ import annotations

import email.utils
import random
import re
import socket
import time

from kalshi_cli.probe import clock_skew, diagnose_rejection, redirect_refusal
from kalshi_cli.retry import Backoff, describe_network_error, parse_retry_after
from kalshi_cli.transport import HandshakeRejected, TransportClosed


def test_backoff_grows_with_jitter_to_a_cap_and_resets():
    backoff = Backoff(0.5, 8.0, random.Random(1))
    values = [backoff.next() for _ in range(40)]
    caps = [min(8.0, 0.5 * 2**n) for n in range(40)]
    assert all(c / 2 <= v <= c for v, c in zip(values, caps, strict=True))
    assert values == sorted(values[:5]) + values[5:]  # non-decreasing while below the cap
    assert len(set(values)) == len(values)  # jittered, not fixed
    backoff.reset()
    assert backoff.next() <= 0.5


def test_retry_after_never_raises():
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None and parse_retry_after("nan") is None
    assert parse_retry_after("7") == 7.0 and parse_retry_after("99999") == 300.0
    assert parse_retry_after(None) is None and parse_retry_after("Thu, 99 Foo 2026 99:99:99 GMT") is None


def test_network_errors_in_plain_words():
    assert describe_network_error(ConnectionRefusedError(111, "Connection refused")) == "connection refused"
    assert describe_network_error(socket.gaierror(-2, "Name or service not known")) == "host name not found"
    assert describe_network_error(TransportClosed(1011, "bye")) == "closed by the server: 1011 bye"
    assert describe_network_error(TransportClosed()) == "connection dropped"
    assert describe_network_error(OSError(113, "No route to host")) == "no route to host"
    both = OSError("Multiple exceptions: [Errno 111] Connect call failed ('::1', 9, 0, 0), [Errno 111] Connect ...")
    assert describe_network_error(both) == "connection refused"


def test_clock_skew_from_date_header():
    now = time.time()
    header = email.utils.formatdate(now - 42, usegmt=True)
    assert 41 <= clock_skew(header, now) <= 43
    assert clock_skew(None) is None and clock_skew("garbage") is None


def rejection(status: int, body: bytes = b"", date_offset: float = 0.0, **headers: str) -> HandshakeRejected:
    headers["Date"] = email.utils.formatdate(time.time() + date_offset, usegmt=True)
    return HandshakeRejected(status, headers, body)


def test_diagnosis_names_the_likely_causes():
    text = diagnose_rejection(
        rejection(401, b"bad signature", -120), signed=True, url="wss://external-api-ws.kalshi.com/trade-api/ws/v2"
    )
    assert "HTTP 401: bad signature" in text
    assert "key id matches the private key" in text
    assert "try --env demo" in text
    # Date has one-second resolution: 120 s behind us reads as 119 to 121 s.
    assert re.search(r"1(19|20|21)s ahead of the server", text), text


def test_diagnosis_for_demo_and_unsigned():
    text = diagnose_rejection(rejection(401), signed=True, url="wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2")
    assert "made on demo" in text
    text = diagnose_rejection(rejection(401), signed=False, url="ws://127.0.0.1:1/trade-api/ws/v2")
    assert "no API key is configured" in text and "--private-key" in text


def test_a_redirect_names_where_it_points_and_is_not_followed():
    text = redirect_refusal(rejection(302, Location="wss://evil.example:443/trade-api/ws/v2?x=1"))
    assert "HTTP 302" in text and "evil.example" in text and "not followed" in text
    assert "x=1" not in text
