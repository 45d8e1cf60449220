"""The configuration a station reported, kept as its device model (one row per reported value).

Two sources feed it, both translated by the version adapters before they arrive here:
- OCPP 2.0.1 NotifyReport parts (the answer stream to GetBaseReport, OCPP 2.0.1 B07/B08): one
  `DeviceVariable` per component / variable / attribute type;
- OCPP 1.6 GetConfiguration answers (also what GetBaseReport means on 1.6): one `DeviceVariable` per key,
  with `component` None.

Rows are upserted, never deleted here: a partial report (or a GetConfiguration of a few keys) updates the
values it names and leaves the rest as last reported. Write-only values (1.6 AuthorizationKey, 2.0.1
BasicAuthPassword) are never reported by a station, so they never reach this store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import structlog

from csms.domain.clock import Clock
from csms.domain.models import DeviceVariable
from csms.domain.ports import DeviceModelStore

log = structlog.get_logger("csms.device_model")


class DeviceModelService:
    """Stores what stations report about their configuration; read it back with `list_device_variables`."""

    def __init__(self, store: DeviceModelStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def record_report(self, charge_point_id: str, report_data: Sequence[DeviceVariable]) -> None:
        """Upsert the variables of one report part (2.0.1 NotifyReport), stamped with the current time.

        Each row's `charge_point_id` is set to `charge_point_id` (the connection's identity wins over
        whatever the caller filled in). An empty part writes nothing.
        """
        if not report_data:
            return
        now = self._clock()
        rows = [replace(v, charge_point_id=charge_point_id, updated_at=now) for v in report_data]
        await self._store.upsert_device_variables(rows)
        log.info("device_model_reported", charge_point_id=charge_point_id, variables=len(rows))

    async def record_configuration(
        self, charge_point_id: str, variables: Iterable[Mapping[str, Any]]
    ) -> None:
        """Upsert 1.6 configuration keys, as `CommandResult.data["configuration"]` lists them.

        Args:
            charge_point_id: the station that answered.
            variables: `{"key": str, "value": str | None, "readonly": bool}` each; a missing value is a
                key the station did not reveal.
        """
        rows = [
            DeviceVariable(
                charge_point_id=charge_point_id,
                component=None,
                variable=str(item["key"]),
                value=item.get("value"),
                readonly=bool(item.get("readonly", False)),
            )
            for item in variables
        ]
        await self.record_report(charge_point_id, rows)

    async def list_variables(self, charge_point_id: str) -> list[DeviceVariable]:
        """The station's stored device model, ordered by component then variable (1.6 keys first)."""
        return await self._store.list_device_variables(charge_point_id)
