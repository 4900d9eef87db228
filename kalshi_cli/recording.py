"""The recording format, written by ``kalshi record`` and read by ``replay`` and ``export``.

A recording is NDJSON: each data frame exactly as received with the local receive time
spliced in as its last key (``"recv_ts_ms"``), and ``{"type": "kalshi_cli.meta", ...}`` lines
that tell a reader what it must know (connects, subscriptions, gaps, resyncs).
"""

from __future__ import annotations

import orjson

__all__ = ["META", "RECV_TS", "with_recv_ts"]

#: The ``type`` of the lines the recorder adds about the stream itself.
META = "kalshi_cli.meta"
#: The key the recorder appends to every frame: local receive time, Unix ms.
RECV_TS = "recv_ts_ms"


def with_recv_ts(raw: bytes, recv_ts_ms: int) -> bytes:
    """The frame with ``"recv_ts_ms":N`` added as its last key; the rest byte for byte as received."""
    body = raw.rstrip()
    if b"\n" not in body and body.endswith(b"}") and len(body) > 2:
        return b'%s,"recv_ts_ms":%d}' % (body[:-1], recv_ts_ms)
    obj = orjson.loads(raw)  # pretty-printed or odd: re-encode, the one case that cannot be spliced
    obj[RECV_TS] = recv_ts_ms
    return orjson.dumps(obj)
