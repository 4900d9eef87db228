"""A local simulated Kalshi exchange for tests, demos and fault drills, and the replay of recordings.

The layers, each importing only those below it:

- ``market.Exchange`` (with ``model``, ``book``, ``account``, ``catalog``): the pure market
  model, deterministic under a seed; ``replay_exchange.ReplayExchange``: the market a
  recording describes, books rebuilt with the client's ``OrderBook``. Both play the
  ``source.MarketSource`` role.
- ``engine.Connection`` (with ``params``): one connection's protocol state, no I/O.
- ``wire.WireServer``: real sockets around any ``MarketSource``, given its HTTP routes.
- ``server.SimServer``: the wire over a moving ``Exchange`` with the REST routes of ``rest``
  (``rest_portfolio``, ``rest_markets``, ``rest_query``); ``replay.ReplayServer``: a wire over
  a ``ReplayExchange``, played on a shared timeline.
- ``serving`` and ``detach``: running either one as a command (bind errors as usage errors,
  stdout released to a pipe); ``threaded.ThreadedSim``: a SimServer in a background thread.
"""

from __future__ import annotations

from .market import Exchange
from .server import SimServer
from .threaded import ThreadedSim

__all__ = ["Exchange", "SimServer", "ThreadedSim"]
