"""Reading a REST request's query and paging its answer, the way Kalshi's API does (REST.md §3).

Route functions raise ``Reply`` (via ``error``) to answer early with a status and Kalshi's
nested error body; ``page`` cuts one page of rows with an opaque cursor.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

__all__ = [
    "MAX_LIMIT",
    "Query",
    "Reply",
    "csv",
    "error",
    "in_window",
    "int_param",
    "newest_first",
    "one",
    "page",
    "time_window",
]

#: Kalshi's largest ``limit`` on list endpoints.
MAX_LIMIT = 1000
#: A parsed query string: name -> every value given.
Query = dict[str, list[str]]
T = TypeVar("T")


class Reply(Exception):
    """Answer the request with ``status`` and a JSON ``body`` (raised from deep inside a route)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def error(status: int, code: str, details: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": details, "details": details}})


def one(q: Query, name: str) -> str | None:
    values = q.get(name)
    return values[-1] if values and values[-1] != "" else None


def csv(q: Query, name: str) -> list[str]:
    return [part for value in q.get(name, []) for part in value.split(",") if part]


def int_param(q: Query, name: str, lo: int = 0, hi: int | None = None) -> int | None:
    value = one(q, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise error(400, "invalid_parameters", f"{name} must be an integer") from None
    if number < lo or (hi is not None and number > hi):
        raise error(400, "invalid_parameters", f"{name} out of range")
    return number


def page(q: Query, rows: list[Any], *, max_limit: int = MAX_LIMIT) -> tuple[list[Any], str]:
    """One page of ``rows`` for ``limit``/``cursor``; the cursor is opaque (base64 of an offset)."""
    limit = int_param(q, "limit", 1, max_limit) or 100
    start = 0
    cursor = one(q, "cursor")
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode().removeprefix("o:"))
        except (ValueError, UnicodeDecodeError):
            raise error(400, "invalid_parameters", "invalid cursor") from None
    end = start + limit
    more = end < len(rows)
    return rows[start:end], base64.urlsafe_b64encode(f"o:{end}".encode()).decode().rstrip("=") if more else ""


def time_window(q: Query) -> tuple[int | None, int | None]:
    """``min_ts`` and ``max_ts`` (Unix seconds), each None when absent."""
    return int_param(q, "min_ts"), int_param(q, "max_ts")


def in_window(ts: int, window: tuple[int | None, int | None]) -> bool:
    """Whether ``ts`` (Unix seconds) lies in the window, both ends included."""
    lo, hi = window
    return (lo is None or ts >= lo) and (hi is None or ts <= hi)


def newest_first(
    q: Query, key: str, items: Iterable[tuple[int, T]], shape: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """One page of ``items`` (``(time, item)`` oldest first) newest first as ``{key: [...], "cursor": ...}``.

    Items of the same time keep the later one first; only the page's items are shaped.
    """
    ordered = [item for _, _, item in sorted(((t, i, item) for i, (t, item) in enumerate(items)), reverse=True)]
    found, cursor = page(q, ordered)
    return {key: [shape(item) for item in found], "cursor": cursor}
