"""``kalshi sim``: serve the built-in simulated exchange for any client to connect to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kalshi_cli.errors import UsageError

__all__ = ["read_public_key", "sim"]


def sim(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same market story.")] = 0,
    markets: Annotated[int, typer.Option(min=1, help="Number of markets.")] = 5,
    rate: Annotated[float, typer.Option(min=0, help="Exchange actions per second (0 = none).")] = 20.0,
    public_key: Annotated[
        Path | None,
        typer.Option(
            "--public-key",
            metavar="PEM",
            help="Verify signatures against this public key (HTTP 401 otherwise). Without it every client is accepted.",
        ),
    ] = None,
) -> None:
    """Run the simulated Kalshi exchange; prints its ws:// URL first, serves until stopped.

    It speaks Kalshi's WebSocket protocol (signing, commands, every channel, seq, clock,
    pings) with realistic activity on several markets, deterministic under --seed.

    Examples:

      kalshi sim --port 8765 --seed 7

      kalshi tail trade --url "$(kalshi sim | head -1)"   # (in another terminal)
    """
    from kalshi_cli.commands.runner import run_main
    from kalshi_cli.sim.server import serve_forever

    pem = read_public_key(public_key)

    def ready(url: str) -> None:
        print(url, flush=True)

    run_main(
        lambda: serve_forever(
            host=host, port=port, seed=seed, markets=markets, rate=rate, public_key_pem=pem, on_ready=ready
        )
    )


def read_public_key(path: Path | None) -> bytes | None:
    """The PEM of ``--public-key``, or a one-line error naming the file."""
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read public key {path}: {exc.strerror}") from None
