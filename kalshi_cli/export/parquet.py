"""Parquet parts through pyarrow (the ``[parquet]`` extra), written a batch at a time.

Types (docs/EXPORT.md): times ``timestamp[ms, tz=UTC]``; prices ``decimal128(18, 4)``, sizes
``decimal128(18, 2)``, money ``decimal128(18, 6)`` (exact: the scaled integers are given their
scale by decimal arithmetic in Arrow, never through a float); ``markets`` ``list<string>``.
Each batch is one row group; ``close`` writes the footer, and only then is the file readable.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from pathlib import Path
from typing import Any

from kalshi_cli.errors import UsageError
from kalshi_cli.export.schema import PLACES, TableSpec

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


def _decimals(values: tuple[Any, ...], places: int) -> Any:
    """Scaled integers (4400) as exact decimals (0.4400): int64 -> decimal, times 10**-places."""
    import pyarrow as pa
    import pyarrow.compute as pc  # type: ignore[import-untyped]

    whole = pa.array(values, pa.int64()).cast(pa.decimal128(19, 0))
    unit = pa.scalar(Decimal(1).scaleb(-places), pa.decimal128(places + 1, places))
    return pc.multiply(whole, unit).cast(pa.decimal128(18, places))


_INT64 = range(-(2**63), 2**63)


def _clean(kind: str, value: Any) -> Any:
    """A cell of the column's type, or None (a frame carried something else there)."""
    if kind == "int":
        return value if type(value) is int and value in _INT64 else None
    if kind == "bool":
        return value if type(value) is bool else None
    if kind == "list":
        return [v for v in value if type(v) is str] if isinstance(value, list) else None
    return value if type(value) is str else None


class ParquetPart:
    """One Parquet file, written a row group per batch."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.rows = 0
        self.spec = spec
        self.schema = arrow_schema(spec)
        self._kinds = [c.kind for c in spec.columns]
        # Dictionary pages for the repetitive text (tickers, sides, types), not for ids, numbers or
        # JSON: there they cost time and save nothing.
        repeated = [c.name for c in spec.columns if c.kind == "str" and not c.name.endswith("_id")]
        self._writer: Any = pq.ParquetWriter(str(path), self.schema, compression="snappy", use_dictionary=repeated)

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        import pyarrow as pa

        columns = list(zip(*rows, strict=True))
        arrays = []
        for values, kind, field in zip(columns, self._kinds, self.schema, strict=True):
            if kind in PLACES:
                arrays.append(_decimals(values, PLACES[kind]))
                continue
            try:
                arrays.append(pa.array(values, field.type))
            except (pa.ArrowException, TypeError, ValueError, OverflowError):  # a value of the wrong type
                arrays.append(pa.array([_clean(kind, v) for v in values], field.type))
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.rows += len(rows)

    def close(self) -> None:
        self._writer.close()

    def discard(self) -> None:
        with contextlib.suppress(Exception):  # it failed already; all that matters is the file goes
            self._writer.close()
        with contextlib.suppress(OSError):
            self.path.unlink()
