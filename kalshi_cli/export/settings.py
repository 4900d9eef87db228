"""What an export was asked for, and the parsing of its flags (periods, table names; times: ``times``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kalshi_cli.errors import UsageError
from kalshi_cli.export.schema import TABLES

__all__ = ["FORMATS", "ExportSettings", "parse_every", "parse_tables"]

FORMATS = ("parquet", "csv")
_PERIOD = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


@dataclass
class ExportSettings:
    paths: list[Path]
    out: Path
    format: str = "parquet"
    tables: list[str] = field(default_factory=lambda: list(TABLES))
    every_ms: int = 1000
    depth: int = 10
    from_ms: int | None = None
    to_ms: int | None = None
    markets: list[str] = field(default_factory=list)
    overwrite: bool = False
    quiet: bool = False


def parse_every(text: str) -> int:
    """``--every 1s`` -> 1000 (ms); 500ms, 10s, 1m, 1h; never zero."""
    m = _PERIOD.fullmatch(text.strip().lower())
    ms = int(float(m[1]) * _UNIT_MS[m[2]]) if m else 0
    if ms <= 0:
        raise UsageError(f"--every expects a period like 1s, 500ms, 1m; got {text!r}")
    return ms


def parse_tables(values: list[str]) -> list[str]:
    """``--tables trades,book_top`` (or repeated) -> known table names, in the schema's order."""
    wanted = [name.strip() for value in values for name in value.split(",") if name.strip()]
    for name in wanted:
        if name not in TABLES:
            close = [t for t in TABLES if t.startswith(name.rstrip("s")) or name.startswith(t.rstrip("s"))]
            hint = f" (did you mean {close[0]}?)" if len(close) == 1 else f" (tables: {', '.join(TABLES)})"
            raise UsageError(f"unknown table {name!r}{hint}")
    return [t for t in TABLES if t in wanted] if wanted else list(TABLES)
