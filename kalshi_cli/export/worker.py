"""The export's second process: ``python -m kalshi_cli.export.worker`` (started by ``run``).

Reads one job (the settings, as JSON) on stdin, writes its tables with ``stream.export_tables``
and answers one JSON object on stdout: rows, finished files, refused values, or ``error``
(the one line the parent reports). Its warnings go to stderr, which the parent passes on.
The input's faults (a torn line...) are the parent's to report, once: this pass reports only the
bad lines the parent's pass skipped unread.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import orjson

from kalshi_cli.export.settings import ExportSettings
from kalshi_cli.export.stream import export_tables
from kalshi_cli.export.tables import ExportError

__all__ = ["main"]


def _warn(text: str) -> None:
    sys.stderr.write(f"kalshi: warning: {text}\n")  # the parent passes these on


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM from the parent: close the files, as after Ctrl-C


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    job: dict[str, Any] = orjson.loads(sys.stdin.buffer.read())
    job["paths"] = [Path(p) for p in job["paths"]]
    job["out"] = Path(job["out"])
    settings = ExportSettings(**job)
    answer: dict[str, Any]
    try:
        done = export_tables(settings.paths, settings, settings.tables, _warn, second=True)
        answer = {
            "lines": done.lines,
            "rows": done.rows,
            "finished": [str(p) for p in done.finished],
            "refused": done.refused,
        }
    except ExportError as exc:
        answer = {"error": str(exc)}
    except KeyboardInterrupt:
        return 130
    sys.stdout.buffer.write(orjson.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
