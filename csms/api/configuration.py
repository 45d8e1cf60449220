"""`/charge-points/{charge_point_id}/configuration`: the station's stored device model, refreshed from the
station on request, and changes to its configuration.

Keys are 1.6 key names or 2.0.1 `Component[instance]@evse:connector.Variable[instance]` (the 2.0.1
adapter's syntax; `OCPPCommCtrlr.HeartbeatInterval` in the common case). Reading with `refresh=true` sends
GetConfiguration (2.0.1 GetVariables; those need `keys`) first; what a station reports (1.6
GetConfiguration, 2.0.1 NotifyReport after `POST .../report`) is stored by the OCPP adapters.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.api import models
from csms.api.auth import CALLER, Role, may
from csms.api.commands import known_charge_point
from csms.api.errors import ApiError, invalid_request
from csms.api.params import bool_query, get_domain, read_model
from csms.api.responses import json_response
from csms.api.results import command_failure
from csms.api.routes import COMMAND_ERRORS, Operations, Route, param
from csms.api.schemas import ConfigurationChange
from csms.api.serialize import JsonObject, command_json, device_variable_json
from csms.domain.commands import ChangeConfiguration, GetConfiguration
from csms.domain.variable_keys import configuration_key

Q_REFRESH = param(
    "refresh",
    "query",
    {"type": "boolean", "default": False},
    "ask the station first (GetConfiguration / GetVariables); needs role member",
)
Q_KEYS = param("keys", "query", {"type": "string"}, "comma-separated keys: ask for and show only these")
PATH = "/charge-points/{charge_point_id}/configuration"
api = Operations()

MAX_KEYS = 50
MAX_KEY_LENGTH = 200


def _keys_query(request: web.Request) -> list[str]:
    raw = request.query.get("keys")
    if raw is None or raw == "":
        return []
    keys = [key.strip() for key in raw.split(",")]
    if any(not key or len(key) > MAX_KEY_LENGTH for key in keys):
        raise invalid_request("keys", f"must be comma-separated keys of 1 to {MAX_KEY_LENGTH} characters")
    if len(keys) > MAX_KEYS:
        raise invalid_request("keys", f"at most {MAX_KEYS} keys")
    return list(dict.fromkeys(keys))


@api("GET", PATH, {200: models.Configuration}, errors=COMMAND_ERRORS, query=(Q_REFRESH, Q_KEYS),
     description="`refresh=true` sends a command, so it needs role member (403 for viewers).")
async def handle_get_configuration(request: web.Request) -> web.Response:
    """The stored device model (optionally refreshed).

    `GET /charge-points/{charge_point_id}/configuration?refresh=&keys=a,b`: the stored device model
    (only `keys` when given); `command` is the GetConfiguration result when `refresh=true`, else null.

    Errors: 400, 403 (`refresh=true` sends a command: role member), 404; with `refresh=true` also 409
    offline / not supported (2.0.1 without keys), 502 CALLERROR, 504 no answer.
    """
    domain = get_domain(request)
    keys = _keys_query(request)
    refresh = bool_query(request, "refresh")
    if refresh and not may(request[CALLER].role, Role.MEMBER):
        raise ApiError(
            403,
            "forbidden",
            "refresh=true sends GetConfiguration to the station, which needs role member",
            {"role": request[CALLER].role, "required_role": Role.MEMBER.value},
        )
    charge_point_id = await known_charge_point(request)
    command: JsonObject | None = None
    if refresh:
        result = await domain.commands.send(charge_point_id, GetConfiguration(keys))
        failure = command_failure(result, charge_point_id)
        if failure is not None:
            raise failure
        command = command_json(result)
    variables = await domain.services.store.list_device_variables(charge_point_id)
    if keys:
        wanted = set(keys)
        variables = [v for v in variables if configuration_key(v) in wanted]
    return json_response(
        {
            "charge_point_id": charge_point_id,
            "variables": [device_variable_json(v) for v in variables],
            "command": command,
        }
    )


def _changes(body: ConfigurationChange) -> list[tuple[str, str]]:
    if body.values is not None:
        if body.key is not None or body.value is not None:
            raise invalid_request("values", "give either key and value, or values")
        return list(body.values.items())
    if body.key is None:
        raise invalid_request("key", "give key and value, or values")
    if body.value is None:
        raise invalid_request("value", "required with key")
    return [(body.key, body.value)]


@api("PATCH", PATH, {200: models.ConfigurationChanged}, errors=COMMAND_ERRORS, body=ConfigurationChange,
     description="An unanswered key stops the request with its error; `details.results` holds the keys "
                 "already answered.")
async def handle_change_configuration(request: web.Request) -> web.Response:
    """Change configuration values, one key at a time.

    `PATCH /charge-points/{charge_point_id}/configuration` `{"key", "value"}` or `{"values": {...}}`:
    one ChangeConfiguration (2.0.1 SetVariables) per key, in order; 200 `{"results": {key: command}}` with
    each key's status as the station answered it (Accepted, Rejected, RebootRequired, NotSupported, ...).

    Errors: 400, 404; 409 offline / not supported, 502 CALLERROR, 504 no answer — for the first key the
    station did not answer; later keys are not sent, and `details.results` holds the keys already answered.
    """
    domain = get_domain(request)
    changes = _changes(await read_model(request, ConfigurationChange))
    charge_point_id = await known_charge_point(request)
    results: dict[str, Any] = {}
    for key, value in changes:
        result = await domain.commands.send(charge_point_id, ChangeConfiguration(key, value))
        failure = command_failure(result, charge_point_id)
        if failure is not None:
            failure.details = {**(failure.details or {}), "key": key, "results": results}
            raise failure
        results[key] = command_json(result)
    return json_response({"charge_point_id": charge_point_id, "results": results})


ROUTES: tuple[Route, ...] = tuple(api.routes)
