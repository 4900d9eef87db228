"""One module per command; ``cli.py`` registers them on the Typer app."""
