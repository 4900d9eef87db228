"""One export: check the input and the output directory, then the two passes, side by side.

The tables drawn from rebuilt books (``stream.BOOK_TABLES``, and trades) and the others (deltas
and the other frame tables) are written by two passes over the same lines
(``stream.split_passes``): this process runs the book pass while a worker process (``python -m
kalshi_cli.export.worker``) runs the other, so an export uses two cores. Each pass owns its
tables' directories. The worker's warnings and outcome come back when it ends; an error in
either pass is reported once both have stopped (so each leaves complete files).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

import orjson

from kalshi_cli.errors import UsageError
from kalshi_cli.export.schema import TABLES
from kalshi_cli.export.settings import ExportSettings
from kalshi_cli.export.source import check_files
from kalshi_cli.export.stream import Pass, export_tables, split_passes
from kalshi_cli.export.tables import ExportError
from kalshi_cli.output import Reporter

__all__ = ["Summary", "prepare_output", "run_export"]


@dataclass
class Summary:
    files: int
    lines: int
    rows: dict[str, int]
    seconds: float
    finished: list[Path]


def prepare_output(out: Path, overwrite: bool) -> None:
    """``out`` must be new or empty; with ``--overwrite`` its table directories are replaced.

    Only directories named like a table are removed, never anything else ``out`` holds.
    """
    if out.exists() and not out.is_dir():
        raise UsageError(f"output {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(f"output directory {out} is not empty (add --overwrite to replace its tables)")
        for name in TABLES:
            if (out / name).is_dir():
                shutil.rmtree(out / name)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {out}: {exc.strerror or exc}") from None


def run_export(settings: ExportSettings, reporter: Reporter) -> Summary:
    """Export ``settings.paths`` into ``settings.out``; return what was written.

    Raises:
        UsageError: bad input, or an output directory that is in the way.
        ExportError: the disk failed (what was finished before is complete and readable).
    """
    started = time.monotonic()
    if settings.format == "parquet":
        from kalshi_cli.export.parquet import require_pyarrow

        require_pyarrow()
    files = check_files(settings.paths, reporter.warn)  # before anything is written
    prepare_output(settings.out, settings.overwrite)
    try:
        return _run(files, settings, reporter, started)
    except (KeyboardInterrupt, SystemExit):
        reporter.warn(f"export interrupted: the files under {settings.out} are complete but hold only what was read")
        raise


def _run(files: list[Path], settings: ExportSettings, reporter: Reporter, started: float) -> Summary:
    here, there = split_passes(settings.tables)
    if not here or not there:
        done = export_tables(files, settings, settings.tables, reporter.warn)
        _refused(reporter, done.refused)
        return Summary(len(files), done.lines, done.rows, time.monotonic() - started, done.finished)
    with tempfile.TemporaryFile() as errors:
        worker = _start_worker(files, settings, there, errors)
        try:
            done = export_tables(files, settings, here, reporter.warn)
            mine: ExportError | None = None
        except ExportError as exc:
            done, mine = Pass(), exc
        except KeyboardInterrupt:
            _interrupt(worker, signal.SIGINT)
            raise
        except SystemExit:  # SIGTERM
            _interrupt(worker, signal.SIGTERM)
            raise
        except BaseException:
            worker.kill()
            worker.wait()
            raise
        theirs = _finish_worker(worker, errors, reporter)
    if mine is not None:
        raise mine
    if isinstance(theirs, str):
        raise ExportError(theirs)
    _refused(reporter, {k: done.refused.get(k, 0) + theirs.refused.get(k, 0) for k in {*done.refused, *theirs.refused}})
    rows = {name: {**done.rows, **theirs.rows}.get(name, 0) for name in settings.tables}
    return Summary(len(files), done.lines, rows, time.monotonic() - started, done.finished + theirs.finished)


def _start_worker(
    files: list[Path], settings: ExportSettings, tables: list[str], errors: IO[bytes]
) -> subprocess.Popen[bytes]:
    job = {**asdict(settings), "paths": [str(p) for p in files], "out": str(settings.out), "tables": tables}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_cli.export.worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
    )
    assert proc.stdin is not None
    proc.stdin.write(orjson.dumps(job))
    proc.stdin.close()
    return proc


def _finish_worker(proc: subprocess.Popen[bytes], errors: IO[bytes], reporter: Reporter) -> Pass | str:
    """The worker's outcome (a ``Pass``, or its error line); its warnings are passed on."""
    assert proc.stdout is not None
    answer = proc.stdout.read()
    status = proc.wait()
    errors.seek(0)
    for line in errors.read().decode(errors="replace").splitlines():
        if line.startswith("kalshi: warning: "):
            reporter.warn(line.removeprefix("kalshi: warning: "))
    try:
        result = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return f"the export worker ended with status {status} and no answer"
    if result.get("error"):
        return str(result["error"])
    return Pass(result["lines"], result["rows"], [Path(p) for p in result["finished"]], result["refused"])


def _interrupt(worker: subprocess.Popen[bytes], signum: int) -> None:
    """Ctrl-C or SIGTERM: the worker closes its files too. After Ctrl-C at a terminal it got the
    signal already (same process group); if it is still busy a second later, it gets ``signum``
    of its own; a kill only if it hangs."""
    try:
        worker.wait(timeout=1 if signum == signal.SIGINT else 0.01)
        return
    except subprocess.TimeoutExpired:
        worker.send_signal(signum)
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _refused(reporter: Reporter, refused: dict[str, int]) -> None:
    for what, n in sorted(refused.items()):
        reporter.warn(
            f"{n:,} distinct {what} value(s) were not exact decimal strings (or had over 18 digits); left empty"
        )
