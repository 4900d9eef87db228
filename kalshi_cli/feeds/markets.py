"""Market tickers before connecting: refuse what cannot be a ticker, ask REST about the rest.

A ticker goes into REST paths (``/markets/{ticker}``), so one that is not a plausible
Kalshi ticker (``../../portfolio/balance``, ``KX?status=open``) is refused outright, and
every path segment is percent-encoded anyway.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import quote

from kalshi_cli.errors import UsageError
from kalshi_cli.feeds.context import StreamContext

__all__ = ["REST_CHECK_LIMIT", "check_markets_exist", "check_tickers", "market_path"]

#: Up to this many tickers are checked against REST before connecting (see check_markets_exist).
REST_CHECK_LIMIT = 10
# Kalshi tickers: letters, digits, '-', '.', '_' (KXHIGHNY-26NOV25-B52.5, KXBTCD-26NOV2517-T97999.99).
_TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,149}")


def check_tickers(tickers: list[str]) -> None:
    """A ``UsageError`` (exit 2) naming the first argument that cannot be a market ticker."""
    for ticker in tickers:
        if not _TICKER.fullmatch(ticker):
            raise UsageError(
                f"not a Kalshi market ticker: {ticker[:60]!r} (tickers are letters, digits, '-', '.' and '_', "
                "e.g. KXHIGHNY-26NOV25-B52.5)"
            )


def market_path(ticker: str) -> str:
    """``/markets/{ticker}`` with the ticker percent-encoded as one path segment."""
    return f"/markets/{quote(ticker, safe='')}"


async def check_markets_exist(ctx: StreamContext, markets: list[str]) -> None:
    """Ask REST about each market first: an unknown ticker is a clear error now, not an empty book.

    Advisory only: a server without Kalshi's REST API (or any failure other than Kalshi's own
    404 body), or more than ``REST_CHECK_LIMIT`` tickers, leaves the decision to the stream and
    ``--wait``.
    """
    from kalshi_cli.rest import RestClient, RestError

    if len(markets) > REST_CHECK_LIMIT:
        return  # one GET per ticker would eat the REST rate limit (20 reads/s on the basic tier)
    client = RestClient(ctx.endpoint.rest_url, None, tries=1, timeout=5.0)

    async def exists(ticker: str) -> bool:
        try:
            await client.get(market_path(ticker))
        except RestError as exc:
            return not (exc.http_status == 404 and exc.code is not None)
        except Exception:  # unreachable REST, odd bodies: not our call to make
            return True
        return True

    found = await asyncio.gather(*(exists(t) for t in markets))
    unknown = [t for t, ok in zip(markets, found, strict=True) if not ok]
    if unknown:
        raise UsageError(
            f"unknown market{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            "(Kalshi's REST API has no such ticker; check the spelling)"
        )
