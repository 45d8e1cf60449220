"""Timestamps as the CSMS writes them: RFC 3339, UTC, `Z`, milliseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from csms.domain.clock import isoformat_z, parse_datetime


def test_isoformat_z_writes_utc_with_milliseconds() -> None:
    """An aware time in another zone is written in UTC with three fractional digits and `Z`."""
    value = datetime(2024, 1, 2, 4, 4, 5, 678_900, tzinfo=timezone(timedelta(hours=1)))
    assert isoformat_z(value) == "2024-01-02T03:04:05.678Z"


def test_isoformat_z_writes_four_digit_years() -> None:
    """A year before 1000 keeps four digits (RFC 3339 `date-fullyear`), so it still reads back."""
    value = datetime(59, 11, 23, 2, 20, 17, tzinfo=UTC)
    text = isoformat_z(value)
    assert text == "0059-11-23T02:20:17.000Z"
    assert parse_datetime(text) == value
