"""The simulator's REST layer (REST.md §5) as HTTP routes a ``WireServer`` is given.

Built over the same ``Exchange`` the channels stream, so a test can drop the socket while
fills or trades happen and then find them here. Private routes check the signature like
the handshake does (path with ``/trade-api/v2``, query cut off); public ones accept any
client but still refuse a bad signature, as Kalshi does. Errors use the nested body Kalshi
sends. ``fail(status, n)`` makes the next ``n`` requests fail, for retry tests.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .auth import SignatureCheck
from .market import Exchange
from .rest_catalogue import event_route, events, market_route, markets, series_list, series_route
from .rest_markets import exchange_status, trades
from .rest_portfolio import fills, orders, positions
from .rest_query import Query, Reply, error

__all__ = ["REST_PREFIX", "SimRest"]

REST_PREFIX = "/trade-api/v2"
_MARKETS = "/markets/"
_EVENTS = "/events/"
_SERIES = "/series/"
Route = Callable[[Exchange, Query], Any]
_ROUTES: dict[str, Route] = {
    "/portfolio/fills": fills,
    "/portfolio/positions": positions,
    "/portfolio/orders": orders,
    "/markets/trades": trades,
    "/exchange/status": exchange_status,
    "/markets": markets,
    "/events": events,
    "/series": series_list,
}
_PRIVATE = frozenset({"/portfolio/fills", "/portfolio/positions", "/portfolio/orders"})
_SIGNATURE_CODES = {
    "timestamp expired (outside the allowed clock skew)": "header_timestamp_expired",
    "bad signature": "INCORRECT_API_KEY_SIGNATURE",
    "unknown API key": "NOT_FOUND",
}


class SimRest:
    """REST routes over one ``Exchange``, plus the fault knob and a request log."""

    def __init__(self, exchange: Exchange, check: SignatureCheck) -> None:
        self.exchange = exchange
        self.check = check
        self.requests: list[dict[str, Any]] = []  # {"path", "query", "status"} per request
        self._faults: deque[tuple[int, dict[str, str], Any]] = deque()

    def routes(self) -> dict[str, Callable[[ServerConnection, Request], Response]]:
        """Path -> handler, for the server (``/markets/`` serves ``/markets/{ticker}``, and so on)."""
        paths = [REST_PREFIX + path for path in (*_ROUTES, _MARKETS, _EVENTS, _SERIES)]
        return dict.fromkeys(paths, self.handle)

    # --- faults -----------------------------------------------------------------------------------

    def fail(self, status: int, count: int = 1, headers: dict[str, str] | None = None, body: Any = None) -> None:
        """Answer the next ``count`` REST requests with HTTP ``status`` (and ``headers``/``body``)."""
        if body is None:
            body = (
                {"error": "too many requests"}
                if status == 429
                else {
                    "error": {
                        "code": "internal_server_error",
                        "message": "simulated failure",
                        "details": "injected by the simulator",
                    }
                }
            )
        self._faults.extend([(status, dict(headers or {}), body)] * count)

    # --- HTTP -------------------------------------------------------------------------------------

    def handle(self, connection: ServerConnection, request: Request) -> Response:
        parts = urlsplit(request.path)
        path = parts.path[len(REST_PREFIX) :]
        query = parse_qs(parts.query, keep_blank_values=True)
        headers: dict[str, str] = {}
        try:
            if self._faults:
                status, headers, body = self._faults.popleft()
                raise Reply(status, body)
            self._authenticate(request, parts.path, private=path in _PRIVATE)
            route = _ROUTES.get(path)
            if route is not None:
                body = route(self.exchange, query)
            elif path.startswith(_MARKETS):
                body = market_route(self.exchange, unquote(path[len(_MARKETS) :]))
            elif path.startswith(_EVENTS):
                body = event_route(self.exchange, unquote(path[len(_EVENTS) :]), query)
            elif path.startswith(_SERIES):
                body = series_route(self.exchange, unquote(path[len(_SERIES) :]))
            else:
                raise error(404, "not_found", "route_not_found")
            status = 200
        except Reply as reply:
            status, body = reply.status, reply.body
        self.requests.append({"path": parts.path, "query": query, "status": status})
        response = connection.respond(status, orjson.dumps(body).decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        for name, value in headers.items():
            response.headers[name] = value
        return response

    def _authenticate(self, request: Request, path: str, *, private: bool) -> None:
        if self.check.key is None or (not private and not self.check.signed(request.headers)):
            return
        reason = self.check.why_not(request.headers, path)
        if reason is not None:
            raise error(401, "authentication_error", _SIGNATURE_CODES.get(reason, reason))
