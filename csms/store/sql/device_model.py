"""Device variables stations report (`DeviceModelStore`) and charging profiles we installed."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import and_, delete, or_, select

from csms.domain.models import DeviceVariable, StoredChargingProfile
from csms.store.sql.base import CHARGING_PROFILES, DEVICE_VARIABLES, SqlBase, rowcount
from csms.store.sql.rows import charging_profile_of, device_variable_of, device_variable_values, field_values
from csms.store.tables import NO_NAME, ChargingProfileRow, DeviceVariableRow

# The upsert key of device_variables: its primary key.
_DEVICE_VARIABLE_KEY = tuple(column.name for column in DEVICE_VARIABLES.primary_key)


class DeviceModelSql(SqlBase):
    """Device variables and charging profiles; the contracts are `csms.domain.ports.DeviceModelStore` and
    `ChargingProfileStore`."""

    async def upsert_device_variables(self, variables: Sequence[DeviceVariable]) -> None:
        """Insert or update each variable by its key (station, component + instance, EVSE, connector,
        variable + instance, attribute type), all in one database transaction.

        `updated_at` defaults to now. When the same key appears twice, the later one wins.
        """
        if not variables:
            return
        now = self._clock()
        # One row per key: PostgreSQL refuses an upsert that touches the same row twice in one statement.
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for v in variables:
            values = device_variable_values(v, now)
            latest[tuple(values[k] for k in _DEVICE_VARIABLE_KEY)] = values
        stmt = self._insert(DEVICE_VARIABLES)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_DEVICE_VARIABLE_KEY),
            set_={name: stmt.excluded[name] for name in ("value", "readonly", "data_type", "updated_at")},
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt, list(latest.values()))

    async def list_device_variables_keyed(
        self, charge_point_ids: Collection[str], keys: Collection[tuple[str | None, str]]
    ) -> list[DeviceVariable]:
        v = DeviceVariableRow
        if not keys:
            return []
        named = [and_(v.component == (component or NO_NAME), v.variable == name) for component, name in keys]
        ids = sorted(set(charge_point_ids))
        return await self._all_in(select(v).where(or_(*named)), v.charge_point_id, ids, device_variable_of)

    async def list_device_variables(self, charge_point_id: str) -> list[DeviceVariable]:
        """The station's variables ordered by component (1.6 keys, component None, first), variable, then
        component instance, EVSE, connector, variable instance and attribute type (None first in each)."""
        of_station = select(DeviceVariableRow).where(DeviceVariableRow.charge_point_id == charge_point_id)
        stmt = of_station.order_by(
            DeviceVariableRow.component,
            DeviceVariableRow.variable,
            DeviceVariableRow.component_instance,
            DeviceVariableRow.evse_id,
            DeviceVariableRow.connector_id,
            DeviceVariableRow.variable_instance,
            DeviceVariableRow.attribute_type,
        )
        return await self._all(stmt, device_variable_of)

    async def save_charging_profile(self, profile: StoredChargingProfile) -> None:
        """Insert or replace the profile by (charge_point_id, profile_id); `created_at` defaults to now.

        Raises:
            TypeError: `profile.profile` is not JSON-serializable (nothing is written).
        """
        values = field_values(
            profile, profile=json.dumps(profile.profile), created_at=profile.created_at or self._clock()
        )
        stmt = self._insert(CHARGING_PROFILES).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["charge_point_id", "profile_id"],
            set_={
                name: stmt.excluded[name] for name in values if name not in ("charge_point_id", "profile_id")
            },
        )
        async with self._sessions.begin() as session:
            await session.execute(stmt)

    async def list_charging_profiles(self, charge_point_id: str) -> list[StoredChargingProfile]:
        """The station's installed profiles ordered by profile_id."""
        of_station = select(ChargingProfileRow).where(ChargingProfileRow.charge_point_id == charge_point_id)
        return await self._all(of_station.order_by(ChargingProfileRow.profile_id), charging_profile_of)

    async def delete_charging_profiles(
        self, charge_point_id: str, *, profile_id: int | None = None, evse_id: int | None = None
    ) -> int:
        """Delete the station's profiles matching `profile_id` and/or `evse_id` (both None: all of them).

        Returns:
            How many were deleted.
        """
        stmt = delete(CHARGING_PROFILES).where(CHARGING_PROFILES.c.charge_point_id == charge_point_id)
        if profile_id is not None:
            stmt = stmt.where(CHARGING_PROFILES.c.profile_id == profile_id)
        if evse_id is not None:
            stmt = stmt.where(CHARGING_PROFILES.c.evse_id == evse_id)
        async with self._sessions.begin() as session:
            return rowcount(await session.execute(stmt))
