"""Which WebSocket transport carries a run: ``--transport auto|websockets|picows``.

websockets is a hard dependency and the reference behaviour; picows comes with the ``[fast]``
extra and reads frames several times faster (no permessage-deflate: see ``picowsconn``).
``auto`` takes picows when it is installed: both pass the same transport tests
(tests/test_transport_contract.py). Nothing is imported until a connector is chosen, so
``--help`` stays light.
"""

from __future__ import annotations

import importlib.util

from kalshi_cli.errors import UsageError
from kalshi_cli.transport import Connector

__all__ = ["TRANSPORTS", "available", "choose_connector", "resolve"]

TRANSPORTS = ("auto", "websockets", "picows")
FAST_EXTRA = "pip install 'kalshi-cli[fast]'"
PICOWS_AT_LEAST = (2, 3)  # picowsconn drives picows' WSProtocol as 2.3 defines it


def available() -> list[str]:
    """The transports installed here, the reference first."""
    return ["websockets", "picows"] if _has_picows() else ["websockets"]


def resolve(name: str) -> str:
    """The transport ``name`` means here (``auto`` resolved); a usage error for an unknown name or a
    missing extra. Imports nothing of either library."""
    if name not in TRANSPORTS:
        raise UsageError(f"--transport expects auto, websockets or picows; got {name!r}")
    if name == "auto":
        return "picows" if _has_picows() else "websockets"
    if name == "picows" and not _has_picows():
        raise UsageError(f"--transport picows needs the [fast] extra (picows 2.3 or newer): {FAST_EXTRA}")
    return name


def choose_connector(name: str) -> Connector:
    """The connector for ``name`` (see ``resolve``)."""
    if resolve(name) == "picows":
        from kalshi_cli.picowsconn import connect as fast

        return fast
    from kalshi_cli.wsconn import connect

    return connect


def _has_picows() -> bool:
    """picows installed, in a version picowsconn knows (an older one is as good as none)."""
    if importlib.util.find_spec("picows") is None:
        return False
    from picows.version import __version__

    parts = tuple(int(p) for p in __version__.split(".")[:2] if p.isdigit())
    return parts >= PICOWS_AT_LEAST
