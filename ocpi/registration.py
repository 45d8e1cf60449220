"""Registering with a partner (us as the client of OCPI 2.2.1 Credentials: registration).

The partner's operator gave ours its versions URL and a token A. `register_with`:

1. GETs the partner's versions and 2.2.1 details with token A (it must offer 2.2.1, a credentials endpoint
   and an endpoint we use);
2. stores a PENDING partner holding the hash of a fresh token B — the token the partner will call us with,
   kept as `token_c_hash`, so the partner can already GET our versions with it during step 3;
3. POSTs our credentials `{token: B, url: our versions URL, roles}` to the partner's credentials endpoint
   with token A; the partner answers its credentials with the token we call it with from now on (its C,
   kept as `token_b`), and the partner becomes REGISTERED.

If any step fails a `RegistrationError` says why, and no partner is left registered or able to call us.
"""

from __future__ import annotations

import dataclasses

import structlog

from ocpi import token_pull
from ocpi.client import PartnerClient, PartnerUnreachable
from ocpi.context import OcpiContext
from ocpi.credentials import Credentials, credentials_object, parse_credentials, unregistered
from ocpi.models import Partner, PartnerStatus
from ocpi.partners import new_token
from ocpi.transport import VERSION, Status, hash_token
from ocpi.versions import VersionHandshakeError, fetch_partner_endpoints

log = structlog.get_logger("ocpi.registration")


class RegistrationError(Exception):
    """Registering with a partner failed; nothing was left registered.

    `status_code` is the OCPI status behind the failure when there is one (ours for a versions problem:
    3001/3002/3003; the partner's when it refused our POST), else None.
    """

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


async def register_with(
    ctx: OcpiContext, versions_url: str, token_a: str, *, name: str | None = None
) -> Partner:
    """Register with the partner at `versions_url` using the token A its operator gave us.

    Args:
        ctx: our OCPI context (its `client` makes the calls, its `store` keeps the partner); our server must
            be reachable at `ctx.versions_url` from the partner, which calls it back with token B during
            the POST.
        versions_url: the partner's versions endpoint.
        token_a: the partner's registration token.
        name: how operators call the partner; default its business name from its credentials.

    Returns:
        The REGISTERED partner (its endpoints, roles, country code and party id from its credentials).

    Raises:
        RegistrationError: the partner is unreachable or offers no 2.2.1 / no credentials endpoint / no
            endpoint we use, refused our credentials or answered malformed ones, or is already registered
            at that versions URL.
    """
    client = ctx.partner_client()
    failed_log = log.bind(versions_url=versions_url)  # "ocpi_registration_failed", at either step
    for existing in await ctx.store.list_partners():
        if existing.status == PartnerStatus.REGISTERED and existing.versions_url == versions_url:
            raise RegistrationError(
                f"already registered with {versions_url} (partner {existing.id}); it must unregister first"
            )
    # Not stored yet: the calls below only need a Partner to log and to fill the headers.
    probe = Partner(id=0, name=name or versions_url, country_code="", party_id="")
    try:
        details_url, endpoints = await fetch_partner_endpoints(client, probe, versions_url, token_a)
    except VersionHandshakeError as exc:
        failed_log.warning("ocpi_registration_failed", status_code=int(exc.status), error=exc.message)
        raise RegistrationError(exc.message, int(exc.status)) from exc
    credentials_url = endpoints.get("credentials:SENDER") or endpoints.get("credentials:RECEIVER")
    if credentials_url is None:
        raise RegistrationError(
            "the partner's version details list no credentials endpoint", int(Status.NO_MATCHING_ENDPOINTS)
        )

    token_b = new_token()
    now = ctx.clock()
    partner = await ctx.store.add_partner(
        Partner(
            id=0,
            name=(name or versions_url)[:100],
            country_code="",
            party_id="",
            status=PartnerStatus.PENDING,
            token_c_hash=hash_token(token_b),
            versions_url=versions_url,
            version=VERSION,
            endpoints=endpoints,
            created_at=now,
            updated_at=now,
        )
    )
    try:
        theirs = await _post_credentials(ctx, client, partner, credentials_url, token_a, token_b)
    except RegistrationError as exc:
        # Token B must not keep working for a partner that never finished registering.
        await ctx.store.save_partner(unregistered(partner, ctx.clock()))
        failed_log.warning(
            "ocpi_registration_failed", partner_id=partner.id, status_code=exc.status_code, error=exc.message
        )
        raise

    main_role = next((r for r in theirs.roles if r["role"] == "EMSP"), theirs.roles[0])
    registered = dataclasses.replace(
        partner,
        name=(name or str(main_role["business_details"]["name"]))[:100],
        country_code=str(main_role["country_code"]).upper(),
        party_id=str(main_role["party_id"]).upper(),
        role=str(main_role["role"]),
        roles=theirs.roles,
        token_b=theirs.token,
        versions_url=theirs.url,
        status=PartnerStatus.REGISTERED,
        updated_at=ctx.clock(),
    )
    await ctx.store.save_partner(registered)
    registered = await ctx.store.get_partner(partner.id) or registered  # as stored (updated_at)
    log.info(
        "ocpi_registered_with_partner",
        partner_id=partner.id,
        details_url=details_url,
        country_code=registered.country_code,
        party_id=registered.party_id,
        endpoints=sorted(endpoints),
    )
    token_pull.after_registration(ctx, registered.id)  # its tokens, without waiting for a PUT of each
    return registered


async def _post_credentials(
    ctx: OcpiContext, client: PartnerClient, partner: Partner, url: str, token_a: str, token_b: str
) -> Credentials:
    """POST our credentials (with token B) using token A; the partner's credentials, checked."""
    try:
        response = await client.request(
            partner, "POST", url, credentials_object(ctx, token_b), token=token_a, routing=False
        )
    except PartnerUnreachable as exc:
        raise RegistrationError(f"cannot reach the partner's credentials endpoint: {exc}") from exc
    if not response.success:
        detail = f" ({response.status_message})" if response.status_message else ""
        raise RegistrationError(
            f"the partner refused our credentials: HTTP {response.http_status}, "
            f"OCPI status {response.status_code}{detail}",
            response.status_code,
        )
    try:
        return parse_credentials(response.data)
    except ValueError as exc:
        raise RegistrationError(f"the partner answered malformed credentials: {exc}") from exc
