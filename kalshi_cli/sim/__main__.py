"""``python -m kalshi_cli.sim``: serve the simulator and print its URL as the first stdout line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from kalshi_cli.errors import KalshiCliError

from .auth import read_public_key
from .detach import Announce, serve_detachable
from .server import serve_forever
from .serving import check_port, check_sim_options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kalshi_cli.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markets", type=int, default=5)
    parser.add_argument("--rate", type=float, default=20.0, help="exchange actions per second (0 = none)")
    parser.add_argument("--ticker", action="append", default=[], metavar="T", help="also list market T (repeatable)")
    parser.add_argument("--public-key", type=Path, help="PEM public key (RSA or Ed25519) to verify signatures")
    parser.add_argument("--allow-anonymous", action="store_true", help="accept unsigned upgrades (legacy)")
    args = parser.parse_args(argv)

    def serve(announce: Announce, pem: bytes | None) -> None:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                serve_forever(
                    host=args.host,
                    port=args.port,
                    seed=args.seed,
                    markets=args.markets,
                    rate=args.rate,
                    public_key_pem=pem,
                    allow_anonymous=args.allow_anonymous,
                    extra_tickers=tuple(args.ticker),
                    on_ready=announce,
                )
            )

    try:
        check_port(args.port)
        check_sim_options(args.markets, args.rate, tuple(args.ticker))
        pem = read_public_key(args.public_key)
        return serve_detachable(lambda announce: serve(announce, pem), name="python -m kalshi_cli.sim") or 0
    except KalshiCliError as exc:
        print(f"python -m kalshi_cli.sim: error: {exc}", file=sys.stderr)
        return int(exc.status)


if __name__ == "__main__":
    sys.exit(main())
