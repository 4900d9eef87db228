"""Recorded lines for the export, one pass, in order, with bad input reported and survived.

Files come from ``recording.expand`` (a directory is its rotated files in name order) and are
read by ``recording.iter_lines`` (plain or gzip by magic bytes; a gzip stream cut short ends
with a warning). Every file is checked before anything is written: its first line must be a
Kalshi frame or a ``kalshi_cli.meta`` line, else it is not a recording (``UsageError``, exit 2).
While streaming, a line that does not parse is skipped with a warning (the half line a killed
writer leaves at the end of a file is the usual one), and the export goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import orjson

from kalshi_cli.errors import UsageError
from kalshi_cli.export.typed import Decoder
from kalshi_cli.protocol import DATA_TYPES
from kalshi_cli.recording import META, expand, iter_lines

__all__ = ["Warn", "check_files", "read_lines"]

Warn = Callable[[str], None]
#: lines read at a time (a chunk of whole typed lines is decoded in one call)
CHUNK = 2048
_KNOWN = DATA_TYPES | {META}


def check_files(paths: list[Path], warn: Warn) -> list[Path]:
    """The files to read (directories expanded), each checked to start like a recording.

    Raises:
        UsageError: a file is missing or unreadable, or is not a Kalshi recording; or every file is empty.
    """
    files = expand(paths)
    kept: list[Path] = []
    for path in files:
        if not path.is_file():
            reason = "no such file" if not path.exists() else "not a regular file"
            raise UsageError(f"cannot read recording {path}: {reason}")
        first = _first_line(path)
        if first is None:
            warn(f"{path} is empty")
            continue
        line_no, line = first
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"{path} is not a Kalshi recording (line {line_no} is not JSON: {exc})") from None
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind not in _KNOWN:
            raise UsageError(
                f"{path} is not a Kalshi recording (line {line_no} is no Kalshi frame; "
                "expected NDJSON from 'kalshi record' or 'kalshi tail --json')"
            )
        kept.append(path)
    if not kept:
        names = ", ".join(str(p) for p in files)
        raise UsageError(f"recording {names} {'is' if len(files) == 1 else 'are'} empty")
    return kept


def _first_line(path: Path) -> tuple[int, bytes] | None:
    broken: list[str] = []
    try:
        for n, line in enumerate(iter_lines(path, broken.append), 1):
            if line.strip():
                return n, line
    except OSError as exc:
        raise UsageError(f"cannot read recording {path}: {exc.strerror or exc}") from None
    if broken:  # gzip magic, then nothing readable
        raise UsageError(f"{path} is not a Kalshi recording (gzip data that does not decompress)")
    return None


def read_lines(
    paths: list[Path],
    warn: Warn,
    skip: tuple[bytes, ...] = (),
    seen: list[int] | None = None,
    report: tuple[bytes, ...] | None = None,
    fast: Decoder | None = None,
) -> Iterator[list[Any]]:
    """Every JSON object line of ``paths``, in order, in lists of up to ``CHUNK`` lines' worth;
    what cannot be read is warned about and skipped.

    Each object is a dict, or with ``fast`` (``typed.decoder``) a Struct for a line it takes (one
    that starts with one of its prefixes and decodes as declared; any other line is read as a
    dict). A chunk whose every line is typed or skipped is decoded in one go (``map``: each line
    on its own, as below); any other chunk goes line by line.

    Lines starting with one of ``skip`` are passed over unparsed (a pass that has no use for them)
    unless they look torn; ``seen[0]`` counts every line read, those included. With ``report``,
    the pass is the second over the same files: only the bad lines the first pass skipped unread
    (whole lines starting with one of ``report``) are its to warn about.
    """
    count = seen if seen is not None else [0]
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    typed, typed_error, typed_lines = fast if fast is not None else (loads, decode_error, ())
    for path in paths:
        bad: int | None = None
        n = 0

        def tell(line_no: int, text: str, path: Path = path) -> None:
            warn(f"{path}:{line_no}: {text}")

        try:
            source = iter(iter_lines(path, warn if report is None else None))
            while chunk := list(islice(source, CHUNK)):
                if typed_lines and bad is None:
                    # (a skipped line that looks torn stays in: it does not decode, so the chunk goes line by line)
                    kept = [ln for ln in chunk if not (ln.startswith(skip) and ln.endswith(b"}\n"))] if skip else chunk
                    try:
                        decoded = list(map(typed, kept))
                    except typed_error:
                        pass  # (a line of another kind, or one that does not decode as declared)
                    else:
                        n += len(chunk)
                        if decoded:
                            yield decoded
                        continue
                out: list[Any] = []
                for line in chunk:
                    n += 1
                    if line.startswith(skip) and line.endswith(b"}\n"):
                        continue  # (a torn line is parsed, so that it is reported)
                    if line.startswith(typed_lines):
                        try:
                            struct = typed(line)
                        except typed_error:
                            pass  # read as a dict below (and reported there if it is no JSON)
                        else:
                            if bad is not None:
                                tell(bad, "not a JSON line; skipped")
                                bad = None
                            out.append(struct)
                            continue
                    try:
                        obj = loads(line)
                    except decode_error:
                        if not line.strip():
                            continue
                        if bad is not None:
                            tell(bad, "not a JSON line; skipped")
                        mine = report is None or (line.startswith(report) and line.endswith(b"}\n"))
                        bad = n if mine else None
                        continue
                    if bad is not None:
                        tell(bad, "not a JSON line; skipped")
                        bad = None
                    if type(obj) is dict:
                        out.append(obj)
                yield out
        except OSError as exc:
            raise UsageError(f"cannot read recording {path}: {exc.strerror or exc}") from None
        finally:
            count[0] += n
        if bad is not None:
            tell(bad, "last line is incomplete (a killed writer?); skipped")
