"""Advice the tool gives in more than one place, written once."""

from __future__ import annotations

__all__ = ["API_KEY_HINT"]

#: How to configure an API key; follows "no API key configured: " or similar.
API_KEY_HINT = (
    "give one with --key-id ID --private-key PATH, or set KALSHI_API_KEY_ID and "
    "KALSHI_PRIVATE_KEY_PATH, or create a profile with 'kalshi config init'"
)
