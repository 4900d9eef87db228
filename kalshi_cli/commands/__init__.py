"""One module per command, each thin: typer options -> a settings dataclass -> ``feed.run``
(the streaming commands' logic lives in ``kalshi_cli/feeds/``); ``cli.COMMANDS`` lists them."""
