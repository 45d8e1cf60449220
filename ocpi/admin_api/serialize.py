"""The OCPI records as the operator API shows them (JSON objects; the models in `models` check them)."""

from __future__ import annotations

from csms.api.serialize import JsonObject, jsonable, model_json, timestamp
from ocpi.admin_api import models
from ocpi.models import ClientInfo, ConnectorSpec, Location, OutboxEntry, Partner, Tariff

# -- OCPI records (the OCPI bridge's own tables; see `ocpi.models`) ------------------------------------------


def location_json(location: Location) -> JsonObject:
    """A location as operators configured it: the OCPI Location fields without EVSEs (those come from its
    charge points' OCPP reports), with `charge_point_ids`; every field present, null when unset."""
    coordinates = {"latitude": location.latitude, "longitude": location.longitude}
    return model_json(models.Location, location, coordinates=coordinates)


def connector_spec_json(spec: ConnectorSpec, *, configured: bool) -> JsonObject:
    """The OCPI facts of one connector; `configured` false means nobody set them yet and these are the
    defaults the OCPI Locations module reports."""
    return model_json(models.ConnectorSpec, spec, configured=configured)


def tariff_json(tariff: Tariff, country_code: str, party_id: str) -> JsonObject:
    """A tariff as the OCPI Tariff object (ours: `country_code`, `party_id`), numbers as exact decimal text
    where the API stored them, every top-level field present (null when unset)."""
    data = jsonable(tariff.data)
    # The stored OCPI object leaves absent fields out; every field of the model is shown, null when absent.
    shown = {name: data.get(name) for name in models.Tariff.model_fields}
    return shown | {
        "id": tariff.id,
        "country_code": country_code,
        "party_id": party_id,
        "currency": tariff.currency,
        "elements": data.get("elements", []),
        "last_updated": timestamp(tariff.last_updated),
    }


def ocpi_partner_json(partner: Partner) -> JsonObject:
    """A roaming partner without any token (issued or received); `endpoints` maps `"<module>:<ROLE>"` to
    the partner's URL, as learnt from its version details."""
    return model_json(models.OcpiPartner, partner)


def outbox_entry_json(entry: OutboxEntry) -> JsonObject:
    """One push to a partner with its body and delivery state (`pending`, `sent`, `failed`)."""
    return model_json(models.OutboxEntry, entry)


def client_info_json(info: ClientInfo) -> JsonObject:
    """A party a hub connects and its connection status, with the hub's partner id."""
    return model_json(models.ClientInfo, info)
