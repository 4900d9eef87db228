"""A side session (the book's marks, the positions' marks) opens its connection with the run's transport."""

from __future__ import annotations

import pytest

from kalshi_cli.feeds.context import Endpoint, StreamContext
from kalshi_cli.feeds.side import side_session
from kalshi_cli.output import Reporter
from kalshi_cli.session import StreamHandler, Subscription
from kalshi_cli.transports import available

URL = "ws://127.0.0.1:9/trade-api/ws/v2"


@pytest.mark.parametrize("transport", available())
def test_side_session_uses_the_runs_transport(transport):
    ctx = StreamContext(Endpoint(URL, "http://127.0.0.1:9/trade-api/v2", "custom"), None, Reporter(), None, transport)
    session = side_session(ctx, [Subscription("fill")], StreamHandler())
    assert session.transport is ctx.connector()
    module = "kalshi_cli.picowsconn" if transport == "picows" else "kalshi_cli.wsconn"
    assert session.transport.__module__ == module
