"""`/site-owners` (the organization's side) and `/site-owner` (the signed-in site owner's own): invitations
by email, onboarding (profile, bank details, documents, submission, approval) and the account
(`csms.domain.portal`). The sites a site owner hosts and their revenue are OCPI's (locations, pricing):
`ocpi.admin_api.portal` serves `/site-owner/projects` and `PUT /site-owners/{site_owner_id}/locations`.

An invitation carries a single-use token that expires after `[email] invitation_hours`, stored as its
SHA-256 digest; the email is sent before anything is stored, so a refused email (502 `email_failed`) leaves
nothing behind. Accepting it creates the site owner's user, who signs in through `POST /auth/login` and then
acts with the role `site_owner` (`csms.api.auth`): only the `/site-owner/...` routes, only their own data.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from decimal import Decimal
from typing import Any

import structlog
from aiohttp import web

from csms.api import portal_models
from csms.api.auth import Role, caller_of, org_of
from csms.api.errors import ApiError, found, not_found, still_there
from csms.api.mailer import send_invitation
from csms.api.organizations import IDENTITY_PATH_PARAMETERS, id_param
from csms.api.params import get_services, read_model
from csms.api.responses import created, json_response
from csms.api.routes import ID, STRING, JsonSchema, Operations, Route, param
from csms.api.serialize import model_json, timestamp
from csms.domain.identity import InvitationStatus, normalized_email, token_digest
from csms.domain.portal import (
    SITE_OWNER_TOKEN_PREFIX,
    SiteOwner,
    SiteOwnerDocument,
    masked_iban,
    onboarding_missing,
    onboarding_stage,
)
from csms.domain.ports import AlreadyExists
from csms.domain.secrets import hash_secret_async
from csms.domain.services import Services

log = structlog.get_logger("csms.api.site_owners")

PORTAL_PATH_PARAMETERS: dict[str, JsonSchema] = {
    **IDENTITY_PATH_PARAMETERS,
    "site_owner_id": param("site_owner_id", "path", ID, "the site owner's id"),
    "document_id": param("document_id", "path", ID, "the document's id"),
    "driver_id": param("driver_id", "path", ID, "the driver's id"),
    "dispute_id": param("dispute_id", "path", ID, "the dispute's id"),
    "token": param("token", "path", STRING, "the invitation token from the email"),
}

api = Operations(path_parameters=PORTAL_PATH_PARAMETERS)


def site_owner_json(owner: SiteOwner, documents: int) -> dict[str, Any]:
    """The organization's view of a site owner (`portal_models.SiteOwnerInvitation`)."""
    return model_json(portal_models.SiteOwnerInvitation, owner, stage=onboarding_stage(owner, documents))


def document_json(document: SiteOwnerDocument) -> dict[str, Any]:
    """A document without its content (`portal_models.Document`)."""
    return model_json(portal_models.Document, document)


def bank_details_json(details: dict[str, Any]) -> dict[str, Any]:
    """Bank details as shown: the IBAN masked but for its last four characters."""
    return {
        "account_holder": details["account_holder"],
        "iban_masked": masked_iban(details["iban"]),
        "bic": details.get("bic"),
    }


async def organization_site_owner(request: web.Request) -> SiteOwner:
    """The site owner of the path, if of the caller's organization (else 404)."""
    services = get_services(request)
    site_owner_id = id_param(request, "site_owner_id", "site owner")
    owner = await services.store.get_site_owner(site_owner_id)
    if owner is None or owner.org_id != org_of(request):
        raise not_found(f"site owner {site_owner_id}")
    return owner


async def signed_in_site_owner(request: web.Request) -> SiteOwner:
    """The site owner the signed-in user is (the auth middleware let only site owners through)."""
    services = get_services(request)
    owner = await services.store.find_site_owner(user_id=caller_of(request).id)
    return found(owner, "site owner")


async def _documents(services: Services, owner: SiteOwner) -> list[SiteOwnerDocument]:
    return await services.store.list_site_owner_documents(owner.id)


def invitation_email(org_name: str, company: str, token: str, expires_at: str | None) -> tuple[str, str]:
    """The subject and body of a site owner's invitation email; the body carries the token."""
    subject = f"{org_name} invites {company} to its site owner portal"
    body = (
        f"{org_name} invites you, {company}, to host charge points as a site owner.\n\n"
        f"Your invitation token (valid until {expires_at}, usable once):\n\n"
        f"    {token}\n\n"
        f"Accept it with POST /api/v1/site-owner/accept-invitation/{token} and the body\n"
        '{"password": "<a new password>", "name": "<your name>"}\n'
        "then sign in with POST /api/v1/auth/login and complete your onboarding.\n"
    )
    return subject, body


@api("POST", "/site-owners/invitations", {201: portal_models.SiteOwnerInvitation}, errors=(400, 502),
     role=Role.ADMIN, body=portal_models.SiteOwnerInvitationCreate)  # fmt: skip
async def handle_invite_site_owner(request: web.Request) -> web.Response:
    """Invite a site owner by email.

    `POST /site-owners/invitations` {email, company, revenue_share_percent?}: emails a single-use token
    that expires after `[email] invitation_hours`; 201 with the site owner (stage `invited`). 502
    `email_failed` when the mail server did not take the message; nothing is kept then."""
    services = get_services(request)
    body = await read_model(request, portal_models.SiteOwnerInvitationCreate)
    sent = await send_invitation(
        request, body.email, SITE_OWNER_TOKEN_PREFIX,
        lambda org_name, token, expires: invitation_email(org_name, body.company, token, expires),
    )  # fmt: skip
    owner = await services.store.add_site_owner(
        SiteOwner(
            0,
            sent.org_id,
            body.email,
            body.company,
            sent.token_digest,
            sent.expires_at,
            revenue_share_percent=Decimal(body.revenue_share_percent),
            created_at=sent.sent_at,
        )  # fmt: skip
    )
    org_id = sent.org_id
    log.info("site_owner_invited", org_id=org_id, site_owner_id=owner.id)
    return created(request, site_owner_json(owner, 0), "site_owner", site_owner_id=str(owner.id))


@api("GET", "/site-owners", {200: portal_models.SiteOwnerList})
async def handle_list_site_owners(request: web.Request) -> web.Response:
    """List the site owners.

    `GET /site-owners`: the organization's site owners with their onboarding stage, by id."""
    services = get_services(request)
    items = []
    for owner in await services.store.list_site_owners(org_of(request)):
        items.append(site_owner_json(owner, len(await _documents(services, owner))))
    return json_response({"items": items})


@api("GET", "/site-owners/{site_owner_id}", {200: portal_models.SiteOwnerInvitation}, errors=(400, 404),
     name="site_owner")  # fmt: skip
async def handle_get_site_owner(request: web.Request) -> web.Response:
    """One site owner.

    `GET /site-owners/{site_owner_id}`: the site owner and their onboarding stage; 404 for another
    organization's."""
    services = get_services(request)
    owner = await organization_site_owner(request)
    return json_response(site_owner_json(owner, len(await _documents(services, owner))))


@api("POST", "/site-owners/{site_owner_id}/approve", {200: portal_models.SiteOwnerInvitation},
     errors=(400, 404, 409), role=Role.ADMIN)  # fmt: skip
async def handle_approve_site_owner(request: web.Request) -> web.Response:
    """Approve a site owner's onboarding.

    `POST /site-owners/{site_owner_id}/approve`: stage `submitted` -> `approved` (approving again is 200);
    409 `onboarding_not_submitted` before the site owner submitted."""
    services = get_services(request)
    owner = await organization_site_owner(request)
    documents = len(await _documents(services, owner))
    stage = onboarding_stage(owner, documents)
    if stage not in ("submitted", "approved"):
        raise ApiError(409, "onboarding_not_submitted", "the site owner has not submitted their onboarding",
                       {"stage": stage})  # fmt: skip
    if owner.approved_at is None:
        owner = replace(owner, approved_at=services.clock())
        with still_there(f"site owner {owner.id}"):
            await services.store.save_site_owner(owner)
        log.info("site_owner_approved", org_id=owner.org_id, site_owner_id=owner.id)
    return json_response(site_owner_json(owner, documents))


def invitation_closed(status: InvitationStatus) -> ApiError:
    """The error for a token of an invitation that is no longer pending."""
    if status is InvitationStatus.ACCEPTED:
        return ApiError(409, "invitation_used", "the invitation was accepted already")
    return ApiError(410, "invitation_cancelled", "the invitation was cancelled")


async def create_portal_user(services: Services, email: str, name: str | None, password: str) -> int:
    """A new user for an accepted portal invitation; 409 `email_taken` when the email has an account."""
    if await services.store.find_user_by_email(email) is not None:
        raise ApiError(409, "email_taken", "an account with this email exists; ask for another email address")
    password_hash = await hash_secret_async(password, services.config.security.bcrypt_rounds)
    try:
        user = await services.store.add_user(
            email, name or normalized_email(email).split("@")[0], password_hash
        )
    except AlreadyExists:
        raise ApiError(409, "email_taken", "an account with this email exists") from None
    return user.id


def check_pending(status: InvitationStatus, expires_at: Any, now: Any) -> None:
    """Raise the error of a used, cancelled or expired invitation."""
    if status is not InvitationStatus.PENDING:
        raise invitation_closed(status)
    if expires_at <= now:
        raise ApiError(410, "invitation_expired", "the invitation has expired; ask for a new one",
                       {"expired_at": timestamp(expires_at)})  # fmt: skip


@api("POST", "/site-owner/accept-invitation/{token}", {200: portal_models.PortalAccepted},
     errors=(400, 404, 409, 410), role=Role.PUBLIC, body=portal_models.PortalInvitationAccept)  # fmt: skip
async def handle_accept_site_owner_invitation(request: web.Request) -> web.Response:
    """Accept a site owner invitation.

    `POST /site-owner/accept-invitation/{token}` {password, name?} (no key: the token is the credential):
    creates the site owner's user; sign in with `POST /auth/login`. 404 unknown token, 409
    `invitation_used` or `email_taken`, 410 `invitation_expired`."""
    services = get_services(request)
    body = await read_model(request, portal_models.PortalInvitationAccept)
    owner = await services.store.find_site_owner(token_digest=token_digest(request.match_info["token"]))
    if owner is None:
        raise not_found("invitation")
    now = services.clock()
    check_pending(owner.status, owner.expires_at, now)
    user_id = await create_portal_user(services, owner.email, body.name, body.password)
    if not await services.store.accept_site_owner(owner.id, user_id, now):
        raise invitation_closed(InvitationStatus.ACCEPTED)
    log.info("site_owner_accepted", org_id=owner.org_id, site_owner_id=owner.id, user_id=user_id)
    return json_response({"user_id": user_id, "email": owner.email, "org_id": owner.org_id})


async def _status(services: Services, owner: SiteOwner) -> dict[str, Any]:
    documents = len(await _documents(services, owner))
    return {"stage": onboarding_stage(owner, documents), "missing": onboarding_missing(owner, documents)}


@api("GET", "/site-owner/onboarding/status", {200: portal_models.OnboardingStatus}, role=Role.SITE_OWNER)
async def handle_get_onboarding_status(request: web.Request) -> web.Response:
    """Where onboarding stands.

    `GET /site-owner/onboarding/status`: {stage: invited | profile | bank_details | documents | submitted |
    approved, missing: [profile, bank_details, documents: those not given yet]}."""
    services = get_services(request)
    return json_response(await _status(services, await signed_in_site_owner(request)))


@api("POST", "/site-owner/onboarding/complete", {200: portal_models.OnboardingStatus}, errors=(400,),
     role=Role.SITE_OWNER)  # fmt: skip
async def handle_complete_onboarding(request: web.Request) -> web.Response:
    """Submit onboarding for approval.

    `POST /site-owner/onboarding/complete`: stage `submitted` (or what it was, once submitted); 400
    `onboarding_incomplete` whose `details.missing` lists what is still missing."""
    services = get_services(request)
    owner = await signed_in_site_owner(request)
    status = await _status(services, owner)
    if status["missing"]:
        raise ApiError(400, "onboarding_incomplete",
                       f"onboarding is incomplete: {', '.join(status['missing'])} missing",
                       {"missing": status["missing"]})  # fmt: skip
    if owner.submitted_at is None:
        owner = replace(owner, submitted_at=services.clock())
        await services.store.save_site_owner(owner)
        log.info("site_owner_submitted", org_id=owner.org_id, site_owner_id=owner.id)
    return json_response(await _status(services, owner))


async def _account(services: Services, owner: SiteOwner) -> dict[str, Any]:
    documents = await _documents(services, owner)
    return {
        "id": owner.id,
        "org_id": owner.org_id,
        "email": owner.email,
        "company": owner.company,
        "stage": onboarding_stage(owner, len(documents)),
        "revenue_share_percent": format(owner.revenue_share_percent, "f"),
        "profile": owner.profile,
        "bank_details": None if owner.bank_details is None else bank_details_json(owner.bank_details),
        "documents": [document_json(d) for d in documents],
        "submitted_at": timestamp(owner.submitted_at),
        "approved_at": timestamp(owner.approved_at),
    }


@api("GET", "/site-owner/profile", {200: portal_models.SiteOwnerProfile}, role=Role.SITE_OWNER)
async def handle_get_site_owner_profile(request: web.Request) -> web.Response:
    """The site owner's profile and account.

    `GET /site-owner/profile`: company, onboarding stage, revenue share, profile, bank details (IBAN masked
    but for its last four characters) and documents."""
    services = get_services(request)
    return json_response(await _account(services, await signed_in_site_owner(request)))


@api("PUT", "/site-owner/profile", {200: portal_models.SiteOwnerProfile}, errors=(400,), role=Role.SITE_OWNER,
     body=portal_models.SiteOwnerProfileBody)  # fmt: skip
async def handle_replace_site_owner_profile(request: web.Request) -> web.Response:
    """Replace the site owner's profile.

    `PUT /site-owner/profile` {company, contact_name, phone, address, postal_code, city, country,
    vat_number?}: every field replaced; the account as `GET /site-owner/profile` shows it."""
    services = get_services(request)
    body = await read_model(request, portal_models.SiteOwnerProfileBody)
    owner = await signed_in_site_owner(request)
    owner = replace(owner, company=body.company, profile=body.model_dump(exclude_none=True))
    await services.store.save_site_owner(owner)
    return json_response(await _account(services, owner))


@api("PUT", "/site-owner/bank-details", {200: portal_models.BankDetails}, errors=(400,), role=Role.SITE_OWNER,
     body=portal_models.BankDetailsBody)  # fmt: skip
async def handle_replace_bank_details(request: web.Request) -> web.Response:
    """Replace the site owner's bank details.

    `PUT /site-owner/bank-details` {account_holder, iban, bic?}: 400 `invalid_request` naming `iban` when it
    fails the ISO 13616 mod-97 check; the details with the IBAN masked but for its last four characters."""
    services = get_services(request)
    body = await read_model(request, portal_models.BankDetailsBody)
    owner = await signed_in_site_owner(request)
    owner = replace(owner, bank_details=body.model_dump(exclude_none=True))
    await services.store.save_site_owner(owner)
    assert owner.bank_details is not None
    return json_response(bank_details_json(owner.bank_details))


@api("POST", "/site-owner/documents", {201: portal_models.Document}, errors=(400,), role=Role.SITE_OWNER,
     body=portal_models.DocumentBody)  # fmt: skip
async def handle_upload_document(request: web.Request) -> web.Response:
    """Upload a document.

    `POST /site-owner/documents` {name, kind: contract | proof_of_ownership | identity | permit | other,
    content_base64}: 201 with the document (without its content); at most 5 MiB."""
    services = get_services(request)
    body = await read_model(request, portal_models.DocumentBody)
    owner = await signed_in_site_owner(request)
    size = len(base64.b64decode(body.content_base64))
    document = await services.store.add_site_owner_document(
        SiteOwnerDocument(0, owner.id, body.name, body.kind, body.content_base64, size, services.clock())
    )
    return created(request, document_json(document), "site_owner_document", document_id=str(document.id))


@api("GET", "/site-owner/documents/{document_id}", {200: portal_models.Document}, errors=(400, 404),
     role=Role.SITE_OWNER, name="site_owner_document")  # fmt: skip
async def handle_get_document(request: web.Request) -> web.Response:
    """One of the site owner's documents.

    `GET /site-owner/documents/{document_id}`: the document without its content; 404 for another's."""
    services = get_services(request)
    owner = await signed_in_site_owner(request)
    document_id = id_param(request, "document_id", "document")
    documents = await _documents(services, owner)
    document = next((d for d in documents if d.id == document_id), None)
    if document is None:
        raise not_found(f"document {document_id}")
    return json_response(document_json(document))


ROUTES: tuple[Route, ...] = tuple(api.routes)
