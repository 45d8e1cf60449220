"""OCPI 2.2.1 Credentials (server side): partners register with us, update and unregister.

The handshake (OCPI 2.2.1 Credentials: registration), with us as the server:

1. An operator issued token A (`ocpi.partners.issue_partner`); the partner GETs our versions with it and
   POSTs its credentials `{token: B, url, roles}` here.
2. We GET its versions and 2.2.1 details with token B (3001 if that fails, 3002 without 2.2.1, 3003 without
   an endpoint we use), store B and its endpoints, issue token C (stored hashed) and answer our credentials
   with C. Token A is dead from then on.
3. PUT repeats step 2 (new B, endpoints fetched again) and rotates C; DELETE unregisters: none of the
   tokens works any more.

GET answers our credentials with the token the caller used. POST is 405 once registered; PUT and DELETE are
405 before. Registering with a partner (us as the client) is `ocpi.registration`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from ocpi import token_pull
from ocpi.context import OcpiContext, context_of
from ocpi.models import Partner, PartnerStatus
from ocpi.partners import ROLES, new_token
from ocpi.transport import (
    TOKEN,
    TOKEN_KIND,
    VERSION,
    OcpiError,
    Status,
    hash_token,
    invalid_parameters,
    ok,
    partner_of,
    read_json,
)
from ocpi.versions import VersionHandshakeError, fetch_partner_endpoints

IDENTIFIER = "credentials"
ROLE = "SENDER"  # the Credentials module has no roles; 2.2.1 details list it as SENDER

log = structlog.get_logger("ocpi.credentials")


@dataclasses.dataclass(frozen=True, slots=True)
class Credentials:
    """A partner's Credentials object, checked (OCPI 2.2.1 Credentials object)."""

    token: str
    url: str
    roles: list[dict[str, Any]]


def credentials_object(ctx: OcpiContext, token: str) -> dict[str, Any]:
    """Our Credentials object: `token` is the token the partner must use to call us, `url` our versions
    endpoint, `roles` one CPO role per party we serve (`[ocpi]` default party first, then
    `extra_parties`; OCPI 2.2.1 Credentials object: a platform serving several parties lists a role each).
    Used both when we answer a partner's registration and when we register with one."""
    return {
        "token": token,
        "url": ctx.versions_url,
        "roles": [
            {
                "role": "CPO",
                "business_details": {"name": party.business_name},
                "party_id": party.party_id,
                "country_code": party.country_code,
            }
            for party in ctx.config.parties()
        ],
    }


def parse_credentials(body: Any) -> Credentials:
    """Check a Credentials object a partner sent (POST/PUT body, or its answer to our POST).

    Raises:
        ValueError: a field is missing or malformed; the message names it.
    """
    if not isinstance(body, dict):
        raise ValueError("credentials must be an object")
    token, url, roles = body.get("token"), body.get("url"), body.get("roles")
    # token: string(64), case sensitive, ASCII only, not encoded (OCPI 2.2.1 Credentials object).
    if (
        not isinstance(token, str)
        or not 0 < len(token) <= 64
        or not all(0x21 <= ord(c) <= 0x7E for c in token)
    ):
        raise ValueError("token must be 1 to 64 printable ASCII characters")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("url must be the absolute URL of the versions endpoint")
    if not isinstance(roles, list) or not roles:
        raise ValueError("roles must be a non-empty list of CredentialsRole objects")
    seen: set[tuple[str, str, str]] = set()
    checked: list[dict[str, Any]] = []
    for index, role in enumerate(roles):
        where = f"roles[{index}]"
        if not isinstance(role, dict):
            raise ValueError(f"{where} must be an object")
        name = role.get("role")
        if not isinstance(name, str) or name not in ROLES:
            raise ValueError(f"{where}.role must be one of {', '.join(ROLES)}")
        details = role.get("business_details")
        if not isinstance(details, dict) or not isinstance(details.get("name"), str) or not details["name"]:
            raise ValueError(f"{where}.business_details.name is required")
        party_id, country_code = role.get("party_id"), role.get("country_code")
        if not isinstance(party_id, str) or len(party_id) != 3:
            raise ValueError(f"{where}.party_id must be 3 characters")
        if not isinstance(country_code, str) or len(country_code) != 2:
            raise ValueError(f"{where}.country_code must be 2 characters")
        # Every role needs a unique combination of role, party_id and country_code (CiString: any case).
        key = (name, party_id.upper(), country_code.upper())
        if key in seen:
            raise ValueError(f"{where} repeats role {name} of {country_code}/{party_id}")
        seen.add(key)
        checked.append(role)
    return Credentials(token=token, url=url, roles=checked)


def _lock(ctx: OcpiContext, partner_id: int) -> asyncio.Lock:
    locks = ctx.partner_locks
    return locks.setdefault(partner_id, asyncio.Lock())


async def read_credentials(request: web.Request) -> Credentials:
    """The request's Credentials object, checked; a malformed one is answered 2001 (`invalid_parameters`)."""
    try:
        return parse_credentials(await read_json(request))
    except ValueError as exc:
        raise invalid_parameters(str(exc)) from None


async def _fetch(ctx: OcpiContext, partner: Partner, credentials: Credentials) -> tuple[str, dict[str, str]]:
    """The partner's 2.2.1 endpoints, fetched with its new token B; an OCPI error (HTTP 200) otherwise."""
    try:
        client = ctx.partner_client()
        return await fetch_partner_endpoints(client, partner, credentials.url, credentials.token)
    except VersionHandshakeError as exc:
        log.warning(
            "ocpi_credentials_handshake_failed",
            partner_id=partner.id,
            status_code=int(exc.status),
            error=exc.message,
        )
        # Reached the OCPI layer: no HTTP error, the OCPI status says what failed (OCPI 2.2.1 Credentials:
        # errors during registration).
        raise OcpiError(200, exc.status, exc.message) from exc


def _store_handshake(
    partner: Partner, credentials: Credentials, endpoints: dict[str, str], token_c: str, now: datetime
) -> None:
    partner.token_b = credentials.token
    partner.versions_url = credentials.url
    partner.version = VERSION
    partner.endpoints = endpoints
    partner.roles = credentials.roles
    partner.token_c_hash = hash_token(token_c)
    partner.token_a_hash = None  # token A is used up (OCPI 2.2.1 Credentials: registration)
    partner.status = PartnerStatus.REGISTERED
    partner.updated_at = now
    if not any(
        str(r.get("country_code", "")).upper() == partner.country_code.upper()
        and str(r.get("party_id", "")).upper() == partner.party_id.upper()
        for r in credentials.roles
    ):
        log.warning(
            "ocpi_partner_roles_differ",
            partner_id=partner.id,
            country_code=partner.country_code,
            party_id=partner.party_id,
            roles=[f"{r.get('country_code')}/{r.get('party_id')} {r.get('role')}" for r in credentials.roles],
        )


async def handle_get(request: web.Request) -> web.Response:
    """GET: our credentials, carrying the token the caller authenticated with (A before registration, C
    after; OCPI 2.2.1 Credentials: GET)."""
    return ok(credentials_object(context_of(request), request[TOKEN]))


async def handle_post(request: web.Request) -> web.Response:
    """POST: register the calling partner (with token A): fetch its endpoints with its token B, answer our
    credentials with a new token C. 405 if it is already registered."""
    ctx = context_of(request)
    caller = partner_of(request)
    credentials = await read_credentials(request)
    async with _lock(ctx, caller.id):
        partner = await ctx.store.get_partner(caller.id)
        if (
            partner is None
            or partner.status == PartnerStatus.REGISTERED
            or request[TOKEN_KIND] != "A"
            or partner.token_a_hash != hash_token(request[TOKEN])
        ):
            raise OcpiError(405, Status.CLIENT_ERROR, "already registered: use PUT to update the credentials")
        endpoints, token_c = await _handshake(ctx, partner, credentials)
    log.info("ocpi_partner_registered", partner_id=partner.id, endpoints=sorted(endpoints))
    token_pull.after_registration(ctx, partner.id)  # its tokens, without waiting for a PUT of each
    return ok(credentials_object(ctx, token_c))


async def _handshake(
    ctx: OcpiContext, partner: Partner, credentials: Credentials
) -> tuple[dict[str, str], str]:
    """Fetch the partner's endpoints with its new token B, issue a new token C and store both (the caller
    holds the partner's lock). Returns the endpoints and the token C to answer with."""
    probe = dataclasses.replace(partner, token_b=credentials.token)
    _details_url, endpoints = await _fetch(ctx, probe, credentials)
    token_c = new_token()
    _store_handshake(partner, credentials, endpoints, token_c, ctx.clock())
    await ctx.store.save_partner(partner)
    return endpoints, token_c


async def handle_put(request: web.Request) -> web.Response:
    """PUT: a registered partner updates its credentials: fetch its endpoints again with its new token B,
    rotate its token C (the old one stops working). 405 if it is not registered."""
    ctx = context_of(request)
    caller = partner_of(request)
    credentials = await read_credentials(request)
    async with _lock(ctx, caller.id):
        partner = await ctx.store.get_partner(caller.id)
        if partner is None or partner.status != PartnerStatus.REGISTERED or request[TOKEN_KIND] != "C":
            raise OcpiError(405, Status.CLIENT_ERROR, "not registered: use POST to register")
        endpoints, token_c = await _handshake(ctx, partner, credentials)
    log.info("ocpi_partner_updated", partner_id=partner.id, endpoints=sorted(endpoints))
    return ok(credentials_object(ctx, token_c))


async def handle_delete(request: web.Request) -> web.Response:
    """DELETE: unregister the calling partner; none of its tokens works from now on and nothing is pushed
    to it any more (OCPI 2.2.1 Credentials: DELETE). 405 if it is not registered."""
    ctx = context_of(request)
    caller = partner_of(request)
    async with _lock(ctx, caller.id):
        partner = await ctx.store.get_partner(caller.id)
        if partner is None or partner.status != PartnerStatus.REGISTERED:
            raise OcpiError(405, Status.CLIENT_ERROR, "not registered")
        await ctx.store.save_partner(unregistered(partner, ctx.clock()))
    log.info("ocpi_partner_unregistered", partner_id=partner.id)
    return ok()


def unregistered(partner: Partner, now: datetime) -> Partner:
    """`partner` with status UNREGISTERED and every token dropped (the endpoints stay, for the record)."""
    return dataclasses.replace(
        partner,
        status=PartnerStatus.UNREGISTERED,
        token_a_hash=None,
        token_c_hash=None,
        token_b=None,
        updated_at=now,
    )


def register(app: web.Application) -> None:
    """Add GET, POST, PUT and DELETE /2.2.1/credentials to the OCPI sub-application."""
    path = f"/{VERSION}/{IDENTIFIER}"
    app.router.add_get(path, handle_get)
    app.router.add_post(path, handle_post)
    app.router.add_put(path, handle_put)
    app.router.add_delete(path, handle_delete)
