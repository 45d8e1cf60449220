"""Time in UTC; tests pass a fixed clock instead of `utcnow`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Return `value` in UTC; a naive datetime is taken to be UTC already (what SQLite gives back)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def to_utc_or_none(value: datetime | None) -> datetime | None:
    """`to_utc` for optional timestamps (nullable database columns)."""
    return None if value is None else to_utc(value)


def isoformat_z(value: datetime) -> str:
    """Format as RFC 3339 in UTC ending in `Z`, milliseconds kept (what OCPP and OCPI both accept)."""
    v = to_utc(value)
    # Not strftime("%Y"): glibc writes year 59 as "59", and RFC 3339 wants four digits ("0059").
    date = f"{v.year:04d}-{v.month:02d}-{v.day:02d}"
    return f"{date}T{v.hour:02d}:{v.minute:02d}:{v.second:02d}.{v.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """Parse an RFC 3339 / ISO 8601 timestamp (with `Z` or an offset) into an aware UTC datetime.

    Raises:
        ValueError: not a timestamp.
    """
    normalized = text.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        return to_utc(datetime.fromisoformat(normalized))
    except ValueError:
        # RFC 3339 allows a leap second (23:59:60); Python does not. Read it as the next second's start.
        if len(normalized) > 19 and normalized[17:19] == "60":
            return to_utc(datetime.fromisoformat(normalized[:17] + "59" + normalized[19:])) + timedelta(
                seconds=1
            )
        raise
