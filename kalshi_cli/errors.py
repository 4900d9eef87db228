"""Errors the CLI reports to the user.

Every failure a user can cause or meet is a ``KalshiCliError``: its ``str()`` is the one line
printed on stderr and ``status`` the exit code. Only ``cli.main`` turns them into output.

    KalshiCliError
    ├── UsageError          bad flags or arguments (exit 2)
    ├── ConfigError         config file or profile problems (exit 2)
    ├── KeyFileError        private key missing, unreadable, encrypted, wrong type (exit 3)
    ├── NoCredentials       no API key configured where one is needed (exit 3)
    ├── AuthRejected        the server refused the signed handshake (exit 3)
    ├── ServerError         the server answered a command with an error code (exit 5)
    └── ConnectionFailed    the network gave up on us for good (exit 4)
"""

from __future__ import annotations

from kalshi_cli.hints import API_KEY_HINT
from kalshi_cli.status import ExitStatus

__all__ = [
    "AuthRejected",
    "ConfigError",
    "ConnectionFailed",
    "KalshiCliError",
    "KeyFileError",
    "NoCredentials",
    "ServerError",
    "UsageError",
]


class KalshiCliError(Exception):
    """Base class: a message for the user and an exit status."""

    status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, *, status: ExitStatus | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class UsageError(KalshiCliError):
    status = ExitStatus.USAGE


class ConfigError(KalshiCliError):
    status = ExitStatus.USAGE


class KeyFileError(KalshiCliError):
    status = ExitStatus.AUTH


class NoCredentials(KalshiCliError):
    """No API key is configured and the command needs one: a key problem (exit 3), not usage."""

    status = ExitStatus.AUTH

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or f"no API key configured: {API_KEY_HINT}")


class AuthRejected(KalshiCliError):
    status = ExitStatus.AUTH


class ServerError(KalshiCliError):
    """A Kalshi error frame that ends the command (e.g. an unknown channel)."""

    status = ExitStatus.SERVER

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ConnectionFailed(KalshiCliError):
    status = ExitStatus.CONNECTION
