"""`SqlEmspStore`: the eMSP role's records in the CSMS database (tables of revision 0019_emsp, ADR 0023),
the same methods as `MemoryEmspStore`. Share the `SqlStore`'s engine and never `close` this one."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from sqlalchemy import delete, select

from csms.store.sql.base import SqlBase
from ocpi.emsp.store import CpoRecord, StoredCommand
from ocpi.store.emsp_tables import EmspCommandRow, EmspCpoRow, EmspObjectRow


def _cpo(row: EmspCpoRow) -> CpoRecord:
    return CpoRecord(
        id=row.id,
        name=row.name,
        versions_url=row.versions_url,
        status=row.status,
        token_b_hash=row.token_b_hash,
        token_c=row.token_c,
        country_code=row.country_code,
        party_id=row.party_id,
        endpoints=orjson.loads(row.endpoints),
        roles=orjson.loads(row.roles),
        max_reservation_minutes=row.max_reservation_minutes,
        cancellation_fee=Decimal(row.cancellation_fee),
        locations_pulled_at=row.locations_pulled_at,
        tariffs_pulled_at=row.tariffs_pulled_at,
    )


def _fill(row: EmspCpoRow, cpo: CpoRecord) -> None:
    row.name = cpo.name
    row.versions_url = cpo.versions_url
    row.status = cpo.status
    row.token_b_hash = cpo.token_b_hash
    row.token_c = cpo.token_c
    row.country_code = cpo.country_code
    row.party_id = cpo.party_id
    row.endpoints = orjson.dumps(cpo.endpoints).decode()
    row.roles = orjson.dumps(cpo.roles).decode()
    row.max_reservation_minutes = cpo.max_reservation_minutes
    row.cancellation_fee = cpo.cancellation_fee
    row.locations_pulled_at = cpo.locations_pulled_at
    row.tariffs_pulled_at = cpo.tariffs_pulled_at


def _command(row: EmspCommandRow) -> StoredCommand:
    return StoredCommand(
        row.command_id, row.cpo_id, row.command, row.deadline, row.result, row.reservation_id
    )


def _coordinate(location: dict[str, Any], key: str) -> Decimal | None:
    """A location's latitude or longitude (OCPI GeoLocation: decimal text), or None when absent/malformed."""
    coordinates = location.get("coordinates")
    if not isinstance(coordinates, dict):
        return None
    try:
        value = Decimal(str(coordinates.get(key)))
    except InvalidOperation:
        return None
    return value if value.is_finite() and abs(value) <= 180 else None


class SqlEmspStore(SqlBase):
    """The eMSP role's store on SQLAlchemy async (SQLite and PostgreSQL)."""

    # -- CPOs ------------------------------------------------------------------------------------------

    async def add_cpo(self, cpo: CpoRecord) -> CpoRecord:
        async with self._sessions.begin() as session:
            row = EmspCpoRow()
            _fill(row, cpo)
            session.add(row)
            await session.flush()
            return _cpo(row)

    async def save_cpo(self, cpo: CpoRecord) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(EmspCpoRow, cpo.id)
            if row is not None:
                _fill(row, cpo)

    async def get_cpo(self, cpo_id: int) -> CpoRecord | None:
        return await self._get(EmspCpoRow, cpo_id, _cpo)

    async def list_cpos(self) -> list[CpoRecord]:
        return await self._all(select(EmspCpoRow).order_by(EmspCpoRow.id), _cpo)

    async def cpo_by_token_hash(self, token_hash: str) -> CpoRecord | None:
        stmt = select(EmspCpoRow).where(
            EmspCpoRow.token_b_hash == token_hash, EmspCpoRow.status != "UNREGISTERED"
        )
        found = await self._all(stmt.limit(1), _cpo)
        return found[0] if found else None

    # -- cached objects --------------------------------------------------------------------------------

    async def _put(self, cpo_id: int, kind: str, body: dict[str, Any], *, replace: bool = True) -> bool:
        async with self._sessions.begin() as session:
            row = await session.get(EmspObjectRow, (cpo_id, kind, str(body["id"])))
            if row is None:
                row = EmspObjectRow(cpo_id=cpo_id, kind=kind, object_id=str(body["id"]))
                session.add(row)
            elif not replace:
                return False
            row.body = orjson.dumps(body).decode()
            row.latitude = _coordinate(body, "latitude") if kind == "location" else None
            row.longitude = _coordinate(body, "longitude") if kind == "location" else None
            return True

    async def _one(self, cpo_id: int, kind: str, object_id: str) -> dict[str, Any] | None:
        return await self._get(EmspObjectRow, (cpo_id, kind, object_id), lambda r: orjson.loads(r.body))

    async def _kind(self, cpo_id: int, kind: str) -> list[dict[str, Any]]:
        stmt = (
            select(EmspObjectRow)
            .where(EmspObjectRow.cpo_id == cpo_id, EmspObjectRow.kind == kind)
            .order_by(EmspObjectRow.object_id)
        )
        return await self._all(stmt, lambda r: orjson.loads(r.body))

    async def put_location(self, cpo_id: int, location: dict[str, Any]) -> None:
        await self._put(cpo_id, "location", location)

    async def get_location(self, cpo_id: int, location_id: str) -> dict[str, Any] | None:
        return await self._one(cpo_id, "location", location_id)

    async def list_locations(self, cpo_id: int) -> list[dict[str, Any]]:
        return await self._kind(cpo_id, "location")

    async def put_tariff(self, cpo_id: int, tariff: dict[str, Any]) -> None:
        await self._put(cpo_id, "tariff", tariff)

    async def delete_tariff(self, cpo_id: int, tariff_id: str) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(EmspObjectRow).where(
                    EmspObjectRow.cpo_id == cpo_id,
                    EmspObjectRow.kind == "tariff",
                    EmspObjectRow.object_id == tariff_id,
                )
            )
            return bool(getattr(result, "rowcount", 0))

    async def tariffs(self, cpo_id: int) -> dict[str, dict[str, Any]]:
        return {str(t["id"]): t for t in await self._kind(cpo_id, "tariff")}

    async def put_session(self, cpo_id: int, session: dict[str, Any]) -> None:
        await self._put(cpo_id, "session", session)

    async def get_session(self, cpo_id: int, session_id: str) -> dict[str, Any] | None:
        return await self._one(cpo_id, "session", session_id)

    async def add_cdr(self, cpo_id: int, cdr: dict[str, Any]) -> bool:
        return await self._put(cpo_id, "cdr", cdr, replace=False)

    async def get_cdr(self, cpo_id: int, cdr_id: str) -> dict[str, Any] | None:
        return await self._one(cpo_id, "cdr", cdr_id)

    # -- commands --------------------------------------------------------------------------------------

    async def add_command(self, command: StoredCommand) -> None:
        await self.save_command(command)

    async def get_command(self, command_id: str) -> StoredCommand | None:
        return await self._get(EmspCommandRow, command_id, _command)

    async def save_command(self, command: StoredCommand) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(EmspCommandRow, command.command_id)
            if row is None:
                row = EmspCommandRow(command_id=command.command_id)
                session.add(row)
            row.cpo_id = command.cpo_id
            row.command = command.command
            row.deadline = command.deadline
            row.result = command.result
            row.reservation_id = command.reservation_id

    async def pending_commands(self) -> list[StoredCommand]:
        stmt = select(EmspCommandRow).where(EmspCommandRow.result.is_(None)).order_by(EmspCommandRow.deadline)
        return await self._all(stmt, _command)
