"""The ``kalshi`` command: a Typer app of thin commands, and the one error boundary.

Commands live in ``kalshi_cli/commands/``; this module lists them and turns every failure
into one line on stderr and an exit status (``status.ExitStatus``). Tracebacks are shown
only with ``KALSHI_TRACEBACK=1``, and never with local variables (keys live there).

Startup is kept short: a command's module (and what it pulls in: asyncio, websockets, rich)
is imported only when that command runs, completes or shows its help. ``kalshi --help``
lists the commands from ``COMMANDS`` without importing any of them; all help is in click's
plain format (rich's help renderer alone costs more than the rest of startup), examples
printed as written. Usage errors from the parser are one line like the tool's own, with a
suggestion only when it is a typo or an abbreviation away.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import typer
from typer._click import Command as ClickCommand  # typer vendors click (pinned <0.27)
from typer.core import TyperCommand, TyperGroup
from typer.main import get_command_from_info, get_group
from typer.models import CommandInfo

from kalshi_cli import __version__
from kalshi_cli.errors import KalshiCliError
from kalshi_cli.startup import startup_done
from kalshi_cli.status import ExitStatus

__all__ = ["COMMANDS", "app", "main"]

# name -> ("module:attribute", summary). The summary is the first line of the command's help
# (tests/test_docs.py checks that they agree); an attribute is a command function or a Typer group.
COMMANDS: dict[str, tuple[str, str]] = {
    "markets": (
        "kalshi_cli.commands.markets:markets",
        "Find markets: by words, series, event or status; a table on a terminal, NDJSON into a pipe.",
    ),
    "book": ("kalshi_cli.commands.book:book", "Watch live order books: exact, self-healing, several markets at once."),
    "tail": ("kalshi_cli.commands.tail:tail", "Stream channels: readable lines on a terminal, NDJSON into a pipe."),
    "fills": (
        "kalshi_cli.commands.fills:fills",
        "Your fills as they happen, each exactly once, even across reconnects.",
    ),
    "positions": (
        "kalshi_cli.commands.positions:positions",
        "Your positions per market (position, cost, realized P&L, fees), live.",
    ),
    "orders": (
        "kalshi_cli.commands.orders:orders",
        "Your resting orders, live: fills, cancels and amendments as they happen.",
    ),
    "sign": (
        "kalshi_cli.commands.sign:sign",
        "Print the three KALSHI-ACCESS-* headers for a request, for curl, websocat or debugging.",
    ),
    "sim": (
        "kalshi_cli.commands.sim:sim",
        "Run the simulated Kalshi exchange; prints its ws:// URL first, serves until stopped.",
    ),
    "record": (
        "kalshi_cli.commands.record:record",
        "Record channels to rotating NDJSON files, for backtests and offline replay.",
    ),
    "replay": (
        "kalshi_cli.commands.replay:replay",
        "Serve recordings as a Kalshi endpoint; prints its ws:// URL first.",
    ),
    "export": (
        "kalshi_cli.commands.export:export",
        "Turn recordings into Parquet or CSV tables: trades, book tops, snapshots, continuity.",
    ),
    "completion": ("kalshi_cli.commands.completion:completion", "Print the completion script for SHELL."),
    "config": (
        "kalshi_cli.commands.config:config_app",
        "Set up and inspect API key profiles (~/.config/kalshi/config.toml).",
    ),
}


def _build(name: str) -> ClickCommand:
    """Import command ``name`` and build its click command, as ``app.command()`` would have."""
    module, _, attr = COMMANDS[name][0].partition(":")
    obj = getattr(importlib.import_module(module), attr)
    startup_done()  # a signal that came while importing ends the run here, cleanly
    if isinstance(obj, typer.Typer):
        command: ClickCommand = get_group(obj)
    else:
        info = CommandInfo(name=name, cls=TyperCommand, callback=obj)
        command = get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=None)
    _plain_help(command)
    return command


def _plain_help(command: ClickCommand) -> None:
    """click's plain help, not rich's (typer.rich_utils and rich.markdown cost ~100 ms per
    --help), with examples kept as written; a group's subcommands too."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    command.help = keep_examples(command.help)
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def keep_examples(text: str | None) -> str | None:
    """Mark each indented paragraph (an example command line) for click to print as written: a
    rewrapped example breaks when pasted (``| jq`` on one line, its filter on the next)."""
    if not text:
        return text
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join("\b\n" + p if p.startswith("  ") else p for p in paragraphs)


class _LazyCommands(Mapping[str, ClickCommand]):
    """The root group's commands by name; each is imported and built on first access."""

    def __init__(self) -> None:
        self._built: dict[str, ClickCommand] = {}

    def __getitem__(self, name: str) -> ClickCommand:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _build(name)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class LazyGroup(TyperGroup):
    """The root group: lists, suggests and completes command names from ``COMMANDS``, and builds
    a command (importing its module) only when it is resolved."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _LazyCommands()  # type: ignore[assignment]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            # `kalshi` alone: the help on stdout and status 2, as rich help (`kalshi config`) does
            typer.echo(ctx.get_help())
            ctx.exit(2)
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, summary) for name, (_, summary) in COMMANDS.items()])

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        from typer._click.shell_completion import CompletionItem
        from typer._click.utils import make_default_short_help

        # what click's Group offers (the help shortened as get_short_help_str does), unimported
        items = [
            CompletionItem(name, help=make_default_short_help(summary))
            for name, (_, summary) in COMMANDS.items()
            if name.startswith(incomplete)
        ]
        return items + ClickCommand.shell_complete(self, ctx, incomplete)


app = typer.Typer(
    name="kalshi",
    cls=LazyGroup,
    help=(
        "Stream Kalshi's WebSocket API from a terminal: tail any channel, watch live order "
        "books, follow your fills, debug your API keys. Try it with no account: "
        "kalshi tail trade --sim"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,  # plain top-level help: no rich import (each command's own help is rich)
    pretty_exceptions_enable=False,
    # 100: the summaries fit on one line each on a terminal that wide (click's default caps at 80)
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        print(f"kalshi-cli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Kalshi WebSocket streaming tool."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, map errors to one stderr line and an exit status."""
    status = _run(argv)
    sys.exit(int(status))


def _run(argv: list[str] | None) -> int:
    try:
        result = app(args=argv, prog_name="kalshi", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except _output_closed():
        _silence_stdout()
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
        _silence_stdout()
        return ExitStatus.SUCCESS
    except Exception as exc:  # the boundary: anything else is our bug, still one line
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):  # from typer's click parser (vendored or not)
            if type(exc).__name__ == "NoArgsIsHelpError":
                show()  # `kalshi config` alone: its help, as asked
            else:
                _say(f"kalshi: error: {usage_message(exc)}")
            return code
        if os.environ.get("KALSHI_TRACEBACK"):
            raise
        text = str(exc).splitlines()[0][:200] if str(exc) else ""
        _say(f"kalshi: internal error: {type(exc).__name__}: {text} (set KALSHI_TRACEBACK=1 for details)")
        return ExitStatus.ERROR


def usage_message(exc: Exception) -> str:
    """A click usage error as the tool's one line: ``no such option --output``, with a
    ``(did you mean --count?)`` only when one name is that close, and the usage for a missing
    argument (click's own suggestions, any option sharing three letters, mislead)."""
    ctx = getattr(exc, "ctx", None)
    kind = type(exc).__name__
    if kind == "NoSuchOption":
        name = str(getattr(exc, "option_name", ""))
        command = getattr(ctx, "command", None)
        names = [o for p in getattr(command, "params", []) for o in (*p.opts, *p.secondary_opts)]
        return f"no such option {name}" + _did_you_mean(name, [*names, "--help"])
    format_message = getattr(exc, "format_message", None)
    text = str(format_message() if callable(format_message) else exc).strip().rstrip(".")
    text = text[:1].lower() + text[1:]
    if text.startswith("no such command"):
        wanted = text.split("'")[1] if text.count("'") >= 2 else ""
        return f"no such command {wanted!r}" + (_did_you_mean(wanted, list(COMMANDS)) or " (kalshi --help lists them)")
    if kind == "MissingParameter" and ctx is not None:
        return f"{text} (usage: {ctx.get_usage().removeprefix('Usage: ')})"
    return text


def _did_you_mean(name: str, candidates: list[str]) -> str:
    """`` (did you mean X?)`` when a candidate is a typo away or ``name`` abbreviates it (two or three:
    ``X or Y``, the closest first; more say nothing useful)."""
    bare = name.lstrip("-")
    close = set()
    for candidate in candidates:
        other = candidate.lstrip("-")
        if not bare or candidate.startswith("--") != name.startswith("--"):
            continue
        if len(bare) >= 3 and other.startswith(bare) or _distance(bare, other) <= (1 if len(other) <= 5 else 2):
            close.add(candidate)
    if not close or len(close) > 3:
        return ""
    ranked = sorted(close, key=lambda c: (_distance(bare, c.lstrip("-")), c))
    return f" (did you mean {' or '.join(ranked)}?)"


def _distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) from ``a`` to ``b``."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            cost = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, prev2[j - 2] + 1)
            row.append(cost)
        prev2, prev = prev, row
    return prev[-1]


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        _silence_stdout()


def _output_closed() -> type[Exception] | tuple[()]:
    """``output.OutputClosed``, or nothing to catch if no command imported ``kalshi_cli.output``
    (it imports asyncio, which ``--help`` and ``sign`` do not otherwise need)."""
    output = sys.modules.get("kalshi_cli.output")
    return output.OutputClosed if output is not None else ()


def _silence_stdout() -> None:
    from kalshi_cli.output import silence_stdout

    silence_stdout()


def _say(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
