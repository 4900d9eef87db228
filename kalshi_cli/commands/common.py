"""The connection flags every connecting command shares, added to its signature once.

``connection_options`` adds them (like sqlite-utils' ``output_options``) and hands the
command one ``feeds.context.ConnectionArgs``, which ``feeds.context.open_context`` resolves.
``feeds`` is imported only when the command runs, so a command's ``--help`` stays light.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kalshi_cli.completers import complete_color, complete_env, complete_ticker

if TYPE_CHECKING:
    pass

__all__ = [
    "AllInSeriesOption",
    "BusDurableOption",
    "BusSinceOption",
    "BusSourceOption",
    "ContinuityOption",
    "OnceOption",
    "RedundantOption",
    "SeededJsonOption",
    "SeededMarketsOption",
    "StatsOption",
    "connection_options",
    "market_option",
]


def market_option(help_text: str) -> Any:
    """``--market/-m TICKER``, repeatable, completed from the local ticker cache."""
    return typer.Option("--market", "-m", metavar="TICKER", help=help_text, autocompletion=complete_ticker)


#: ``--once`` of the seeded private tables (positions, orders): the REST load, then exit 0.
OnceOption = Annotated[
    bool,
    typer.Option("--once", help='Print the table as loaded (with --json: its lines, "seed": true) and exit.'),
]

#: ``-m`` and ``--json`` of the seeded private tables (positions, orders), declared once for both.
SeededMarketsOption = Annotated[list[str] | None, market_option("Only these markets (repeat for several).")]
SeededJsonOption = Annotated[
    bool,
    typer.Option("--json", help="NDJSON (the default when stdout is not a terminal): seed rows, then live frames."),
]

CONN = "Connection"

#: Options shared by tail, book and record, declared once here.
AllInSeriesOption = Annotated[
    bool,
    typer.Option(
        "--all-in-series",
        help="Let a series ticker expand to every market of its open events (it can be hundreds).",
    ),
]
RedundantOption = Annotated[
    int,
    typer.Option(
        "--redundant",
        metavar="N",
        min=1,
        help="N independent connections carrying the same subscriptions, merged so each exchange event "
        "appears once, in order: a dropped connection loses nothing.",
    ),
]
ContinuityOption = Annotated[
    bool,
    typer.Option(
        "--continuity",
        help='With --json: a line {"kalshi_cli.continuity": ...} of its own on each gap, reconnect and '
        "resync, so a consumer knows when not to trust the stream.",
    ),
]
StatsOption = Annotated[
    bool,
    typer.Option(
        "--stats",
        help="At the end, how old the data was on stderr: age_ms (receive time minus the frame's "
        "sending_ts_ms), p50/p99/max per channel.",
    ),
]
BusSourceOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="nats://HOST:PORT/STREAM",
        help="Read a NATS JetStream stream written by 'kalshi record --sink' instead of connecting to Kalshi.",
        show_default=False,
    ),
]
BusDurableOption = Annotated[
    str | None,
    typer.Option("--durable", metavar="NAME", help="With --from: a durable consumer that resumes where it stopped."),
]
BusSinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        metavar="TIME",
        help="With --from: start at this time (ISO 8601 UTC, or an age such as 10m, 2h).",
    ),
]


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
                autocompletion=complete_env,
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
                help="With --replay: N times the recorded pace, or max.  [default: 1]",
                rich_help_panel=CONN,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "replay_from",
        Annotated[
            str | None,
            typer.Option(
                "--replay-from",
                metavar="TIME",
                help="With --replay: start at this time of the recording (ISO 8601, Unix ms, or +5m after "
                "its first frame), the books as they stood then.",
                rich_help_panel=CONN,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "replay_to",
        Annotated[
            str | None,
            typer.Option(
                "--replay-to",
                metavar="TIME",
                help="With --replay: stop after this time (same forms as --replay-from).",
                rich_help_panel=CONN,
                show_default=False,
            ),
        ],
        None,
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
        "connect_tries",
        Annotated[
            int | None,
            typer.Option(
                "--connect-tries",
                metavar="N",
                help="Give up (exit 4) after N failed attempts to make the first connection; once "
                "connected, drops are retried for as long as the command runs.  [default: 10; record: "
                "forever]",
                rich_help_panel=CONN,
                min=1,
                show_default=False,
            ),
        ],
        None,
    ),
    (
        "color",
        Annotated[
            str,
            typer.Option(
                "--color",
                metavar="auto|always|never",
                help="Colour on a terminal (auto: unless NO_COLOR is set or TERM=dumb).",
                rich_help_panel=CONN,
                autocompletion=complete_color,
            ),
        ],
        "auto",
    ),
    (
        "transport",
        Annotated[
            str,
            typer.Option(
                "--transport",
                metavar="auto|websockets|picows",
                envvar="KALSHI_TRANSPORT",
                help="The WebSocket library (auto: picows when the [fast] extra is installed, else websockets).",
                rich_help_panel=CONN,
                show_envvar=True,
            ),
        ],
        "auto",
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
    # ``conn: ConnectionArgs`` is a TYPE_CHECKING name in the command's module; it is dropped below.
    hints = typing.get_type_hints(func, localns={"ConnectionArgs": Any}, include_extras=True)
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
        from kalshi_cli.feeds.context import ConnectionArgs

        conn = ConnectionArgs(**{n: kwargs.pop(n) for n in names})
        conn.check()  # before the command does anything (e.g. creates record's directory)
        return func(conn=conn, **kwargs)

    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + added
    wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    wrapper.__module__ = func.__module__
    return wrapper
