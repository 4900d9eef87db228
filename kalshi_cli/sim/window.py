"""Which part of a recording ``replay --from/--to`` plays (and ``tail``/``book --replay FILE
--replay-from/--replay-to``, the same window under the names those commands can give it):
reading the user's times, refusing empty windows.

A time is ISO 8601 (no offset means UTC), Unix ms, or ``+5m`` after the recording's first frame
(so a window can be named without knowing when a recording was made); a window that holds none
of the recording is refused in one line naming the recording's span. Playing it is
``ReplayServer``'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from kalshi_cli.errors import UsageError
from kalshi_cli.recording import Recording
from kalshi_cli.times import parse_time  # the one reader of a user's time

__all__ = ["Window", "check_window", "parse_window"]


@dataclass(frozen=True)
class Window:
    """The part of a recording to play, in Unix ms, both ends included; ``None``: from the start / to the end."""

    start: int | None = None
    end: int | None = None

    def describe(self) -> str:
        """``" from T to T"`` for a status line (empty for the whole recording)."""
        start = f" from {_utc(self.start)}" if self.start is not None else ""
        end = f" to {_utc(self.end)}" if self.end is not None else ""
        return start + end


def _utc(ms: int) -> str:
    try:
        when = datetime.fromtimestamp(ms / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return f"{ms} ms"
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


_OFFSET = re.compile(r"\+(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


def parse_window(
    start: str | None, end: str | None, recording: Recording, flags: tuple[str, str] = ("--from", "--to")
) -> Window:
    """``--from``/``--to`` (``flags``: their names in messages): ISO 8601 (no offset means UTC),
    Unix ms, or ``+5m`` (``ms``, ``s``, ``m``, ``h``) after the recording's first frame.

    Raises:
        UsageError: a time that does not parse, or an offset into a recording without times.
    """

    def one(text: str | None, flag: str) -> int | None:
        if text is None:
            return None
        if not text.strip().startswith("+"):
            return parse_time(text, flag)
        m = _OFFSET.fullmatch(text.strip().lower())
        if m is None:
            raise UsageError(f"{flag} expects an offset like +90s, +5m, +1h (after the recording starts); got {text!r}")
        if recording.first_ms is None:
            raise UsageError(f"{flag} {text}: the recording has no times to count from")
        return recording.first_ms + int(float(m[1]) * _UNIT_MS[m[2]])

    return Window(one(start, flags[0]), one(end, flags[1]))


def check_window(recording: Recording, window: Window, flags: tuple[str, str] = ("--from", "--to")) -> None:
    """Refuse a window that holds none of the recording, in one line naming both spans (and ``flags``).

    Raises:
        UsageError: ``--from`` after ``--to``, or after the recording's end; ``--to`` before its start;
            a window over a recording that carries no times.
    """
    start, end = window.start, window.end
    if start is None and end is None:
        return
    first, last = recording.first_ms, recording.last_ms
    if first is None or last is None:
        times = "recv_ts_ms, sending_ts_ms or ts_ms"
        raise UsageError(f"the recording has no times ({times}): {'/'.join(flags)} cannot seek")
    span = f"the recording runs from {_utc(first)} to {_utc(last)}"
    if start is not None and end is not None and start > end:
        raise UsageError(f"{flags[0]} {_utc(start)} is after {flags[1]} {_utc(end)}")
    if start is not None and start > last:
        raise UsageError(f"{flags[0]} {_utc(start)} is after the end of the recording ({span})")
    if end is not None and end < first:
        raise UsageError(f"{flags[1]} {_utc(end)} is before the start of the recording ({span})")
