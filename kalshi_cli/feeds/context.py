"""Where a run connects and how it signs: connection settings -> endpoint, key, simulator.

``open_context`` turns the connection flags into a ``StreamContext`` (an endpoint, a signer
and, with ``--sim`` or ``--replay``, the in-process server), refusing what cannot work
before anything connects. Imports stay light: ``kalshi sign`` uses this module too.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kalshi_cli.config import (
    Credentials,
    Endpoint,
    is_trusted_host,
    resolve_credentials,
    resolve_endpoint,
    rest_from_ws,
)
from kalshi_cli.environment import Environment, current
from kalshi_cli.errors import NoCredentials, UsageError
from kalshi_cli.hints import API_KEY_HINT
from kalshi_cli.output import Reporter
from kalshi_cli.transport import Connector

__all__ = ["DEFAULT_CONNECT_TRIES", "ConnectionArgs", "StreamContext", "load_credentials", "open_context"]

DEFAULT_CONNECT_TRIES = 10  # failed attempts before the first success, then exit 4 (record: forever)


@dataclass
class ConnectionArgs:
    """The connection flags of one command invocation."""

    env: str | None = None
    url: str | None = None
    sim: bool = False
    key_id: str | None = None
    private_key: str | None = None
    profile: str | None = None
    trust_host: bool = False
    stale_after: float = 30.0
    quiet: bool = False
    replay: list[Path] | None = None
    replay_speed: str | None = None  # None: 1x (given without --replay: a usage error)
    replay_from: str | None = None  # --replay's time window (sim/window.py reads it)
    replay_to: str | None = None
    connect_tries: int | None = None  # None: the feed's default
    color: str = "auto"  # the terminal views' and lines' colours: auto, always or never
    transport: str = "auto"  # the WebSocket library: auto, websockets or picows (kalshi_cli.transports)

    def check(self) -> None:
        """Refuse flag values that parse but cannot work (exit 2)."""
        if not math.isfinite(self.stale_after) or self.stale_after < 0.1:
            raise UsageError(f"--stale-after expects a number of seconds, at least 0.1; got {self.stale_after}")
        if self.connect_tries is not None and self.connect_tries < 1:
            raise UsageError(f"--connect-tries expects at least 1; got {self.connect_tries}")
        if self.color not in ("auto", "always", "never"):
            raise UsageError(f"--color expects auto, always or never; got {self.color!r}")
        if self.replay_speed is not None and not self.replay:
            raise UsageError("--replay-speed needs --replay FILE|DIR")
        if (self.replay_from is not None or self.replay_to is not None) and not self.replay:
            raise UsageError("--replay-from/--replay-to need --replay FILE|DIR")
        if self.transport != "auto":  # auto never fails; a name must be known, and installed
            from kalshi_cli.transports import resolve

            resolve(self.transport)

    def tries(self, default: int | None = DEFAULT_CONNECT_TRIES) -> int | None:
        """Connection attempts allowed before the first success (``None``: forever)."""
        return self.connect_tries if self.connect_tries is not None else default


@dataclass
class StreamContext:
    """What a streaming run needs: where to connect, how to sign, and where to report."""

    endpoint: Endpoint
    credentials: Credentials | None
    reporter: Reporter
    sim: Any = None  # the in-process SimServer with --sim, the ReplayServer with --replay
    transport: str = "auto"  # --transport: which library carries the WebSocket

    def connector(self) -> Connector:
        """Opens this run's connections (``--transport``); every session of the run uses it."""
        from kalshi_cli.transports import choose_connector

        return choose_connector(self.transport)

    def signer(self) -> Callable[[], dict[str, str]] | None:
        creds = self.credentials
        if creds is None:
            return None
        from kalshi_cli.auth import auth_headers

        return lambda: auth_headers(creds.key_id, creds.key)


def _ask_password(env: Environment) -> Callable[[str], str | None]:
    def ask(prompt: str) -> str | None:
        if not env.stdin_isatty or not env.stderr_isatty:
            return None
        import getpass

        return getpass.getpass(prompt, stream=env.stderr)  # type: ignore[arg-type]  # TextIO in typeshed

    return ask


def load_credentials(conn: ConnectionArgs, reporter: Reporter, env: Environment | None = None) -> Credentials | None:
    creds = resolve_credentials(
        key_id_flag=conn.key_id,
        key_path_flag=conn.private_key,
        profile_name=conn.profile,
        environ=os.environ,
        ask_password=_ask_password(env or current()),
        warn=reporter.warn,
    )
    if creds:
        for note in creds.notes:
            reporter.warn(note)
    return creds


@contextlib.asynccontextmanager
async def open_context(
    conn: ConnectionArgs, *, need_key: bool = False, env: Environment | None = None
) -> AsyncIterator[StreamContext]:
    """Resolve endpoint and key (starting the simulator for ``--sim``) for one command run."""
    env = env or current()
    conn.check()
    reporter = Reporter(quiet=conn.quiet, stream=env.stderr)
    from kalshi_cli.config import select_profile

    profile = select_profile(conn.profile, os.environ)
    creds = load_credentials(conn, reporter, env)
    # --sim and --replay are flags: they win over a URL from KALSHI_WS_URL, not over --url.
    url_flag = conn.url if conn.url and conn.url != os.environ.get("KALSHI_WS_URL") else None
    if conn.replay:
        if url_flag or conn.sim:
            raise UsageError("--replay names a server, like --sim and --url; use one of them")
        from kalshi_cli.sim.replay import ReplayServer, check_window, parse_speed, parse_window, scan

        speed = parse_speed(conn.replay_speed or "1")
        recording = scan(list(conn.replay), reporter.warn)
        flags = ("--replay-from", "--replay-to")
        window = parse_window(conn.replay_from, conn.replay_to, recording, flags)
        check_window(recording, window, flags)
        replay = ReplayServer(recording, speed=speed, window=window)
        url = await replay.start()
        reporter.info(f"replaying {replay.recording.frames} frames{window.describe()} at {url}")
        try:  # unsigned: the replay server accepts any client
            yield StreamContext(Endpoint(url, rest_from_ws(url), "sim"), None, reporter, replay, conn.transport)
        finally:
            await replay.stop()
        return
    if conn.sim:
        if url_flag:
            raise UsageError("--sim and --url both name a server; use one")
        from kalshi_cli.sim import SimServer

        if creds is None:
            creds = _ephemeral_credentials()
        server = SimServer(public_key_pem=_public_pem(creds.key))
        url = await server.start()
        size = f"{len(server.tickers)} markets in {len({t.rsplit('-', 1)[0] for t in server.tickers})} events"
        reporter.info(f"simulated exchange at {url}: {size} (kalshi markets --sim lists them)")
        try:
            yield StreamContext(Endpoint(url, rest_from_ws(url), "sim"), creds, reporter, server, conn.transport)
        finally:
            await server.stop()
        return
    endpoint = resolve_endpoint(
        env_flag=conn.env, url_flag=conn.url, environ=os.environ, profile=profile[1] if profile else None
    )
    for note in endpoint.notes:
        reporter.warn(note)
    if creds is not None and not is_trusted_host(endpoint.host):
        if not conn.trust_host:
            raise UsageError(
                f"refusing to send signed headers to {endpoint.host}: it is not a Kalshi host or loopback "
                "(a signature works as a password until it expires). Pass --trust-host if you trust it."
            )
        reporter.warn(f"sending signed headers to {endpoint.host} (--trust-host)")
    if creds is None and (need_key or endpoint.env in ("prod", "demo")):
        raise NoCredentials(
            f"no API key configured; Kalshi needs a signed connection: {API_KEY_HINT}. "
            "(Try --sim to use the built-in simulator.)"
        )
    yield StreamContext(endpoint, creds, reporter, transport=conn.transport)


def _ephemeral_credentials() -> Credentials:
    """A throwaway in-memory key for ``--sim`` runs without an account."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Credentials("sim-local-key", key, "a throwaway key for the simulator")


def _public_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem
