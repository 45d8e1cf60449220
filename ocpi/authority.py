"""Roaming partners' tokens as a source of truth for OCPP authorization (OCPI 2.2.1 Tokens, CPO side).

`PartnerTokenAuthority` is a `csms.domain.authorization.TokenAuthority`: the CSMS asks it about id tokens
its own store does not know (OCPP 1.6 Authorize / StartTransaction idTag, 2.0.1 Authorize /
TransactionEvent idToken — the OCPI token `uid`). It answers from the tokens eMSPs pushed to us
(`ocpi.tokens`), honouring each token's `whitelist` (OCPI 2.2.1 Tokens, WhitelistType):

| whitelist       | answer                                                                               |
|-----------------|--------------------------------------------------------------------------------------|
| ALWAYS          | the stored token, never real-time                                                    |
| ALLOWED         | the stored token (the spec leaves it to the CPO; we save the eMSP a round trip)      |
| ALLOWED_OFFLINE | real-time; the stored token only when the eMSP is unreachable or too slow            |
| NEVER           | real-time; `[ocpi] realtime_authorization_fallback` when the eMSP is unreachable     |

A stored token with `valid=false` is Blocked whatever its whitelist (the eMSP withdrew it). Real-time
authorization is `POST {eMSP tokens SENDER url}/{uid}/authorize?type=<type>` (no LocationReferences body:
the CSMS's authorization question carries no charge point), bounded by
`[ocpi] realtime_authorization_timeout`. AuthorizationInfo.allowed maps to the OCPP status: ALLOWED →
Accepted, BLOCKED → Blocked, EXPIRED → Expired, NOT_ALLOWED → Invalid and NO_CREDIT → Invalid (OCPP 2.0.1
has NoCredit, but the domain's `AuthorizationStatus` — shared with 1.6, which has no such word — does
not). An eMSP answering 404 / 2004 (unknown token) gives Invalid; any other non-success answer is treated
like an unreachable eMSP (fallback). The `location` restriction of an AuthorizationInfo is not applied
(the domain does not say which EVSE is asking).

The authority is also a `TransactionListener`: when a transaction starts with a partner token, it saves
the `SessionLink` that tells the OCPI Sessions module who the session belongs to and how it was
authorized — `AUTH_REQUEST` with the eMSP's `authorization_reference` after a real-time authorization,
`WHITELIST` otherwise — unless a link exists already (a session started by an OCPI command, see
`ocpi.commands`). Real-time answers are remembered per token uid, in memory, for `GRANT_TTL`.

Call `install(ctx)` once at start-up.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import structlog

from csms.domain.events import Order, TransactionStarted
from csms.domain.models import AuthorizationResult, AuthorizationStatus
from ocpi.client import PartnerUnreachable, endpoint
from ocpi.context import OcpiContext
from ocpi.models import PartnerStatus, PartnerToken, SessionLink
from ocpi.tokens import cdr_token

log = structlog.get_logger("ocpi.authority")


# How long an accepted authorization waits for the transaction it allows (the driver still has to plug
# in; OCPP 1.6 ConnectionTimeOut is typically 30-120 s). Also bounds the memory of unused grants.
GRANT_TTL = timedelta(minutes=10)
# How long an eMSP's ALLOWED answers the same token again without a new real-time request (the time from a
# station's Authorize to the transaction start it leads to).
REUSE_WINDOW = timedelta(seconds=60)

# OCPI 2.2.1 Tokens AllowedType -> the domain's verdict.
ALLOWED_STATUS = {
    "ALLOWED": AuthorizationStatus.ACCEPTED,
    "BLOCKED": AuthorizationStatus.BLOCKED,
    "EXPIRED": AuthorizationStatus.EXPIRED,
    "NO_CREDIT": AuthorizationStatus.INVALID,  # no NoCredit in the version-neutral domain enum
    "NOT_ALLOWED": AuthorizationStatus.INVALID,
}

REALTIME_WHITELISTS = ("ALLOWED_OFFLINE", "NEVER")


@dataclass(slots=True)
class RealtimeAnswer:
    """What the eMSP said to a real-time authorization: the verdict, the token it returned (may carry a
    new group_id) and the `authorization_reference` to echo in the Session and CDR."""

    status: AuthorizationStatus
    token: dict[str, Any] | None = None
    authorization_reference: str | None = None


@dataclass(slots=True)
class _Grant:
    partner_id: int | None
    auth_method: str  # AUTH_REQUEST | WHITELIST
    authorization_reference: str | None
    until: datetime
    granted_at: datetime


class PartnerTokenAuthority:
    """Answers authorization questions from partner tokens (see the module docstring for the rules).

    Args:
        ctx: the OCPI context (store, client, config, clock).
    """

    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx
        self._grants: dict[str, _Grant] = {}

    # -- TokenAuthority --------------------------------------------------------------------------------

    async def authorize(
        self,
        id_token: str,
        *,
        charge_point_id: str | None = None,
        evse_id: int | None = None,
        org_id: str | None = None,
    ) -> AuthorizationResult | None:
        """The verdict on `id_token` if it is a partner token's uid, None when no partner pushed it (or,
        at a station of organization `org_id`, when the partner roams with another organization: ADR 0012).

        May call the eMSP (real-time authorization) for ALLOWED_OFFLINE and NEVER tokens; waits at most
        `[ocpi] realtime_authorization_timeout` for it. An Accepted verdict is remembered for the
        transaction that follows (see `transaction_started`).
        """
        token = await self._ctx.store.find_partner_token(id_token)
        if token is None or not await self._roams_with(token, org_id):
            return None
        group = token.group_id
        if not token.valid:
            result = AuthorizationResult(AuthorizationStatus.BLOCKED, group_id_token=group)
            log.info("partner_token_not_valid", uid=id_token, partner_id=token.partner_id)
            return result
        grant = self._grants.get(token.uid)
        now = self._ctx.clock()
        if (
            grant is not None
            and grant.auth_method == "AUTH_REQUEST"
            and grant.granted_at + REUSE_WINDOW > now
            and grant.until > now
        ):
            # The eMSP allowed this token moments ago (Authorize, then StartTransaction or Started):
            # asking again would double the wait and let a short eMSP outage refuse a start it already
            # allowed. Only for REUSE_WINDOW: a token presented again later is asked again (NEVER means
            # real-time, OCPI 2.2.1 Tokens whitelist).
            return AuthorizationResult(AuthorizationStatus.ACCEPTED, group_id_token=group)
        if token.whitelist not in REALTIME_WHITELISTS:  # ALWAYS, ALLOWED: the stored token decides
            self._grant(token, "WHITELIST", None)
            return AuthorizationResult(AuthorizationStatus.ACCEPTED, group_id_token=group)
        answer = await self.realtime(token)
        if answer is None:  # the eMSP could not answer
            if token.whitelist == "ALLOWED_OFFLINE":
                log.info(
                    "realtime_authorization_fallback_to_token", uid=id_token, partner_id=token.partner_id
                )
                self._grant(token, "WHITELIST", None)
                return AuthorizationResult(AuthorizationStatus.ACCEPTED, group_id_token=group)
            status = AuthorizationStatus(self._ctx.config.realtime_authorization_fallback)
            log.info(
                "realtime_authorization_fallback",
                uid=id_token,
                partner_id=token.partner_id,
                status=status.value,
            )
            if status is AuthorizationStatus.ACCEPTED:
                self._grant(token, "WHITELIST", None)
            return AuthorizationResult(status, group_id_token=group)
        if answer.token is not None and isinstance(answer.token.get("group_id"), str):
            group = answer.token["group_id"]
        if answer.status is AuthorizationStatus.ACCEPTED:
            self._grant(token, "AUTH_REQUEST", answer.authorization_reference)
        return AuthorizationResult(answer.status, group_id_token=group)

    async def _roams_with(self, token: PartnerToken, org_id: str | None) -> bool:
        """Whether `token`'s partner roams with organization `org_id` (any, when `org_id` is None)."""
        if org_id is None or token.partner_id is None:
            return True
        partner = await self._ctx.store.get_partner(token.partner_id)
        if partner is None or partner.org_id != org_id:
            log.info("partner_token_of_another_organization", uid=token.uid, partner_id=token.partner_id)
            return False
        return True

    async def realtime(self, token: PartnerToken) -> RealtimeAnswer | None:
        """Ask the token's eMSP (OCPI 2.2.1 Tokens: real-time authorization).

        Returns:
            The eMSP's verdict, Invalid when it does not know the token (404 / 2004), or None when it
            could not answer: no registered partner or no tokens SENDER endpoint, unreachable, too slow
            (`[ocpi] realtime_authorization_timeout`), or an answer that is not a valid AuthorizationInfo.
        """
        ctx = self._ctx
        partner = await ctx.store.get_partner(token.partner_id) if token.partner_id is not None else None
        if partner is None or partner.status is not PartnerStatus.REGISTERED or ctx.client is None:
            log.warning("realtime_authorization_no_partner", uid=token.uid, partner_id=token.partner_id)
            return None
        call_log = log.bind(uid=token.uid, partner_id=partner.id)
        base = endpoint(partner, "tokens", "SENDER")
        if base is None:
            call_log.warning("realtime_authorization_no_endpoint")
            return None
        url = f"{base.rstrip('/')}/{quote(token.uid, safe='')}/authorize"
        seconds = ctx.config.realtime_authorization_timeout
        try:
            # The client has its own timeout; this one also bounds anything before the socket.
            async with asyncio.timeout(seconds):
                response = await ctx.client.request(
                    partner, "POST", url, None, timeout=seconds, params={"type": token.type}
                )
        except (PartnerUnreachable, TimeoutError, ValueError) as exc:  # ValueError: no token B to call with
            call_log.warning("realtime_authorization_unreachable", error=str(exc))
            return None
        if response.http_status == 404 or response.status_code == 2004:
            call_log.info("realtime_authorization_unknown_token")
            return RealtimeAnswer(AuthorizationStatus.INVALID)
        data = response.data
        allowed = data.get("allowed") if isinstance(data, dict) else None
        if not response.success or not isinstance(data, dict) or allowed not in ALLOWED_STATUS:
            call_log.warning(
                "realtime_authorization_bad_answer",
                http_status=response.http_status,
                status_code=response.status_code,
            )
            return None
        reference = data.get("authorization_reference")
        returned = data.get("token")
        call_log.info("realtime_authorization", allowed=allowed)
        return RealtimeAnswer(
            ALLOWED_STATUS[allowed],
            token=returned if isinstance(returned, dict) else None,
            authorization_reference=reference if isinstance(reference, str) else None,
        )

    def _grant(self, token: PartnerToken, auth_method: str, reference: str | None) -> None:
        now = self._ctx.clock()
        for uid in [u for u, g in self._grants.items() if g.until <= now]:
            del self._grants[uid]
        self._grants[token.uid] = _Grant(token.partner_id, auth_method, reference, now + GRANT_TTL, now)

    # -- domain events -----------------------------------------------------------------------------------

    async def on_transaction_started(self, event: TransactionStarted) -> None:
        """Save the SessionLink of a transaction started with a partner token (unless one exists): the
        partner, the CdrToken, and AUTH_REQUEST with the eMSP's authorization_reference after a real-time
        authorization, WHITELIST otherwise."""
        tx = event.transaction
        if tx.id_token is None:
            return
        grant = self._grants.pop(tx.id_token, None)
        if grant is not None and grant.until <= self._ctx.clock():
            grant = None
        store = self._ctx.store
        if await store.find_session_link(transaction_pk=tx.id) is not None:
            return  # started by an OCPI START_SESSION (COMMAND), or on a RESERVE_NOW reservation
        token = await store.find_partner_token(tx.id_token)
        if token is None:
            return
        link = SessionLink(
            session_id=str(tx.id),
            partner_id=token.partner_id,
            transaction_pk=tx.id,
            reservation_id=tx.reservation_id,
            auth_method=grant.auth_method if grant is not None else "WHITELIST",
            authorization_reference=grant.authorization_reference if grant is not None else None,
            cdr_token=cdr_token(token.data),
            last_updated=self._ctx.clock(),
        )
        await store.save_session_link(link)
        log.info(
            "partner_session_linked",
            transaction_pk=tx.id,
            partner_id=token.partner_id,
            auth_method=link.auth_method,
        )


def install(ctx: OcpiContext) -> PartnerTokenAuthority:
    """Create the authority once per context and plug it into the domain: consulted (after the CSMS's own
    tokens and after START_SESSION tokens) by `ctx.domain.authorization`, and subscribed to transaction
    starts at `Order.AUTHORITY`, so the SessionLink exists before the CDR writer and the push feeder read it.

    Calling it again returns the installed authority.
    """
    existing = ctx.token_authority
    if isinstance(existing, PartnerTokenAuthority):
        return existing
    authority = PartnerTokenAuthority(ctx)
    ctx.token_authority = authority
    ctx.domain.authorization.add_authority(authority, order=Order.AUTHORITY)
    ctx.domain.events.subscribe(TransactionStarted, authority.on_transaction_started, order=Order.AUTHORITY)
    return authority
