"""Station certificates over REST (ADR 0014): what our CA issued to a charge point, renewal on demand, and
the CA certificate itself (PEM, usable as the TLS listener's `client_ca_file`)."""

from __future__ import annotations

from aiohttp import web

from csms.api import models
from csms.api.auth import org_of
from csms.api.params import get_domain, registered_charge_point
from csms.api.responses import json_response
from csms.api.results import command_response
from csms.api.routes import COMMAND_ERRORS, Operations, Route
from csms.api.serialize import model_json

api = Operations()


async def _charge_point(request: web.Request) -> str:
    """The path's charge point, after checking it is the caller organization's (404 otherwise)."""
    services = get_domain(request).services
    charge_point_id = request.match_info["charge_point_id"]
    return (await registered_charge_point(services, charge_point_id, org_id=org_of(request))).charge_point_id


@api("GET", "/charge-points/{charge_point_id}/certificates", {200: models.IssuedCertificateList},
     errors=(404,))
async def handle_list_station_certificates(request: web.Request) -> web.Response:
    """The certificates our CA issued to the charge point.

    `GET /charge-points/{charge_point_id}/certificates`: serial number, type and expiry of every certificate
    signed for it and accepted by it, oldest first; 404 if the charge point is unknown.
    """
    charge_point_id = await _charge_point(request)
    issued = get_domain(request).certificates.issued(charge_point_id)
    items = [model_json(models.IssuedCertificate, cert) for cert in issued]
    return json_response({"items": items})


@api("POST", "/charge-points/{charge_point_id}/certificates/renew", {200: models.CommandResponse},
     errors=COMMAND_ERRORS)
async def handle_renew_station_certificate(request: web.Request) -> web.Response:
    """Ask the station for a new certificate now.

    `POST /charge-points/{charge_point_id}/certificates/renew` (no body): 2.0.1 TriggerMessage
    SignChargingStationCertificate, 1.6 ExtendedTriggerMessage SignChargePointCertificate; the station's
    answer comes back, the new certificate follows through SignCertificate.
    """
    charge_point_id = await _charge_point(request)
    result = await get_domain(request).certificates.renew_now(charge_point_id)
    return command_response(result, charge_point_id)


@api("GET", "/certificates/ca.pem", {200: None}, media_type="application/x-pem-file",
     description="The CA certificate in PEM; give it to stations as their CSMS root and to the TLS "
                 "listener as `client_ca_file` (security profile 3).")
async def handle_get_ca_certificate(request: web.Request) -> web.Response:
    """The certificate authority that signs station certificates.

    `GET /certificates/ca.pem`: the same for every organization (one CA per CSMS)."""
    ca = await get_domain(request).certificates.authority()
    return web.Response(text=ca.cert_pem, content_type="application/x-pem-file")


ROUTES: tuple[Route, ...] = tuple(api.routes)
