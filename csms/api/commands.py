"""`/charge-points/{charge_point_id}/<command>`: reset, unlock, availability, trigger, data transfer, clear
cache and base report, in words that mean the same for OCPP 1.6 and 2.0.1 stations.

Each answers 200 `{"command": {"outcome", "status", "data"}}` when the station answered, whatever it said
(`status` is its own word: Accepted, Rejected, Scheduled, Unlocked, ...). A station that is offline, does
not answer or answers with a CALLERROR is an error (table in `csms.api.results`).
"""

from __future__ import annotations

import secrets
from typing import Unpack

from aiohttp import web
from pydantic import BaseModel

from csms.api import models
from csms.api.auth import org_of
from csms.api.errors import invalid_request
from csms.api.params import (
    evse_and_connector,
    get_domain,
    read_model,
    read_optional_model,
    registered_charge_point,
)
from csms.api.results import command_response
from csms.api.routes import COMMAND_ERRORS, Handler, Route, RouteOptions, route
from csms.api.schemas import (
    AvailabilityRequest,
    DataTransferRequest,
    ReportRequest,
    ResetRequest,
    TriggerRequest,
    UnlockRequest,
)
from csms.domain.commands import (
    ChangeAvailability,
    ClearCache,
    Command,
    CommandResult,
    DataTransfer,
    GetBaseReport,
    Reset,
    TriggerMessage,
    UnlockConnector,
)


async def known_charge_point(request: web.Request) -> str:
    """The path's `charge_point_id`, after checking it is registered.

    Raises:
        ApiError: 404 `not_found` for an unknown charge point.
    """
    services = get_domain(request).services
    charge_point_id = request.match_info["charge_point_id"]
    return (await registered_charge_point(services, charge_point_id, org_id=org_of(request))).charge_point_id


async def send(request: web.Request, charge_point_id: str, command: Command) -> CommandResult:
    """Send `command` through the domain's command service (the one place that talks to stations)."""
    return await get_domain(request).commands.send(charge_point_id, command)


async def handle_reset_charge_point(request: web.Request) -> web.Response:
    """`POST /charge-points/{charge_point_id}/reset` `{type: soft|hard|immediate|on_idle, evse_id?}`."""
    body = await read_model(request, ResetRequest)
    charge_point_id = await known_charge_point(request)
    result = await send(request, charge_point_id, Reset(body.type, body.evse_id))
    return command_response(result, charge_point_id)


async def handle_unlock_connector(request: web.Request) -> web.Response:
    """`POST /charge-points/{charge_point_id}/unlock` `{connector_id}` (1.6) or `{evse_id, connector_id?}`."""
    body = await read_model(request, UnlockRequest)
    evse_id, connector_id = evse_and_connector(body.evse_id, body.connector_id)
    if evse_id is None:
        raise invalid_request("connector_id", "give connector_id (1.6) or evse_id (2.0.1)")
    charge_point_id = await known_charge_point(request)
    command = UnlockConnector(evse_id, connector_id if connector_id is not None else 1)
    return command_response(await send(request, charge_point_id, command), charge_point_id)


async def handle_change_availability(request: web.Request) -> web.Response:
    """`POST /charge-points/{charge_point_id}/availability` `{operative | type, connector_id | evse_id}`
    (EVSE 0 or absent: the whole station)."""
    body = await read_model(request, AvailabilityRequest)
    operative = body.operative
    if body.type is not None:
        by_type = body.type == "Operative"
        if operative is not None and operative != by_type:
            raise invalid_request("type", "contradicts operative; give one of them")
        operative = by_type
    if operative is None:
        raise invalid_request("operative", "give operative (true/false) or type (Operative/Inoperative)")
    evse_id, connector_id = evse_and_connector(body.evse_id, body.connector_id)
    charge_point_id = await known_charge_point(request)
    command = ChangeAvailability(operative, evse_id or 0, connector_id or None)
    return command_response(await send(request, charge_point_id, command), charge_point_id)


async def handle_trigger_message(request: web.Request) -> web.Response:
    """`POST /charge-points/{charge_point_id}/trigger` `{message, connector_id | evse_id}`."""
    body = await read_model(request, TriggerRequest)
    evse_id, connector_id = evse_and_connector(body.evse_id, body.connector_id)
    charge_point_id = await known_charge_point(request)
    command = TriggerMessage(str(body.message), evse_id, connector_id)
    return command_response(await send(request, charge_point_id, command), charge_point_id)


async def handle_data_transfer(request: web.Request) -> web.Response:
    """`POST /charge-points/{charge_point_id}/data-transfer` `{vendor_id, message_id?, data?}`; the
    station's `data` comes back in `command.data`."""
    body = await read_model(request, DataTransferRequest)
    charge_point_id = await known_charge_point(request)
    command = DataTransfer(body.vendor_id, body.message_id, body.data)
    return command_response(await send(request, charge_point_id, command), charge_point_id)


async def handle_clear_cache(request: web.Request) -> web.Response:
    """`POST /charge-points/{charge_point_id}/clear-cache` (no body): clear the authorization cache."""
    charge_point_id = await known_charge_point(request)
    return command_response(await send(request, charge_point_id, ClearCache()), charge_point_id)


async def handle_get_base_report(request: web.Request) -> web.Response:
    """`POST /charge-points/{charge_point_id}/report` `{report_base?}`: GetBaseReport; the answer carries
    the `request_id` of the NotifyReport stream, which is stored as the device model
    (`GET .../configuration`)."""
    body = await read_optional_model(request, ReportRequest)
    charge_point_id = await known_charge_point(request)
    request_id = secrets.randbelow(2**31 - 2) + 1
    result = await send(request, charge_point_id, GetBaseReport(request_id, str(body.report_base)))
    return command_response(result, charge_point_id, extra={"request_id": request_id})


def _command(
    action: str,
    handler: Handler,
    summary: str,
    answer: type[BaseModel] = models.CommandResponse,
    **options: Unpack[RouteOptions],
) -> Route:
    """A command route: `POST /charge-points/{charge_point_id}/<action>` (role member), answered 200 with
    the station's result (`answer`)."""
    options.setdefault("errors", COMMAND_ERRORS)
    path = f"/charge-points/{{charge_point_id}}/{action}"
    return route("POST", path, handler, summary, {200: answer}, **options)


ROUTES: tuple[Route, ...] = (
    _command(
        "reset", handle_reset_charge_point, "Reboot the station (or, 2.0.1, one EVSE)", body=ResetRequest
    ),
    _command("unlock", handle_unlock_connector, "Unlock a connector", body=UnlockRequest),
    _command(
        "availability",
        handle_change_availability,
        "Set the station or an EVSE (in)operative",
        body=AvailabilityRequest,
    ),
    _command("trigger", handle_trigger_message, "Ask the station to send a message now", body=TriggerRequest),
    _command("data-transfer", handle_data_transfer, "Vendor-specific DataTransfer", body=DataTransferRequest),
    _command(
        "clear-cache",
        handle_clear_cache,
        "Clear the station's authorization cache",
        errors=(404, 409, 502, 504),
    ),
    _command(
        "report",
        handle_get_base_report,
        "GetBaseReport; the report is stored as the device model",
        models.ReportResponse,
        body=ReportRequest,
        body_required=False,
    ),
)
