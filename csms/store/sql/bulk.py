"""Appending many rows through the database driver itself: the hot tables of the batched writer.

`meter_samples` and `message_log` take most of the rows the stations send (five samples and two logged
frames per MeterValues). Through SQLAlchemy's executemany every row pays for its parameter processing (a
dict per row, a bind processor per value): the largest cost of a batch in the profiles. Here the rows are
built as tuples of values the driver takes as they are, and handed to it in one call on the batch's own
connection, inside the batch's transaction:

- SQLite (aiosqlite): one prepared INSERT run with `executemany`; timestamps as the UTC text SQLAlchemy's
  SQLite DATETIME stores ("YYYY-MM-DD HH:MM:SS.ffffff"), so the ORM reads them back the same way;
- PostgreSQL (asyncpg): `COPY ... FROM STDIN` (`copy_records_to_table`), timestamps as aware UTC datetimes.

Only these append-only inserts go this way; everything else stays SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from csms.domain.models import FrameRecord, MeterReading
from csms.store.sql.rows import signed_json

SAMPLE_COLUMNS = (
    "transaction_id",
    "charge_point_id",
    "evse_id",
    "timestamp",
    "measurand",
    "phase",
    "unit",
    "multiplier",
    "context",
    "location",
    "signed",
    "value",
    "signed_data",
)
FRAME_COLUMNS = ("charge_point_id", "direction", "message_type", "message_id", "action", "frame", "at")


def sqlite_time(value: datetime) -> str:
    """`value` in UTC as SQLAlchemy's SQLite DATETIME text, "YYYY-MM-DD HH:MM:SS.ffffff" (always with
    microseconds, so text order is time order); a naive value is taken as UTC."""
    utc = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value
    return utc.isoformat(" ", "microseconds")


def pg_time(value: datetime) -> datetime:
    """`value` as an aware UTC datetime (a naive one is taken as UTC), what asyncpg's timestamptz takes."""
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


TimeEncoder = Callable[[datetime], Any]


def sample_rows(readings: Sequence[MeterReading], at: TimeEncoder) -> list[tuple[Any, ...]]:
    """The `meter_samples` rows of `readings`, in `SAMPLE_COLUMNS` order."""
    return [
        (
            reading.transaction_pk,
            reading.charge_point_id,
            reading.evse_id,
            at(sample.timestamp),
            sample.measurand,
            sample.phase,
            sample.unit,
            sample.multiplier,
            sample.context,
            sample.location,
            sample.signed_data is not None,
            # str(Decimal) keeps every digit and the exponent, so Decimal(text) gives back the same number.
            str(sample.value),
            # Nothing to encode for the unsigned samples that are nearly all of them.
            None if sample.signed_data is None else signed_json(sample.signed_data),
        )
        for reading in readings
        for sample in reading.samples
    ]


def frame_rows(frames: Sequence[FrameRecord], at: TimeEncoder) -> list[tuple[Any, ...]]:
    """The `message_log` rows of `frames`, in `FRAME_COLUMNS` order; the two bounded columns are clipped
    (the log keeps even a malformed frame instead of failing the batch)."""
    return [
        (
            f.charge_point_id,
            str(f.direction),
            f.message_type,
            f.message_id[:36],
            None if f.action is None else f.action[:64],
            f.frame,
            at(f.at),
        )
        for f in frames
    ]


class BulkAppend:
    """Appends rows to a table through the driver of the session's connection (see the module docstring)."""

    def __init__(self, dialect: str) -> None:
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {dialect!r} (SQLite or PostgreSQL)")
        self.sqlite = dialect == "sqlite"
        self.time: TimeEncoder = sqlite_time if self.sqlite else pg_time

    async def append(
        self, session: AsyncSession, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """INSERT `rows` (tuples in `columns` order) into `table` in the session's transaction.

        Raises:
            sqlalchemy.exc.DBAPIError: the driver refused the rows, as SQLAlchemy would have raised it
                (IntegrityError, OperationalError, InterfaceError, ...: the writer tells an unreachable
                database from bad data by these classes).
        """
        if not rows:
            return
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        marks = ", ".join("?" for _ in columns)
        insert = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"
        try:
            if self.sqlite:
                await driver.executemany(insert, rows)
            else:
                await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
        except OSError:
            raise
        except Exception as exc:
            # The driver's own exception, classified by name as SQLAlchemy does for its DBAPI errors.
            raise DBAPIError.instance(insert, None, exc, Exception) from exc
