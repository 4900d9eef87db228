"""Reading a client command's ``params`` (KALSHI_WS.md §5): each helper returns the value or
raises ``Reject`` with the error code the reference gives for that mistake.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["Params", "Reject", "check_shards", "flag", "ids", "is_int", "strings", "tickers"]

Params = dict[str, Any]


class Reject(Exception):
    """A command error: the code becomes an ``error`` frame carrying the command id."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def flag(params: Params, key: str) -> bool:
    v = params.get(key, False)
    if not isinstance(v, bool):
        raise Reject(1)
    return v


def strings(params: Params, key: str) -> list[str] | None:
    v = params.get(key)
    if v is None:
        return None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise Reject(1)
    return v


def tickers(params: Params) -> list[str] | None:
    """``market_ticker`` and/or ``market_tickers`` as one de-duplicated list (None if neither)."""
    one = params.get("market_ticker")
    if one is not None and not isinstance(one, str):
        raise Reject(1)
    many = strings(params, "market_tickers") or []
    found = ([one] if one else []) + many
    return list(dict.fromkeys(found)) or None


def ids(params: Params) -> list[str] | None:
    one = params.get("market_id")
    if one is not None and not isinstance(one, str):
        raise Reject(1)
    found = ([one] if one is not None else []) + (strings(params, "market_ids") or [])
    for v in found:
        try:
            uuid.UUID(v)
        except ValueError:
            raise Reject(11) from None
    return list(dict.fromkeys(found)) or None


def check_shards(params: Params) -> None:
    factor, key = params.get("shard_factor"), params.get("shard_key")
    if (factor is not None and not is_int(factor)) or (key is not None and not is_int(key)):
        raise Reject(1)
    if factor is not None and factor <= 0:
        raise Reject(19)
    if key is not None and factor is None:
        raise Reject(20)
    if factor is not None and factor > 100:
        raise Reject(22)
    if key is not None and not 0 <= key < factor:
        raise Reject(21)
