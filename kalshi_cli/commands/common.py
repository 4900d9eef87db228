"""Options shared by every command that connects, and the context they resolve to.

``connection_options`` adds the connection flags to a command's signature once (like
sqlite-utils' ``output_options``), and ``open_context`` turns them into an endpoint, a
signer and, with ``--sim``, an in-process simulator.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import typing
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from kalshi_cli.config import (
    Credentials,
    Endpoint,
    is_trusted_host,
    resolve_credentials,
    resolve_endpoint,
    rest_from_ws,
)
from kalshi_cli.errors import UsageError
from kalshi_cli.output import Reporter

__all__ = ["ConnectionArgs", "StreamContext", "connection_options", "open_context"]

CONN = "Connection"


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
    replay_speed: str = "1"


_OPTIONS: list[tuple[str, Any, Any]] = [
    (
        "env",
        Annotated[
            str | None,
            typer.Option(
                "--env",
                envvar="KALSHI_ENV",
                help="Kalshi environment: prod or demo.",
                rich_help_panel=CONN,
                show_envvar=True,
            ),
        ],
        None,
    ),
    (
        "url",
        Annotated[
            str | None,
            typer.Option(
                "--url",
                envvar="KALSHI_WS_URL",
                help="Any Kalshi-compatible ws:// or wss:// URL (wins over --env).",
                rich_help_panel=CONN,
                show_envvar=True,
            ),
        ],
        None,
    ),
    (
        "sim",
        Annotated[
            bool,
            typer.Option(
                "--sim",
                help="Start the built-in simulated exchange and connect to it (no account, no network).",
                rich_help_panel=CONN,
            ),
        ],
        False,
    ),
    (
        "replay",
        Annotated[
            list[Path] | None,
            typer.Option(
                "--replay",
                metavar="FILE|DIR",
                help="Serve a recording ('kalshi record' or 'tail --json' NDJSON, .gz "
                "too; a directory means its files in name order) in-process and connect to it; "
                "ends with the recording.",
                rich_help_panel=CONN,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "replay_speed",
        Annotated[
            str,
            typer.Option(
                "--replay-speed",
                metavar="N|max",
                help="With --replay: N times the recorded pace, or max.",
                rich_help_panel=CONN,
            ),
        ],
        "1",
    ),
    (
        "key_id",
        Annotated[
            str | None, typer.Option("--key-id", help="API key id (env KALSHI_API_KEY_ID).", rich_help_panel=CONN)
        ],
        None,
    ),
    (
        "private_key",
        Annotated[
            str | None,
            typer.Option(
                "--private-key",
                metavar="PATH",
                help="PEM private key file (env KALSHI_PRIVATE_KEY_PATH, or KALSHI_PRIVATE_KEY holding the PEM text).",
                rich_help_panel=CONN,
            ),
        ],
        None,
    ),
    (
        "profile",
        Annotated[
            str | None,
            typer.Option(
                "--profile",
                envvar="KALSHI_PROFILE",
                help="Profile in ~/.config/kalshi/config.toml.",
                rich_help_panel=CONN,
                show_envvar=True,
            ),
        ],
        None,
    ),
    (
        "trust_host",
        Annotated[
            bool,
            typer.Option(
                "--trust-host",
                envvar="KALSHI_TRUST_HOST",
                help="Send signed headers to a host that is neither Kalshi's nor loopback.",
                rich_help_panel=CONN,
            ),
        ],
        False,
    ),
    (
        "stale_after",
        Annotated[
            float,
            typer.Option(
                "--stale-after",
                metavar="SECONDS",
                help="Reconnect after this long with no data or heartbeat.",
                rich_help_panel=CONN,
                min=0.1,
            ),
        ],
        30.0,
    ),
    (
        "quiet",
        Annotated[
            bool,
            typer.Option(
                "--quiet",
                "-q",
                help="No status lines on stderr (warnings and errors still show).",
                rich_help_panel=CONN,
            ),
        ],
        False,
    ),
]


def connection_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the connection flags to ``func``'s CLI signature; ``func`` gets them as ``conn``."""
    hints = typing.get_type_hints(func, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation))
        for p in inspect.signature(func).parameters.values()
        if p.name != "conn"
    ]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, annotation, default in _OPTIONS
    ]
    names = [name for name, _, _ in _OPTIONS]

    def wrapper(**kwargs: Any) -> Any:
        conn = ConnectionArgs(**{n: kwargs.pop(n) for n in names})
        return func(conn=conn, **kwargs)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    wrapper.__module__ = func.__module__
    return wrapper


@dataclass
class StreamContext:
    """What a streaming command needs: where to connect and how to sign."""

    endpoint: Endpoint
    credentials: Credentials | None
    reporter: Reporter
    sim: Any = None  # the in-process SimServer with --sim

    def signer(self) -> Callable[[], dict[str, str]] | None:
        creds = self.credentials
        if creds is None:
            return None
        from kalshi_cli.auth import auth_headers

        return lambda: auth_headers(creds.key_id, creds.key)


def _ask_password(prompt: str) -> str | None:
    if not sys.stdin.isatty() or not sys.stderr.isatty():
        return None
    import getpass

    return getpass.getpass(prompt, stream=sys.stderr)


def load_credentials(conn: ConnectionArgs, reporter: Reporter) -> Credentials | None:
    creds = resolve_credentials(
        key_id_flag=conn.key_id,
        key_path_flag=conn.private_key,
        profile_name=conn.profile,
        environ=os.environ,
        ask_password=_ask_password,
        warn=reporter.warn,
    )
    if creds:
        for note in creds.notes:
            reporter.warn(note)
    return creds


@contextlib.asynccontextmanager
async def open_context(conn: ConnectionArgs, *, need_key: bool = False) -> AsyncIterator[StreamContext]:
    """Resolve endpoint and key (starting the simulator for ``--sim``) for one command run."""
    reporter = Reporter(quiet=conn.quiet)
    from kalshi_cli.config import select_profile

    profile = select_profile(conn.profile, os.environ)
    creds = load_credentials(conn, reporter)
    if conn.replay:
        if conn.url or conn.sim:
            raise UsageError("--replay names a server, like --sim and --url; use one of them")
        from kalshi_cli.sim.replay import ReplayServer, parse_speed, scan

        speed = parse_speed(conn.replay_speed)
        replay = ReplayServer(scan(list(conn.replay), reporter.warn), speed=speed)
        url = await replay.start()
        reporter.info(f"replaying {replay.recording.frames} frames at {url}")
        try:  # unsigned: the replay server accepts any client
            yield StreamContext(Endpoint(url, rest_from_ws(url), "sim"), None, reporter, replay)
        finally:
            await replay.stop()
        return
    if conn.sim:
        if conn.url:
            raise UsageError("--sim and --url both name a server; use one")
        from kalshi_cli.sim import SimServer

        if creds is None:
            creds = _ephemeral_credentials()
        server = SimServer(public_key_pem=_public_pem(creds.key))
        url = await server.start()
        reporter.info(f"simulated exchange at {url} (markets: {', '.join(server.tickers)})")
        try:
            yield StreamContext(Endpoint(url, rest_from_ws(url), "sim"), creds, reporter, server)
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
        raise UsageError(
            "no API key configured; Kalshi needs a signed connection. Give one with --key-id ID "
            "--private-key PATH, or set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH, or create a "
            "profile with 'kalshi config init'. (Try --sim to use the built-in simulator.)"
        )
    yield StreamContext(endpoint, creds, reporter)


def _ephemeral_credentials() -> Credentials:
    """A throwaway in-memory key for ``--sim`` runs without an account."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Credentials("sim-local-key", key, "a throwaway key for the simulator")


def _public_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
