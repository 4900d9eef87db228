"""Advice the tool gives in more than one place, written once."""

from __future__ import annotations

__all__ = ["API_KEY_HINT", "REDIRECT_HINT"]

#: How to configure an API key; follows "no API key configured: " or similar.
API_KEY_HINT = (
    "give one with --key-id ID --private-key PATH, or set KALSHI_API_KEY_ID and "
    "KALSHI_PRIVATE_KEY_PATH, or create a profile with 'kalshi config init'"
)

#: Why a redirect (HTTP 3xx) was not followed; follows "answered HTTP 302 -> URL; ".
REDIRECT_HINT = "not followed: signed requests go only to the trusted hosts"
