"""Pure pieces of the session: backoff, clock skew, the 401 diagnosis."""

from __future__ import annotations

import email.utils
import random
import re
import time
from itertools import islice

from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

from kalshi_cli.session import clock_skew, delays, diagnose_rejection


def test_delays_grow_with_full_jitter_and_a_cap():
    values = list(islice(delays(0.5, 8.0, random.Random(1)), 40))
    caps = [min(8.0, 0.5 * 2**n) for n in range(40)]
    assert all(0 <= v <= c for v, c in zip(values, caps, strict=True))
    assert max(values[10:]) > 4.0  # reaches the cap region
    assert len(set(values)) == len(values)  # jittered, not fixed


def test_clock_skew_from_date_header():
    now = time.time()
    header = email.utils.formatdate(now - 42, usegmt=True)
    assert 41 <= clock_skew(header, now) <= 43
    assert clock_skew(None) is None and clock_skew("garbage") is None


def rejection(status: int, body: bytes = b"", date_offset: float = 0.0) -> InvalidStatus:
    headers = Headers({"Date": email.utils.formatdate(time.time() + date_offset, usegmt=True)})
    return InvalidStatus(Response(status, "Unauthorized", headers, body))


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
