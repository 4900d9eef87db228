"""What a fill or an order did, in the trader's words: ``sell YES @ 0.4600``, ``buy NO @ 0.5400``.

Kalshi's ``outcome_side`` says which way the position moved (selling YES moves it to NO), and
``yes_price_dollars`` is the YES leg's price even for a NO trade. A trader thinks in the order
they placed: the (deprecated, still sent) ``action`` and ``side`` when present, else buying the
outcome side, at that side's own price.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from kalshi_cli.portfolio import fill_outcome, to_decimal

__all__ = ["side_price", "trade_words"]


def trade_words(msg: Mapping[str, Any]) -> tuple[str, str]:
    """(``buy``/``sell``, ``yes``/``no``) as the order was placed."""
    action, side = str(msg.get("action") or ""), msg.get("side")
    if side in ("yes", "no") and (action == "buy" or action.startswith("sell")):
        return ("sell" if action.startswith("sell") else "buy"), str(side)
    return "buy", fill_outcome(msg)


def side_price(msg: Mapping[str, Any], side: str) -> Decimal | None:
    """The price of ``side`` itself: a NO at yes 0.4400 costs 0.5600."""
    yes = to_decimal(msg.get("yes_price_dollars"))
    if yes is None:
        return None
    return Decimal(1) - yes if side == "no" else yes
