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
from kalshi_cli.render.fit import shorten_middle

__all__ = ["count_text", "order_change", "side_price", "trade_words"]

#: Cells for the ticker in an orders log line, so its numbers fit 80 columns.
TICKER_CELLS = 16


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


def count_text(value: Any, missing: str = "—") -> str:
    """A contract count exactly, without trailing zeros: ``42``, ``95.5``."""
    d = to_decimal(value)
    if d is None:
        return missing
    text = f"{d:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def order_change(msg: Mapping[str, Any], what: str, clock: str) -> str:
    """One line of the orders log: ``14:05:12  filled    KXHIGHNY…-B84.5 buy NO @ 0.5600 10/10
    (my-order-7)``: filled/ordered, then what is left, the price the side's own."""
    verb, side = trade_words(msg)
    price = side_price(msg, side)
    left = to_decimal(msg.get("remaining_count_fp"))
    # the numbers must fit 80 columns: the ticker gives way (from the middle), the order id goes last
    ticker = shorten_middle(str(msg.get("ticker", "?")), TICKER_CELLS - max(0, len(what) - 9))
    return (
        f"{clock}  {what:<9} {ticker} {verb} {side.upper()} @ "
        f"{'?' if price is None else f'{price:.4f}'} {count_text(msg.get('fill_count_fp'), '?')}/"
        f"{count_text(msg.get('initial_count_fp'), '?')}"
        + (f", {count_text(left)} left" if left else "")
        + f"  ({msg.get('client_order_id') or msg.get('order_id')})"
    )
