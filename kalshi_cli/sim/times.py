"""Wire timestamps for the simulator."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["rfc3339_ms"]


def rfc3339_ms(ms: int) -> str:
    """Unix ms -> ``"2026-08-28T14:05:12.345Z"`` (the deprecated string timestamps)."""
    base = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{ms % 1000:03d}Z"
