"""A ``seq`` that equals the next number but is not an integer (``1.0``, ``true``) is an
unreadable frame, skipped with a warning, on the fast path and the general one alike."""

from __future__ import annotations

import orjson
import pytest

from kalshi_cli.client import KalshiClient
from kalshi_cli.events import Warning
from kalshi_cli.session import Subscription


def subscribed_client(passthrough: bool) -> KalshiClient:
    client = KalshiClient([Subscription("ticker")], passthrough=passthrough)
    client.connected()
    ack = orjson.dumps({"id": 1, "type": "subscribed", "msg": {"channel": "ticker", "sid": 2}})
    list(client.receive([ack]))
    return client


@pytest.mark.parametrize("passthrough", [True, False])
@pytest.mark.parametrize("seq", ["1.0", "true"])
def test_a_seq_that_is_not_an_integer_is_skipped_not_a_crash(passthrough, seq):
    client = subscribed_client(passthrough)
    odd = b'{"type":"ticker","sid":2,"seq":%s,"msg":{}}' % seq.encode()
    good = b'{"type":"ticker","sid":2,"seq":1,"msg":{}}'
    events = list(client.receive([odd, good]))
    assert isinstance(events[0], Warning) and "not a positive integer" in events[0].text
    assert len(events) == 2 and client.frames == 1 and client.bad_frames == 1 and client.gaps == 0
    assert (events[1] if passthrough else events[1].raw) == good
