"""A terminal emulator (pyte) to draw views into, for the tests/test_views_*.py files.

pyte (a VT100/xterm emulator in pure Python) interprets what rich writes, cursor moves and
erases included, so the tests see the screen a trader would: what is left over from an earlier
frame, what wrapped, which cell is which colour. The emulated screen is wider than the width
the console is told, so a line that would overflow the real terminal shows up past the edge
instead of silently wrapping.
"""

from __future__ import annotations

import re

import pyte
from rich.console import Console

SLACK = 40  # columns of emulated screen beyond the console's width, where nothing may land

#: a number with a cut edge: a digit against an ellipsis
CUT_NUMBER = re.compile(r"\d…|…\d|\d\.…")


class Term:
    """A ``width`` x ``height`` terminal: ``console`` draws into it, ``lines()`` reads it back."""

    def __init__(self, width: int, height: int, *, color: bool = True) -> None:
        self.width, self.height = width, height
        self.screen = pyte.Screen(width + SLACK, height)
        self.stream = pyte.Stream(self.screen)
        self.console = Console(
            file=self,  # type: ignore[arg-type]
            width=width,
            height=height,
            force_terminal=True,
            color_system="standard" if color else None,
            no_color=not color,
            legacy_windows=False,
            _environ={"TERM": "xterm"},
        )

    # the file protocol rich writes through
    def write(self, text: str) -> int:
        self.stream.feed(text.replace("\n", "\r\n"))  # the tty's onlcr, as a real terminal gets it
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        raise OSError("an emulated terminal has no file descriptor")

    # reading the screen back
    def lines(self) -> list[str]:
        """Every row, as displayed, trailing blanks removed."""
        return [row.rstrip() for row in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def overflow(self) -> list[str]:
        """Whatever landed past the right edge of the terminal (nothing, when all fits)."""
        return [row[self.width :].strip() for row in self.screen.display if row[self.width :].strip()]

    def find(self, needle: str) -> tuple[int, int]:
        """(row, column) of the first occurrence of ``needle`` on screen."""
        for y, row in enumerate(self.screen.display):
            x = row.find(needle)
            if x >= 0:
                return y, x
        raise AssertionError(f"{needle!r} is not on screen:\n{self.text()}")

    def cell(self, y: int, x: int) -> pyte.screens.Char:
        return self.screen.buffer[y][x]

    def fits(self) -> None:
        """The checks every view must pass: nothing past the edge, no number cut."""
        assert not self.overflow(), f"past the right edge: {self.overflow()}\n{self.text()}"
        assert not CUT_NUMBER.search(self.text()), f"a number was cut:\n{self.text()}"
