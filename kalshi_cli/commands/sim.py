"""``kalshi sim``: serve the built-in simulated exchange for any client to connect to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["HostOption", "PortOption", "PublicKeyOption", "sim"]

#: The listening options ``kalshi sim`` and ``kalshi replay`` share.
HostOption = Annotated[str, typer.Option(help="Address to listen on.")]
PortOption = Annotated[int, typer.Option(help="Port (0 picks a free one).")]
PublicKeyOption = Annotated[
    Path | None,
    typer.Option(
        "--public-key",
        metavar="PEM",
        help="Verify signatures against this public key (HTTP 401 otherwise). Without it every client is accepted.",
    ),
]


def sim(
    host: HostOption = "127.0.0.1",
    port: PortOption = 0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same market story.")] = 0,
    markets: Annotated[int, typer.Option(help="Number of markets (1 to 20000).")] = 5,
    rate: Annotated[float, typer.Option(help="Exchange actions per second (0 = none).")] = 20.0,
    public_key: PublicKeyOption = None,
) -> None:
    """Run the simulated Kalshi exchange; prints its ws:// URL first, serves until stopped.

    It speaks Kalshi's WebSocket protocol (signing, commands, every channel, seq, clock,
    pings) with realistic activity on several markets, deterministic under --seed, and the
    REST endpoints the commands use on the same port (the market catalogue too: kalshi
    markets --url URL lists it). Its markets are listed on stderr, grouped by event. When
    stdout is a pipe, the server lets go of it once the URL is read and carries on in the
    background (its pid on stderr).

    Examples:

      kalshi sim --port 8765 --seed 7

      kalshi tail trade --url "$(kalshi sim | head -1)"
    """
    from kalshi_cli.feeds.signals import run_main
    from kalshi_cli.sim.auth import read_public_key
    from kalshi_cli.sim.detach import Announce, serve_detachable
    from kalshi_cli.sim.server import serve_forever
    from kalshi_cli.sim.serving import check_port, check_sim_options

    check_port(port)
    check_sim_options(markets, rate)
    pem = read_public_key(public_key)

    def serve(announce: Announce) -> None:
        def ready(url: str) -> None:
            announce(url)  # the URL first, on stdout
            _list_markets(seed, markets)

        run_main(
            lambda: serve_forever(
                host=host,
                port=port,
                seed=seed,
                markets=markets,
                rate=rate,
                public_key_pem=pem,
                on_ready=ready,
                handle_signals=False,  # run_main's: Ctrl-C exits 130, SIGTERM 0
            )
        )

    status = serve_detachable(serve, name="kalshi sim")
    if status:
        raise typer.Exit(status)


def _list_markets(seed: int, markets: int) -> None:
    """The simulator's tickers on stderr, grouped by event (the same seed lists the same ones)."""
    import random
    import sys

    from kalshi_cli.sim.catalog import make_specs, ticker_listing

    # the exchange lists make_specs' markets from a fresh Random(seed) first, as here
    lines = ticker_listing(make_specs(random.Random(seed), markets))
    sys.stderr.write("kalshi sim: " + "\n".join(lines) + "\n")  # one write: no other line cuts into it
    sys.stderr.flush()
