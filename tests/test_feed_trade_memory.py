"""The trade dedupe's memory stays bounded on a long run (a ``tail trade`` or ``record trade`` of
days) and still catches every trade a backfill could fetch again. Fed data, no network."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.feeds import trades
from kalshi_cli.feeds.trades import OVERLAP_MS, TradeGapFiller
from kalshi_cli.output import Reporter


async def _no_fetch(markets: list[str], min_ts: int) -> list[dict[str, Any]]:
    return []


def filler() -> tuple[TradeGapFiller, list[bytes]]:
    written: list[bytes] = []
    gaps = TradeGapFiller(
        _no_fetch,
        Reporter(quiet=True),
        write_live=lambda raw, stamp: written.append(raw),
        write_backfill=lambda frame: None,
        clock=lambda: 0.0,
    )
    return gaps, written


def frame(n: int, ts_ms: int) -> bytes:
    return (
        b'{"type":"trade","sid":1,"seq":%d,"msg":{"trade_id":"t-%d","market_ticker":"KXA-1",'
        b'"yes_price_dollars":"0.4400","no_price_dollars":"0.5600","count_fp":"1.00","taker_side":"yes",'
        b'"ts":%d,"ts_ms":%d}}' % (n, n, ts_ms // 1000, ts_ms)
    )


@given(st.lists(st.integers(min_value=0, max_value=3_000), min_size=1, max_size=300))
def test_only_ids_a_backfill_could_refetch_are_kept_and_each_is_still_deduped(steps: list[int]) -> None:
    gaps, written = filler()
    times, now = [], 1_000_000
    for n, step in enumerate(steps):
        now += step
        times.append(now)
        gaps.live(frame(n, now))
    assert len(written) == len(steps)
    cutoff = now - OVERLAP_MS - 1000  # the next backfill's min_ts is after this
    refetchable = {f"t-{n}" for n, ts in enumerate(times) if ts >= cutoff}
    assert gaps._seen == {i for _, i in gaps._order}  # the set and the order agree
    assert gaps._seen == refetchable  # times only grow here: exactly the window is kept
    for n, ts in enumerate(times):  # what a backfill could bring back again is written once
        if ts >= cutoff:
            gaps.live(frame(n, ts))
    assert len(written) == len(steps)


def test_a_burst_within_one_window_is_capped(monkeypatch: Any) -> None:
    monkeypatch.setattr(trades, "SEEN_KEPT", 50)
    gaps, written = filler()
    for n in range(200):  # all at the same millisecond: none ages out, the cap holds
        gaps.live(frame(n, 5_000_000))
    assert len(written) == 200 and len(gaps._seen) == len(gaps._order) == 50
    gaps.live(frame(199, 5_000_000))
    assert len(written) == 200  # the newest are the ones remembered
