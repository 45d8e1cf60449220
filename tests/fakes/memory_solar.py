"""In-memory `SolarStore` for tests."""

from __future__ import annotations

from collections.abc import Iterable

from csms.domain.solar import SiteMeasurement, SolarMode


class MemorySolarStore:
    """Measurements by (org_id, location_id); modes by transaction pk."""

    def __init__(self) -> None:
        self.measurements: dict[tuple[str, str], SiteMeasurement] = {}
        self.modes: dict[int, SolarMode] = {}

    async def put_measurement(self, org_id: str, location_id: str, measurement: SiteMeasurement) -> None:
        self.measurements[(org_id, location_id)] = measurement

    async def get_measurement(self, org_id: str, location_id: str) -> SiteMeasurement | None:
        return self.measurements.get((org_id, location_id))

    async def measurement_of(self, location_id: str) -> SiteMeasurement | None:
        return next((m for (_, loc), m in self.measurements.items() if loc == location_id), None)

    async def set_solar_mode(self, transaction_pk: int, mode: SolarMode) -> None:
        self.modes[transaction_pk] = mode

    async def solar_modes(self, transaction_pks: Iterable[int]) -> dict[int, SolarMode]:
        modes = {pk: self.modes.get(pk, SolarMode.NONE) for pk in transaction_pks}
        return {pk: mode for pk, mode in modes.items() if mode != SolarMode.NONE}
