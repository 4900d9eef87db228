"""``kalshi export``: recordings to date-partitioned Parquet or CSV tables (docs/EXPORT.md).

``source`` reads the recorded lines, ``books`` rebuilds the books (the client's own) for
book_top, book_snapshots and deltas, ``frames`` makes the rows of the other frame tables,
``continuity`` says when not to trust them, ``tables`` partitions and writes rows through
``parquet`` (pyarrow, the ``[parquet]`` extra) or ``csvout``; ``run`` drives one export.
"""

from __future__ import annotations

from kalshi_cli.export.run import Summary, run_export
from kalshi_cli.export.settings import ExportSettings

__all__ = ["ExportSettings", "Summary", "run_export"]
