"""kalshi_cli.times.parse_time: the one reader of a user's --from/--to (export and replay)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kalshi_cli.errors import UsageError
from kalshi_cli.sim import window
from kalshi_cli.times import parse_time

T = 1_795_615_200_000  # 2026-11-25T14:00:00Z


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1795615200000", T),
        (" 1795615200123 ", T + 123),
        ("2026-11-25T14:00:00Z", T),
        ("2026-11-25T14:00:00.250z", T + 250),
        ("2026-11-25T14:00:00", T),  # no offset: UTC
        ("2026-11-25 14:00:00", T),
        ("2026-11-25T15:00:00+01:00", T),
        ("2026-11-25", T - 14 * 3_600_000),
    ],
)
def test_a_time_reads_as_unix_ms(text, ms):
    assert parse_time(text, "--from") == ms


@pytest.mark.parametrize("text", ["yesterday", "", "14:00", "-5", "1.5", "2026-13-01T00:00:00Z"])
def test_anything_else_is_one_usage_error_naming_the_flag(text):
    with pytest.raises(UsageError) as err:
        parse_time(text, "--to")
    assert str(err.value).startswith("--to expects an ISO 8601 time") and repr(text) in str(err.value)


@given(st.integers(min_value=0, max_value=4_102_444_800_000))  # to 2100
def test_iso_and_ms_agree(ms):
    when = datetime.fromtimestamp(ms / 1000, UTC)
    iso = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    assert parse_time(iso, "--from") == parse_time(str(ms), "--from") == ms


def test_replay_reads_times_with_the_same_reader():
    assert window.parse_time is parse_time
