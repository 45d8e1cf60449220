"""OCPI 2.2.1 HubClientInfo, receiver interface (we are the CPO): a hub tells us which parties it connects and
whether they are reachable.

Routes: `PUT /ocpi/2.2.1/hubclientinfo/{country_code}/{party_id}` stores the ClientInfo object (201 when new,
200 when it replaced one; OCPI 2.2.1 transport: PUT of a client-owned object) and `GET` the same URL answers
it (HTTP 404, status 2000 when we have none: "404 GET of a missing object"). The body's `country_code` and
`party_id` must be the URL's (case-insensitive CiStrings; 2001 otherwise), and only a hub sends ClientInfo
(OCPI 2.2.1 HubClientInfo: the Hub is the sender): a partner that registered in no HUB role is answered 2000.

What is stored is listed for operators (`GET /api/v1/ocpi/client-infos`, `ocpi.admin_api.partners`).
"""

from __future__ import annotations

from aiohttp import web

from ocpi import transport
from ocpi.context import context_of
from ocpi.models import ClientInfo, Partner
from ocpi.objects import Field, check_object

IDENTIFIER = "hubclientinfo"
ROLE = "RECEIVER"

# OCPI 2.2.1 Role and ConnectionStatus enums.
ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")
CONNECTION_STATUSES = ("CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED")

CLIENT_INFO_FIELDS = (
    Field("party_id", "cistring", 3, required=True),
    Field("country_code", "cistring", 2, required=True),
    Field("role", "string", required=True, enum=ROLES),
    Field("status", "string", required=True, enum=CONNECTION_STATUSES),
    Field("last_updated", "datetime", 25, required=True),
)


def client_info_object(info: ClientInfo) -> dict[str, str]:
    """The OCPI ClientInfo object of a stored record."""
    return {
        "party_id": info.party_id,
        "country_code": info.country_code,
        "role": info.role,
        "status": info.status,
        "last_updated": transport.ocpi_datetime(info.last_updated) if info.last_updated is not None else "",
    }


def _is_hub(partner: Partner) -> bool:
    return partner.role == "HUB" or any(role.get("role") == "HUB" for role in partner.roles)


def _party(request: web.Request) -> tuple[str, str]:
    """(country_code, party_id) of the URL, upper case (CiStrings), checked for length."""
    country_code = request.match_info["country_code"].upper()
    party_id = request.match_info["party_id"].upper()
    if len(country_code) != 2 or len(party_id) != 3:
        raise transport.invalid_parameters("country_code must have 2 characters and party_id 3")
    return country_code, party_id


async def handle_get(request: web.Request) -> web.Response:
    """`GET hubclientinfo/{cc}/{pid}`: the ClientInfo we have of that party; 404 / 2000 when none."""
    ctx = context_of(request)
    country_code, party_id = _party(request)
    info = await ctx.store.get_client_info(country_code, party_id)
    if info is None:
        message = f"no ClientInfo of {country_code}/{party_id}"
        raise transport.OcpiError(404, transport.Status.CLIENT_ERROR, message)
    return transport.ok(client_info_object(info))


async def handle_put(request: web.Request) -> web.Response:
    """`PUT hubclientinfo/{cc}/{pid}`: store the hub's ClientInfo of that party (replacing ours).

    Errors: 2000 when the caller is not a hub; 2001 (HTTP 200) for an invalid object or a body naming
    another party than the URL.
    """
    ctx = context_of(request)
    partner = transport.partner_of(request)
    if not _is_hub(partner):
        message = "only a hub sends ClientInfo (OCPI 2.2.1 HubClientInfo)"
        raise transport.OcpiError(200, transport.Status.CLIENT_ERROR, message)
    country_code, party_id = _party(request)
    body = await transport.read_json(request)
    check_object(body, CLIENT_INFO_FIELDS, what="ClientInfo")
    if (str(body["country_code"]).upper(), str(body["party_id"]).upper()) != (country_code, party_id):
        raise transport.invalid_parameters("country_code and party_id in the body differ from the URL")
    existing = await ctx.store.get_client_info(country_code, party_id)
    await ctx.store.save_client_info(
        ClientInfo(
            country_code=country_code,
            party_id=party_id,
            role=body["role"],
            status=body["status"],
            partner_id=partner.id,
            last_updated=transport.parse_ocpi_datetime(body["last_updated"]),
        )
    )
    return transport.ok(http_status=200 if existing is not None else 201)


def register(app: web.Application) -> None:
    """Add the HubClientInfo receiver routes below `/2.2.1/hubclientinfo` of the OCPI sub-application."""
    path = f"/{transport.VERSION}/{IDENTIFIER}/{{country_code}}/{{party_id}}"
    app.router.add_get(path, handle_get, allow_head=False)
    app.router.add_put(path, handle_put)
