"""Station-level status reports, the same in both versions: the latest upload or update status is kept.

1.6 DiagnosticsStatusNotification and FirmwareStatusNotification, 2.0.1 FirmwareStatusNotification and
LogStatusNotification each carry a `status` word and answer with an empty payload; the word is written
(batched) to the station's field named for the report.
"""

from __future__ import annotations

from csms.ocpp.router import Handler, Payload, StationContext


def keep_status(station_field: str) -> Handler:
    """A handler that keeps `payload["status"]` as the station's `station_field` (e.g. `firmware_status`)
    and answers `{}`."""

    async def handle(ctx: StationContext, payload: Payload) -> Payload:
        ctx.domain.stations.station_reported(ctx.charge_point_id, **{station_field: payload["status"]})
        return {}

    handle.__name__ = f"keep_{station_field}"
    return handle
