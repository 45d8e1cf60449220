"""Authorization of id tokens, answered from the store (and, for unknown tokens, from configuration)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from csms.domain.clock import Clock, to_utc
from csms.domain.models import AuthorizationResult, AuthorizationStatus, TokenStatus
from csms.domain.ports import TokenStore


class TokenAuthority(Protocol):
    """Another source of truth for tokens the CSMS store does not know (the OCPI bridge: tokens of
    roaming partners, with real-time authorization). Returns None when it does not know the token.

    `charge_point_id` and `evse_id` say where the token is presented (None: not known, e.g. a 2.0.1
    Authorize names no EVSE), so an authority may vouch for a token at one station only (an OCPI
    START_SESSION's token at the command's station and EVSE)."""

    async def authorize(
        self,
        id_token: str,
        *,
        charge_point_id: str | None = None,
        evse_id: int | None = None,
        org_id: str | None = None,
    ) -> AuthorizationResult | None:
        """`org_id`: the organization of the station the token is presented at (None: not known); an
        authority must not vouch for another organization's token there (ADR 0012)."""
        ...


OrgOfStation = Callable[[str], Awaitable[str | None]]


class AuthorizationService:
    """Decides whether an id token may charge."""

    def __init__(
        self,
        tokens: TokenStore,
        clock: Clock,
        unknown_status: str = "Invalid",
        org_of_station: OrgOfStation | None = None,
    ) -> None:
        """`org_of_station` names a station's organization: a token presented at a station is looked up
        in that organization only (ADR 0012), so another organization's token is unknown there."""
        self._tokens = tokens
        self._org_of_station = org_of_station
        self._clock = clock
        self._unknown = AuthorizationStatus(unknown_status)
        # Consulted in `order` for tokens the store does not know (added by the OCPI bridge).
        self._authorities: list[tuple[int, int, TokenAuthority]] = []

    def add_authority(self, authority: TokenAuthority, *, order: int) -> None:
        """Consult `authority` for tokens the store does not know, before those with a higher `order`
        (`csms.domain.events.Order`: a token vouched for by a command before a partner's token list)."""
        self._authorities.append((order, len(self._authorities), authority))
        self._authorities.sort(key=lambda entry: entry[:2])

    @property
    def authorities(self) -> list[TokenAuthority]:
        """The token authorities in the order they are consulted."""
        return [authority for _, _, authority in self._authorities]

    async def group_of(self, id_token: str) -> str | None:
        """The group of `id_token` (1.6 parentIdTag / 2.0.1 groupIdToken) as `authorize` finds it: the stored
        token's, else a roaming partner's authority's (right after the start that authorized the token, the
        authority answers from that verdict: no new eMSP call)."""
        return (await self.authorize(id_token)).group_id_token

    async def authorize(
        self, id_token: str, *, charge_point_id: str | None = None, evse_id: int | None = None
    ) -> AuthorizationResult:
        """The verdict for `id_token` presented at `charge_point_id` / `evse_id` (where known: the OCPP
        adapters pass the station; `TokenAuthority` may scope its verdict to it).

        A stored token answers with its status (an Accepted token past its expiry date answers Expired)
        and its group id (1.6 parentIdTag / 2.0.1 groupIdToken). An unknown token answers with the
        configured status (`[ocpp] unknown_id_tokens`, Invalid by default), unless a registered
        `TokenAuthority` (a roaming partner's tokens) knows it. At a station, only the station's
        organization's tokens (and its roaming partners') count: tenants never share tokens (ADR 0012).
        """
        org_id = None
        if charge_point_id is not None and self._org_of_station is not None:
            org_id = await self._org_of_station(charge_point_id)
        token = await self._tokens.get_id_token(id_token, org_id=org_id)
        if token is None:
            for _, _, authority in self._authorities:
                result = await authority.authorize(
                    id_token, charge_point_id=charge_point_id, evse_id=evse_id, org_id=org_id
                )
                if result is not None:
                    return result
            return AuthorizationResult(self._unknown)
        status = AuthorizationStatus(token.status.value)
        if (
            token.status is TokenStatus.ACCEPTED
            and token.expiry_date is not None
            and to_utc(token.expiry_date) <= self._clock()
        ):
            status = AuthorizationStatus.EXPIRED
        return AuthorizationResult(status, expiry_date=token.expiry_date, group_id_token=token.group_id_token)
