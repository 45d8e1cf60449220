"""`/auth`: users sign in with email and password, refresh their tokens and sign out.

`POST /auth/login` answers a short-lived access token (`[auth] access_token_seconds`) and a refresh token
(`[auth] refresh_token_seconds`), both random and stored only as SHA-256 digests (`csms.domain.identity`).
`POST /auth/refresh` replaces both tokens of the sign-in (the old refresh token is refused afterwards);
`POST /auth/logout` revokes both.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from aiohttp import web

from csms.api import org_models
from csms.api.auth import Role, caller_of
from csms.api.errors import ApiError
from csms.api.params import get_services, read_model
from csms.api.responses import json_response
from csms.api.routes import Operations, Route
from csms.domain.identity import (
    ACCESS_TOKEN_PREFIX,
    REFRESH_TOKEN_PREFIX,
    UserSession,
    new_token,
    token_digest,
)
from csms.domain.services import Services

api = Operations()

# Checked against when the email is unknown, so that a wrong email costs the same bcrypt time as a wrong
# password and the answer's timing does not tell which part was wrong.
_NO_USER_HASH = "$2b$12$1mWkM09otQY854mnprsxLeQdxyrF588CITHKc02dGL5q7HsgOYZxK"


def _invalid_credentials() -> ApiError:
    return ApiError(401, "invalid_credentials", "wrong email or password")


def _token_pair(services: Services, access: str, refresh: str) -> dict[str, object]:
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": services.config.auth.access_token_seconds,
        "refresh_token": refresh,
    }


def _fresh_tokens(services: Services, session: UserSession) -> tuple[UserSession, str, str]:
    """`session` with a new access and refresh token (returned in clear, once) and new expiries."""
    now = services.clock()
    access, refresh = new_token(ACCESS_TOKEN_PREFIX), new_token(REFRESH_TOKEN_PREFIX)
    auth = services.config.auth
    changed = replace(
        session,
        access_digest=token_digest(access),
        access_expires_at=now + timedelta(seconds=auth.access_token_seconds),
        refresh_digest=token_digest(refresh),
        refresh_expires_at=now + timedelta(seconds=auth.refresh_token_seconds),
    )
    return changed, access, refresh


@api("POST", "/auth/login", {200: org_models.TokenPair}, errors=(400, 401), body=org_models.LoginBody,
     role=Role.PUBLIC)  # fmt: skip
async def handle_login(request: web.Request) -> web.Response:
    """Sign in with email and password.

    `POST /auth/login` {email, password}: an access token and a refresh token; 401 `invalid_credentials`
    whether the email or the password was wrong."""
    services = get_services(request)
    body = await read_model(request, org_models.LoginBody)
    user = await services.store.find_user_by_email(body.email)
    stored_hash = _NO_USER_HASH if user is None else user.password_hash
    if not await services.verifier.verify(body.password, stored_hash) or user is None:
        raise _invalid_credentials()
    now = services.clock()
    blank = UserSession(0, user.id, "", now, "", now, created_at=now)
    session, access, refresh = _fresh_tokens(services, blank)
    await services.store.add_user_session(session)
    return json_response(_token_pair(services, access, refresh))


@api("POST", "/auth/refresh", {200: org_models.TokenPair}, errors=(400, 401), body=org_models.RefreshBody,
     role=Role.PUBLIC)  # fmt: skip
async def handle_refresh(request: web.Request) -> web.Response:
    """New tokens for a refresh token.

    `POST /auth/refresh` {refresh_token}: a new access and refresh token (the old ones stop working); 401
    `invalid_refresh_token` when it is unknown, expired, already used or signed out."""
    services = get_services(request)
    body = await read_model(request, org_models.RefreshBody)
    session = await services.store.find_user_session(refresh_digest=token_digest(body.refresh_token))
    if session is None or session.revoked_at is not None or session.refresh_expires_at <= services.clock():
        raise ApiError(401, "invalid_refresh_token", "the refresh token is unknown, expired or revoked")
    session, access, refresh = _fresh_tokens(services, session)
    await services.store.save_user_session(session)
    return json_response(_token_pair(services, access, refresh))


@api("POST", "/auth/logout", {204: None}, errors=(400,), role=Role.SIGNED_IN)
async def handle_logout(request: web.Request) -> web.Response:
    """Sign out.

    `POST /auth/logout` with the access token: revokes it and its refresh token; 204. 400
    `not_a_user_token` for an API key (revoke keys with `DELETE /api-keys/{key_id}`)."""
    services = get_services(request)
    session = caller_of(request).session
    if session is None:
        raise ApiError(400, "not_a_user_token", "only a user's access token can be signed out")
    await services.store.save_user_session(replace(session, revoked_at=services.clock()))
    return web.Response(status=204)


ROUTES: tuple[Route, ...] = tuple(api.routes)
