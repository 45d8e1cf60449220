"""Roaming partners: issuing a registration token (token A) and finding who receives pushes of a module.

The operator issues token A with `issue_partner` (`csms ocpi partner add`) and hands it to the partner with
our versions URL out of band; the partner then registers through `ocpi.credentials` (OCPI 2.2.1 Credentials:
registration). The other direction, where we register with a partner, is `ocpi.registration`.
"""

from __future__ import annotations

import re
import secrets

import structlog

from csms.config import Config
from ocpi.client import endpoint
from ocpi.context import OcpiContext
from ocpi.models import Partner, PartnerStatus
from ocpi.transport import hash_token

log = structlog.get_logger("ocpi.partners")

# OCPI 2.2.1 "Types": Role enum.
ROLES = ("CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP")

_COUNTRY_CODE = re.compile(r"^[A-Za-z]{2}$")
_PARTY_ID = re.compile(r"^[A-Za-z0-9]{3}$")


def public_base_url(config: Config) -> str:
    """Where partners reach our HTTP port: `[ocpi] public_url`, else `http://{http.host}:{http.port}`
    (the OCPI root is this plus `/ocpi`; `OcpiContext.base_url`)."""
    if config.ocpi.public_url:
        return config.ocpi.public_url.rstrip("/")
    host = config.http.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 literal
    return f"http://{host}:{config.http.port}"


def new_token() -> str:
    """A fresh credentials token: 256 random bits, URL-safe base64 (43 printable ASCII characters, within
    the Credentials `token` limit of 64 characters in U+0021–U+007E). Never starting with `-`, so an operator
    can pass it to `csms ocpi partner register URL TOKEN` without it being read as an option."""
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


def validate_party(country_code: str, party_id: str, role: str) -> tuple[str, str, str]:
    """Check and normalize a party's identifiers (OCPI 2.2.1 CredentialsRole: `country_code` CiString(2),
    ISO 3166-1 alpha-2; `party_id` CiString(3); `role` one of the Role enum).

    Returns:
        (country_code, party_id, role), upper-cased.

    Raises:
        ValueError: an identifier does not have that form; the message names it.
    """
    if not _COUNTRY_CODE.match(country_code):
        raise ValueError(f"country code must be two letters (ISO 3166-1 alpha-2), not {country_code!r}")
    if not _PARTY_ID.match(party_id):
        raise ValueError(f"party id must be three letters or digits, not {party_id!r}")
    if role.upper() not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    return country_code.upper(), party_id.upper(), role.upper()


async def issue_partner(
    ctx: OcpiContext, *, name: str, country_code: str, party_id: str, role: str = "EMSP"
) -> tuple[Partner, str]:
    """Create a PENDING partner with a fresh token A (stored only as its hash).

    Hand the returned token A and `ctx.versions_url` to the partner out of band; it is shown this once and
    cannot be recovered. With it the partner may call our versions and credentials endpoints only, until it
    POSTs its credentials, which makes token A invalid (OCPI 2.2.1 Credentials: registration).

    Returns:
        (the stored partner, the plain token A).

    Raises:
        ValueError: empty or over-long name, or a malformed country code, party id or role.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("name must be 1 to 100 characters")
    country_code, party_id, role = validate_party(country_code, party_id, role)
    token_a = new_token()
    now = ctx.clock()
    partner = await ctx.store.add_partner(
        Partner(
            id=0,
            name=name,
            country_code=country_code,
            party_id=party_id,
            status=PartnerStatus.PENDING,
            role=role,
            token_a_hash=hash_token(token_a),
            created_at=now,
            updated_at=now,
        )
    )
    log.info("ocpi_partner_issued", partner_id=partner.id, country_code=country_code, party_id=party_id)
    return partner, token_a


async def receivers(ctx: OcpiContext, identifier: str) -> list[tuple[Partner, str]]:
    """The REGISTERED partners that have a RECEIVER endpoint for module `identifier`, with its URL.

    What a push goes to (OCPI 2.2.1: the receiver interface of `locations`, `sessions`, `cdrs`, `tariffs`);
    ordered by partner id.
    """
    found: list[tuple[Partner, str]] = []
    for partner in sorted(await ctx.store.list_partners(), key=lambda p: p.id):
        if partner.status != PartnerStatus.REGISTERED or not partner.token_b:
            continue
        url = endpoint(partner, identifier, "RECEIVER")
        if url:
            found.append((partner, url))
    return found
