"""How the OCPI bridge's operator endpoints are declared: their path parameters, documented once, and
`route`, the API's route builder with those parameters. Every such route documents 503 `ocpi_disabled`:
the server may run without the OCPI store."""

from __future__ import annotations

from functools import partial

from csms.api.routes import PATH_PARAMETERS as API_PATH_PARAMETERS
from csms.api.routes import STRING, JsonSchema, param
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


# `csms.api.routes.route` for the OCPI operator endpoints: their path parameters documented as above.
route = partial(api_route, path_parameters=PATH_PARAMETERS)
