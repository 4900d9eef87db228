"""The real command on a real terminal: ``kalshi book --sim`` run on a pty, its output drawn
by the emulator (see views_term), as a trader in a terminal would see it."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import ROOT, cli_env
from tests.views_term import Term


def run_on_pty(
    args: list[str],
    width: int,
    height: int,
    *,
    stdin: str = "pty",
    keys: bytes = b"",
    term_name: str = "xterm",
    stop: bool = False,
    until: Callable[[Term], bool] = lambda term: term.text().count("LIVE") >= 3,
    stderr: Any = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
) -> tuple[int, Term, bytes]:
    """Run ``kalshi ARGS`` with stdout (and stdin, unless ``closed``) on a ``width`` x ``height``
    pty; ``keys`` are typed (or, with ``stop``, SIGTERM sent) once the screen is ``until``-true
    (by default: it shows three live books). Returns (status, screen, bytes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    term = Term(width, height)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_cli", *args],
        stdin=subprocess.DEVNULL if stdin == "closed" else slave,
        stdout=slave,
        stderr=slave if stderr == "pty" else stderr,
        env=cli_env(TERM=term_name, COLUMNS=str(width), LINES=str(height), **(env or {})),
        cwd=ROOT,
        preexec_fn=(lambda: os.close(0)) if stdin == "closed" else None,
    )
    os.close(slave)
    deadline = time.monotonic() + 60
    typed = not keys and not stop
    seen = b""
    decode = codecs.getincrementaldecoder("utf-8")("replace").decode  # a read may split a character
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the pty
                break
            if not data:
                break
            seen += data
            term.stream.feed(decode(data))
        if not typed and until(term):
            if stop:
                proc.send_signal(signal.SIGTERM)
            else:
                os.write(master, keys)
            typed = True
        if proc.poll() is not None and not ready:
            break
    status = proc.wait(timeout=30)
    os.close(master)
    return status, term, seen


@pytest.mark.slow
def test_book_once_on_a_terminal_leaves_one_clean_screen() -> None:
    status, term, _ = run_on_pty(["book", "--sim", "--once"], 80, 24)
    assert status == 0
    term.fits()
    text = term.text()
    assert text.count("LIVE") == 3 and "AWAITING" not in text  # no stray panel lines above the book


@pytest.mark.slow
def test_book_with_stdin_closed_draws_and_does_not_crash() -> None:
    """``kalshi book --sim <&-`` exited 1 with 'AttributeError ... isatty'."""
    status, term, _ = run_on_pty(["book", "--sim", "--once"], 80, 24, stdin="closed")
    assert status == 0 and term.text().count("LIVE") == 3


@pytest.mark.slow
def test_q_quits_the_live_book_and_restores_the_screen() -> None:
    status, term, raw = run_on_pty(["book", "--sim"], 60, 15, keys=b"q")
    assert status == 0
    term.fits()
    assert term.text().count("LIVE") == 3  # what was on screen when q was typed
    # then the alternate screen is left and the cursor shown again (pyte keeps no alternate screen)
    last_frame = raw.rindex(b"LIVE")
    assert b"\x1b[?1049l" in raw[last_frame:] and b"\x1b[?25h" in raw[last_frame:]


@pytest.mark.slow
def test_a_dumb_terminal_gets_the_book_printed_plainly() -> None:
    """``TERM=dumb kalshi book --sim`` printed nothing at all."""
    status, term, raw = run_on_pty(["book", "--sim"], 80, 24, term_name="dumb", stop=True)
    assert status == 0 and b"\x1b[" not in raw  # SIGTERM exits 0; no cursor movement, no colour
    assert term.text().count("LIVE") >= 3 and raw.count(b"streaming") >= 1


def coloured_cells(term: Term) -> int:
    return sum(1 for row in term.screen.buffer.values() for cell in row.values() if cell.fg != "default")


@pytest.mark.slow
def test_color_never_and_no_color_draw_plain_and_always_colours() -> None:
    _, coloured, _ = run_on_pty(["book", "--sim", "--once"], 80, 24, env={"NO_COLOR": ""})
    _, never, _ = run_on_pty(["book", "--sim", "--once", "--color", "never"], 80, 24)
    _, no_color, _ = run_on_pty(["book", "--sim", "--once"], 80, 24, env={"NO_COLOR": "1"})
    _, always, _ = run_on_pty(["book", "--sim", "--once", "--color", "always"], 80, 24, env={"NO_COLOR": "1"})
    assert coloured_cells(coloured) > 0 and coloured_cells(always) > 0
    assert coloured_cells(never) == 0 and coloured_cells(no_color) == 0
    assert never.text().count("LIVE") == 3  # the same book, just plain


@pytest.mark.slow
def test_tail_lines_fit_a_narrow_terminal() -> None:
    status, term, _ = run_on_pty(["tail", "trade", "ticker", "--sim", "--count", "12"], 60, 24)
    assert status == 0
    term.fits()  # each line drawn at the terminal's width, none wrapped or past the edge
    assert sum(1 for line in term.lines() if line.strip()) >= 12


@pytest.mark.slow
def test_the_record_status_line_is_redrawn_in_place_within_the_width(tmp_path) -> None:
    """It held the full file path (about 125 characters), so at 80 columns every redraw scrolled."""
    seen: list[tuple[list[str], list[str]]] = []

    def recording(term: Term) -> bool:
        rows = [row for row in term.screen.display if "recording:" in row]
        lines = [row[: term.width].rstrip() for row in rows]
        if lines and " 0 frames" not in lines[0]:
            seen.append((lines, [row[term.width :].strip() for row in rows if row[term.width :].strip()]))
            return len(seen) >= 3  # a few redraws in
        return False

    out = tmp_path / "rec"
    status, _, _ = run_on_pty(
        ["record", "trade", "ticker", "--sim", "-o", str(out)], 80, 24, stop=True, until=recording, stderr="pty"
    )
    assert status == 0
    for lines, overflow in seen:
        assert len(lines) == 1 and not overflow, (lines, overflow)
        assert lines[0].endswith(".ndjson") and str(out) not in lines[0]  # the file's name, not its path
