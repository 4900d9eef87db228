"""The simulator's REST layer (REST.md §5): the signed-in user's fills, positions and orders.

Served on the WebSocket port through ``SimServer.add_route``, from the same ``Exchange`` the
private channels stream, so a test can drop the socket while fills happen and then find them
here. Private routes check the signature like the handshake does (path with ``/trade-api/v2``,
query cut off); errors use the nested body Kalshi sends. ``fail(status, n)`` makes the next
``n`` requests fail, for retry tests.
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from kalshi_cli.fixed import ONE_DOLLAR, format_micro4, format_price, format_size, parse_price, parse_size

from .account import Account
from .auth import HEADERS, verify
from .times import rfc3339_ms

if TYPE_CHECKING:
    from .server import SimServer

__all__ = ["REST_PREFIX", "SimRest"]

REST_PREFIX = "/trade-api/v2"
MAX_LIMIT = 1000


class _Reply(Exception):
    """Answer the request with ``status`` and a JSON ``body`` (raised from deep inside a route)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(status: int, code: str, details: str) -> _Reply:
    return _Reply(status, {"error": {"code": code, "message": details, "details": details}})


class SimRest:
    """REST routes over one ``SimServer``'s exchange, plus the fault knob and a request log."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.requests: list[dict[str, Any]] = []  # {"path", "query", "status"} per request
        self._faults: deque[tuple[int, dict[str, str], Any]] = deque()
        routes: dict[str, Callable[[dict[str, list[str]]], Any]] = {
            "/portfolio/fills": self.fills,
            "/portfolio/positions": self.positions,
            "/portfolio/orders": self.orders,
            "/exchange/status": self.exchange_status,
        }
        self._private = {"/portfolio/fills", "/portfolio/positions", "/portfolio/orders"}
        self._routes = routes
        for path in routes:
            server.add_route(REST_PREFIX + path, self._handle)
        server.add_route(REST_PREFIX + "/markets/", self._handle)

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

    def _handle(self, connection: ServerConnection, request: Request) -> Response:
        parts = urlsplit(request.path)
        path = parts.path[len(REST_PREFIX) :]
        query = parse_qs(parts.query, keep_blank_values=True)
        headers: dict[str, str] = {}
        try:
            if self._faults:
                status, headers, body = self._faults.popleft()
                raise _Reply(status, body)
            self._authenticate(request, parts.path, private=path in self._private)
            if path.startswith("/markets/"):
                body = self.market(unquote(path[len("/markets/") :]))
            else:
                body = self._routes[path](query)
            status = 200
        except _Reply as reply:
            status, body = reply.status, reply.body
        self.requests.append({"path": parts.path, "query": query, "status": status})
        response = connection.respond(status, orjson.dumps(body).decode())
        del response.headers["Content-Type"]
        response.headers["Content-Type"] = "application/json"
        for name, value in headers.items():
            response.headers[name] = value
        return response

    def _authenticate(self, request: Request, path: str, *, private: bool) -> None:
        server = self.server
        signed = any(request.headers.get(h) for h in HEADERS)
        if server.public_key is None or (not signed and not private):
            return
        reason = verify(
            request.headers, server.public_key, tolerance_s=server.timestamp_tolerance, key_id=server.key_id, path=path
        )
        if reason is None:
            return
        details = {
            "timestamp expired (outside the allowed clock skew)": "header_timestamp_expired",
            "bad signature": "INCORRECT_API_KEY_SIGNATURE",
            "unknown API key": "NOT_FOUND",
        }
        raise _error(401, "authentication_error", details.get(reason, reason))

    # --- routes -----------------------------------------------------------------------------------

    @property
    def _account(self) -> Account:
        return self.server.exchange.account

    def fills(self, q: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /portfolio/fills``: newest first; ticker (comma list), order_id, min_ts, max_ts."""
        tickers = _csv(q, "ticker")
        order_id = _one(q, "order_id")
        min_ts, max_ts = _int(q, "min_ts"), _int(q, "max_ts")
        rows = []
        for index, f in enumerate(self._account.fills):
            ts = f["ts_ms"] // 1000
            if tickers and f["market_ticker"] not in tickers:
                continue
            if order_id and f["order_id"] != order_id:
                continue
            if (min_ts is not None and ts < min_ts) or (max_ts is not None and ts > max_ts):
                continue
            rows.append((f["ts_ms"], index, f))
        rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
        page, cursor = _page(q, [rest_fill(f) for _, _, f in rows])
        return {"fills": page, "cursor": cursor}

    def positions(self, q: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /portfolio/positions``: market_positions and event_positions, filters by ticker/event."""
        exchange = self.server.exchange
        ticker, event = _one(q, "ticker"), _one(q, "event_ticker")
        count_filter = set(_csv(q, "count_filter"))
        traded: dict[str, int] = {}
        updated: dict[str, int] = {}
        for f in self._account.fills:
            t = f["market_ticker"]
            own = parse_price(f["yes_price_dollars"])
            if f["outcome_side"] == "no":
                own = ONE_DOLLAR - own
            traded[t] = traded.get(t, 0) + parse_size(f["count_fp"]) * own
            updated[t] = f["ts_ms"]
        rows = []
        for t, p in self._account.positions.items():
            event_ticker = exchange.markets[t].spec.event_ticker
            if (ticker and t != ticker) or (event and event_ticker != event):
                continue
            if "position" in count_filter and p.position == 0:
                continue
            if "total_traded" in count_filter and not traded.get(t):
                continue
            rows.append(
                (
                    event_ticker,
                    {
                        "ticker": t,
                        "exchange_index": 0,
                        "total_traded_dollars": format_micro4(traded.get(t, 0)),
                        "position_fp": format_size(p.position),
                        "market_exposure_dollars": format_micro4(p.cost),
                        "realized_pnl_dollars": format_micro4(p.realized),
                        "fees_paid_dollars": format_micro4(p.fees),
                        "last_updated_ts": rfc3339_ms(updated.get(t, exchange.now_ms())),
                    },
                )
            )
        page, cursor = _page(q, rows)
        events: dict[str, dict[str, int]] = {}
        for event_ticker, row in page:
            p = self._account.positions[row["ticker"]]
            e = events.setdefault(event_ticker, {"cost": 0, "shares": 0, "exposure": 0, "pnl": 0, "fees": 0})
            e["cost"] += traded.get(row["ticker"], 0)
            e["shares"] += p.volume
            e["exposure"] += p.cost
            e["pnl"] += p.realized
            e["fees"] += p.fees
        return {
            "market_positions": [row for _, row in page],
            "event_positions": [
                {
                    "event_ticker": name,
                    "total_cost_dollars": format_micro4(e["cost"]),
                    "total_cost_shares_fp": format_size(e["shares"]),
                    "event_exposure_dollars": format_micro4(e["exposure"]),
                    "realized_pnl_dollars": format_micro4(e["pnl"]),
                    "fees_paid_dollars": format_micro4(e["fees"]),
                }
                for name, e in events.items()
            ],
            "cursor": cursor,
        }

    def orders(self, q: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /portfolio/orders``: newest first; status, ticker, event_ticker (comma list), min/max_ts."""
        exchange = self.server.exchange
        status, ticker = _one(q, "status"), _one(q, "ticker")
        events = _csv(q, "event_ticker")
        if status and status not in ("resting", "canceled", "executed"):
            raise _error(400, "invalid_parameters", f"status must be resting, canceled or executed, not {status!r}")
        min_ts, max_ts = _int(q, "min_ts"), _int(q, "max_ts")
        rows = []
        for index, o in enumerate(self._account.orders.values()):
            if (status and o.status != status) or (ticker and o.ticker != ticker):
                continue
            if events and exchange.markets[o.ticker].spec.event_ticker not in events:
                continue
            created = o.created_ms // 1000
            if (min_ts is not None and created < min_ts) or (max_ts is not None and created > max_ts):
                continue
            rows.append((o.created_ms, index, rest_order(self._account.order_msg(o))))
        rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
        page, cursor = _page(q, [row for _, _, row in rows])
        return {"orders": page, "cursor": cursor}

    def market(self, ticker: str) -> dict[str, Any]:
        """``GET /markets/{ticker}``; 404 with Kalshi's nested body for an unknown ticker."""
        exchange = self.server.exchange
        m = exchange.markets.get(ticker)
        if m is None or "/" in ticker:
            raise _error(404, "not_found", "market_not_found")
        state = exchange.ticker_msg(ticker)
        yes_bid, yes_ask = parse_price(state["yes_bid_dollars"]), parse_price(state["yes_ask_dollars"])
        close = _rfc3339_s(m.close_ts)
        open_time = rfc3339_ms(exchange.now_ms() - 86_400_000)
        return {
            "market": {
                "ticker": ticker,
                "event_ticker": m.spec.event_ticker,
                "market_type": "binary",
                "title": m.spec.title,
                "subtitle": m.spec.subtitle,
                "yes_sub_title": m.spec.subtitle,
                "no_sub_title": m.spec.subtitle,
                "created_time": open_time,
                "updated_time": open_time,
                "open_time": open_time,
                "close_time": close,
                "latest_expiration_time": close,
                "settlement_timer_seconds": 3600,
                "status": "active" if m.active else "inactive",
                "yes_bid_dollars": state["yes_bid_dollars"],
                "yes_bid_size_fp": state["yes_bid_size_fp"],
                "yes_ask_dollars": state["yes_ask_dollars"],
                "yes_ask_size_fp": state["yes_ask_size_fp"],
                "no_bid_dollars": format_price(ONE_DOLLAR - yes_ask) if yes_ask else format_price(0),
                "no_ask_dollars": format_price(ONE_DOLLAR - yes_bid),
                "last_price_dollars": state["price_dollars"],
                "volume_fp": state["volume_fp"],
                "volume_24h_fp": state["volume_fp"],
                "result": "",
                "can_close_early": False,
                "open_interest_fp": state["open_interest_fp"],
                "notional_value_dollars": "1.0000",
                "previous_yes_bid_dollars": state["yes_bid_dollars"],
                "previous_yes_ask_dollars": state["yes_ask_dollars"],
                "previous_price_dollars": state["price_dollars"],
                "settlement_bounds_type": "default",
                "expiration_value": "",
                "occurrence_datetime": None,
                "rules_primary": f"If {m.spec.title.rstrip('?')}, then the market resolves to Yes.",
                "rules_secondary": "",
                "price_level_structure": "linear_cent",
                "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
                "exchange_index": 0,
            }
        }

    def exchange_status(self, q: dict[str, list[str]]) -> dict[str, Any]:
        return {
            "exchange_active": True,
            "trading_active": True,
            "intra_exchange_transfers_active": True,
            "exchange_estimated_resume_time": None,
            "exchange_index_statuses": [
                {
                    "exchange_index": 0,
                    "description": "Simulated exchange",
                    "exchange_active": True,
                    "trading_active": True,
                    "intra_exchange_transfers_active": True,
                }
            ],
        }


# --- shapes ---------------------------------------------------------------------------------------


def rest_fill(f: dict[str, Any]) -> dict[str, Any]:
    """A WS ``fill`` msg as the REST Fill (REST.md §5.1): ``fill_id == trade_id``, ``created_time``."""
    yes = parse_price(f["yes_price_dollars"])
    return {
        "fill_id": f["trade_id"],
        "trade_id": f["trade_id"],
        "order_id": f["order_id"],
        "ticker": f["market_ticker"],
        "market_ticker": f["market_ticker"],
        "exchange_index": f.get("exchange_index", 0),
        "side": f["side"],
        "action": f["action"],
        "outcome_side": f["outcome_side"],
        "book_side": f["book_side"],
        "count_fp": f["count_fp"],
        "yes_price_dollars": format_price(yes),
        "no_price_dollars": format_price(ONE_DOLLAR - yes),
        "is_taker": f["is_taker"],
        "fee_cost": f["fee_cost"],
        "created_time": rfc3339_ms(f["ts_ms"]),
        "ts": f["ts_ms"] // 1000,
        "subaccount_number": f.get("subaccount", 0),
    }


def rest_order(msg: dict[str, Any]) -> dict[str, Any]:
    """A WS ``user_order`` msg as the REST Order (REST.md §5.3)."""
    yes = parse_price(msg["yes_price_dollars"])
    return {
        "order_id": msg["order_id"],
        "user_id": msg["user_id"],
        "client_order_id": msg["client_order_id"],
        "ticker": msg["ticker"],
        "side": msg["side"],
        "action": "buy",
        "outcome_side": msg["outcome_side"],
        "book_side": msg["book_side"],
        "type": "limit",
        "status": msg["status"],
        "yes_price_dollars": msg["yes_price_dollars"],
        "no_price_dollars": format_price(ONE_DOLLAR - yes),
        "fill_count_fp": msg["fill_count_fp"],
        "remaining_count_fp": msg["remaining_count_fp"],
        "initial_count_fp": msg["initial_count_fp"],
        "taker_fill_cost_dollars": msg["taker_fill_cost_dollars"],
        "maker_fill_cost_dollars": msg["maker_fill_cost_dollars"],
        "taker_fees_dollars": msg["taker_fees_dollars"],
        "maker_fees_dollars": msg["maker_fees_dollars"],
        "expiration_time": None,
        "created_time": msg.get("created_time"),
        "last_update_time": msg.get("last_update_time", msg.get("created_time")),
        "self_trade_prevention_type": None,
        "order_group_id": None,
        "cancel_order_on_pause": False,
        "subaccount_number": msg.get("subaccount_number", 0),
        "exchange_index": 0,
    }


# --- query helpers --------------------------------------------------------------------------------


def _one(q: dict[str, list[str]], name: str) -> str | None:
    values = q.get(name)
    return values[-1] if values and values[-1] != "" else None


def _csv(q: dict[str, list[str]], name: str) -> list[str]:
    return [part for value in q.get(name, []) for part in value.split(",") if part]


def _int(q: dict[str, list[str]], name: str, lo: int = 0, hi: int | None = None) -> int | None:
    value = _one(q, name)
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise _error(400, "invalid_parameters", f"{name} must be an integer") from None
    if number < lo or (hi is not None and number > hi):
        raise _error(400, "invalid_parameters", f"{name} out of range")
    return number


def _page(q: dict[str, list[str]], rows: list[Any]) -> tuple[list[Any], str]:
    """One page of ``rows`` for ``limit``/``cursor``; the cursor is opaque (base64 of an offset)."""
    limit = _int(q, "limit", 1, MAX_LIMIT) or 100
    start = 0
    cursor = _one(q, "cursor")
    if cursor:
        try:
            start = int(base64.urlsafe_b64decode(cursor.encode() + b"==").decode().removeprefix("o:"))
        except (ValueError, UnicodeDecodeError):
            raise _error(400, "invalid_parameters", "invalid cursor") from None
    end = start + limit
    more = end < len(rows)
    return rows[start:end], base64.urlsafe_b64encode(f"o:{end}".encode()).decode().rstrip("=") if more else ""


def _rfc3339_s(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
