"""A second session beside a feed's own, for extras a feed can do without.

A failed subscribe ends a session, so what is only nice to have (the book's marks of your
orders, the positions' marks to market) rides a session of its own: when that fails, one
warning says what is missing, and the feed's own stream goes on untouched.
"""

from __future__ import annotations

from kalshi_cli.errors import KalshiCliError
from kalshi_cli.feeds.context import StreamContext
from kalshi_cli.output import Reporter
from kalshi_cli.session import Session, StreamHandler, Subscription

__all__ = ["run_side", "side_session"]


def side_session(ctx: StreamContext, subs: list[Subscription], handler: StreamHandler) -> Session:
    """A session to ``ctx``'s server that says nothing of its own connects (the feed's does)."""
    return Session(
        ctx.endpoint.ws_url,
        subs,
        handler,
        signer=ctx.signer(),
        reporter=Reporter(quiet=True, stream=ctx.reporter.stream),
        connect_tries=3,
        transport=ctx.connector(),
    )


async def run_side(session: Session, ctx: StreamContext, missing: str) -> bool:
    """Run ``session`` until cancelled; on its failure warn that ``missing`` and return False."""
    try:
        await session.run()
    except KalshiCliError as exc:
        ctx.reporter.warn(f"{missing}: {exc}")
        return False
    return True
