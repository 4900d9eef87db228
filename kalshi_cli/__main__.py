"""`python -m kalshi_cli` runs the CLI."""

from kalshi_cli.entry import main

main()
