"""CPOs registering with our eMSP role and updating their credentials (the server side of OCPI 2.2.1
Credentials on /emsp/ocpi, ADR 0023).

As `ocpi.credentials` does for the CPO role, with us as the server:

1. An operator invited the CPO (`ocpi.emsp.registration.invite_cpo`: an INVITED record holding the hash of
   token A); the CPO GETs our versions with token A and POSTs its credentials `{token, url, roles}`.
2. `register_cpo`: we GET its versions and 2.2.1 details with its token (3001 if that fails, 3002 without
   2.2.1, 3003 without an endpoint we use), keep its token (we call it with that), endpoints, roles and
   party, issue a new token for it to call us (stored hashed) and answer our credentials with it. Token A
   is dead from then on, and its locations and tariffs are pulled.
3. `update_cpo` (PUT) repeats step 2 for a REGISTERED CPO: its new token and URL, its endpoints fetched
   again, and a fresh token for it (the old one stops working at once).

POST is 405 once registered, PUT 405 before (OCPI 2.2.1 Credentials: POST, PUT).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import structlog

from ocpi.credentials import Credentials
from ocpi.emsp.registration import fetch_cpo_endpoints
from ocpi.emsp.role import EmspRole
from ocpi.emsp.store import INVITED, CpoRecord
from ocpi.partners import new_token
from ocpi.transport import OcpiError, Status, hash_token, invalid_parameters
from ocpi.versions import VersionHandshakeError

log = structlog.get_logger("ocpi.emsp.credentials")


async def register_cpo(role: EmspRole, cpo_id: int, credentials: Credentials) -> tuple[CpoRecord, str]:
    """An INVITED CPO (calling with its token A) POSTed its credentials: register it.

    Returns:
        (the REGISTERED record, the new token it calls us with; answer `our_credentials` with it).

    Raises:
        OcpiError: 405 when the CPO is not INVITED (already registered: it must PUT); 2001 when its roles
            hold no CPO; 3001/3002/3003 when its versions or details cannot be used.
    """
    async with _lock(role, cpo_id):
        record = await role.store.get_cpo(cpo_id)
        if record is None or record.status != INVITED:
            raise OcpiError(405, Status.CLIENT_ERROR, "already registered: use PUT to update the credentials")
        registered, token = await _handshake(role, record, credentials)
    log.info("emsp_cpo_registered", cpo_id=cpo_id, endpoints=sorted(registered.endpoints))
    role.pull_soon(cpo_id)  # its locations and tariffs, without waiting for the pull loop
    return registered, token


async def update_cpo(role: EmspRole, cpo_id: int, credentials: Credentials) -> tuple[CpoRecord, str]:
    """A REGISTERED CPO PUT new credentials: fetch its endpoints again with its new token, rotate ours.

    Returns:
        (the updated record, the new token it calls us with; its previous one no longer works).

    Raises:
        OcpiError: 405 when the CPO is not REGISTERED; otherwise as `register_cpo`.
    """
    async with _lock(role, cpo_id):
        record = await role.store.get_cpo(cpo_id)
        if record is None or record.status != "REGISTERED":
            raise OcpiError(405, Status.CLIENT_ERROR, "not registered: use POST to register")
        updated, token = await _handshake(role, record, credentials)
    log.info("emsp_cpo_credentials_updated", cpo_id=cpo_id, endpoints=sorted(updated.endpoints))
    return updated, token


def _lock(role: EmspRole, cpo_id: int) -> asyncio.Lock:
    return role.credential_locks.setdefault(cpo_id, asyncio.Lock())


def _cpo_role(credentials: Credentials) -> dict[str, Any]:
    """The CPO role among the credentials' roles; our eMSP role roams with CPOs only."""
    found = next((r for r in credentials.roles if r["role"] == "CPO"), None)
    if found is None:
        raise invalid_parameters("roles must include a CPO role: this is an eMSP")
    return found


async def _handshake(role: EmspRole, record: CpoRecord, credentials: Credentials) -> tuple[CpoRecord, str]:
    """Fetch the CPO's endpoints with its token and store them with a new token of ours (the caller holds
    the CPO's lock). Returns the stored record and that token."""
    main = _cpo_role(credentials)
    name = record.name or str(main["business_details"]["name"])[:100]
    try:
        endpoints = await fetch_cpo_endpoints(role, name, credentials.url, credentials.token)
    except VersionHandshakeError as exc:
        log.warning(
            "emsp_cpo_handshake_failed", cpo_id=record.id, status_code=int(exc.status), error=exc.message
        )
        # The request reached the OCPI layer: HTTP 200, the OCPI status says what failed (OCPI 2.2.1
        # Credentials: errors during registration).
        raise OcpiError(200, exc.status, exc.message) from exc
    token = new_token()
    stored = dataclasses.replace(
        record,
        name=name,
        versions_url=credentials.url,
        status="REGISTERED",
        token_b_hash=hash_token(token),  # token A (or the previous token) stops working here
        token_c=credentials.token,
        country_code=str(main["country_code"]).upper(),
        party_id=str(main["party_id"]).upper(),
        endpoints=endpoints,
        roles=credentials.roles,
    )
    await role.store.save_cpo(stored)
    return stored, token
