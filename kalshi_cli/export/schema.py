"""The tables ``kalshi export`` writes: names, columns and column kinds (docs/EXPORT.md).

Pure data. A row is a tuple in column order; each kind says how a value is held in memory and
written: times are Unix ms (``ts``: a UTC timestamp with ms precision), money and sizes are
exact scaled integers (``price`` 1e-4 dollars, ``size`` 1e-2 contracts, ``micro`` 1e-6
dollars), written as Parquet decimals or as exact decimal strings in CSV, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "PLACES", "TABLES", "Column", "TableSpec", "table_names"]

#: kind -> what it holds: ts (int ms), str, int, bool, price/size/micro (scaled int), list (of str), json (str).
KINDS = ("ts", "str", "int", "bool", "price", "size", "micro", "list", "json")
#: decimal places of each scaled-integer kind (the exact decimals Kalshi sends, fixed.py).
PLACES = {"price": 4, "size": 2, "micro": 6}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    about: str

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _spec(name: str, about: str, columns: str) -> TableSpec:
    cols = tuple(Column(*pair.split(":")) for pair in columns.split())
    for col in cols:
        assert col.kind in KINDS, col
    return TableSpec(name, cols, about)


# Every table but continuity starts with ts (exchange time, or the best time the frame carries)
# and recv_ts (local receive time, from recv_ts_ms; null in a 'tail --json' capture; for
# book_snapshots, that of the frame that reached the instant).
TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        _spec(
            "trades",
            "every public trade once (by trade_id)",
            "ts:ts recv_ts:ts market:str trade_id:str taker_side:str taker_book_side:str yes_price:price "
            "no_price:price count:size is_block_trade:bool backfill:bool sid:int seq:int",
        ),
        _spec(
            "book_top",
            "best YES bid and ask after every exchange action that changed them, from a live book only",
            "ts:ts recv_ts:ts market:str clock:int seq:int bid:price bid_size:size ask:price ask_size:size "
            "spread:price",
        ),
        _spec(
            "book_snapshots",
            "the top --depth levels of each live book every --every, one row per level",
            "ts:ts recv_ts:ts updated_ts:ts market:str clock:int seq:int side:str level:int price:price size:size",
        ),
        _spec(
            "deltas",
            "every recorded book frame as it came: a row per delta, a row per snapshot level",
            "ts:ts recv_ts:ts market:str sid:int seq:int clock:int type:str side:str price:price size:size "
            "client_order_id:str",
        ),
        _spec(
            "tickers",
            "every ticker frame",
            "ts:ts recv_ts:ts market:str price:price yes_bid:price yes_ask:price yes_bid_size:size "
            "yes_ask_size:size last_trade_size:size volume:size open_interest:size dollar_volume:int "
            "dollar_open_interest:int",
        ),
        _spec(
            "lifecycle",
            "market and event lifecycle frames, their whole msg kept as JSON",
            "ts:ts recv_ts:ts type:str market:str event_ticker:str event_type:str result:str "
            "settlement_value:price msg:json",
        ),
        _spec(
            "fills",
            "your fills (private channel fill)",
            "ts:ts recv_ts:ts market:str trade_id:str order_id:str client_order_id:str outcome_side:str "
            "book_side:str action:str is_taker:bool yes_price:price count:size fee_cost:micro "
            "post_position:size backfill:bool",
        ),
        _spec(
            "orders",
            "your order updates (private channel user_orders)",
            "ts:ts recv_ts:ts market:str order_id:str client_order_id:str status:str outcome_side:str "
            "book_side:str yes_price:price initial_count:size fill_count:size remaining_count:size "
            "taker_fill_cost:micro maker_fill_cost:micro taker_fees:micro maker_fees:micro "
            "last_update_reason:str",
        ),
        _spec(
            "positions",
            "your position updates (private channel market_positions)",
            "ts:ts recv_ts:ts market:str position:size position_cost:micro realized_pnl:micro fees_paid:micro "
            "position_fee_cost:micro volume:size",
        ),
        _spec(
            "continuity",
            "one row per connect, disconnect, gap, resubscribe, reconnect, stale and fresh book: when to doubt what",
            "ts:ts from_ts:ts until_ts:ts event:str connection:int channel:str sid:int missing:int "
            "markets:list reason:str source:str",
        ),
    )
}


def table_names() -> list[str]:
    return list(TABLES)
