"""Reading a time the user typed (``--from``/``--to`` of ``export`` and ``replay``): one reader.

Unix milliseconds (digits), or ISO 8601 where no offset means UTC, to the exact millisecond
(integer arithmetic, no float). Pure: no clock, no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kalshi_cli.errors import UsageError

__all__ = ["parse_time"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def parse_time(text: str, flag: str) -> int:
    """``--from``/``--to``: Unix ms (digits), or ISO 8601 (no offset means UTC) -> Unix ms.

    Raises:
        UsageError: neither form, named with ``flag``.
    """
    value = text.strip()
    if value.isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise UsageError(
            f"{flag} expects an ISO 8601 time (2026-12-04T14:00:00Z) or Unix milliseconds; got {text!r}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - _EPOCH) // _MS  # exact: timestamp() * 1000 is a float, and 1.001 s read as 1000 ms
