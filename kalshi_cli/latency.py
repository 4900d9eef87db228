"""How old Kalshi's data is on arrival: ``age_ms`` = receive time - the frame's ``sending_ts_ms``.

``sending_ts_ms`` is optional on every frame (KALSHI_WS.md §4.2): frames without it are counted,
not guessed. Percentiles are exact in bounded memory: ages are whole milliseconds, so one bucket
per millisecond over ``[-LOW_MS, HIGH_MS)`` holds every sample as it is (a fixed array of counts,
however long the run). An age outside that range (a clock far off, a feed stalled for minutes)
is counted beside it with the extreme kept, and a percentile that falls out there is reported as
beyond the bound rather than as a made-up number. (A reservoir is bounded too but only
approximate; keeping every age is exact but grows with the run.) The caller reads the clock.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import IO, Any

from kalshi_cli.protocol import channel_of_type

__all__ = ["HIGH_MS", "LOW_MS", "PERCENTILES", "AgeHistogram", "FrameAges", "ReadClock", "write_report"]

LOW_MS = 5_000  # exact down to -5 s: a local clock behind Kalshi's shows as negative ages
HIGH_MS = 60_000  # exact up to a minute
PERCENTILES = (50.0, 99.0)
_SPAN = LOW_MS + HIGH_MS


class AgeHistogram:
    """The ages of one channel's frames, exact to the millisecond inside the bounds."""

    __slots__ = ("counts", "frames", "highest", "inside", "lowest", "over", "under")

    def __init__(self) -> None:
        self.counts = array("Q", bytes(8 * _SPAN))
        self.frames = 0  # every frame, with or without sending_ts_ms
        self.inside = 0  # ages in the histogram
        self.under = 0  # ages below -LOW_MS, the lowest kept
        self.over = 0  # ages at or above HIGH_MS, the highest kept
        self.lowest = 0
        self.highest = 0

    def add(self, age: int) -> None:
        i = age + LOW_MS
        if 0 <= i < _SPAN:
            self.counts[i] += 1
            self.inside += 1
        else:
            self.outlier(age)

    def outlier(self, age: int) -> None:
        """An age beyond the histogram: counted, and the extreme kept."""
        if age < -LOW_MS:
            self.lowest = min(self.lowest, age) if self.under else age
            self.under += 1
        else:
            self.highest = max(self.highest, age) if self.over else age
            self.over += 1

    @property
    def timed(self) -> int:
        """Frames that carried ``sending_ts_ms``."""
        return self.inside + self.under + self.over

    @property
    def min(self) -> int | None:
        if self.under:
            return self.lowest
        return next((i - LOW_MS for i, count in enumerate(self.counts) if count), self.highest if self.over else None)

    @property
    def max(self) -> int | None:
        if self.over:
            return self.highest
        top = next((i for i in range(_SPAN - 1, -1, -1) if self.counts[i]), None)
        return top - LOW_MS if top is not None else (self.lowest if self.under else None)

    def _rank(self, p: float) -> int:
        """ceil(p/100 * timed), in integers (exact for percentiles given to 0.001)."""
        return max(1, -(-(round(p * 1000) * self.timed) // 100_000))

    def percentile(self, p: float) -> int | None:
        """The nearest-rank ``p``-th percentile age (the smallest age with at least ``p``% of the
        timed frames at or below it); ``None`` when no frame was timed or it lies beyond the bounds."""
        if not self.timed:
            return None
        rank = self._rank(p)
        seen = self.under
        if seen >= rank:
            return None
        for i, count in enumerate(self.counts):
            if count:
                seen += count
                if seen >= rank:
                    return i - LOW_MS
        return None  # in the overflow

    def describe(self, p: float) -> str:
        """``percentile(p)`` for a person: the age, ``-`` without timed frames, or the bound it lies beyond."""
        if not self.timed:
            return "-"
        if self.under >= self._rank(p):
            return f"<-{LOW_MS}"
        value = self.percentile(p)
        return str(value) if value is not None else f">{HIGH_MS - 1}"


class ReadClock:
    """The receive time of the frames being handed over now, read once per turn of the event loop.

    The session hands over every frame of one transport read in one turn, so they share the time
    the read came in: reading the clock per frame would add the time spent on the frames before
    it to each frame's age (and cost a clock call per frame).
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._ms: int | None = None

    def now_ms(self) -> int:
        ms = self._ms
        if ms is None:
            ms = self._ms = int(self.clock() * 1000)
            import asyncio  # here: the module stays free of the event loop until a run asks

            try:
                asyncio.get_running_loop().call_soon(self._forget)
            except RuntimeError:  # no loop (a test feeding frames by hand): read it every time
                self._ms = None
        return ms

    def _forget(self) -> None:
        self._ms = None


class FrameAges:
    """Per-channel ages of the frames of one run (``--stats``); ``observe`` each one as it arrives."""

    def __init__(self) -> None:
        self.channels: dict[str, AgeHistogram] = {}
        self._by_type: dict[Any, AgeHistogram] = {}

    def observe(self, frame: dict[str, Any], recv_ms: int) -> None:
        """One parsed data frame, received at ``recv_ms`` (Unix ms). (Per frame: ``add`` inlined.)"""
        kind = frame.get("type")
        hist = self._by_type.get(kind)
        if hist is None:
            hist = self._histogram(kind)
        hist.frames += 1
        sent = frame.get("sending_ts_ms")
        if type(sent) is int:
            i = recv_ms - sent + LOW_MS
            if 0 <= i < _SPAN:
                hist.counts[i] += 1
                hist.inside += 1
            else:
                hist.outlier(i - LOW_MS)

    def _histogram(self, kind: Any) -> AgeHistogram:
        name = (channel_of_type(kind) or kind) if isinstance(kind, str) else "?"
        hist = self.channels.get(name)
        if hist is None:
            hist = self.channels[name] = AgeHistogram()
        self._by_type[kind] = hist
        return hist

    @property
    def frames(self) -> int:
        return sum(h.frames for h in self.channels.values())

    def report(self) -> list[str]:
        """The summary for stderr: a heading, then one row per channel (in order of first frame)."""
        lines = ["kalshi: stats: age_ms = receive time - sending_ts_ms (exact, 1 ms buckets)"]
        if not self.channels:
            return [*lines, "  no data frames"]
        width = max(7, *(len(name) for name in self.channels))
        head = f"  {'channel':<{width}} {'frames':>9} {'no ts':>9} {'min':>6} {'p50':>6} {'p99':>6} {'max':>6}"
        lines.append(head)
        for name, h in self.channels.items():
            p50, p99 = (h.describe(p) for p in PERCENTILES)
            low = "-" if h.min is None else str(h.min)
            high = "-" if h.max is None else str(h.max)
            lines.append(
                f"  {name:<{width}} {h.frames:>9,} {h.frames - h.timed:>9,} {low:>6} {p50:>6} {p99:>6} {high:>6}"
            )
        return lines


def write_report(ages: FrameAges, stream: IO[str]) -> None:
    """``--stats`` at the end of a run, on ``stream`` (stderr; asked for, so written even with ``--quiet``)."""
    try:
        stream.write("\n".join(ages.report()) + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass
