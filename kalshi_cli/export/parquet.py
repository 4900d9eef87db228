"""Parquet parts through pyarrow (the ``[parquet]`` extra), written a batch at a time.

Types (docs/EXPORT.md): times ``timestamp[ms, tz=UTC]``; prices ``decimal128(18, 4)``, sizes
``decimal128(18, 2)``, money ``decimal128(18, 6)`` (exact: a decimal is its unscaled integer and
a scale, so the scaled integer 4400 is stored as it is and read as 0.4400; no arithmetic, never
a float); ``markets`` ``list<string>``. A batch of row tuples becomes Arrow columns in one call
(a struct array of the rows, flattened: no transposing in Python); a batch holding a value of
the wrong type goes column by column, the wrong values emptied (as CSV empties them). A float
in an integer or time column is such a value: Arrow would cut 2.5 to 2 without a word, so each
batch's integer columns are looked over for one first. Each batch is one row group;
``close`` writes the footer, and only then is the file readable.
"""

from __future__ import annotations

import contextlib
from operator import itemgetter
from pathlib import Path
from typing import Any

from kalshi_cli.errors import UsageError
from kalshi_cli.export.schema import PLACES, TableSpec
from kalshi_cli.export.values import DIGITS18, REFUSED

__all__ = ["ParquetPart", "require_pyarrow"]

EXTRA_HINT = "pip install 'kalshi-cli[parquet]'"


def require_pyarrow() -> None:
    """Fail with one line naming the extra when pyarrow is not installed."""
    try:
        import pyarrow  # type: ignore[import-untyped]  # noqa: F401
        import pyarrow.parquet  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        raise UsageError(f"--format parquet needs the [parquet] extra: {EXTRA_HINT} (or use --format csv)") from None


def _arrow_type(kind: str) -> Any:
    import pyarrow as pa

    if kind in PLACES:
        return pa.decimal128(18, PLACES[kind])
    return {
        "ts": pa.timestamp("ms", tz="UTC"),
        "str": pa.string(),
        "json": pa.string(),
        "int": pa.int64(),
        "bool": pa.bool_(),
        "list": pa.list_(pa.string()),
    }[kind]


def arrow_schema(spec: TableSpec) -> Any:
    import pyarrow as pa

    return pa.schema([pa.field(c.name, _arrow_type(c.kind)) for c in spec.columns])


def _decimals(ints: Any, places: int) -> Any:
    """Scaled integers (an int64 array: 4400) as exact decimals (0.4400).

    The unscaled value of a decimal is the integer itself, so the int64 -> decimal128(19, 0)
    cast is read with the scale (``view``: the same 16-byte values) and checked against
    precision 18 by the last cast (a value too large fails, it is never cut).
    """
    import pyarrow as pa

    try:
        return ints.cast(pa.decimal128(19, 0)).view(pa.decimal128(19, places)).cast(pa.decimal128(18, places))
    except pa.ArrowInvalid:  # a book's sum beyond 18 digits (what frames carry is refused earlier, in values)
        values = ints.to_pylist()
        kept = [v if v is None or -DIGITS18 < v < DIGITS18 else None for v in values]
        what = {4: "price", 2: "size", 6: "money"}[places]
        REFUSED[what] = REFUSED.get(what, 0) + len({v for v, k in zip(values, kept, strict=True) if v != k})
        return _decimals(pa.array(kept, pa.int64()), places)


_INT64 = range(-(2**63), 2**63)
_WHOLE = ("int", "ts")  # columns of whole numbers (a time is Unix ms)


def _clean(kind: str, value: Any) -> Any:
    """A cell of the column's type, or None (a frame carried something else there)."""
    if kind in _WHOLE:
        return value if type(value) is int and value in _INT64 else None
    if kind == "bool":
        return value if type(value) is bool else None
    if kind == "list":
        return [v for v in value if type(v) is str] if isinstance(value, list) else None
    return value if type(value) is str else None


class ParquetPart:
    """One Parquet file, written a row group per batch."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        self.rows = 0
        self.spec = spec
        self.schema = arrow_schema(spec)
        self._kinds = [c.kind for c in spec.columns]
        self._places = [PLACES.get(c.kind) for c in spec.columns]
        self._whole = [itemgetter(i) for i, c in enumerate(spec.columns) if c.kind in _WHOLE]
        #: the rows as Arrow reads them in one call: decimals as their scaled int64 first
        self._rows_type = pa.struct(
            [pa.field(c.name, pa.int64() if c.kind in PLACES else _arrow_type(c.kind)) for c in spec.columns]
        )
        # Dictionary pages for the repetitive text (tickers, sides, types), not for ids, numbers or
        # JSON: there they cost time and save nothing.
        repeated = [c.name for c in spec.columns if c.kind == "str" and not c.name.endswith("_id")]
        self._writer: Any = pq.ParquetWriter(str(path), self.schema, compression="snappy", use_dictionary=repeated)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        import pyarrow as pa

        if any(float in set(map(type, map(cell, rows))) for cell in self._whole):
            columns = self._by_column(rows)  # (~20 ns a cell: a frame's float never reaches the file cut)
        else:
            try:
                columns = pa.array(rows, type=self._rows_type).flatten()
            except (pa.ArrowException, TypeError, ValueError, OverflowError):  # a value of the wrong type
                columns = self._by_column(rows)
        arrays = [c if p is None else _decimals(c, p) for c, p in zip(columns, self._places, strict=True)]
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.rows += len(rows)

    def _by_column(self, rows: list[tuple[Any, ...]]) -> list[Any]:
        """The batch column by column; in a column that will not convert, the wrong values are emptied."""
        import pyarrow as pa

        arrays = []
        for values, kind, field in zip(zip(*rows, strict=True), self._kinds, self._rows_type, strict=True):
            if kind in _WHOLE and float in set(map(type, values)):
                arrays.append(pa.array([_clean(kind, v) for v in values], field.type))
                continue
            try:
                arrays.append(pa.array(values, field.type))
            except (pa.ArrowException, TypeError, ValueError, OverflowError):
                if kind in PLACES:
                    raise  # a scaled integer beyond int64: no exact decimal(18) either
                arrays.append(pa.array([_clean(kind, v) for v in values], field.type))
        return arrays

    def close(self) -> None:
        self._writer.close()

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # it failed already; all that matters is the file goes
            self._writer.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
