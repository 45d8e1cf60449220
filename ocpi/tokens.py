"""OCPI 2.2.1 Tokens, receiver interface (we are the CPO): eMSPs push their tokens to us.

`GET/PUT/PATCH /ocpi/2.2.1/tokens/{country_code}/{party_id}/{token_uid}[?type=RFID]` (OCPI 2.2.1 Tokens
§ "Receiver Interface"). A partner may only write and read tokens of its own parties (the country code and
party id of its credentials or of one of its CredentialsRoles): a PUT or PATCH under another party's
country_code/party_id is refused with HTTP 404 and status 2001 (OCPI 2.2.1 transport, "Client Owned Object
Push": a server may answer 404 to block access to objects that are not the client's; 2001: the URL's
parameters are not the caller's), logged, and changes nothing. PUT stores the full Token, PATCH merges the
fields given (with the mandatory `last_updated`). Tokens are never deleted: an eMSP sets `valid=false`.

What the stored tokens are used for — answering OCPP Authorize and transaction starts, honouring
`whitelist` with real-time authorization — lives in `ocpi.authority`.

The Token object is declared once (`TOKEN_FIELDS`, with `ocpi.objects.Field`), to validate what partners
send and to keep only its fields when we store it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from ocpi.context import context_of
from ocpi.models import Partner, PartnerToken, PartyScope
from ocpi.objects import Field, check_object
from ocpi.transport import (
    VERSION,
    OcpiError,
    Status,
    invalid_parameters,
    ocpi_datetime,
    ok,
    parse_ocpi_datetime,
    partner_of,
    read_json,
)

log = structlog.get_logger("ocpi.tokens")

IDENTIFIER = "tokens"
ROLE = "RECEIVER"

# OCPI 2.2.1 Tokens: TokenType, WhitelistType and (Sessions) ProfileType enums.
TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
WHITELIST_TYPES = ("ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER")
PROFILE_TYPES = ("CHEAP", "FAST", "GREEN", "REGULAR")
DEFAULT_TOKEN_TYPE = "RFID"  # the `type` query parameter's default (OCPI 2.2.1 Tokens 2.2.1)

# Fields that identify a token: a PATCH may repeat them but never change them.
IDENTITY_FIELDS = ("country_code", "party_id", "uid", "type")


# -- validation -------------------------------------------------------------------------------------


ENERGY_CONTRACT_FIELDS = (
    Field("supplier_name", "string", 64, required=True),
    Field("contract_id", "string", 64),
)

# The CdrToken part of a Token (OCPI 2.2.1 CDRs): what a Session and a CDR carry of it.
CDR_TOKEN_FIELDS = (
    Field("country_code", "cistring", 2, required=True),
    Field("party_id", "cistring", 3, required=True),
    Field("uid", "cistring", 36, required=True),
    Field("type", "string", required=True, enum=TOKEN_TYPES),
    Field("contract_id", "cistring", 36, required=True),
)

TOKEN_FIELDS = (
    *CDR_TOKEN_FIELDS,
    Field("visual_number", "string", 64),
    Field("issuer", "string", 64, required=True),
    Field("group_id", "cistring", 36),
    Field("valid", "boolean", required=True),
    Field("whitelist", "string", required=True, enum=WHITELIST_TYPES),
    Field("language", "string", 2),
    Field("default_profile_type", "string", enum=PROFILE_TYPES),
    Field("energy_contract", "object", fields=ENERGY_CONTRACT_FIELDS),
    Field("last_updated", "datetime", 25, required=True),
)


# -- ownership --------------------------------------------------------------------------------------


def partner_parties(partner: Partner) -> set[tuple[str, str]]:
    """(country_code, party_id) pairs (upper case: OCPI CiStrings) a partner speaks for: the ones it was
    added with and those of every role in its credentials (a hub or a multi-party eMSP has several)."""
    return set(PartyScope.of(partner).parties)


def _owns(partner: Partner, country_code: str, party_id: str) -> bool:
    return PartyScope.of(partner).owns_party(country_code, party_id)


# -- conversion -------------------------------------------------------------------------------------


def token_from_object(obj: dict[str, Any], partner_id: int | None) -> PartnerToken:
    """A validated OCPI Token object as the record we store (`last_updated` normalised to `Z` form, fields
    the Token does not define dropped)."""
    last_updated = parse_ocpi_datetime(obj["last_updated"])
    # Only the Token's own fields are kept (and null ones dropped): what GET returns must be a valid Token.
    data = {f.name: obj[f.name] for f in TOKEN_FIELDS if obj.get(f.name) is not None}
    data["last_updated"] = ocpi_datetime(last_updated)
    return PartnerToken(
        country_code=obj["country_code"],
        party_id=obj["party_id"],
        uid=obj["uid"],
        type=obj["type"],
        contract_id=obj["contract_id"],
        issuer=obj["issuer"],
        valid=obj["valid"],
        whitelist=obj["whitelist"],
        data=data,
        partner_id=partner_id,
        group_id=obj.get("group_id"),
        last_updated=last_updated,
    )


def token_object(token: PartnerToken) -> dict[str, Any]:
    """The OCPI Token object of a stored token (what GET answers)."""
    data = dict(token.data)
    if token.last_updated is not None:
        data["last_updated"] = ocpi_datetime(token.last_updated)
    return data


def cdr_token(token: Mapping[str, Any]) -> dict[str, Any]:
    """The CdrToken (OCPI 2.2.1 Sessions/CDRs) of a Token object: what a Session and its CDR carry."""
    return {
        "country_code": token["country_code"],
        "party_id": token["party_id"],
        "uid": token["uid"],
        "type": token["type"],
        "contract_id": token["contract_id"],
    }


# -- handlers ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Address:
    country_code: str
    party_id: str
    uid: str
    type: str


def _address(request: web.Request) -> _Address:
    info = request.match_info
    token_type = request.query.get("type", DEFAULT_TOKEN_TYPE)
    if token_type not in TOKEN_TYPES:
        raise invalid_parameters(f"type must be one of {', '.join(TOKEN_TYPES)}")
    return _Address(info["country_code"], info["party_id"], info["token_uid"], token_type)


def _check_owner(request: web.Request, partner: Partner, address: _Address) -> None:
    """Refuse (HTTP 404, status 2001; see the module docstring) and log a PUT or PATCH of a token under a
    country_code/party_id that is not one of the partner's, before anything is read or stored."""
    if _owns(partner, address.country_code, address.party_id):
        return
    log.warning(
        "token_of_another_party_refused",
        partner_id=partner.id,
        method=request.method,
        country_code=address.country_code,
        party_id=address.party_id,
        uid=address.uid,
    )
    raise OcpiError(
        404,
        Status.INVALID_PARAMETERS,
        f"{address.country_code}/{address.party_id} is not one of your parties: "
        "a partner may only push its own tokens",
    )


def _check_identity(address: _Address, body: Mapping[str, Any], *, type_from_url: bool) -> None:
    """The URL names the object: the body's identity fields, where given, must be the same (OCPI 2.2.1
    transport: client owned object push)."""
    expected = {
        "country_code": address.country_code,
        "party_id": address.party_id,
        "uid": address.uid,
    }
    if type_from_url:
        expected["type"] = address.type
    for name, value in expected.items():
        given = body.get(name)
        if given is None:
            continue
        same = given == value if name in ("uid", "type") else str(given).upper() == value.upper()
        if not same:
            raise invalid_parameters(f"{name} in the body ({given!r}) differs from the URL ({value!r})")


async def handle_get_token(request: web.Request) -> web.Response:
    """`GET tokens/{cc}/{pid}/{uid}[?type=]`: the token as we store it; 404 / 2004 when unknown (or when
    it belongs to another party, OCPI 2.2.1 transport: a foreign object is answered as missing)."""
    ctx = context_of(request)
    partner = partner_of(request)
    address = _address(request)
    token = None
    if _owns(partner, address.country_code, address.party_id):
        token = await ctx.store.get_partner_token(
            address.country_code, address.party_id, address.uid, address.type
        )
    if token is None:
        raise OcpiError(404, Status.UNKNOWN_TOKEN, f"unknown token {address.uid} ({address.type})")
    return ok(token_object(token))


async def handle_put_token(request: web.Request) -> web.Response:
    """`PUT tokens/{cc}/{pid}/{uid}[?type=]`: store the full Token (OCPI 2.2.1: PUT replaces the object,
    omitted optional fields are reset). 201 when it is new, 200 when it replaced one.

    The `type` query parameter, when given, must equal the body's `type`; when omitted we take the body's
    type (the spec's default RFID would make every APP_USER PUT without `?type=` fail: lenient on input).

    Errors: 2001 (HTTP 200) for an invalid object or a body that names another token than the URL; HTTP 404
    / 2001 for a country code / party id that is not the caller's (nothing stored).
    """
    ctx = context_of(request)
    partner = partner_of(request)
    address = _address(request)
    _check_owner(request, partner, address)
    body = await read_json(request)
    check_object(body, TOKEN_FIELDS, what="Token")
    _check_identity(address, body, type_from_url="type" in request.query)
    existing = await ctx.store.get_partner_token(
        address.country_code, address.party_id, address.uid, body["type"]
    )
    # Keep the URL's spelling of the identity: a CiString compare found them equal.
    body = {**body, "country_code": address.country_code, "party_id": address.party_id}
    await ctx.store.save_partner_token(token_from_object(body, partner.id))
    return ok(http_status=200 if existing is not None else 201)


async def handle_patch_token(request: web.Request) -> web.Response:
    """`PATCH tokens/{cc}/{pid}/{uid}[?type=]`: merge the given fields into the stored token (OCPI 2.2.1:
    PATCH carries the changed fields and the mandatory `last_updated`; a nested object given replaces the
    stored one). The merged token is validated like a PUT.

    Errors: 2001 (HTTP 200) without `last_updated`, with an invalid field, or when the body changes the
    token's identity (country_code, party_id, uid, type); 404 / 2004 for a token we do not have (the
    eMSP then PUTs it, OCPI 2.2.1 transport: "if a PATCH fails, GET then PUT"); 404 / 2001 for a country
    code / party id that is not the caller's (nothing changes).
    """
    ctx = context_of(request)
    partner = partner_of(request)
    address = _address(request)
    _check_owner(request, partner, address)
    body = await read_json(request)
    if body.get("last_updated") is None:
        raise invalid_parameters("a PATCH must carry last_updated")
    _check_identity(address, body, type_from_url=True)
    token = await ctx.store.get_partner_token(
        address.country_code, address.party_id, address.uid, address.type
    )
    if token is None:
        raise OcpiError(404, Status.UNKNOWN_TOKEN, f"unknown token {address.uid} ({address.type})")
    merged = {**token.data, **body}
    for name in IDENTITY_FIELDS:  # unchanged by construction; keep the stored spelling
        merged[name] = token.data.get(name, getattr(token, name))
    check_object(merged, TOKEN_FIELDS, what="Token")
    await ctx.store.save_partner_token(token_from_object(merged, token.partner_id or partner.id))
    return ok()


def register(app: web.Application) -> None:
    """Add the Tokens receiver routes below `/2.2.1/tokens` of the OCPI sub-application."""
    path = f"/{VERSION}/{IDENTIFIER}/{{country_code}}/{{party_id}}/{{token_uid}}"
    app.router.add_get(path, handle_get_token, allow_head=False)
    app.router.add_put(path, handle_put_token)
    app.router.add_patch(path, handle_patch_token)
