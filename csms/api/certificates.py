"""Station certificates over REST (ADR 0014): what our CA issued to a charge point, renewal on demand, and
the CA certificate itself (PEM, usable as the TLS listener's `client_ca_file`)."""

from __future__ import annotations

from aiohttp import web

from csms.api import models
from csms.api.auth import org_of
from csms.api.params import get_domain, read_model, read_optional_model, registered_charge_point
from csms.api.responses import json_response
from csms.api.results import command_response
from csms.api.routes import COMMAND_ERRORS, Operations, Route
from csms.api.schemas import DeleteCertificateRequest, InstallCertificateRequest, InstalledCertificatesRequest
from csms.api.serialize import model_json
from csms.domain.commands import Command, DeleteCertificate, GetInstalledCertificateIds, InstallCertificate

api = Operations()


async def _charge_point(request: web.Request) -> str:
    """The path's charge point, after checking it is the caller organization's (404 otherwise)."""
    services = get_domain(request).services
    charge_point_id = request.match_info["charge_point_id"]
    return (await registered_charge_point(services, charge_point_id, org_id=org_of(request))).charge_point_id


async def _send(request: web.Request, charge_point_id: str, command: Command) -> web.Response:
    """Send the command and answer with the station's result (errors as for every command)."""
    result = await get_domain(request).commands.send(charge_point_id, command)
    return command_response(result, charge_point_id)


@api("GET", "/charge-points/{charge_point_id}/certificates", {200: models.IssuedCertificateList},
     errors=(404,))
async def handle_list_station_certificates(request: web.Request) -> web.Response:
    """The certificates our CA issued to the charge point.

    `GET /charge-points/{charge_point_id}/certificates`: serial number, type and expiry of every certificate
    signed for it and accepted by it, oldest first; 404 if the charge point is unknown.
    """
    charge_point_id = await _charge_point(request)
    issued = await get_domain(request).certificates.issued(charge_point_id)
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


@api("POST", "/charge-points/{charge_point_id}/certificates/install", {200: models.CommandResponse},
     errors=COMMAND_ERRORS, body=InstallCertificateRequest)
async def handle_install_certificate(request: web.Request) -> web.Response:
    """Install a root certificate on the station.

    `POST /charge-points/{charge_point_id}/certificates/install` `{certificate_type, certificate}`:
    InstallCertificate (OCPP 2.0.1 M05, 1.6 Security Whitepaper); the station's status comes back."""
    body = await read_model(request, InstallCertificateRequest)
    charge_point_id = await _charge_point(request)
    command = InstallCertificate(body.certificate_type, body.certificate)
    return await _send(request, charge_point_id, command)


@api("POST", "/charge-points/{charge_point_id}/certificates/installed", {200: models.CommandResponse},
     errors=COMMAND_ERRORS, body=InstalledCertificatesRequest, body_required=False)
async def handle_get_installed_certificates(request: web.Request) -> web.Response:
    """List the certificates installed on the station.

    `POST /charge-points/{charge_point_id}/certificates/installed` `{certificate_types?}`:
    GetInstalledCertificateIds (2.0.1 M03); `data.certificates` lists {certificate_type, hash_algorithm,
    issuer_name_hash, issuer_key_hash, serial_number}."""
    body = await read_optional_model(request, InstalledCertificatesRequest)
    charge_point_id = await _charge_point(request)
    command = GetInstalledCertificateIds(list(body.certificate_types))
    return await _send(request, charge_point_id, command)


@api("POST", "/charge-points/{charge_point_id}/certificates/delete", {200: models.CommandResponse},
     errors=COMMAND_ERRORS, body=DeleteCertificateRequest)
async def handle_delete_certificate(request: web.Request) -> web.Response:
    """Delete a certificate installed on the station.

    `POST /charge-points/{charge_point_id}/certificates/delete` with its hash data as
    GetInstalledCertificateIds reported it: DeleteCertificate (2.0.1 M04)."""
    body = await read_model(request, DeleteCertificateRequest)
    charge_point_id = await _charge_point(request)
    command = DeleteCertificate(
        body.hash_algorithm, body.issuer_name_hash, body.issuer_key_hash, body.serial_number
    )
    return await _send(request, charge_point_id, command)


@api("GET", "/certificates/ca.pem", {200: None}, media_type="application/x-pem-file",
     description="The CA certificate in PEM; give it to stations as their CSMS root and to the TLS "
                 "listener as `client_ca_file` (security profile 3).")
async def handle_get_ca_certificate(request: web.Request) -> web.Response:
    """The certificate authority that signs station certificates.

    `GET /certificates/ca.pem`: the same for every organization (one CA per CSMS)."""
    ca = await get_domain(request).certificates.authority()
    return web.Response(text=ca.cert_pem, content_type="application/x-pem-file")


ROUTES: tuple[Route, ...] = tuple(api.routes)
