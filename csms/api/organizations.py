"""`/organizations`: organizations, their members and roles, email invitations and settings.

Every `/organizations/{org_id}/...` path is answered only to callers acting in that organization
(`csms.api.auth`): another organization's id is 404, as if it did not exist. An organization keeps at least
one admin among its members: removing or demoting the last one is 409 `last_admin`. Invitations are sent
by email (`csms.api.mailer`) with a single-use token that expires after `[email] invitation_hours`; when the
mail server does not take the message the invitation is deleted again and the answer is 502 `email_failed`,
so no invitation exists whose token nobody received.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import structlog
from aiohttp import web

from csms.api import org_models
from csms.api.auth import PORTAL_ROLES, Role, caller_of, org_of
from csms.api.errors import ApiError, found, invalid_request, not_found, still_there
from csms.api.mailer import EmailFailed, get_mailer
from csms.api.params import get_services, read_model
from csms.api.responses import created, json_response
from csms.api.routes import ID, PATH_PARAMETERS, STRING, Operations, Route, param
from csms.api.serialize import timestamp
from csms.domain.identity import (
    INVITATION_TOKEN_PREFIX,
    Invitation,
    InvitationStatus,
    Member,
    Organization,
    new_organization_id,
    new_token,
    normalized_email,
    token_digest,
)
from csms.domain.ports import AlreadyExists, LastAdmin
from csms.domain.secrets import hash_secret_async
from csms.domain.services import Services

log = structlog.get_logger("csms.api.organizations")

MAX_INT32 = 2**31 - 1  # ids of these tables are 32-bit integers; a larger one cannot exist

IDENTITY_PATH_PARAMETERS = {
    **PATH_PARAMETERS,
    "org_id": param("org_id", "path", STRING, "the organization's id"),
    "user_id": param("user_id", "path", ID, "the member's user id"),
    "invitation_id": param("invitation_id", "path", ID, "the invitation's id"),
    "key_id": param("key_id", "path", ID, "the API key's id"),
}

ORG = "/organizations/{org_id}"
api = Operations(path_parameters=IDENTITY_PATH_PARAMETERS)


def id_param(request: web.Request, name: str, what: str) -> int:
    """An integer id of the path; 400 when not a non-negative integer, 404 when too large to exist."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit():
        raise invalid_request(name, "must be a non-negative integer")
    value = int(raw)
    if value > MAX_INT32:
        raise not_found(what)
    return value


def organization_json(org: Organization) -> dict[str, Any]:
    """The API form of an organization."""
    return {
        "id": org.id,
        "name": org.name,
        "country": org.country,
        "contact_email": org.contact_email,
        "created_at": timestamp(org.created_at),
    }


def settings_json(org: Organization) -> dict[str, Any]:
    """The API form of an organization's settings."""
    return {
        "currency": org.currency,
        "timezone": org.timezone,
        "billing_email": org.billing_email,
        "notifications": org.notifications,
    }


def member_json(member: Member) -> dict[str, Any]:
    """The API form of a member."""
    return {
        "user_id": member.user.id,
        "email": member.user.email,
        "name": member.user.name,
        "role": member.role,
        "joined_at": timestamp(member.created_at),
    }


def invitation_json(invitation: Invitation) -> dict[str, Any]:
    """The API form of an invitation (without its token)."""
    return {
        "id": invitation.id,
        "org_id": invitation.org_id,
        "email": invitation.email,
        "role": invitation.role,
        "status": invitation.status.value,
        "expires_at": timestamp(invitation.expires_at),
        "created_at": timestamp(invitation.created_at),
        "accepted_at": timestamp(invitation.accepted_at),
        "cancelled_at": timestamp(invitation.cancelled_at),
    }


async def _organization(services: Services, org_id: str) -> Organization:
    return found(await services.store.get_organization(org_id), f"organization {org_id!r}")


@api("POST", "/organizations", {201: org_models.Organization}, errors=(400,), role=Role.SIGNED_IN,
     body=org_models.OrganizationBody)  # fmt: skip
async def handle_create_organization(request: web.Request) -> web.Response:
    """Create an organization.

    `POST /organizations` {name, country, contact_email}: 201 with it. A signed-in user becomes its admin
    (also a user of no organization yet); an API key must be an admin key."""
    services = get_services(request)
    caller = caller_of(request)
    body = await read_model(request, org_models.OrganizationBody)
    if caller.kind == "key" and caller.role != "admin":
        raise ApiError(403, "forbidden", "only an admin key may create organizations",
                       {"role": caller.role, "required_role": "admin"})  # fmt: skip
    if caller.role in PORTAL_ROLES:  # a site owner or driver acts in the portal of one organization only
        raise ApiError(403, "forbidden", "site owners and drivers may not create organizations",
                       {"role": caller.role})  # fmt: skip
    org = Organization(new_organization_id(), body.name, body.country, body.contact_email)
    org = await services.store.add_organization(org)
    if caller.kind == "user":
        await services.store.set_member(org.id, caller.id, "admin")
    log.info("organization_created", org_id=org.id, by=caller.principal)
    return created(request, organization_json(org), "organization", org_id=org.id)


@api("GET", ORG, {200: org_models.Organization}, errors=(404,), name="organization")
async def handle_get_organization(request: web.Request) -> web.Response:
    """One organization.

    `GET /organizations/{org_id}`: the caller's organization; 404 for any other."""
    services = get_services(request)
    return json_response(organization_json(await _organization(services, org_of(request))))


@api("PUT", ORG, {200: org_models.Organization}, errors=(400, 404), role=Role.ADMIN,
     body=org_models.OrganizationBody)  # fmt: skip
async def handle_replace_organization(request: web.Request) -> web.Response:
    """Replace an organization's details.

    `PUT /organizations/{org_id}` {name, country, contact_email}: every mutable field is replaced."""
    services = get_services(request)
    body = await read_model(request, org_models.OrganizationBody)
    org = await _organization(services, org_of(request))
    changed = replace(org, name=body.name, country=body.country, contact_email=body.contact_email)
    with still_there(f"organization {org.id!r}"):
        await services.store.save_organization(changed)
    return json_response(organization_json(changed))


@api("GET", f"{ORG}/members", {200: org_models.MemberList}, errors=(404,))
async def handle_list_members(request: web.Request) -> web.Response:
    """List the members.

    `GET /organizations/{org_id}/members`: every member with their role, by user id."""
    services = get_services(request)
    members = await services.store.list_members(org_of(request))
    return json_response({"items": [member_json(m) for m in members]})


async def _member(services: Services, org_id: str, user_id: int) -> Member:
    """The member; 404 when not a member."""
    members = await services.store.list_members(org_id)
    member = next((m for m in members if m.user.id == user_id), None)
    if member is None:
        raise not_found(f"member {user_id}")
    return member


@contextmanager
def _keeping_an_admin(user_id: int) -> Iterator[None]:
    """Turn the store's LastAdmin (removing or demoting the only admin; checked in the store's transaction,
    so concurrent changes cannot both pass) into 409 `last_admin`."""
    try:
        yield
    except LastAdmin:
        raise _last_admin(user_id) from None


def _last_admin(user_id: int) -> ApiError:
    message = "an organization keeps at least one admin: make another admin first"
    return ApiError(409, "last_admin", message, {"user_id": user_id})


@api("PUT", f"{ORG}/members/{{user_id}}/role", {200: org_models.Member}, errors=(400, 404, 409),
     role=Role.ADMIN, body=org_models.RoleBody)  # fmt: skip
async def handle_set_member_role(request: web.Request) -> web.Response:
    """Change a member's role.

    `PUT /organizations/{org_id}/members/{user_id}/role` {role}: the member with the new role; 409
    `last_admin` when it would leave the organization without an admin."""
    services = get_services(request)
    org_id = org_of(request)
    user_id = id_param(request, "user_id", "member")
    body = await read_model(request, org_models.RoleBody)
    member = await _member(services, org_id, user_id)
    with _keeping_an_admin(user_id):
        await services.store.set_member(org_id, user_id, body.role, keep_an_admin=True)
    return json_response(member_json(replace(member, role=body.role)))


@api("DELETE", f"{ORG}/members/{{user_id}}", {204: None}, errors=(400, 404, 409), role=Role.ADMIN)
async def handle_remove_member(request: web.Request) -> web.Response:
    """Remove a member.

    `DELETE /organizations/{org_id}/members/{user_id}`: 204; 409 `last_admin` for the only admin."""
    services = get_services(request)
    org_id = org_of(request)
    user_id = id_param(request, "user_id", "member")
    await _member(services, org_id, user_id)
    with still_there(f"member {user_id}"), _keeping_an_admin(user_id):
        await services.store.remove_member(org_id, user_id, keep_an_admin=True)
    return web.Response(status=204)


@api("GET", f"{ORG}/settings", {200: org_models.Settings}, errors=(404,))
async def handle_get_settings(request: web.Request) -> web.Response:
    """The organization's settings.

    `GET /organizations/{org_id}/settings`: currency, time zone, billing email and notifications."""
    services = get_services(request)
    return json_response(settings_json(await _organization(services, org_of(request))))


@api("PUT", f"{ORG}/settings", {200: org_models.Settings}, errors=(400, 404), role=Role.ADMIN,
     body=org_models.SettingsBody)  # fmt: skip
async def handle_replace_settings(request: web.Request) -> web.Response:
    """Replace the organization's settings.

    `PUT /organizations/{org_id}/settings` {currency, timezone, billing_email, notifications}: 400
    `invalid_request` naming the field for a currency that is not ISO 4217, a time zone that is not IANA, or
    a malformed email."""
    services = get_services(request)
    body = await read_model(request, org_models.SettingsBody)
    org = await _organization(services, org_of(request))
    changed = replace(
        org,
        currency=body.currency,
        timezone=body.timezone,
        billing_email=body.billing_email,
        notifications=dict(body.notifications),
    )
    with still_there(f"organization {org.id!r}"):
        await services.store.save_organization(changed)
    return json_response(settings_json(changed))


def invitation_email(org: Organization, invitation: Invitation, token: str) -> tuple[str, str]:
    """The subject and body of an invitation email; the body carries the token."""
    subject = f"You are invited to join {org.name}"
    body = (
        f"You have been invited to join {org.name} as {invitation.role}.\n\n"
        f"Your invitation token (valid until {timestamp(invitation.expires_at)}, usable once):\n\n"
        f"    {token}\n\n"
        "Accept it with POST /api/v1/organizations/invitations/accept and the body\n"
        f'{{"token": "{token}", "password": "<a new password>"}}\n'
        "(no password is needed if you already have an account with this email address).\n"
    )
    return subject, body


@api("POST", f"{ORG}/invitations", {201: org_models.Invitation}, errors=(400, 404, 502), role=Role.ADMIN,
     body=org_models.InvitationCreate)  # fmt: skip
async def handle_create_invitation(request: web.Request) -> web.Response:
    """Invite someone by email.

    `POST /organizations/{org_id}/invitations` {email, role}: emails a single-use token that expires after
    `[email] invitation_hours`; 201 with the invitation (never its token). 502 `email_failed` when the mail
    server did not take the message; no invitation is kept then."""
    services = get_services(request)
    body = await read_model(request, org_models.InvitationCreate)
    org = await _organization(services, org_of(request))
    token = new_token(INVITATION_TOKEN_PREFIX)
    now = services.clock()
    expires_at = now + timedelta(hours=services.config.email.invitation_hours)
    invitation = await services.store.add_invitation(
        Invitation(0, org.id, body.email, body.role, token_digest(token), expires_at, created_at=now)
    )
    subject, text = invitation_email(org, invitation, token)
    try:
        await get_mailer(request).send(body.email, subject, text)
    except EmailFailed as exc:
        await services.store.delete_invitation(invitation.id)
        raise ApiError(502, "email_failed", "the invitation email could not be sent; nothing was kept",
                       {"reason": str(exc)}) from None  # fmt: skip
    log.info("invitation_sent", org_id=org.id, invitation_id=invitation.id, role=invitation.role)
    return created(
        request, invitation_json(invitation), "invitation", org_id=org.id, invitation_id=str(invitation.id)
    )


@api("GET", f"{ORG}/invitations", {200: org_models.InvitationList}, errors=(404,), role=Role.ADMIN)
async def handle_list_invitations(request: web.Request) -> web.Response:
    """List the invitations.

    `GET /organizations/{org_id}/invitations`: every invitation, newest first, with its status."""
    services = get_services(request)
    invitations = await services.store.list_invitations(org_of(request))
    return json_response({"items": [invitation_json(i) for i in invitations]})


async def _invitation(request: web.Request) -> Invitation:
    services = get_services(request)
    invitation_id = id_param(request, "invitation_id", "invitation")
    invitation = await services.store.get_invitation(invitation_id)
    if invitation is None or invitation.org_id != org_of(request):
        raise not_found(f"invitation {invitation_id}")
    return invitation


@api("GET", f"{ORG}/invitations/{{invitation_id}}", {200: org_models.Invitation}, errors=(400, 404),
     role=Role.ADMIN, name="invitation")  # fmt: skip
async def handle_get_invitation(request: web.Request) -> web.Response:
    """One invitation.

    `GET /organizations/{org_id}/invitations/{invitation_id}`: the invitation and its status."""
    return json_response(invitation_json(await _invitation(request)))


@api("DELETE", f"{ORG}/invitations/{{invitation_id}}", {204: None}, errors=(400, 404, 409), role=Role.ADMIN)
async def handle_cancel_invitation(request: web.Request) -> web.Response:
    """Cancel an invitation.

    `DELETE /organizations/{org_id}/invitations/{invitation_id}`: 204, its token is refused from then on
    (410 `invitation_cancelled`); cancelling a cancelled one again is 204 too; 409 `invitation_used` when it
    was accepted already."""
    services = get_services(request)
    invitation = await _invitation(request)
    if not await services.store.close_invitation(invitation.id, InvitationStatus.CANCELLED, services.clock()):
        now = found(await services.store.get_invitation(invitation.id), f"invitation {invitation.id}")
        if now.status is InvitationStatus.ACCEPTED:
            raise ApiError(409, "invitation_used", "the invitation was accepted already")
    return web.Response(status=204)


def _closed(invitation: Invitation) -> ApiError:
    if invitation.status is InvitationStatus.ACCEPTED:
        return ApiError(409, "invitation_used", "the invitation was accepted already")
    return ApiError(410, "invitation_cancelled", "the invitation was cancelled")


@api("POST", "/organizations/invitations/accept", {200: org_models.InvitationAccepted},
     errors=(400, 404, 409, 410), role=Role.PUBLIC, body=org_models.InvitationAccept)  # fmt: skip
async def handle_accept_invitation(request: web.Request) -> web.Response:
    """Accept an invitation.

    `POST /organizations/invitations/accept` {token, password?, name?} (no key: the token is the
    credential): adds the user with the invited email to the organization, creating the user (with
    `password`, required then) when there is none. 404 for an unknown token, 409 `invitation_used`, 410
    `invitation_expired` or `invitation_cancelled`."""
    services = get_services(request)
    body = await read_model(request, org_models.InvitationAccept)
    invitation = await services.store.find_invitation(token_digest(body.token))
    if invitation is None:
        raise not_found("invitation")
    if invitation.status is not InvitationStatus.PENDING:
        raise _closed(invitation)
    now = services.clock()
    if invitation.expires_at <= now:
        raise ApiError(410, "invitation_expired", "the invitation has expired; ask for a new one",
                       {"expired_at": timestamp(invitation.expires_at)})  # fmt: skip
    user = await services.store.find_user_by_email(invitation.email)
    password_hash = None
    if user is None:
        if body.password is None:
            raise invalid_request("password", "required to create your account")
        password_hash = await hash_secret_async(body.password, services.config.security.bcrypt_rounds)
    else:
        current = dict(await services.store.list_memberships(user.id)).get(invitation.org_id)
        if current == "admin" and invitation.role != "admin":  # refused before the token is used up
            members = await services.store.list_members(invitation.org_id)
            if sum(m.role == "admin" for m in members) == 1:
                raise _last_admin(user.id)
    if not await services.store.close_invitation(invitation.id, InvitationStatus.ACCEPTED, now):
        raise _closed(found(await services.store.get_invitation(invitation.id), "invitation"))
    created_user = False
    if user is None:
        assert password_hash is not None
        name = body.name or normalized_email(invitation.email).split("@")[0]
        try:
            user = await services.store.add_user(invitation.email, name, password_hash)
            created_user = True
        except AlreadyExists:  # signed up through another invitation meanwhile: the same person
            user = found(await services.store.find_user_by_email(invitation.email), "user")
    with _keeping_an_admin(user.id):
        await services.store.set_member(invitation.org_id, user.id, invitation.role, keep_an_admin=True)
    log.info("invitation_accepted", org_id=invitation.org_id, invitation_id=invitation.id, user_id=user.id)
    return json_response(
        {
            "org_id": invitation.org_id,
            "user_id": user.id,
            "email": user.email,
            "role": invitation.role,
            "user_created": created_user,
        }
    )


ROUTES: tuple[Route, ...] = tuple(api.routes)
