"""What every aggregate of the SQL store shares: the engine and session factory, the dialect's upsert, the
core tables of the bulk statements, the session round trips (get, insert, change one row, list) and keyset
paging, each written once."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Executable, Select, and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Result
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from csms.domain.clock import Clock, to_utc, to_utc_or_none, utcnow
from csms.domain.ports import AlreadyExists, NotFound, Page, StationQuery
from csms.store.sql.bulk import BulkAppend
from csms.store.tables import Base

# Core tables for bulk statements (executemany with plain dicts, no ORM objects), named as the tables are.
_CORE = Base.metadata.tables
(
    CHARGE_POINTS,
    CONNECTORS,
    STATUS_HISTORY,
    TRANSACTIONS,
    TRANSACTION_EVENTS,
    METER_SAMPLES,
    MESSAGE_LOG,
    STATION_EVENTS,
    ID_TOKENS,
    RESERVATIONS,
    DEVICE_VARIABLES,
    CHARGING_PROFILES,
) = (_CORE[name] for name in (
    "charge_points",
    "connectors",
    "status_history",
    "transactions",
    "transaction_events",
    "meter_samples",
    "message_log",
    "station_events",
    "id_tokens",
    "reservations",
    "device_variables",
    "charging_profiles",
))

# Bound parameters per IN (...) list when checking which ids of a batch exist: far below SQLite's and
# asyncpg's parameter limits (32766 / 32767).
IN_CHUNK = 500

utc = to_utc_or_none

R = TypeVar("R")  # an ORM row class
T = TypeVar("T")  # the domain record made from it
S = TypeVar("S", bound=Select[Any])


def dialect_insert(engine: AsyncEngine) -> Any:
    """The dialect's `insert()` (SQLite or PostgreSQL); both have on_conflict_do_update/do_nothing with the
    same signature, which is what every upsert of the stores uses.

    Raises:
        ValueError: another dialect.
    """
    dialect = engine.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database dialect {dialect!r} (SQLite or PostgreSQL)")
    return sqlite_insert if dialect == "sqlite" else pg_insert


def rowcount(result: Result[Any]) -> int:
    """Rows a DML statement touched (DML results are CursorResults; the async API types them as Result)."""
    return cast(CursorResult[Any], result).rowcount


def page_limit(limit: int) -> int:
    """`limit` of a list method, checked (at least 1)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    return limit


def id_cursor(cursor: str | None) -> int | None:
    """Decode a newest-first cursor (the str of the last id returned); ValueError for one we did not hand
    out."""
    if cursor is None:
        return None
    try:
        return int(cursor)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}") from None


def parse_sort(sort: str | None, sortable: Collection[str]) -> tuple[bool, str]:
    """(descending, field) of a `StationQuery.sort` (default `-id`); ValueError for a field not offered."""
    text = sort or "-id"
    descending, field = text.startswith("-"), text.removeprefix("-")
    if field != "id" and field not in sortable:
        raise ValueError(f"cannot sort by {field!r}")
    return descending, field


def time_cursor(cursor: str) -> tuple[datetime, int]:
    """Decode the cursor of a page sorted by a time column (`<ISO time>|<id>`); ValueError if not ours."""
    at, sep, after = cursor.rpartition("|")
    if not sep:
        raise ValueError(f"invalid cursor {cursor!r}")
    try:
        return to_utc(datetime.fromisoformat(at)), int(after)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}") from None


def where_given(stmt: S, equal: Mapping[Any, object]) -> S:
    """`stmt` restricted to `column == value` for each value that is not None (an optional filter)."""
    for column, value in equal.items():
        if value is not None:
            stmt = stmt.where(column == value)
    return stmt


async def lease(
    sessions: async_sessionmaker[AsyncSession],
    row_class: type[R],
    due: Callable[[Any], Iterable[Any]],
    record: Callable[[R], T],
    *,
    limit: int,
    node_id: str,
    until: datetime,
) -> list[T]:
    """Lease to `node_id` until `until` the oldest `limit` rows that `due(table)` selects (an outbox's
    claim: the rows have `id`, `claimed_by` and `claimed_until`); their records, oldest first.

    One UPDATE ... WHERE id IN (due rows) RETURNING, atomic on both databases: on PostgreSQL the due rows
    are selected FOR UPDATE SKIP LOCKED, so a concurrent claim skips the rows being claimed and re-checks
    the ones claimed meanwhile; SQLite runs one writer at a time.
    """
    table: Any = row_class
    candidate = aliased(table)  # not the UPDATE's own table, which would correlate the subquery away
    ids = (
        select(candidate.id)
        .where(*due(candidate))
        .order_by(candidate.id)
        .limit(max(limit, 0))
        .with_for_update(skip_locked=True, of=candidate)
    )
    stmt = (
        update(table)
        .where(table.id.in_(ids.scalar_subquery()))
        .values(claimed_by=node_id, claimed_until=to_utc(until))
        .returning(table)
        .execution_options(synchronize_session=False)
    )
    async with sessions.begin() as session:
        rows = list(await session.scalars(stmt))
    return [record(row) for row in sorted(rows, key=lambda row: cast(Any, row).id)]  # RETURNING: no order


async def all_in(
    sessions: async_sessionmaker[AsyncSession],
    stmt: Select[Any],
    column: Any,
    values: Collection[Any],
    record: Callable[[Any], T],
) -> list[T]:
    """The records of the rows `stmt` selects with `column IN values`: one query per `IN_CHUNK` values, in
    one session, each chunk in `stmt`'s order (what a page of many stations needs in a few queries)."""
    wanted = list(values)
    found: list[T] = []
    async with sessions() as session:
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = stmt.where(column.in_(wanted[start : start + IN_CHUNK]))
            found += [record(r) for r in await session.scalars(chunk)]
    return found


async def existing_values(session: AsyncSession, column: Any, values: Iterable[Any]) -> set[Any]:
    """Return the subset of `values` present in `column` (one SELECT per chunk of ids)."""
    wanted = list(values)
    found: set[Any] = set()
    for start in range(0, len(wanted), IN_CHUNK):
        result = await session.scalars(select(column).where(column.in_(wanted[start : start + IN_CHUNK])))
        found.update(result)
    return found


class SqlBase:
    """The engine, session factory, clock and dialect insert every aggregate's methods use.

    Args:
        engine: an engine whose database `migrate` has brought to head; the store owns it from now on and
            disposes of it in `close`.
        clock: source of `created_at`/`updated_at`/`received_at`; tests pass a fixed one.
    """

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._clock = clock
        self._insert = dialect_insert(engine)
        self._bulk = BulkAppend(engine.dialect.name)

    @property
    def engine(self) -> AsyncEngine:
        """The engine, for health checks and tests; do not dispose of it directly (use `close`)."""
        return self._engine

    async def close(self) -> None:
        """Dispose of the engine's connections; stop the `BatchedWriter` first so nothing is lost."""
        await self._engine.dispose()

    async def _get(self, row_class: type[R], key: object, record: Callable[[R], T]) -> T | None:
        """The record of the row with this primary key, or None."""
        async with self._sessions() as session:
            row = await session.get(row_class, key)
            return None if row is None else record(row)

    async def _get_owned(
        self, row_class: type[R], key: object, record: Callable[[R], T], org_id: str | None
    ) -> T | None:
        """`_get`, but None also when `org_id` is given and the row belongs to another organization."""
        async with self._sessions() as session:
            row = await session.get(row_class, key)
            owner: str | None = None if row is None else getattr(row, "org_id")  # noqa: B009 (R has no org_id)
            if row is None or (org_id is not None and owner != org_id):
                return None
            return record(row)

    async def _first(self, stmt: Select[tuple[R]], record: Callable[[R], T]) -> T | None:
        """The record of the first row `stmt` selects, or None."""
        async with self._sessions() as session:
            row = await session.scalar(stmt)
            return None if row is None else record(row)

    async def _all(self, stmt: Select[tuple[R]], record: Callable[[R], T]) -> list[T]:
        """The records of every row `stmt` selects, in its order."""
        async with self._sessions() as session:
            return [record(r) for r in await session.scalars(stmt)]

    async def _all_in(
        self, stmt: Select[tuple[R]], column: Any, values: Collection[Any], record: Callable[[R], T]
    ) -> list[T]:
        """`_all` of `stmt` restricted to `column IN values` (see `all_in`)."""
        return await all_in(self._sessions, stmt, column, values, record)

    async def _add(self, row: R, exists: str | None = None) -> R:
        """INSERT the ORM row in a transaction of its own and return it (generated columns filled in).

        Raises:
            AlreadyExists: `exists` (given) when a unique key refuses the row.
        """
        try:
            async with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            if exists is None:
                raise
            raise AlreadyExists(exists) from None
        return row

    async def _change(self, stmt: Executable, missing: str) -> None:
        """Run an UPDATE or DELETE of one row in a transaction of its own.

        Raises:
            NotFound: `missing`, when the statement touched no row.
        """
        async with self._sessions.begin() as session:
            if rowcount(await session.execute(stmt)) == 0:
                raise NotFound(missing)

    async def _page(
        self,
        stmt: Select[tuple[R]],
        key: Any,
        record: Callable[[R], T],
        *,
        limit: int,
        cursor: str | None,
        newest_first: bool = False,
    ) -> Page[T]:
        """One keyset page of `stmt` ordered by the unique column `key`: ascending with the last key returned
        as cursor, or (`newest_first`) descending by an integer id with its str as cursor.

        Returns:
            (at most `limit` records, the cursor for the next page or None if this is the last).

        Raises:
            ValueError: `limit` below 1, or a cursor we did not hand out.
        """
        stmt = stmt.limit(page_limit(limit) + 1)
        if newest_first:
            before = id_cursor(cursor)
            stmt = stmt.order_by(key.desc())
            if before is not None:
                stmt = stmt.where(key < before)
        else:
            stmt = stmt.order_by(key)
            if cursor is not None:
                stmt = stmt.where(key > cursor)
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt)).all())
        page = rows[:limit]
        next_cursor = str(getattr(page[-1], key.key)) if len(rows) > limit else None
        return [record(r) for r in page], next_cursor

    async def _newest_of_station(
        self,
        row_class: Any,
        record: Callable[[Any], T],
        limit: int,
        query: StationQuery[Any],
        *,
        time_field: str | None = None,
        sortable: Collection[str] = (),
    ) -> Page[T]:
        """A page of `row_class` (with charge_point_id, status and an integer id) filtered and sorted as
        `query` says (`StationQuery`): `time_field` is the column of `time_from`/`time_to`, `sortable` the
        time columns `sort` may name besides `id`.

        Raises:
            ValueError: `limit` below 1, a sort not offered, or a cursor we did not hand out.
        """
        status = query.get("status")
        stmt = where_given(
            select(row_class),
            {
                row_class.charge_point_id: query.get("charge_point_id"),
                row_class.status: status and str(status),
                row_class.org_id: query.get("org_id"),
            },
        )
        ids = query.get("charge_point_ids")
        if ids is not None:
            stmt = stmt.where(row_class.charge_point_id.in_(sorted(set(ids))))
        tokens = query.get("id_tokens")
        if tokens is not None:
            stmt = stmt.where(row_class.id_token.in_(sorted(set(tokens))))
        time_from, time_to = query.get("time_from"), query.get("time_to")
        if time_field is not None and time_from is not None:
            stmt = stmt.where(getattr(row_class, time_field) >= to_utc(time_from))
        if time_field is not None and time_to is not None:
            stmt = stmt.where(getattr(row_class, time_field) < to_utc(time_to))
        cursor = query.get("cursor")
        descending, field = parse_sort(query.get("sort"), sortable)
        if field == "id":
            if descending:
                key = row_class.id
                return await self._page(stmt, key, record, limit=limit, cursor=cursor, newest_first=True)
            after = id_cursor(cursor)
            if after is not None:
                stmt = stmt.where(row_class.id > after)
            return await self._sorted_page(stmt.order_by(row_class.id), record, limit, lambda r: str(r.id))
        column, key = getattr(row_class, field), row_class.id
        if cursor is not None:
            at, after_id = time_cursor(cursor)
            if descending:
                stmt = stmt.where(or_(column < at, and_(column == at, key < after_id)))
            else:
                stmt = stmt.where(or_(column > at, and_(column == at, key > after_id)))
        order = (column.desc(), key.desc()) if descending else (column, key)
        return await self._sorted_page(
            stmt.order_by(*order), record, limit, lambda r: f"{to_utc(getattr(r, field)).isoformat()}|{r.id}"
        )

    async def _sorted_page(
        self, stmt: Select[Any], record: Callable[[Any], T], limit: int, cursor_of: Callable[[Any], str]
    ) -> Page[T]:
        """The first `limit` rows of the ordered `stmt` and the cursor of the last one (None: no more)."""
        async with self._sessions() as session:
            rows = list((await session.scalars(stmt.limit(page_limit(limit) + 1))).all())
        page = rows[:limit]
        return [record(r) for r in page], cursor_of(page[-1]) if len(rows) > limit else None
