"""Registering our eMSP role with a CPO (the client side of OCPI 2.2.1 Credentials: registration).

As `ocpi.registration` does for the CPO role: GET the CPO's versions and 2.2.1 details with its token A,
store a PENDING CPO holding the hash of a fresh token B (so the CPO can GET our versions with it during
the POST), POST our credentials (token B, our /emsp/ocpi versions URL, one EMSP role) with token A and keep
the CPO's answer: its token C (we call it with that), its party, roles and endpoints.

The other way round, `invite_cpo` issues a token A for a CPO to register with us (as
`ocpi.partners.issue_partner` does for the CPO role); `ocpi.emsp.credentials` answers its POST.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import structlog

from ocpi.client import PartnerUnreachable
from ocpi.credentials import parse_credentials
from ocpi.emsp.role import EmspRole, as_partner
from ocpi.emsp.store import INVITED, CpoRecord
from ocpi.models import Partner
from ocpi.partners import new_token
from ocpi.registration import RegistrationError
from ocpi.transport import hash_token
from ocpi.versions import VersionHandshakeError, fetch_partner_endpoints

log = structlog.get_logger("ocpi.emsp.registration")

# The CPO endpoints the eMSP role uses: at least one must be offered.
USABLE_CPO_ENDPOINTS = frozenset(
    {"locations:SENDER", "tariffs:SENDER", "sessions:SENDER", "cdrs:SENDER", "commands:RECEIVER"}
)


async def fetch_cpo_endpoints(role: EmspRole, name: str, versions_url: str, token: str) -> dict[str, str]:
    """GET a CPO's versions and 2.2.1 details with `token`; its endpoints as `{"<identifier>:<ROLE>": url}`.

    Raises:
        VersionHandshakeError: 3001 unreachable or malformed, 3002 no 2.2.1, 3003 none of
            `USABLE_CPO_ENDPOINTS` offered.
    """
    probe = Partner(id=0, name=name, country_code="", party_id="")  # only for the logs and headers
    _, endpoints = await fetch_partner_endpoints(
        role.client, probe, versions_url, token, usable=USABLE_CPO_ENDPOINTS
    )
    return endpoints


async def invite_cpo(
    role: EmspRole,
    *,
    name: str | None = None,
    max_reservation_minutes: int | None = None,
    cancellation_fee: Decimal = Decimal("0"),
) -> tuple[CpoRecord, str]:
    """Create an INVITED CPO with a fresh token A (kept only as its hash, in `token_b_hash`).

    Hand the token A and `role.versions_url` to the CPO out of band; it is shown this once. With it the CPO
    reaches our versions and credentials only, until it POSTs its credentials (`ocpi.emsp.credentials`),
    which makes token A invalid (OCPI 2.2.1 Credentials: registration).

    Returns:
        (the stored record, the plain token A).

    Raises:
        ValueError: a name over 100 characters or a reservation length below 1 minute.
    """
    name = (name or "").strip()  # empty: the CPO's business name once it registers
    if len(name) > 100:
        raise ValueError("name must be at most 100 characters")
    if max_reservation_minutes is not None and max_reservation_minutes < 1:
        raise ValueError("the longest reservation must be 1 minute or more")
    token_a = new_token()
    record = await role.store.add_cpo(
        CpoRecord(
            id=0,
            name=name,
            versions_url="",
            status=INVITED,
            token_b_hash=hash_token(token_a),
            max_reservation_minutes=max_reservation_minutes or role.config.max_reservation_minutes,
            cancellation_fee=cancellation_fee,
        )
    )
    log.info("emsp_cpo_invited", cpo_id=record.id)
    return record, token_a


def our_credentials(role: EmspRole, token: str) -> dict[str, Any]:
    """Our Credentials object as an eMSP: `token` the CPO calls us with, our /emsp/ocpi versions URL."""
    return {
        "token": token,
        "url": role.versions_url,
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": role.config.business_name},
                "party_id": role.config.party_id.upper(),
                "country_code": role.config.country_code.upper(),
            }
        ],
    }


async def register_with_cpo(
    role: EmspRole,
    versions_url: str,
    token_a: str,
    *,
    name: str | None = None,
    max_reservation_minutes: int | None = None,
    cancellation_fee: Decimal = Decimal("0"),
) -> CpoRecord:
    """Register with the CPO at `versions_url` using the token A its operator gave us.

    Our server must be reachable at `role.versions_url` (the CPO calls it back with token B).

    Returns:
        The REGISTERED CPO record.

    Raises:
        RegistrationError: unreachable, no 2.2.1 or no usable endpoint, refused credentials or malformed
            ones, or already registered at that URL; nothing is left able to call us.
    """
    for existing in await role.store.list_cpos():
        if existing.status == "REGISTERED" and existing.versions_url == versions_url:
            raise RegistrationError(f"already registered with {versions_url} (CPO {existing.id})")
    try:
        endpoints = await fetch_cpo_endpoints(role, name or versions_url, versions_url, token_a)
    except VersionHandshakeError as exc:
        raise RegistrationError(exc.message, int(exc.status)) from exc
    credentials_url = endpoints.get("credentials:SENDER") or endpoints.get("credentials:RECEIVER")
    if credentials_url is None:
        raise RegistrationError("the CPO's version details list no credentials endpoint", 3003)
    token_b = new_token()
    record = await role.store.add_cpo(
        CpoRecord(
            id=0,
            name=(name or versions_url)[:100],
            versions_url=versions_url,
            token_b_hash=hash_token(token_b),
            endpoints=endpoints,
            max_reservation_minutes=max_reservation_minutes or role.config.max_reservation_minutes,
            cancellation_fee=cancellation_fee,
        )
    )
    try:
        response = await role.client.request(
            as_partner(record),
            "POST",
            credentials_url,
            our_credentials(role, token_b),
            token=token_a,
            routing=False,
        )
        if not response.success:
            raise RegistrationError(
                f"the CPO refused our credentials: HTTP {response.http_status}, OCPI {response.status_code}"
                + (f" ({response.status_message})" if response.status_message else ""),
                response.status_code,
            )
        theirs = parse_credentials(response.data)
    except (PartnerUnreachable, ValueError, RegistrationError) as exc:
        # Token B must not keep working for a CPO that never finished registering.
        await role.store.save_cpo(dataclasses.replace(record, status="UNREGISTERED", token_b_hash=None))
        log.warning("emsp_registration_failed", versions_url=versions_url, error=str(exc))
        if isinstance(exc, RegistrationError):
            raise
        raise RegistrationError(f"registration with the CPO failed: {exc}") from exc
    main = next((r for r in theirs.roles if r["role"] == "CPO"), theirs.roles[0])
    registered = dataclasses.replace(
        record,
        name=(name or str(main["business_details"]["name"]))[:100],
        country_code=str(main["country_code"]).upper(),
        party_id=str(main["party_id"]).upper(),
        roles=theirs.roles,
        token_c=theirs.token,
        versions_url=theirs.url,
        status="REGISTERED",
    )
    await role.store.save_cpo(registered)
    log.info("emsp_registered_with_cpo", cpo_id=record.id, endpoints=sorted(endpoints))
    return registered


async def update_credentials(role: EmspRole, cpo_id: int) -> CpoRecord:
    """PUT fresh credentials to a REGISTERED CPO (OCPI 2.2.1 Credentials PUT): a new token B for it to
    call us with (the old one stops working once it answers) and its new token C kept.

    Raises:
        RegistrationError: no such registered CPO, no credentials endpoint, or the CPO refused.
    """
    record = await role.store.get_cpo(cpo_id)
    url = None if record is None else _credentials_url(record)
    if record is None or record.status != "REGISTERED" or url is None:
        raise RegistrationError(f"CPO {cpo_id} is not registered with a credentials endpoint")
    token_b = new_token()
    # The CPO GETs our versions with the new token B during the PUT: it must work already (and the old one
    # no longer, as after a completed update); a failed update puts the old one back.
    await role.store.save_cpo(dataclasses.replace(record, token_b_hash=hash_token(token_b)))
    try:
        response = await role.client.request(
            as_partner(record), "PUT", url, our_credentials(role, token_b), routing=False
        )
        if not response.success:
            raise RegistrationError(
                f"the CPO refused our credentials: HTTP {response.http_status}, OCPI {response.status_code}",
                response.status_code,
            )
        theirs = parse_credentials(response.data)
    except (PartnerUnreachable, ValueError, RegistrationError) as exc:
        await role.store.save_cpo(record)
        if isinstance(exc, RegistrationError):
            raise
        raise RegistrationError(f"updating credentials with CPO {cpo_id} failed: {exc}") from exc
    updated = dataclasses.replace(
        record,
        token_b_hash=hash_token(token_b),
        token_c=theirs.token,
        roles=theirs.roles,
        versions_url=theirs.url,
    )
    await role.store.save_cpo(updated)
    log.info("emsp_credentials_updated", cpo_id=cpo_id)
    return updated


async def unregister(role: EmspRole, cpo_id: int) -> None:
    """DELETE our credentials at the CPO (best effort) and stop accepting its token B.

    Raises:
        RegistrationError: no such CPO.
    """
    record = await role.store.get_cpo(cpo_id)
    if record is None:
        raise RegistrationError(f"no CPO {cpo_id}")
    url = _credentials_url(record)
    if record.status == "REGISTERED" and url is not None:
        try:
            await role.client.request(as_partner(record), "DELETE", url, routing=False)
        except PartnerUnreachable as exc:
            log.warning("emsp_unregister_unreachable", cpo_id=cpo_id, error=str(exc))
    await role.store.save_cpo(dataclasses.replace(record, status="UNREGISTERED", token_b_hash=None))
    log.info("emsp_unregistered", cpo_id=cpo_id)


def _credentials_url(record: CpoRecord) -> str | None:
    return record.endpoints.get("credentials:SENDER") or record.endpoints.get("credentials:RECEIVER")
