"""The protocol engine for one WebSocket connection, with no I/O (KALSHI_WS.md §4-§7, §9).

``handle_text`` answers a client command; ``on_events`` turns exchange events into the data
frames this connection's subscriptions should see. Both return frame dicts in sending
order with the envelope keys first (``type``, ``id``, ``sid``, ``seq``, ``msg``); the server
only encodes and writes them. sids and seqs live here, so they restart with each connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kalshi_cli.fixed import ONE_DOLLAR, format_price, parse_price
from kalshi_cli.protocol import (
    CHANNELS,
    ERROR_TEXTS,
    ORDERBOOK_DELTA,
    ORDERBOOK_SNAPSHOT,
    TICKER,
    ChannelInfo,
    channel_of_type,
)

from .model import Event
from .params import Params, Reject, check_shards, flag, is_int, strings
from .params import ids as ids_of
from .params import tickers as tickers_of
from .source import MarketSource

__all__ = ["Connection", "Frame", "Reject", "Sub"]

Frame = dict[str, Any]

_MARKET_ACTIONS = frozenset({"add_markets", "delete_markets"})
_ACTIONS: dict[str, frozenset[str]] = {
    "required": _MARKET_ACTIONS | {"get_snapshot"},
    "optional": _MARKET_ACTIONS,
    "ids-too": _MARKET_ACTIONS,
    "none": frozenset(),
    "index_ids": frozenset({"subscribe_indices", "unsubscribe_indices", "indexlist"}),
    "underlyings": frozenset({"subscribe_underlyings", "unsubscribe_underlyings", "underlying_list"}),
}


@dataclass
class Sub:
    """One subscription: its channel, market filter and running ``seq``."""

    sid: int
    info: ChannelInfo
    tickers: dict[str, None] | None = None  # ordered set; None with ids None = all markets
    ids: dict[str, None] | None = None  # market_ids (ticker channel only)
    use_yes_price: bool = False
    skip_ticker_ack: bool = False
    keys: dict[str, None] = field(default_factory=dict)  # index_ids / underlying_tickers
    seq: int = 0
    skip: int = 0

    @property
    def channel(self) -> str:
        return self.info.name

    @property
    def all_markets(self) -> bool:
        return self.info.markets == "none" or (self.tickers is None and self.ids is None)

    def wants(self, ev: Event) -> bool:
        if self.all_markets:
            return True
        if self.tickers is not None and ev.ticker in self.tickers:
            return True
        return self.ids is not None and ev.msg.get("market_id") in self.ids


class Connection:
    """Protocol state of one connection: its subscriptions and what to send for each input."""

    def __init__(
        self,
        exchange: MarketSource,
        *,
        authenticated: bool = True,
        sending_ts: bool = True,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.exchange = exchange
        self.authenticated = authenticated
        self.sending_ts = sending_ts
        self._now = now_ms or (lambda: time.time_ns() // 1_000_000)
        self.subs: dict[int, Sub] = {}
        self._by_channel: dict[str, Sub] = {}
        self._next_sid = 1

    # --- frames ----------------------------------------------------------------------------------

    def _frame(
        self, type_: str, sub: Sub | None = None, msg: Any = None, cid: int | None = None, *, data: bool = False
    ) -> Frame:
        f: Frame = {"type": type_}
        if cid:
            f["id"] = cid
        if sub is not None:
            f["sid"] = sub.sid
            if sub.info.sequenced:
                if data:
                    sub.seq += sub.skip
                    sub.skip = 0
                sub.seq += 1
                f["seq"] = sub.seq
        if msg is not None:
            f["msg"] = msg
        if self.sending_ts:
            f["sending_ts_ms"] = self._now()
        return f

    def error(self, code: int, cid: int | None = None) -> Frame:
        return self._frame("error", msg={"code": code, "msg": ERROR_TEXTS[code]}, cid=cid)

    def _snapshot(self, sub: Sub, ticker: str, cid: int | None = None, msg: dict[str, Any] | None = None) -> Frame:
        msg = msg if msg is not None else self.exchange.snapshot_msg(ticker)
        if sub.use_yes_price and "no_dollars_fp" in msg:
            flipped = sorted((ONE_DOLLAR - parse_price(p), s) for p, s in msg["no_dollars_fp"])
            msg = {**msg, "no_dollars_fp": [[format_price(p), s] for p, s in flipped]}
        return self._frame(ORDERBOOK_SNAPSHOT, sub, msg, cid, data=cid is None)

    # --- commands --------------------------------------------------------------------------------

    def handle_text(self, text: str | bytes) -> list[Frame]:
        """Frames answering one client text frame (§5); command errors keep the socket open."""
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            return [self.error(1)]
        if not isinstance(obj, dict):
            return [self.error(1)]
        cid = obj.get("id")
        if cid is not None and (not is_int(cid) or cid < 0):
            return [self.error(1)]
        try:
            return self._command(obj, cid or None)
        except Reject as rej:
            return [self.error(rej.code, cid or None)]

    def _command(self, obj: dict[str, Any], cid: int | None) -> list[Frame]:
        cmd = obj.get("cmd")
        handlers = {"subscribe": self._subscribe, "unsubscribe": self._unsubscribe, "update_subscription": self._update}
        if cmd == "list_subscriptions":
            subs = [{"channel": s.channel, "sid": s.sid} for s in self.subs.values()]
            return [self._frame("ok", msg=subs, cid=cid)]
        if cmd not in handlers:
            raise Reject(5)
        params = obj.get("params")
        if params is None:
            raise Reject(2)
        if not isinstance(params, dict):
            raise Reject(1)
        return handlers[cmd](params, cid)

    def _subscribe(self, params: Params, cid: int | None) -> list[Frame]:
        channels = params.get("channels")
        if not channels:
            raise Reject(3)
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise Reject(1)
        if any(c not in CHANNELS for c in channels):
            raise Reject(8)
        if "communications" in channels:
            check_shards(params)
        tickers = tickers_of(params)
        if ORDERBOOK_DELTA in channels and not tickers:
            raise Reject(14)
        ids = ids_of(params)  # validated for every channel, used by ``ticker`` only
        flags = {k: flag(params, k) for k in ("use_yes_price", "skip_ticker_ack", "send_initial_snapshot")}
        keys = {
            "index_ids": strings(params, "index_ids") or [],
            "underlyings": strings(params, "underlying_tickers") or [],
        }
        out: list[Frame] = []
        for ch in channels:
            info = CHANNELS[ch]
            ch_ids = ids if info.markets == "ids-too" else None
            if info.private and not self.authenticated:
                out.append(self.error(9, cid))
                continue
            sub = self._by_channel.get(ch)
            if sub is None:
                sub = Sub(
                    self._next_sid, info, use_yes_price=flags["use_yes_price"], skip_ticker_ack=flags["skip_ticker_ack"]
                )
                self._next_sid += 1
                self.subs[sub.sid] = sub
                self._by_channel[ch] = sub
                if info.markets in ("required", "optional", "ids-too") and (tickers or ch_ids):
                    sub.tickers, sub.ids = {}, ({} if ch_ids else None)
                added = self._add(sub, tickers, ch_ids)
            elif sub.all_markets:
                added = []
            elif not tickers and not ch_ids:
                sub.tickers = sub.ids = None  # a filterless subscribe widens to all markets
                added = self.exchange.tickers
            else:
                added = self._add(sub, tickers, ch_ids)
            sub.keys.update(dict.fromkeys(keys.get(info.markets, ())))
            out.append(self._frame("subscribed", msg={"channel": ch, "sid": sub.sid}, cid=cid))
            out += self._initial(sub, added, flags["send_initial_snapshot"])
        return out

    def _add(self, sub: Sub, tickers: list[str] | None, ids: list[str] | None) -> list[str]:
        """Merge markets into a filtered sub; return the known tickers that are new to it."""
        if sub.info.markets not in ("required", "optional", "ids-too") or sub.tickers is None:
            return self.exchange.tickers if sub.info.markets in ("optional", "ids-too") else []
        new: list[str] = []
        for t in tickers or ():
            if t not in sub.tickers:
                sub.tickers[t] = None
                new.append(t)
        if sub.info.markets == "ids-too":
            for i in ids or ():
                if sub.ids is None:
                    sub.ids = {}
                if i not in sub.ids:
                    sub.ids[i] = None
                    found = self.exchange.ticker_of_id(i)
                    if found is not None and found not in new:
                        new.append(found)
        return [t for t in new if t in self.exchange.markets]

    def _initial(self, sub: Sub, added: Iterable[str], send_ticker: bool) -> list[Frame]:
        """Data owed right after (re)subscribing: orderbook snapshots, optional ticker state."""
        if sub.channel == ORDERBOOK_DELTA:
            return [self._snapshot(sub, t) for t in added]
        if sub.channel != TICKER or not send_ticker:
            return []
        states = (self.exchange.ticker_msg(t) for t in added)  # a market with no known state is left out
        return [self._frame(TICKER, sub, msg, data=True) for msg in states if msg is not None]

    def _unsubscribe(self, params: Params, cid: int | None) -> list[Frame]:
        sids = params.get("sids")
        if not sids:
            raise Reject(4)
        if not isinstance(sids, list) or not all(is_int(s) for s in sids):
            raise Reject(1)
        out = []
        for sid in sids:
            sub = self.subs.get(sid)
            if sub is None:
                out.append(self.error(7, cid))
                continue
            self._drop(sub)
            out.append(self._frame("unsubscribed", sub, cid=cid))
        return out

    def _update(self, params: Params, cid: int | None) -> list[Frame]:
        sid, sids = params.get("sid"), params.get("sids")
        if (sid is None) == (sids is None):
            raise Reject(12)
        if sids is not None:
            if not isinstance(sids, list) or len(sids) != 1:
                raise Reject(12)
            sid = sids[0]
        if not isinstance(sid, int) or not is_int(sid):
            raise Reject(12)
        sub = self.subs.get(sid)
        if sub is None:
            raise Reject(7)
        action = params.get("action")
        if action is None:
            raise Reject(15)
        if not isinstance(action, str):
            raise Reject(1)
        if action not in _ACTIONS[sub.info.markets]:
            raise Reject(13)
        if action == "get_snapshot":
            wanted = params.get("market_tickers")
            if not wanted or not isinstance(wanted, list):
                raise Reject(14)
            if not all(isinstance(t, str) for t in wanted):
                raise Reject(1)
            return [
                self._snapshot(sub, t, cid)
                for t in dict.fromkeys(wanted)
                if t in (sub.tickers or ()) and t in self.exchange.markets
            ]
        if action in _MARKET_ACTIONS:
            return self._update_markets(sub, action, params, cid)
        return self._update_keys(sub, action, params, cid)

    def _update_markets(self, sub: Sub, action: str, params: Params, cid: int | None) -> list[Frame]:
        tickers = tickers_of(params)
        ids = ids_of(params) if sub.info.markets == "ids-too" else None
        if not tickers and not ids:
            raise Reject(14)
        send_ticker = flag(params, "send_initial_snapshot")
        added: list[str] = []
        if action == "add_markets" and not sub.all_markets:  # adding to "all markets" is a no-op
            if sub.tickers is None:
                sub.tickers = {}
            added = self._add(sub, tickers, ids)
        elif action == "delete_markets":
            for t in tickers or ():
                (sub.tickers or {}).pop(t, None)
            for i in ids or ():
                (sub.ids or {}).pop(i, None)
        msg: dict[str, Any] = {}
        if not sub.skip_ticker_ack:
            msg["market_tickers"] = list(sub.tickers or ())
            if sub.ids:
                msg["market_ids"] = list(sub.ids)
        return [self._frame("ok", sub, msg, cid), *self._initial(sub, added, send_ticker)]

    def _update_keys(self, sub: Sub, action: str, params: Params, cid: int | None) -> list[Frame]:
        field_, code = ("index_ids", 24) if sub.info.markets == "index_ids" else ("underlying_tickers", 28)
        if action in ("indexlist", "underlying_list"):
            kind = f"{sub.channel}_indexlist" if field_ == "index_ids" else "pyth_value_underlying_list"
            return [self._frame(kind, sub, {field_: list(sub.keys)}, cid)]
        keys = strings(params, field_)
        if not keys:
            raise Reject(code)
        if action.startswith("subscribe"):
            sub.keys.update(dict.fromkeys(keys))
        else:
            for k in keys:
                sub.keys.pop(k, None)
        return [self._frame("ok", sub, {field_: list(sub.keys)}, cid)]

    def _drop(self, sub: Sub) -> None:
        self.subs.pop(sub.sid, None)
        if self._by_channel.get(sub.channel) is sub:
            del self._by_channel[sub.channel]

    # --- data ------------------------------------------------------------------------------------

    def on_events(self, events: Iterable[Event]) -> list[Frame]:
        """Data frames for this connection's subscriptions, in event order."""
        out: list[Frame] = []
        for ev in events:
            if ev.type == ORDERBOOK_SNAPSHOT:  # a republished book (maintenance)
                sub = self._by_channel.get(ORDERBOOK_DELTA)
                if sub is not None and sub.wants(ev):
                    out.append(self._snapshot(sub, ev.ticker or "", msg=ev.msg))
                continue
            ch = channel_of_type(ev.type)
            sub = self._by_channel.get(ch) if ch else None
            if sub is None or not sub.wants(ev):
                continue
            msg = ev.msg
            if sub.use_yes_price and ev.type == ORDERBOOK_DELTA and msg["side"] == "no":
                msg = {**msg, "price_dollars": format_price(ONE_DOLLAR - parse_price(msg["price_dollars"]))}
            out.append(self._frame(ev.type, sub, msg, data=True))
        return out

    # --- server-side faults ------------------------------------------------------------------------

    def matching(self, channel: str | None = None) -> list[Sub]:
        return [s for s in self.subs.values() if channel is None or s.channel == channel]

    def async_error(self, sub: Sub, code: int) -> Frame:
        """A subscription-scoped error (no id); codes 10 and 25 end the subscription."""
        frame = self._frame("error", sub, {"code": code, "msg": ERROR_TEXTS[code]})
        if code in (10, 25):
            self._drop(sub)
        return frame

    def skip_seq(self, channel: str | None = None, n: int = 1) -> None:
        """The next data frame of each matching sequenced sid jumps ``n`` numbers ahead."""
        for sub in self.matching(channel):
            if sub.info.sequenced:
                sub.skip += n
