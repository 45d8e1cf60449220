"""OCPI 2.2.1 Versions: our versions list and version details, and reading a partner's (OCPI 2.2.1 "Version
information endpoint" and "Version details endpoint").

`GET /ocpi/versions` lists the one version we speak; `GET /ocpi/2.2.1` lists our module endpoints, one per
module in `ocpi.app.MODULES` (except versions itself), with the role each module declares. Both take any
valid token, including token A (OCPI 2.2.1 Credentials: registration). `fetch_partner_endpoints` is the
other side: the version handshake both directions of registration perform against a partner.
"""

from __future__ import annotations

import importlib
from typing import Any
from urllib.parse import urljoin

import structlog
from aiohttp import web

from ocpi.client import PartnerClient, PartnerUnreachable
from ocpi.context import OcpiContext, context_of
from ocpi.models import Partner
from ocpi.transport import VERSION, Status, ok

IDENTIFIER = "versions"
ROLE = "SENDER"

log = structlog.get_logger("ocpi.versions")

# The partner endpoints we can use, given our modules: the receiver side of the modules we send (pushes)
# and the sender side of the modules we receive (real-time authorization, commands). A partner without any
# of them shares nothing with us (OCPI 2.2.1 status 3003: no matching endpoints).
USABLE_PARTNER_ENDPOINTS = frozenset(
    {
        "locations:RECEIVER",
        "sessions:RECEIVER",
        "cdrs:RECEIVER",
        "tariffs:RECEIVER",
        "tokens:SENDER",
        "commands:SENDER",
    }
)

_ROLES = ("SENDER", "RECEIVER")


def endpoints(ctx: OcpiContext) -> list[dict[str, str]]:
    """Our 2.2.1 endpoints: `{identifier, role, url}` for every module of `ocpi.app.MODULES` but versions.

    A module whose file does not exist (yet) is left out, so a partial app (tests) lists what it has; a
    module that exists but fails to import raises, as it would in `create_app`.
    """
    from ocpi.app import MODULES  # imported here: ocpi.app imports every module, this one included

    listed: list[dict[str, str]] = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        identifier: str = module.IDENTIFIER
        if identifier == IDENTIFIER:
            continue
        listed.append({"identifier": identifier, "role": module.ROLE, "url": ctx.module_url(identifier)})
    return listed


async def handle_versions(request: web.Request) -> web.Response:
    """GET /versions: the versions we support and the URL of each one's details."""
    ctx = context_of(request)
    return ok([{"version": VERSION, "url": ctx.url(VERSION)}])


async def handle_version_details(request: web.Request) -> web.Response:
    """GET /2.2.1: our module endpoints for version 2.2.1."""
    ctx = context_of(request)
    return ok({"version": VERSION, "endpoints": endpoints(ctx)})


def register(app: web.Application) -> None:
    """Add GET /versions and GET /2.2.1 to the OCPI sub-application."""
    app.router.add_get("/versions", handle_versions)
    app.router.add_get(f"/{VERSION}", handle_version_details)


# -- the partner's side --------------------------------------------------------------------------


class VersionHandshakeError(Exception):
    """The partner's versions could not be used; `status` is the OCPI status to answer or report:
    3001 (its API could not be used), 3002 (no 2.2.1) or 3003 (no endpoint we can use)."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def fetch_partner_endpoints(
    client: PartnerClient,
    partner: Partner,
    versions_url: str,
    token: str,
    *,
    usable: frozenset[str] = USABLE_PARTNER_ENDPOINTS,
) -> tuple[str, dict[str, str]]:
    """GET the partner's versions list with `token`, pick 2.2.1, GET its details and read the endpoints.

    Both directions of registration do this: the partner registering with us (with its token B) and we
    registering with it (with its token A). Nothing is stored; the caller saves the endpoints.

    Returns:
        (the 2.2.1 details URL, endpoints as `{"<identifier>:<ROLE>": url}`).

    Raises:
        VersionHandshakeError: 3001 when a GET fails (unreachable, an HTTP or OCPI error, a malformed
            answer), 3002 when the partner has no 2.2.1, 3003 when none of its endpoints is one we use
            (`usable`: default `USABLE_PARTNER_ENDPOINTS`, a CPO's; the eMSP role passes its own).
    """
    versions = await _get(client, partner, versions_url, token, "versions")
    if not isinstance(versions, list):
        raise VersionHandshakeError(Status.CLIENT_API_ERROR, "the versions endpoint did not answer a list")
    offered: list[str] = []
    details_url: str | None = None
    for item in versions:
        if not isinstance(item, dict) or not isinstance(item.get("version"), str):
            raise VersionHandshakeError(Status.CLIENT_API_ERROR, "malformed entry in the versions list")
        offered.append(item["version"])
        if item["version"] == VERSION and isinstance(item.get("url"), str) and item["url"]:
            details_url = urljoin(versions_url, item["url"])
    if details_url is None:
        raise VersionHandshakeError(
            Status.UNSUPPORTED_VERSION,
            f"no mutual version: we support {VERSION}, the partner offers {', '.join(offered) or 'none'}",
        )
    details = await _get(client, partner, details_url, token, "version details")
    if not isinstance(details, dict) or not isinstance(details.get("endpoints"), list):
        raise VersionHandshakeError(Status.CLIENT_API_ERROR, "the version details have no endpoints list")
    if details.get("version") != VERSION:
        raise VersionHandshakeError(
            Status.UNSUPPORTED_VERSION, f"the {VERSION} details describe version {details.get('version')!r}"
        )
    found: dict[str, str] = {}
    for item in details["endpoints"]:
        parsed = _endpoint(item, details_url)
        if parsed is None:
            raise VersionHandshakeError(Status.CLIENT_API_ERROR, f"malformed endpoint {item!r}")
        found[parsed[0]] = parsed[1]
    if not usable & found.keys():
        raise VersionHandshakeError(
            Status.NO_MATCHING_ENDPOINTS,
            "no matching endpoints: the partner offers none of " + ", ".join(sorted(usable)),
        )
    return details_url, found


async def _get(client: PartnerClient, partner: Partner, url: str, token: str, what: str) -> Any:
    try:
        response = await client.request(partner, "GET", url, token=token, routing=False)
    except PartnerUnreachable as exc:
        raise VersionHandshakeError(
            Status.CLIENT_API_ERROR, f"cannot reach the {what} endpoint: {exc}"
        ) from exc
    if not response.success:
        raise VersionHandshakeError(
            Status.CLIENT_API_ERROR,
            f"the {what} endpoint answered HTTP {response.http_status}, OCPI status {response.status_code}"
            + (f" ({response.status_message})" if response.status_message else ""),
        )
    return response.data


def _endpoint(item: Any, base: str) -> tuple[str, str] | None:
    """("<identifier>:<ROLE>", absolute url) of an OCPI Endpoint object, or None when malformed."""
    if not isinstance(item, dict):
        return None
    identifier, role, url = item.get("identifier"), item.get("role"), item.get("url")
    if not isinstance(identifier, str) or not identifier or not isinstance(url, str) or not url:
        return None
    if not isinstance(role, str) or role.upper() not in _ROLES:
        return None
    return f"{identifier}:{role.upper()}", urljoin(base, url)
