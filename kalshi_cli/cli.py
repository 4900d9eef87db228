"""The ``kalshi`` command: a Typer app of thin commands, and the one error boundary.

Commands live in ``kalshi_cli/commands/``; this module registers them and turns every
failure into one line on stderr and an exit status (``status.ExitStatus``). Tracebacks are
shown only with ``KALSHI_TRACEBACK=1``, and never with local variables (keys live there).
"""

from __future__ import annotations

import os
import sys

import typer

from kalshi_cli import __version__
from kalshi_cli.commands.book import book
from kalshi_cli.commands.completion import completion
from kalshi_cli.commands.config import config_app
from kalshi_cli.commands.fills import fills
from kalshi_cli.commands.orders import orders
from kalshi_cli.commands.positions import positions
from kalshi_cli.commands.record import record
from kalshi_cli.commands.replay import replay
from kalshi_cli.commands.sign import sign
from kalshi_cli.commands.sim import sim
from kalshi_cli.commands.tail import tail
from kalshi_cli.errors import KalshiCliError
from kalshi_cli.output import OutputClosed, silence_stdout
from kalshi_cli.status import ExitStatus

__all__ = ["app", "main"]

app = typer.Typer(
    name="kalshi",
    help=(
        "Stream Kalshi's WebSocket API from a terminal: tail any channel, watch live order "
        "books, follow your fills, debug your API keys. Try it with no account: "
        "kalshi tail trade --sim"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"kalshi-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Kalshi WebSocket streaming tool."""


app.command()(book)
app.command()(tail)
app.command()(fills)
app.command()(positions)
app.command()(orders)
app.command()(sign)
app.command()(sim)
app.command()(record)
app.command()(replay)
app.command()(completion)
app.add_typer(config_app, name="config")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, map errors to one stderr line and an exit status."""
    status = _run(argv)
    sys.exit(int(status))

def _run(argv: list[str] | None) -> int:
    try:
        result = app(args=argv, prog_name="kalshi", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except OutputClosed:
        silence_stdout()
        return ExitStatus.SUCCESS
    except KalshiCliError as exc:
        _flush_stdout()
        _say(f"kalshi: error: {exc}")
        return exc.status
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        _flush_stdout()
        _say("kalshi: interrupted")
        return ExitStatus.CTRL_C
    except BrokenPipeError:
        silence_stdout()
        return ExitStatus.SUCCESS
    except Exception as exc:  # the boundary: anything else is our bug, still one line
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()  # a usage error from typer's click parser (vendored or not, by typer version)
            return code
        if os.environ.get("KALSHI_TRACEBACK"):
            raise
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        _say(f"kalshi: internal error: {type(exc).__name__}: {text} (set KALSHI_TRACEBACK=1 for details)")
        return ExitStatus.ERROR


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        silence_stdout()


def _say(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
