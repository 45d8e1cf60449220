"""Request bodies of the operator API as pydantic models (unknown fields are rejected).

The CLI validates its arguments with the same models, so `csms chargepoint add` and
`POST /api/v1/charge-points` accept exactly the same input.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from csms.domain.clock import to_utc
from csms.domain.models import ChargePoint, IdToken, RegistrationStatus, TokenStatus

# Characters a URL path segment carries unescaped (RFC 3986 unreserved plus a few sub-delims), so the id
# can be the last segment of the station's websocket URL; ':' is left out because OCPP 2.0.1 forbids it
# in the identity (it separates user and password in HTTP Basic auth).
CHARGE_POINT_ID_PATTERN = r"^[A-Za-z0-9\-_.~*+|@]+$"

ChargePointIdText = Annotated[
    str, StringConstraints(min_length=1, max_length=48, pattern=CHARGE_POINT_ID_PATTERN)
]
# OCPP 2.0.1 BasicAuthPassword / 1.6 security profile 1-2 AuthorizationKey: 16 to 40 characters.
PasswordText = Annotated[str, StringConstraints(min_length=16, max_length=40)]
# OCPP 2.0.1 IdTokenType.idToken: identifierString, at most 36 characters.
IdTokenText = Annotated[str, StringConstraints(min_length=1, max_length=36)]


class IdTokenType(StrEnum):
    """OCPP 2.0.1 IdTokenEnumType."""

    CENTRAL = "Central"
    EMAID = "eMAID"
    ISO14443 = "ISO14443"
    ISO15693 = "ISO15693"
    KEY_CODE = "KeyCode"
    LOCAL = "Local"
    MAC_ADDRESS = "MacAddress"
    NO_AUTHORIZATION = "NoAuthorization"


class ChargePointCreate(BaseModel):
    """Body of `POST /charge-points`: a charge point an operator registers before (or after) it connects."""

    model_config = ConfigDict(extra="forbid")

    charge_point_id: ChargePointIdText
    password: PasswordText | None = None
    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED

    def to_charge_point(self, password_hash: str | None, now: datetime) -> ChargePoint:
        """The record to store; `password_hash` is the bcrypt hash of `password` (never the password)."""
        return ChargePoint(
            charge_point_id=self.charge_point_id,
            registration_status=self.registration_status,
            password_hash=password_hash,
            created_at=now,
            updated_at=now,
        )


class IdTokenCreate(BaseModel):
    """Body of `POST /id-tokens`: an id token the CSMS will authorize (or refuse) by its `status`."""

    model_config = ConfigDict(extra="forbid")

    id_token: IdTokenText
    type: IdTokenType = IdTokenType.ISO14443
    status: TokenStatus = TokenStatus.ACCEPTED
    expiry_date: datetime | None = None
    group_id_token: IdTokenText | None = None

    def to_id_token(self, now: datetime) -> IdToken:
        """The record to store; a naive `expiry_date` is taken as UTC."""
        return IdToken(
            id_token=self.id_token,
            type=str(self.type),
            status=self.status,
            expiry_date=None if self.expiry_date is None else to_utc(self.expiry_date),
            group_id_token=self.group_id_token,
            created_at=now,
            updated_at=now,
        )
