"""What ``tail`` and ``book`` share beyond the connection: names, output extras, redundancy, the bus.

The command options are declared once (``commands.common``); this is their one place in the
settings, inherited by ``TailSettings`` and ``BookSettings`` (keyword-only, so each feed's own
fields keep their positions).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StreamOptions"]


@dataclass(kw_only=True)
class StreamOptions:
    all_in_series: bool = False  # a series ticker may expand to all its open events' markets
    continuity: bool = False  # --json: a continuity line on each gap, reconnect, resync
    stats: bool = False  # an age_ms summary per channel on stderr at the end
    redundant: int = 1  # connections merged into one stream
    source: str | None = None  # nats://... : read the bus instead of connecting to Kalshi
    durable: str | None = None  # with source: the durable consumer's name
    since: str | None = None  # with source: where to start
