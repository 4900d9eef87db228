"""Exit statuses: one number per kind of failure, so scripts can branch on them."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitStatus"]


class ExitStatus(IntEnum):
    SUCCESS = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    CONNECTION = 4
    SERVER = 5
    CTRL_C = 130
