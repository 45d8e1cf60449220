"""How the OCPI bridge's operator endpoints are declared: their path parameters, documented once, and
`operations()`, a table of operations documented with those parameters. Every such operation documents
503 `ocpi_disabled`: the server may run without the OCPI store."""

from __future__ import annotations

from csms.api.routes import PATH_PARAMETERS as API_PATH_PARAMETERS
from csms.api.routes import STRING, JsonSchema, Operations, param

PATH_PARAMETERS: dict[str, JsonSchema] = {
    **API_PATH_PARAMETERS,
    "location_id": param("location_id", "path", STRING, "the OCPI location id"),
    "tariff_id": param("tariff_id", "path", STRING, "the OCPI tariff id"),
    "evse_id": param("evse_id", "path", {"type": "integer", "minimum": 1}, "the EVSE (1.6: the connector)"),
    "connector_id": param(
        "connector_id", "path", {"type": "integer", "minimum": 1}, "the connector of the EVSE (1.6: 1)"
    ),
    "cdr_id": param("cdr_id", "path", {"type": "string", "maxLength": 39}, "the OCPI CDR id"),
    "cpo_id": param("cpo_id", "path", {"type": "integer", "minimum": 0}, "the eMSP role's CPO id"),
    "client_id": param("client_id", "path", {"type": "integer", "minimum": 0}, "the Agent API client's id"),
    "entry_id": param("entry_id", "path", {"type": "integer", "minimum": 0}, "the outbox entry's id"),
}


def operations() -> Operations:
    """A module's table of OCPI operator endpoints (`@api(method, path, ok, ...)` on each handler), their
    path parameters documented as above."""
    return Operations(path_parameters=PATH_PARAMETERS)
