"""Our eMSP OCPI 2.2.1 server, mounted at /emsp/ocpi on the HTTP port when `[emsp] enabled` (ADR 0023).

A sub-application of its own, apart from the CPO side's /ocpi: CPOs call it with the token B we gave them
at registration (`ocpi.emsp.registration`), or with the token A an operator invited them with until they
POST their credentials (`ocpi.emsp.credentials`). It serves versions and details, credentials (GET, POST,
PUT, DELETE), the receivers of Locations, Sessions, CDRs and Tariffs (what CPOs push updates the cache the
pulls fill), the Tokens sender (our drivers' tokens, paginated, and real-time authorization) and the
response URLs of the commands we send. Envelopes, errors and tracing headers are `ocpi.transport`'s.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ocpi.credentials import read_credentials
from ocpi.emsp.credentials import register_cpo, update_cpo
from ocpi.emsp.registration import our_credentials
from ocpi.emsp.role import EmspRole
from ocpi.emsp.store import CpoRecord
from ocpi.emsp.tokens import all_tokens, token_object
from ocpi.transport import (
    VERSION,
    OcpiError,
    Status,
    error_middleware,
    hash_token,
    ok,
    page,
    pagination,
    read_json,
    token_candidates,
)

ROLE = web.AppKey("emsp_role", EmspRole)
_RequestKey: Any = getattr(web, "RequestKey", None)
CPO: Any = _RequestKey("emsp_cpo", CpoRecord) if _RequestKey else "emsp_cpo"

MAX_PAGE_LIMIT = 100

# Our endpoints (OCPI 2.2.1 version details): identifier, role.
ENDPOINTS = (
    ("credentials", "SENDER"),
    ("locations", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("tokens", "SENDER"),
    ("commands", "SENDER"),
)


def _auth(role: EmspRole) -> Any:
    """The CPO is found by the hash of its token; a PENDING one (mid-registration) or an INVITED one (token
    A) reaches only versions and credentials (OCPI 2.2.1 Credentials: registration). Missing or unknown
    token: HTTP 401."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        unmatched = request.match_info.http_exception
        if unmatched is not None:
            raise unmatched
        cpo: CpoRecord | None = None
        for token in token_candidates(request.headers.get("Authorization")):
            cpo = await role.store.cpo_by_token_hash(hash_token(token))
            if cpo is not None:
                break
        if cpo is None:
            raise OcpiError(401, Status.CLIENT_ERROR, "missing or unknown token")
        registration = request.path.endswith(("/versions", f"/{VERSION}", "/credentials"))
        if cpo.status != "REGISTERED" and not registration:
            raise OcpiError(401, Status.CLIENT_ERROR, "the CPO is not registered")
        request[CPO] = cpo
        return await handler(request)

    return middleware


def _role(request: web.Request) -> EmspRole:
    return request.app[ROLE]


def _cpo(request: web.Request) -> CpoRecord:
    cpo: CpoRecord = request[CPO]
    return cpo


def _not_found(what: str) -> OcpiError:
    return OcpiError(404, Status.CLIENT_ERROR, f"unknown {what}")


# -- versions and credentials ----------------------------------------------------------------------------


async def versions(request: web.Request) -> web.Response:
    return ok([{"version": VERSION, "url": f"{_role(request).base_url}/{VERSION}"}])


async def details(request: web.Request) -> web.Response:
    role = _role(request)
    return ok(
        {
            "version": VERSION,
            "endpoints": [
                {"identifier": identifier, "role": r, "url": role.module_url(identifier)}
                for identifier, r in ENDPOINTS
            ],
        }
    )


async def credentials_get(request: web.Request) -> web.Response:
    tokens = token_candidates(request.headers.get("Authorization"))
    return ok(our_credentials(_role(request), tokens[0]))


async def credentials_post(request: web.Request) -> web.Response:
    """An INVITED CPO registers with its token A: our credentials with the token it calls us with from now
    on (OCPI 2.2.1 Credentials POST); 405 once registered."""
    role = _role(request)
    credentials = await read_credentials(request)
    _, token = await register_cpo(role, _cpo(request).id, credentials)
    return ok(our_credentials(role, token))


async def credentials_put(request: web.Request) -> web.Response:
    """A REGISTERED CPO updates its credentials: our credentials with a fresh token (its previous one stops
    working; OCPI 2.2.1 Credentials PUT); 405 before it registered."""
    role = _role(request)
    credentials = await read_credentials(request)
    _, token = await update_cpo(role, _cpo(request).id, credentials)
    return ok(our_credentials(role, token))


async def credentials_delete(request: web.Request) -> web.Response:
    """The CPO unregisters: its token B stops working (OCPI 2.2.1 Credentials DELETE); 405 unless it is
    registered (an invited CPO calling with its token A has nothing to unregister)."""
    role = _role(request)
    cpo = _cpo(request)
    if cpo.status != "REGISTERED":
        raise OcpiError(405, Status.CLIENT_ERROR, "not registered")
    await role.store.save_cpo(dataclasses.replace(cpo, status="UNREGISTERED", token_b_hash=None))
    return ok()


# -- receivers -------------------------------------------------------------------------------------------


def _own_party(request: web.Request) -> None:
    """The `{country_code}/{party_id}` of a receiver URL must be the calling CPO's (it pushes its own)."""
    cpo = _cpo(request)
    cc, pid = request.match_info["cc"].upper(), request.match_info["pid"].upper()
    if cpo.country_code and (cc, pid) != (cpo.country_code, cpo.party_id):
        raise OcpiError(200, Status.CLIENT_ERROR, f"{cc}/{pid} is not the calling CPO's party")


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A PATCH applied: top-level fields replaced (OCPI 2.2.1 PATCH: objects are replaced as a whole)."""
    return {**target, **patch}


def _find(items: list[dict[str, Any]], key: str, value: str) -> int | None:
    return next((i for i, item in enumerate(items) if str(item.get(key)) == value), None)


async def location_put(request: web.Request) -> web.Response:
    """PUT a Location, an EVSE of one, or a Connector of one (OCPI 2.2.1 Locations receiver)."""
    _own_party(request)
    role, cpo, body = _role(request), _cpo(request), await read_json(request)
    mi = request.match_info
    if "evse_uid" not in mi:
        await role.store.put_location(cpo.id, {**body, "id": mi["location_id"]})
        return ok()
    location = await role.store.get_location(cpo.id, mi["location_id"])
    if location is None:
        raise OcpiError(200, Status.UNKNOWN_LOCATION, "unknown location")
    evses = list(location.get("evses") or [])
    index = _find(evses, "uid", mi["evse_uid"])
    if "connector_id" not in mi:
        evse = {**body, "uid": mi["evse_uid"]}
        evses = [*evses, evse] if index is None else [*evses[:index], evse, *evses[index + 1 :]]
    else:
        if index is None:
            raise OcpiError(200, Status.UNKNOWN_LOCATION, "unknown EVSE")
        evse = dict(evses[index])
        connectors = list(evse.get("connectors") or [])
        c_index = _find(connectors, "id", mi["connector_id"])
        connector = {**body, "id": mi["connector_id"]}
        if c_index is None:
            connectors.append(connector)
        else:
            connectors[c_index] = connector
        evses[index] = {**evse, "connectors": connectors}
    await role.store.put_location(cpo.id, {**location, "evses": evses})
    return ok()


async def location_patch(request: web.Request) -> web.Response:
    """PATCH a Location, EVSE or Connector: the fields given replace the cached ones."""
    _own_party(request)
    role, cpo, body = _role(request), _cpo(request), await read_json(request)
    mi = request.match_info
    location = await role.store.get_location(cpo.id, mi["location_id"])
    if location is None:
        raise _not_found("location")
    if "evse_uid" not in mi:
        await role.store.put_location(cpo.id, _merge(location, body))
        return ok()
    evses = list(location.get("evses") or [])
    index = _find(evses, "uid", mi["evse_uid"])
    if index is None:
        raise _not_found("EVSE")
    if "connector_id" not in mi:
        evses[index] = _merge(evses[index], body)
    else:
        connectors = list(evses[index].get("connectors") or [])
        c_index = _find(connectors, "id", mi["connector_id"])
        if c_index is None:
            raise _not_found("connector")
        connectors[c_index] = _merge(connectors[c_index], body)
        evses[index] = {**evses[index], "connectors": connectors}
    await role.store.put_location(cpo.id, {**location, "evses": evses})
    return ok()


async def location_get(request: web.Request) -> web.Response:
    _own_party(request)
    mi = request.match_info
    location = await _role(request).store.get_location(_cpo(request).id, mi["location_id"])
    if location is None:
        raise _not_found("location")
    if "evse_uid" not in mi:
        return ok(location)
    evses = list(location.get("evses") or [])
    index = _find(evses, "uid", mi["evse_uid"])
    if index is None:
        raise _not_found("EVSE")
    if "connector_id" not in mi:
        return ok(evses[index])
    connectors = list(evses[index].get("connectors") or [])
    c_index = _find(connectors, "id", mi["connector_id"])
    if c_index is None:
        raise _not_found("connector")
    return ok(connectors[c_index])


async def session_put(request: web.Request) -> web.Response:
    _own_party(request)
    role, cpo, body = _role(request), _cpo(request), await read_json(request)
    session = {**body, "id": request.match_info["object_id"]}
    await role.store.put_session(cpo.id, session)
    await role.session_update(cpo.id, session)
    return ok()


async def session_patch(request: web.Request) -> web.Response:
    _own_party(request)
    role, cpo, body = _role(request), _cpo(request), await read_json(request)
    current = await role.store.get_session(cpo.id, request.match_info["object_id"])
    if current is None:
        raise _not_found("session")
    session = _merge(current, body)
    await role.store.put_session(cpo.id, session)
    await role.session_update(cpo.id, session)
    return ok()


async def session_get(request: web.Request) -> web.Response:
    _own_party(request)
    session = await _role(request).store.get_session(_cpo(request).id, request.match_info["object_id"])
    if session is None:
        raise _not_found("session")
    return ok(session)


async def cdr_post(request: web.Request) -> web.Response:
    """Store a CDR and answer where it can be read (`Location` header, OCPI 2.2.1 CDRs receiver)."""
    role, cpo, body = _role(request), _cpo(request), await read_json(request)
    if not isinstance(body.get("id"), str) or not body["id"]:
        raise OcpiError(200, Status.INVALID_PARAMETERS, "the CDR has no id")
    if await role.store.add_cdr(cpo.id, body):
        await role.cdr_received(cpo.id, body)
    return ok(headers={"Location": f"{role.module_url('cdrs')}/{cpo.id}/{body['id']}"})


async def cdr_get(request: web.Request) -> web.Response:
    cpo = _cpo(request)
    if request.match_info["cpo_id"] != str(cpo.id):
        raise _not_found("CDR")
    cdr = await _role(request).store.get_cdr(cpo.id, request.match_info["object_id"])
    if cdr is None:
        raise _not_found("CDR")
    return ok(cdr)


async def tariff_put(request: web.Request) -> web.Response:
    _own_party(request)
    role, cpo, body = _role(request), _cpo(request), await read_json(request)
    await role.store.put_tariff(cpo.id, {**body, "id": request.match_info["object_id"]})
    return ok()


async def tariff_delete(request: web.Request) -> web.Response:
    _own_party(request)
    if not await _role(request).store.delete_tariff(_cpo(request).id, request.match_info["object_id"]):
        raise _not_found("tariff")
    return ok()


# -- senders ---------------------------------------------------------------------------------------------


async def tokens_list(request: web.Request) -> web.Response:
    """Our drivers' tokens, paginated (OCPI 2.2.1 Tokens sender GET with date_from/date_to/offset/limit)."""
    role = _role(request)
    params = pagination(request, MAX_PAGE_LIMIT)
    now = role.clock()
    found = []
    for token in await all_tokens(role.tokens, role.config.org_id):
        changed = token.updated_at or token.created_at
        if params.date_from is not None and (changed is None or changed < params.date_from):
            continue
        if params.date_to is not None and (changed is None or changed >= params.date_to):
            continue
        found.append(token_object(token, role.config, now))
    items = found[params.offset : params.offset + params.limit]
    return page(request, items, len(found), params, MAX_PAGE_LIMIT)


async def token_authorize(request: web.Request) -> web.Response:
    """Real-time authorization (OCPI 2.2.1 Tokens sender POST {uid}/authorize): AuthorizationInfo, or
    HTTP 404 with 2004 for a token we do not know."""
    role = _role(request)
    token = await role.token(request.match_info["uid"])
    wanted_type = request.query.get("type")
    if token is None or (wanted_type is not None and token["type"] != wanted_type):
        raise OcpiError(404, Status.UNKNOWN_TOKEN, "unknown token")
    info: dict[str, Any] = {"allowed": "ALLOWED" if token["valid"] else "BLOCKED", "token": token}
    if request.can_read_body:
        body = await read_json(request)
        if "location_id" in body:
            info["location"] = body
    return ok(info)


async def command_result(request: web.Request) -> web.Response:
    """A CPO's CommandResult on the response_url of a command we sent."""
    body = await read_json(request)
    mi = request.match_info
    if not await _role(request).command_result(_cpo(request).id, mi["command"], mi["command_id"], body):
        raise _not_found("command")
    return ok()


def create_app(role: EmspRole) -> web.Application:
    """The sub-application; mount it with `root.add_subapp("/emsp/ocpi", create_app(role))`."""
    app = web.Application(middlewares=[error_middleware, _auth(role)])
    app[ROLE] = role
    v = f"/{VERSION}"
    loc = v + "/locations/{cc}/{pid}/{location_id}"
    app.router.add_get("/versions", versions)
    app.router.add_get(v, details)
    app.router.add_get(v + "/credentials", credentials_get)
    app.router.add_post(v + "/credentials", credentials_post)
    app.router.add_put(v + "/credentials", credentials_put)
    app.router.add_delete(v + "/credentials", credentials_delete)
    for path in (loc, loc + "/{evse_uid}", loc + "/{evse_uid}/{connector_id}"):
        app.router.add_put(path, location_put)
        app.router.add_patch(path, location_patch)
        app.router.add_get(path, location_get)
    sessions = v + "/sessions/{cc}/{pid}/{object_id}"
    app.router.add_put(sessions, session_put)
    app.router.add_patch(sessions, session_patch)
    app.router.add_get(sessions, session_get)
    app.router.add_post(v + "/cdrs", cdr_post)
    app.router.add_get(v + "/cdrs/{cpo_id}/{object_id}", cdr_get)
    tariffs = v + "/tariffs/{cc}/{pid}/{object_id}"
    app.router.add_put(tariffs, tariff_put)
    app.router.add_delete(tariffs, tariff_delete)
    app.router.add_get(v + "/tokens", tokens_list)
    app.router.add_post(v + "/tokens/{uid}/authorize", token_authorize)
    app.router.add_post(v + "/commands/{command}/{command_id}", command_result)
    return app
