"""Path parameters of the OCPI bridge's operator endpoints, as documented."""

from __future__ import annotations

from csms.api.routes import STRING, param

P_LOCATION = param("location_id", "path", STRING, "the OCPI location id")
P_TARIFF = param("tariff_id", "path", STRING, "the OCPI tariff id")
P_EVSE = param("evse_id", "path", {"type": "integer", "minimum": 1}, "the EVSE (1.6: the connector)")
P_CONNECTOR = param(
    "connector_id", "path", {"type": "integer", "minimum": 1}, "the connector of the EVSE (1.6: 1)"
)
P_OUTBOX_ENTRY = param("entry_id", "path", {"type": "integer", "minimum": 0}, "the outbox entry's id")
