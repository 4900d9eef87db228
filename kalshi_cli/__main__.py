"""`python -m kalshi_cli` runs the CLI."""

from kalshi_cli.cli import main

main()
