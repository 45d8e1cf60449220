"""Our drivers' tokens as OCPI 2.2.1 Token objects (the eMSP role's Tokens sender, ADR 0023).

The drivers' tokens are the CSMS's id tokens of organization `[emsp] org_id`: each becomes a Token with
our eMSP party, `contract_id` = the token itself, `issuer` = our business name, whitelist ALLOWED and
`valid` from its status (Accepted and not expired).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csms.config import EmspConfig
from csms.domain.models import IdToken, TokenStatus
from csms.domain.ports import TokenStore
from ocpi.transport import ocpi_datetime

# OCPP IdTokenType -> OCPI 2.2.1 TokenType (OCPI Tokens module: TokenType enum).
_TYPES = {"ISO14443": "RFID", "ISO15693": "RFID", "Central": "APP_USER", "eMAID": "APP_USER"}

_EPOCH = datetime(2000, 1, 1)


def token_object(token: IdToken, config: EmspConfig, now: datetime) -> dict[str, Any]:
    """The OCPI Token object of one of our id tokens."""
    expired = token.expiry_date is not None and token.expiry_date <= now
    return {
        "country_code": config.country_code.upper(),
        "party_id": config.party_id.upper(),
        "uid": token.id_token,
        "type": _TYPES.get(token.type, "OTHER"),
        "contract_id": token.id_token,
        "issuer": config.business_name,
        "valid": token.status == TokenStatus.ACCEPTED and not expired,
        "whitelist": "ALLOWED",
        "last_updated": ocpi_datetime(token.updated_at or token.created_at or _EPOCH),
    }


async def all_tokens(store: TokenStore, org_id: str) -> list[IdToken]:
    """Every id token of the organization, by id token."""
    found: list[IdToken] = []
    cursor: str | None = None
    while True:
        items, cursor = await store.list_id_tokens(limit=500, cursor=cursor, org_id=org_id)
        found.extend(items)
        if cursor is None:
            return found
