"""kalshi-cli: a command-line streaming tool for Kalshi's WebSocket API."""

__version__ = "0.1.0"
