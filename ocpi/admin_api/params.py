"""How the OCPI bridge's operator endpoints are declared: their path parameters, documented once, and
`route`, the API's route builder with those parameters (every such route may also answer 503
`ocpi_disabled`, when the server runs without the OCPI store)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from csms.api.auth import Role
from csms.api.routes import PATH_PARAMETERS as API_PATH_PARAMETERS
from csms.api.routes import STRING, Handler, JsonSchema, Route, param
from csms.api.routes import route as api_route

PATH_PARAMETERS: dict[str, JsonSchema] = {
    **API_PATH_PARAMETERS,
    "location_id": param("location_id", "path", STRING, "the OCPI location id"),
    "tariff_id": param("tariff_id", "path", STRING, "the OCPI tariff id"),
    "evse_id": param("evse_id", "path", {"type": "integer", "minimum": 1}, "the EVSE (1.6: the connector)"),
    "connector_id": param(
        "connector_id", "path", {"type": "integer", "minimum": 1}, "the connector of the EVSE (1.6: 1)"
    ),
    "entry_id": param("entry_id", "path", {"type": "integer", "minimum": 0}, "the outbox entry's id"),
}


def route(
    method: str,
    path: str,
    handler: Handler,
    summary: str,
    ok: dict[int, type[BaseModel] | None],
    *,
    errors: tuple[int, ...],
    role: Role | None = None,
    query: Iterable[JsonSchema] = (),
    body: type[BaseModel] | None = None,
    description: str = "",
    name: str | None = None,
) -> Route:
    """`csms.api.routes.route` for an OCPI operator endpoint: these path parameters, and 503 documented
    besides `errors`."""
    return api_route(
        method,
        path,
        handler,
        summary,
        ok,
        errors=(*errors, 503),
        role=role,
        query=query,
        body=body,
        description=description,
        name=name,
        path_parameters=PATH_PARAMETERS,
    )
