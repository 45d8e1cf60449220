"""Local authorization lists over REST (issue 14, item 5; ADR 0016): what a charge point's list holds as the
station last accepted it, and a sync on demand.

- `GET /charge-points/{charge_point_id}/local-list`: version, entries, last status and sync time.
- `POST /charge-points/{charge_point_id}/local-list/sync` `{update_type?}`: send a Full or Differential
  update now (the station must be connected) and answer the record after it.

Another organization's charge point is a 404 (`org_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from csms.api.auth import org_of
from csms.api.errors import ApiError
from csms.api.models import ResponseModel, Timestamp
from csms.api.params import get_domain, read_optional_model, registered_charge_point
from csms.api.responses import json_response
from csms.api.routes import Operations, Route
from csms.api.serialize import timestamp
from csms.domain.local_list import LocalListEntry
from csms.domain.local_list_sync import StationLocalList

api = Operations()


class LocalListEntryModel(ResponseModel):
    """One entry: what the station answers for the id token while offline."""

    id_token: str
    type: str = Field(description="2.0.1 IdTokenEnumType (1.6 idTags have no type)")
    status: str = Field(description="Accepted, Blocked, Expired or Invalid (AuthorizationStatus)")
    expiry_date: Timestamp | None = None
    group_id_token: str | None = Field(None, description="1.6 parentIdTag, 2.0.1 groupIdToken")


class LocalListModel(ResponseModel):
    """A charge point's local authorization list as the station last accepted it."""

    charge_point_id: str
    version: int = Field(description="the list version the station holds (0: none sent yet)")
    entries: list[LocalListEntryModel] = Field(description="ordered by id token")
    status: str | None = Field(
        description="how the last sync ended: the station's SendLocalList status (Accepted, Failed, "
        "NotSupported, VersionMismatch) or offline, timeout, call_error, disconnected; null before any"
    )
    synced_at: Timestamp | None = Field(description="when the last sync ended")


class LocalListSync(BaseModel):
    """What to send: `Full` replaces the station's list, `Differential` (default) sends only what changed
    since the list it accepted (a Full list when it has none)."""

    model_config = ConfigDict(extra="forbid")

    update_type: Literal["Full", "Differential"] = "Differential"


def entry_json(entry: LocalListEntry) -> dict[str, Any]:
    """One entry as the API shows it."""
    expiry: datetime | None = entry.expiry_date
    return {
        "id_token": entry.id_token,
        "type": entry.type,
        "status": entry.status,
        "expiry_date": None if expiry is None else timestamp(expiry),
        "group_id_token": entry.group_id_token,
    }


def local_list_json(record: StationLocalList) -> dict[str, Any]:
    """A station's record as the API shows it."""
    return {
        "charge_point_id": record.charge_point_id,
        "version": record.version,
        "entries": [entry_json(record.entries[k]) for k in sorted(record.entries)],
        "status": record.status,
        "synced_at": None if record.synced_at is None else timestamp(record.synced_at),
    }


async def _charge_point(request: web.Request) -> str:
    """The path's charge point, after checking it is the caller organization's (404 otherwise)."""
    services = get_domain(request).services
    charge_point_id = request.match_info["charge_point_id"]
    return (await registered_charge_point(services, charge_point_id, org_id=org_of(request))).charge_point_id


@api("GET", "/charge-points/{charge_point_id}/local-list", {200: LocalListModel}, errors=(404,))
async def handle_get_local_list(request: web.Request) -> web.Response:
    """The charge point's local authorization list.

    `GET /charge-points/{charge_point_id}/local-list`: the version and entries the station last accepted,
    how the last sync ended and when; version 0 and no entries before the first sync."""
    charge_point_id = await _charge_point(request)
    record = await get_domain(request).local_lists.get(charge_point_id)
    return json_response(local_list_json(record))


@api("POST", "/charge-points/{charge_point_id}/local-list/sync", {200: LocalListModel},
     errors=(400, 404, 409), body=LocalListSync, body_required=False)  # fmt: skip
async def handle_sync_local_list(request: web.Request) -> web.Response:
    """Send the charge point its local authorization list now.

    `POST /charge-points/{charge_point_id}/local-list/sync` `{update_type?: "Full" | "Differential"}`:
    SendLocalList with the organization's id tokens (split to the station's per-message limit); 200 with
    the list after it, whose `status` is how it ended (e.g. NotSupported, Failed); 409
    `charge_point_offline` when the station is not connected."""
    body = await read_optional_model(request, LocalListSync)
    charge_point_id = await _charge_point(request)
    domain = get_domain(request)
    if domain.commands.ocpp_version(charge_point_id) is None:
        raise ApiError(409, "charge_point_offline", f"charge point {charge_point_id!r} is not connected")
    record = await domain.local_lists.sync(charge_point_id, full=body.update_type == "Full")
    return json_response(local_list_json(record))


ROUTES: tuple[Route, ...] = tuple(api.routes)
