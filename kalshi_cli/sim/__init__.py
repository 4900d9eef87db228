"""A local simulated Kalshi WebSocket exchange for tests, demos and fault drills.

``Exchange`` is the pure market model, ``SimServer`` serves it over real sockets, and
``ThreadedSim`` runs a server in a background thread for synchronous callers.
"""

from .market import Exchange
from .server import SimServer
from .threaded import ThreadedSim

__all__ = ["Exchange", "SimServer", "ThreadedSim"]
