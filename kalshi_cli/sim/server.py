"""The simulated Kalshi exchange on real sockets: a ``WireServer`` over a moving ``Exchange``.

``SimServer`` builds the exchange, gives the wire its REST routes (``SimRest`` over the same
exchange, so a test can drop the socket while fills happen and then find them there) and
drives the market at ``rate`` actions per second, or by hand with ``step``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .auth import SignatureCheck, load_public_key
from .market import Event, Exchange
from .rest import SimRest
from .serving import serve_until_stopped
from .wire import WireServer

__all__ = ["SimServer", "serve_forever"]


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class SimServer(WireServer):
    """A local Kalshi WebSocket endpoint with a moving market, its REST layer and fault injection."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        markets: int = 5,
        rate: float = 20.0,
        public_key_pem: bytes | str | None = None,
        ping_interval: float = 10.0,
        timestamp_tolerance: float | None = 30.0,
        sending_ts: bool = True,
        buffer_limit: int = 2000,
        key_id: str | None = None,
        allow_anonymous: bool = False,
        frame_log_limit: int = 100_000,
        extra_tickers: tuple[str, ...] = (),
    ) -> None:
        """``extra_tickers`` lists named markets after the ``markets`` generated ones."""
        exchange = Exchange(seed, markets, now_ms=_wall_ms, extra_tickers=extra_tickers)
        check = SignatureCheck(load_public_key(public_key_pem) if public_key_pem else None, timestamp_tolerance, key_id)
        #: The REST layer (fills, positions, orders, trades, markets, exchange status) on the same port.
        self.rest = SimRest(exchange, check)
        super().__init__(
            exchange,
            routes=self.rest.routes(),
            check=check,
            host=host,
            port=port,
            ping_interval=ping_interval,
            sending_ts=sending_ts,
            buffer_limit=buffer_limit,
            allow_anonymous=allow_anonymous,
            frame_log_limit=frame_log_limit,
        )
        self.exchange = exchange
        self.rate = rate

    async def start(self) -> str:
        """Listen (and start the market moving when ``rate`` > 0); return the ws:// URL."""
        url = await super().start()
        if self.rate > 0:
            self.spawn(self._activity())
        return url

    # --- views ------------------------------------------------------------------------------------

    @property
    def tickers(self) -> list[str]:
        return self.exchange.tickers

    @property
    def market_ids(self) -> dict[str, str]:
        return self.exchange.market_ids

    def true_book(self, ticker: str) -> dict[str, Any]:
        return self.exchange.true_book(ticker)

    # --- exchange activity ------------------------------------------------------------------------

    def step(self, n: int = 1) -> list[Event]:
        """Drive the exchange ``n`` actions by hand and fan the events out; return them."""
        events: list[Event] = []
        for _ in range(n):
            batch = self.exchange.step()
            self.fan_out(batch)
            events += batch
        return events

    async def _activity(self) -> None:
        loop = asyncio.get_running_loop()
        tick = max(1.0 / self.rate, 0.005)
        owed, last = 0.0, loop.time()
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            owed = min(owed + (now - last) * self.rate, 1000.0)
            last = now
            n = int(owed)
            owed -= n
            if n:
                self.step(n)

    # --- fault injection (the connection-level knobs are the wire's) ------------------------------

    def maintenance(self, ticker: str) -> None:
        """Lower one market's clock (exchange maintenance) and republish its book."""
        self.fan_out(self.exchange.maintenance(ticker))

    def fail_rest(self, status: int, count: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``count`` REST requests with HTTP ``status`` (e.g. 500, or 429 + Retry-After)."""
        self.rest.fail(status, count, headers)

    def rest_requests(self) -> list[dict[str, Any]]:
        """Every REST request served so far: ``{"path", "query", "status"}``."""
        return list(self.rest.requests)


async def serve_forever(
    *, on_ready: Callable[[str], None] | None = None, handle_signals: bool = True, **kwargs: Any
) -> None:
    """Start a SimServer with ``kwargs``, call ``on_ready(url)``, serve until SIGINT/SIGTERM.

    Shared by ``python -m kalshi_cli.sim`` and ``kalshi sim``; returns normally on a signal.
    """
    server = SimServer(**kwargs)
    await serve_until_stopped(server, lambda: on_ready(server.url) if on_ready else None, handle_signals=handle_signals)
