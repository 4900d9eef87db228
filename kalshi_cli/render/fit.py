"""Fitting text into a terminal width without ever cutting a number.

Every view builds its lines from pieces that are either kept whole or left out: fields and
columns carry a priority, and the least useful go first when the width is short. Only tickers
shrink, from the middle, keeping the distinguishing tail (``KXBTCD-…T106249.99``), because the
series prefix is the part a trader already knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

__all__ = ["Column", "Field", "fit_fields", "fit_table", "shorten_middle"]

ELLIPSIS = "…"


def shorten_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, shortened from the middle: ``KXETHD…-T3049.99``.

    The last segment (the strike, the team) is what tells ``KXBTCD-26DEC2517-T106249.99``
    from ``...-T108499.99``, so it is kept whole whenever it fits; the first segment (the
    series) comes next, then the tail, from a segment's start when that costs little. A cut never splits digits
    (nor starts or ends a shortened side with a digit) when it can be avoided.
    """
    if len(text) <= width:
        return text
    if width <= 1:
        return text[len(text) - width :] if width > 0 else ""
    dash = text.rfind("-")
    last = len(text) - dash if dash > 0 else min(len(text), (width - 1) * 2 // 3)
    first = text.find("-") if dash > 0 else 0
    if last + 1 > width:  # not even the last segment fits: its tail, as much as fits
        return ELLIPSIS + text[len(text) - (width - 1) :]
    keep_head = min(first, width - 1 - last) if first > 0 else max(0, width - 1 - last)
    keep_tail = width - 1 - keep_head
    while 0 < keep_head < len(text) and text[keep_head - 1].isdigit() and text[keep_head].isalnum():
        keep_head -= 1  # do not end the head inside a number
    start = len(text) - keep_tail
    aligned = text.find("-", start) if dash > 0 and text[start - 1] != "-" else start
    if aligned - start <= 5:  # the tail from a segment's start (-T3049.99, not C2517-T3049.99) when cheap
        start = aligned
    while start < len(text) and text[start - 1].isalnum() and text[start].isdigit():
        start += 1  # nor start the tail inside one
    return text[:keep_head] + ELLIPSIS + text[start:]


@dataclass(frozen=True, slots=True)
class Field:
    """One piece of a line: kept whole or left out. Lower ``priority`` numbers are kept longer."""

    text: str
    style: str = ""
    priority: int = 0
    sep: str = "  "


def fit_fields(fields: Sequence[Field], width: int, *, strict: bool = False) -> Text:
    """The fields in order, separated, leaving out the lowest-priority ones until the rest fit.

    Priority 0 fields are kept (the caller makes them fit: times, tickers, states), unless
    ``strict``: then the last ones go too, whole, rather than overflow the width.
    """
    kept = list(fields)

    def length(items: Sequence[Field]) -> int:
        return sum(len(f.text) + (len(f.sep) if i else 0) for i, f in enumerate(items))

    while length(kept) > width:
        droppable = [(f.priority, i) for i, f in enumerate(kept) if f.priority > 0]
        if droppable:
            del kept[max(droppable)[1]]  # the least useful, the last of equals
        elif strict and kept:
            del kept[-1]
        else:
            break
    line = Text(no_wrap=True, overflow="crop", end="")
    for i, f in enumerate(kept):
        if i:
            line.append(f.sep)
        line.append(f.text, style=f.style)
    return line


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: dropped whole when the width is short (highest ``priority`` first).

    ``short`` is the header used when the long one is the widest cell; ``shrink`` marks the
    one column (tickers) that may be shortened from the middle down to ``min_width``.
    """

    name: str
    right: bool = False
    priority: int = 0
    short: str | None = None
    shrink: bool = False
    min_width: int = 12


Cell = tuple[str, str]  # (text, style)
#: a ticker column is not shortened below this while a nice-to-have column (priority >= NICE) is left
COMFORT = 20
NICE = 4


def _width(col: Column, cells: Sequence[Cell]) -> tuple[str, int]:
    data = max((len(text) for text, _ in cells), default=0)
    header = col.name if len(col.name) <= data or col.short is None else col.short
    return header, max(data, len(header))


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int, *, gap: int = 2) -> list[Text]:
    """A header line and one line per row, no line wider than ``width`` and no number cut.

    A too-wide table shortens its ``shrink`` column (tickers) to ``COMFORT`` cells, then drops
    its nice-to-have columns (priority ``NICE`` and up), then shortens the ticker down to its
    ``min_width``, then drops the other columns, least useful first.
    """
    alive = list(range(len(columns)))
    while True:
        headers, widths = {}, {}
        for i in alive:
            headers[i], widths[i] = _width(columns[i], [row[i] for row in rows])
        total = sum(widths.values()) + gap * (len(alive) - 1)
        nice = [i for i in alive if columns[i].priority >= NICE]
        for i in alive:
            col = columns[i]
            floor = max(col.min_width if not nice else max(col.min_width, COMFORT), len(headers[i]))
            if total > width and col.shrink and widths[i] > floor:
                cut = min(total - width, widths[i] - floor)
                widths[i] -= cut
                total -= cut
        droppable = [i for i in alive if columns[i].priority > 0]
        if total <= width or not droppable:
            break
        alive.remove(max(droppable, key=lambda i: (columns[i].priority, i)))
    lines = [_row([(headers[i], "bold") for i in alive], [columns[i] for i in alive], [widths[i] for i in alive], gap)]
    for row in rows:
        lines.append(_row([row[i] for i in alive], [columns[i] for i in alive], [widths[i] for i in alive], gap))
    return lines


def _row(cells: Sequence[Cell], cols: Sequence[Column], widths: Sequence[int], gap: int) -> Text:
    line = Text(no_wrap=True, overflow="crop", end="")
    for n, ((text, style), col, w) in enumerate(zip(cells, cols, widths, strict=True)):
        if n:
            line.append(" " * gap)
        if col.shrink:
            text = shorten_middle(text, w)
        line.append(text.rjust(w) if col.right else text.ljust(w), style=style)
    line.rstrip()
    return line
