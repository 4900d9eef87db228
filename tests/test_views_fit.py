"""The fitting rules every view relies on, as properties over any text and width."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from kalshi_cli.render.fit import Column, Field, fit_fields, fit_table, shorten_middle
from kalshi_cli.render.style import use_color

segments = st.lists(st.text("ABCDEFGHKXZ0123456789.", min_size=1, max_size=12), min_size=1, max_size=4)


@given(segments, st.integers(min_value=2, max_value=60))
def test_a_shortened_ticker_fits_and_keeps_its_last_segment(parts: list[str], width: int) -> None:
    ticker = "-".join(parts)
    short = shorten_middle(ticker, width)
    assert len(short) <= width
    if len(ticker) <= width:
        assert short == ticker
    else:
        assert "…" in short
        head, _, tail = short.partition("…")
        assert ticker.startswith(head) and ticker.endswith(tail)
        if len(parts) > 1 and len(parts[-1]) + 2 <= width:
            assert tail.endswith("-" + parts[-1])  # the strike / outcome is whole


numbers = st.decimals(min_value=-(10**7), max_value=10**7, places=2, allow_nan=False).map(str)


@given(st.lists(st.tuples(numbers, st.integers(0, 5)), min_size=1, max_size=8), st.integers(0, 90))
def test_fields_are_kept_whole_or_dropped(items: list[tuple[str, int]], width: int) -> None:
    fields = [Field(text, priority=p) for text, p in items]
    line = fit_fields(fields, width, strict=True).plain
    assert len(line) <= width
    kept = [t for t in line.split("  ") if t]
    assert all(any(t == text for text, _ in items) for t in kept)  # no field is cut
    if all(p == 0 for _, p in items) and len("  ".join(t for t, _ in items)) <= width:
        assert line == "  ".join(t for t, _ in items)


@given(st.lists(st.tuples(numbers, numbers), min_size=1, max_size=5), st.integers(24, 120))
def test_a_table_row_never_cuts_a_number(rows: list[tuple[str, str]], width: int) -> None:
    cols = [Column("market", shrink=True), Column("a", right=True), Column("b", right=True, priority=1)]
    cells = [[("KXBTCD-26DEC2517-T106249.99", ""), (a, ""), (b, "")] for a, b in rows]
    lines = [t.plain for t in fit_table(cols, cells, width)]
    widest = max(len(a) for a, _ in rows)
    for (a, b), line in zip(rows, lines[1:], strict=True):
        assert a in line.split()
        assert len(line) <= width or widest + 14 > width  # only if the ticker at 12 and column a cannot fit
        if "b" in lines[0].split():
            assert b in line.split()


def test_colour_decision() -> None:
    assert use_color("auto", {}, True) and not use_color("auto", {}, False)
    assert not use_color("auto", {"NO_COLOR": "1"}, True) and use_color("auto", {"NO_COLOR": ""}, True)
    assert not use_color("auto", {"TERM": "dumb"}, True)
    assert use_color("always", {"NO_COLOR": "1"}, False) and not use_color("never", {}, True)


levels = st.dictionaries(
    st.integers(1, 9999).map(lambda p: f"{p / 10000:.4f}"),
    st.integers(1, 10**9).map(lambda s: f"{s / 100:.2f}"),
    max_size=30,
)


@given(levels, levels, st.integers(1, 15), st.sampled_from([20, 24, 26, 40, 66]), st.booleans())
@example({"0.0001": "0.02"}, {"0.9999": "0.01"}, 1, 20, False)  # crossed: bid and ask both at 0.01 cents
def test_any_ladder_has_a_fixed_shape_and_every_number_whole(yes, no, depth, width, dollars) -> None:
    """Whatever the book, a ladder is 2*depth + 3 lines of at most ``width`` cells, and each
    shown level's price and size appear whole (or the column is left out, never cut)."""
    from kalshi_cli.book import OrderBook
    from kalshi_cli.fixed import ONE_DOLLAR, format_price, format_size, parse_price, parse_size
    from kalshi_cli.render.ladder import LADDER_EXTRA_LINES, cents, ladder_lines, plain_size

    book = OrderBook("KXTEST-1")
    snapshot = {"yes_dollars_fp": [[p, s] for p, s in yes.items()], "no_dollars_fp": [[p, s] for p, s in no.items()]}
    book.apply_snapshot({"market_ticker": "KXTEST-1", **snapshot})
    lines = [t.plain for t in ladder_lines(book, depth, width, dollars=dollars)]
    assert len(lines) == 2 * depth + LADDER_EXTRA_LINES
    assert all(len(line) <= width for line in lines)
    ask_lines, bid_lines = lines[1 : depth + 1], lines[depth + 2 : 2 * depth + 2]  # around the spread row
    best_bids = sorted((parse_price(p) for p in yes), reverse=True)[:depth]
    for price in best_bids:
        text = format_price(price) if dollars else cents(price)
        row = next(line for line in bid_lines if line.split() and line.split()[0].rstrip("•") == text)
        size = parse_size(yes[format_price(price)])
        assert (format_size(size) if dollars else plain_size(size)) in row.split(), row
    best_asks = sorted(ONE_DOLLAR - parse_price(p) for p in no)[:depth]
    for price in best_asks:
        text = format_price(price) if dollars else cents(price)
        assert any(line.split() and line.split()[0].rstrip("•") == text for line in ask_lines)
