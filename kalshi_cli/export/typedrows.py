"""What a pass does with a typed frame (``typed``): the same rows and book steps as the dict path.

Each handler takes the Struct, its ``msg`` Struct, ``ts``, ``recv`` and ``rt`` (as ``stream``
computes them for every frame) and does what ``frames.FrameRows`` or ``books.Books`` do with the
dict of that line: the same cells from the same fields (a field absent or null is None in both),
so a table is the same with msgspec and without it. A typed delta reaches the book as the small
dict ``OrderBook.apply_delta`` reads (a frame dict is built only when ``Books.frame`` needs one),
after its deltas row when the book pass writes that table too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kalshi_cli.export.books import Books
from kalshi_cli.export.frames import FrameRows
from kalshi_cli.export.typed import frame_classes
from kalshi_cli.export.values import PRICES, SIZES, total
from kalshi_cli.fixed import CENT, ONE_CONTRACT
from kalshi_cli.protocol import ORDERBOOK_DELTA

__all__ = ["Handler", "typed_handlers"]

Handler = Callable[[Any, Any, int, Any, int], None]


def _ignore(frame: Any, msg: Any, ts: int, recv: Any, rt: int) -> None:
    """A frame the pass reads for its time and seq alone."""


def typed_handlers(kinds: list[str], books: Books, rows: FrameRows) -> dict[type, Handler]:
    """Struct class -> handler, for the decoder's ``kinds`` (``typed.decoder``)."""
    classes = frame_classes()
    assert classes is not None
    made = {"delta": _book_delta(books) if books.build else _delta_row(books)}
    tables = rows.tables
    if "tickers" in tables:
        made["ticker"] = _ticker_row(rows)
    if "trades" in tables:
        made["trade"] = _trade_row(rows)
    return {classes[kind]: made.get(kind, _ignore) for kind in kinds}


def _book_delta(books: Books) -> Handler:
    """A delta to its book (and its deltas row first, when the pass writes that table too)."""
    frame = books.frame
    books.delta_handler()  # (sets apply_known: the closure over the book maps)
    applied = books.apply_known
    assert applied is not None
    known, only = books.set.books, books.only
    rows = books.deltas.append if books.deltas is not None else None

    def delta(d: Any, m: Any, ts: int, recv: Any, rt: int) -> None:
        ticker = m.market_ticker
        msg = {
            "market_ticker": ticker,
            "price_dollars": m.price_dollars,
            "delta_fp": m.delta_fp,
            "side": m.side,
            "clock": m.clock,
            "price": m.price,
            "delta": m.delta,
            "client_order_id": m.client_order_id,
        }
        sid = d.sid
        book = known.get(ticker) if ticker is not None else None
        if book is None or sid is None:  # (``frame`` writes its deltas row itself)
            frame({"type": ORDERBOOK_DELTA, "sid": sid, "seq": d.seq, "msg": msg}, ORDERBOOK_DELTA, msg, ts, recv, rt)
            return
        if rows is not None and (only is None or ticker in only):  # (as ``_delta_row``, inline: the hottest row)
            price = PRICES[m.price_dollars]
            size = SIZES[m.delta_fp]
            if price is None or size is None:
                price, size = _legacy(m, price, size)
            rows((ts, recv, ticker, sid, d.seq, m.clock, "delta", m.side, price, size, m.client_order_id))
        applied(book, sid, d.seq, msg, ts, recv, rt, None)

    return delta


def _legacy(m: Any, price: int | None, size: int | None) -> tuple[int | None, int | None]:
    """A pre-2026 delta's integer cents and contract count, where the fixed-point strings are missing."""
    if price is None and m.price is not None:
        price = m.price * CENT
    if size is None and m.delta is not None:
        size = m.delta * ONE_CONTRACT
    return price, size


def _delta_row(books: Books) -> Handler:
    only = books.only
    if books.deltas is None:
        return _ignore
    append = books.deltas.append

    def delta_row(d: Any, m: Any, ts: int, recv: Any, rt: int) -> None:
        """A typed delta's deltas row, as ``Books.frame`` and ``Books.delta_row_handler`` write it (inline:
        a call fewer on the other pass's hottest row)."""
        ticker = m.market_ticker
        if ticker is not None and only is not None and ticker not in only:
            return
        price = PRICES[m.price_dollars]
        size = SIZES[m.delta_fp]
        if price is None or size is None:
            price, size = _legacy(m, price, size)
        append((ts, recv, ticker, d.sid, d.seq, m.clock, "delta", m.side, price, size, m.client_order_id))

    return delta_row


def _ticker_row(rows: FrameRows) -> Handler:
    only = rows.only
    append = rows.tables["tickers"].append

    def ticker(t: Any, m: Any, ts: int, recv: Any, rt: int) -> None:
        market = m.market_ticker
        if only is not None and market not in only:
            return
        append(
            (
                ts,
                recv,
                market,
                PRICES[m.price_dollars],
                PRICES[m.yes_bid_dollars],
                PRICES[m.yes_ask_dollars],
                SIZES[m.yes_bid_size_fp],
                SIZES[m.yes_ask_size_fp],
                SIZES[m.last_trade_size_fp],
                total(m.volume_fp),
                total(m.open_interest_fp),
                m.dollar_volume,
                m.dollar_open_interest,
            )
        )

    return ticker


def _trade_row(rows: FrameRows) -> Handler:
    only = rows.only
    add = rows.add_trade

    def trade(t: Any, m: Any, ts: int, recv: Any, rt: int) -> None:
        market = m.market_ticker
        if only is not None and market not in only:
            return
        trade_id = m.trade_id
        row = (
            ts,
            recv,
            market,
            trade_id,
            m.taker_outcome_side or m.taker_side,
            m.taker_book_side,
            PRICES[m.yes_price_dollars],
            PRICES[m.no_price_dollars],
            SIZES[m.count_fp],
            m.is_block_trade,
            t.backfill is True,
            t.sid,
            t.seq,
        )
        add(trade_id, ts, row)

    return trade
