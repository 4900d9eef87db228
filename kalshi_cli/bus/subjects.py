"""Where a frame goes on the bus: ``kalshi.<env>.<channel>.<market>``, each token encoded.

NATS splits subjects at ``.`` and gives ``*``, ``>`` and whitespace meanings of their own, and
Kalshi's tickers contain dots (``KXBTCD-26NOV2517-T97999.99``). A token keeps ``A-Z a-z 0-9 _ -``
and writes every other character as ``%XX`` per UTF-8 byte (``.`` -> ``%2E``, ``%`` -> ``%25``),
so ``decode_token(encode_token(t)) == t`` and a token never holds a special character. A frame
with no market (``cfbenchmarks_value``, ``communications``) goes under ``NO_MARKET`` (``%``, a
lone percent sign no ticker encodes to). The channel token is the frame's channel, except that
a book snapshot goes under ``orderbook_snapshot`` (``SNAPSHOT_TOKEN``) beside its deltas'
``orderbook_delta``: JetStream then finds a market's latest snapshot by subject (``book --from``
starts there, ``bookstart``), and a consumer of the ``orderbook_delta`` channel reads both
subjects, in stream order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from kalshi_cli.protocol import ORDERBOOK_DELTA, ORDERBOOK_SNAPSHOT, channel_of_type

__all__ = [
    "BOOK_TOKENS",
    "NO_MARKET",
    "ROOT",
    "SNAPSHOT_TOKEN",
    "decode_token",
    "encode_token",
    "filter_subjects",
    "market_of",
    "subject_for",
    "subject_parts",
]

ROOT: Final = "kalshi"
NO_MARKET: Final = "%"
SNAPSHOT_TOKEN: Final = ORDERBOOK_SNAPSHOT
BOOK_TOKENS: Final = (ORDERBOOK_DELTA, SNAPSHOT_TOKEN)  # the channel tokens of the orderbook_delta channel
_SAFE: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_HEX: Final = frozenset("0123456789ABCDEF")


def encode_token(text: str) -> str:
    """``text`` as one subject token: unsafe characters as ``%XX`` of their UTF-8 bytes."""
    if text and all(c in _SAFE for c in text):
        return text
    if not text:
        raise ValueError("an empty string has no subject token")
    return "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in text)


def decode_token(token: str) -> str:
    """The text ``encode_token`` made ``token`` from.

    Raises:
        ValueError: ``token`` is not something ``encode_token`` writes.
    """
    if "%" not in token:
        if not token or not all(c in _SAFE for c in token):
            raise ValueError(f"not an encoded subject token: {token!r}")
        return token
    out = bytearray()
    i = 0
    while i < len(token):
        c = token[i]
        if c == "%":
            pair = token[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise ValueError(f"not an encoded subject token: {token!r}")
            out.append(int(pair, 16))
            i += 3
        elif c in _SAFE:
            out += c.encode()
            i += 1
        else:
            raise ValueError(f"not an encoded subject token: {token!r}")
    text = out.decode()  # UnicodeDecodeError is a ValueError
    if encode_token(text) != token:  # e.g. %41 for A: not the one spelling encode writes
        raise ValueError(f"not an encoded subject token: {token!r}")
    return text


def market_of(msg: Any) -> str | None:
    """The market a frame's ``msg`` is about (``market_ticker``, else ``ticker``), if any."""
    if not isinstance(msg, Mapping):
        return None
    for name in ("market_ticker", "ticker"):
        value = msg.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def subject_for(env: str, frame: Mapping[str, Any]) -> str:
    """The subject of one parsed data frame in environment ``env`` (``prod``, ``demo``, ``sim``...)."""
    kind = frame.get("type")
    channel = channel_of_type(kind) if isinstance(kind, str) else None
    if kind == ORDERBOOK_SNAPSHOT:
        channel = SNAPSHOT_TOKEN
    market = market_of(frame.get("msg"))
    return ".".join(
        (
            ROOT,
            encode_token(env),
            encode_token(channel or (kind if isinstance(kind, str) and kind else "unknown")),
            encode_token(market) if market else NO_MARKET,
        )
    )


def subject_parts(subject: str) -> tuple[str, str, str | None]:
    """``(env, channel, market)`` of a subject ``subject_for`` built (market None: no market)."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != ROOT:
        raise ValueError(f"not a kalshi subject: {subject!r}")
    market = None if parts[3] == NO_MARKET else decode_token(parts[3])
    return decode_token(parts[1]), decode_token(parts[2]), market


def filter_subjects(env: str | None, channels: Iterable[str], markets: Iterable[str]) -> list[str]:
    """The subjects a consumer asks for: every env (``*``) or one, given channels and markets.

    No channels means every channel; no markets means every market (and the frames without one).
    The ``orderbook_delta`` channel is its deltas' and its snapshots' subjects.
    """
    env_token = encode_token(env) if env else "*"
    tokens = [t for c in channels for t in (BOOK_TOKENS if c == ORDERBOOK_DELTA else (c,))]
    chans = [encode_token(c) for c in dict.fromkeys(tokens)] or ["*"]
    mkts = [encode_token(m) for m in dict.fromkeys(markets)] or ["*"]
    return [f"{ROOT}.{env_token}.{c}.{m}" for c in chans for m in mkts]
