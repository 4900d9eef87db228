"""Property tests for fixed.py: exact parse/format round trips, and refusal of anything inexact.

The oracle is Python's Decimal: a string is accepted exactly when it is a plain ASCII decimal
whose value is a whole number of units, and then it parses to that number of units.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.fixed import (
    CENT,
    MICRO,
    ONE_CONTRACT,
    ONE_DOLLAR,
    PRICE_CACHE,
    PRICE_PLACES,
    SIZE_CACHE,
    SIZE_PLACES,
    FixedPointError,
    format_fixed,
    format_micro,
    format_micro4,
    format_price,
    format_price_cached,
    format_size,
    format_size_cached,
    parse_bid_price,
    parse_cents_price,
    parse_fixed,
    parse_legacy_int,
    parse_price,
    parse_size,
    parse_size_cached,
)

PLAIN = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
units = st.integers(min_value=0, max_value=10**15)
signed_units = st.integers(min_value=-(10**15), max_value=10**15)


@st.composite
def decimal_text(draw) -> str:
    """Plain decimal strings: any sign, 0-30 whole digits, 0-8 decimals, zeros often."""
    digit = st.sampled_from("0000123456789")
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    whole = "".join(draw(st.lists(digit, min_size=1, max_size=12)))
    frac = "".join(draw(st.lists(digit, max_size=8)))
    return sign + whole + (f".{frac}" if frac else "")


# --- examples ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.4400", 4400), ("0.440", 4400), ("0.44", 4400), ("1", 10000), ("0.0001", 1), ("0.44000", 4400)],
)
def test_parse_price_is_exact(text, value):
    assert parse_price(text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("95.50", 9550), ("-42.00", -4200), ("25", 2500), ("0.01", 1), ("+3.5", 350)]
)
def test_parse_size_is_exact(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["0.44001", "0.123456", "1.001e2", "0.4_4", " 0.44", "", ".5", "-0.44", None, 44])
def test_parse_price_refuses_what_it_cannot_hold_exactly(text):
    with pytest.raises(FixedPointError):
        parse_price(text)


@pytest.mark.parametrize("text", ["95.505", "1e2", "NaN", "1,000.00"])
def test_parse_size_refuses_rounding(text):
    with pytest.raises(FixedPointError):
        parse_size(text)


def test_format_round_trips_kalshi_form():
    assert format_price(4400) == "0.4400"
    assert format_price(10000) == "1.0000"
    assert format_price(-100) == "-0.0100"
    assert format_size(9550) == "95.50"
    assert format_size(-4200) == "-42.00"
    assert format_size(1) == "0.01"


# --- round trips ---------------------------------------------------------------------------------


@given(units)
def test_every_price_formats_to_four_places_and_parses_back(value):
    text = format_price(value)
    assert re.fullmatch(r"[0-9]+\.[0-9]{4}", text)
    assert parse_price(text) == value and Decimal(text) == Decimal(value) / ONE_DOLLAR
    assert format_price_cached(value) == text


@given(signed_units)
def test_every_size_formats_to_two_places_and_parses_back(value):
    text = format_size(value)
    assert re.fullmatch(r"-?[0-9]+\.[0-9]{2}", text)
    assert parse_size(text) == value and Decimal(text) == Decimal(value) / ONE_CONTRACT
    assert format_size_cached(value) == text


@given(signed_units, st.integers(min_value=0, max_value=8))
def test_format_fixed_round_trips_at_any_places(value, places):
    assert parse_fixed(format_fixed(value, places), places, "x", signed=True) == value


@given(units, st.integers(min_value=0, max_value=6))
def test_trailing_zeros_and_missing_decimals_mean_the_same_price(value, extra_zeros):
    """ "0.44", "0.440" (legacy 3 dp), "0.4400" and "0.440000" are one price."""
    text = format_price(value).rstrip("0").rstrip(".")
    assert parse_price(text) == value
    assert parse_price(format_price(value) + "0" * extra_zeros) == value


@given(st.integers(min_value=0, max_value=10**6))
def test_legacy_three_place_prices_parse_exactly(mills):
    text = f"{mills // 1000}.{mills % 1000:03d}"
    assert parse_price(text) == mills * 10


# --- the Decimal oracle --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("places", "signed", "parse"), [(PRICE_PLACES, False, parse_price), (SIZE_PLACES, True, parse_size)]
)
@given(text=decimal_text())
def test_accepted_exactly_when_decimal_says_it_is_whole_units(places, signed, parse, text):
    scaled = Decimal(text).scaleb(places)
    exact = scaled == scaled.to_integral_value() and (signed or text[0] not in "+-")
    if exact:
        assert parse(text) == int(scaled)
    else:
        with pytest.raises(FixedPointError):
            parse(text)


@given(st.text(max_size=12))
def test_anything_accepted_is_a_plain_ascii_decimal(text):
    try:
        value = parse_size(text)
    except FixedPointError:
        assert not PLAIN.fullmatch(text) or not Decimal(text).scaleb(SIZE_PLACES) % 1 == 0
        return
    assert PLAIN.fullmatch(text) and text.isascii()
    assert Decimal(value) == Decimal(text).scaleb(SIZE_PLACES)


@pytest.mark.parametrize(
    "text",
    [
        "٠.٤٤",
        "０.44",
        "0.4４",
        " 0.44",
        "0.44\n",
        "1e2",
        "0x10",
        "1_000",
        ".5",
        "5.",
        "",
        "+",
        "--1",
        "NaN",
        "inf",
        "1,5",
    ],
)
def test_refuses_what_is_not_a_plain_ascii_decimal(text):
    for parse in (parse_price, parse_size):
        with pytest.raises(FixedPointError):
            parse(text)


@pytest.mark.parametrize("value", [None, 44, 0.44, True, b"0.44", ["0.44"], {"p": "0.44"}])
def test_refuses_anything_but_a_string(value):
    for parse in (parse_price, parse_size, parse_bid_price, parse_size_cached):
        with pytest.raises(FixedPointError):
            parse(value)


def test_a_huge_value_is_refused_cleanly_and_named_briefly():
    """Python's int() refuses >4300 digits with a plain ValueError; the parser must not get there."""
    for text in ("9" * 5000, "1" * 31, "0." + "1" * 5000):
        with pytest.raises(FixedPointError) as caught:
            parse_size(text)
        assert len(str(caught.value)) < 120
    assert parse_size("0." + "0" * 5000) == 0  # zeros past the unit are still exact


# --- signs ---------------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10**12))
def test_prices_never_carry_a_sign_and_sizes_may(value):
    text = format_price(value)
    for signed in ("+" + text, "-" + text):
        with pytest.raises(FixedPointError, match="sign"):
            parse_price(signed)
    size = format_size(value)
    assert parse_size("+" + size) == value and parse_size("-" + size) == -value


def test_minus_zero_is_zero():
    assert parse_size("-0.00") == 0 and parse_size("-0") == 0 and format_size(0) == "0.00"


# --- bid prices, caches and legacy integers --------------------------------------------------------


@given(units)
def test_a_bid_price_lies_strictly_between_zero_and_one_dollar(value):
    text = format_price(value)
    if 0 < value < ONE_DOLLAR:
        assert parse_bid_price(text) == value and PRICE_CACHE[text] == value
    else:
        with pytest.raises(FixedPointError, match="outside"):
            parse_bid_price(text)
        assert text not in PRICE_CACHE  # the hot path trusts every cached entry


@given(signed_units)
def test_the_size_cache_holds_only_what_parse_size_says(value):
    text = format_size(value)
    assert parse_size_cached(text) == value == SIZE_CACHE[text]
    with pytest.raises(FixedPointError):
        parse_size_cached(text + "1")
    assert text + "1" not in SIZE_CACHE


@given(st.integers(min_value=-200, max_value=200))
def test_legacy_cents(cents):
    if 0 < cents < 100:
        assert parse_cents_price(cents) == cents * CENT
    else:
        with pytest.raises(FixedPointError):
            parse_cents_price(cents)


@pytest.mark.parametrize("value", [True, False, 1.0, "1", None])
def test_legacy_integers_are_json_integers_only(value):
    with pytest.raises(FixedPointError):
        parse_legacy_int(value, "count")


# --- money ---------------------------------------------------------------------------------------


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_micro_formats_are_exact_or_rounded_half_up(value):
    assert Decimal(format_micro(value)) == Decimal(value) / MICRO
    expected = (Decimal(value) / MICRO).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    assert format_micro4(value) == str(expected)
    # half-up by integers: away from zero on an exact half
    q, r = divmod(abs(value), 100)
    rounded = q + (r >= 50)
    assert Decimal(format_micro4(value)) == (rounded if value >= 0 else -rounded) * Decimal("0.0001")
