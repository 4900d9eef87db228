"""``kalshi completion SHELL``: print the shell completion script (the files in completions/)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

__all__ = ["completion"]


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def completion(shell: Annotated[Shell, typer.Argument(help="bash, zsh or fish.")]) -> None:
    """Print the completion script for SHELL.

    Examples:

      kalshi completion bash > ~/.local/share/bash-completion/completions/kalshi

      kalshi completion zsh > "${fpath[1]}/_kalshi"

      kalshi completion fish > ~/.config/fish/completions/kalshi.fish
    """
    # Typer's own generator, given the shell explicitly (--show-completion only detects it).
    from typer._completion_shared import get_completion_script

    print(get_completion_script(prog_name="kalshi", complete_var="_KALSHI_COMPLETE", shell=shell.value))
