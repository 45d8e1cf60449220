"""What every OCPI handler and background task shares, stored on the OCPI sub-application."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiohttp import web

from csms.config import OcpiConfig
from csms.domain.clock import Clock, utcnow
from csms.domain.core import Domain
from ocpi.client import PartnerClient
from ocpi.models import Partner
from ocpi.store import OcpiStore, Pagination
from ocpi.transport import VERSION, page, pagination

T = TypeVar("T")


class PushQueue(Protocol):
    """Where pushes to partners are queued (`ocpi.outbox.Outbox`, which imports this module)."""

    async def enqueue(
        self, partner: Partner, module: str, object_key: str, method: str, url: str, body: Any
    ) -> None: ...


@dataclass(slots=True)
class OcpiContext:
    """The domain core (the one data model), the OCPI store, configuration and outgoing HTTP.

    `client` is the `PartnerClient` used for every call to partners (registration, pushes, command
    results, real-time authorization); `outbox` the push outbox (`ocpi.push.install` sets it). Both are set
    by whoever starts the bridge (ocpi/bridge.py) and shared, never module globals.
    """

    domain: Domain
    store: OcpiStore
    config: OcpiConfig
    base_url: str  # e.g. http://127.0.0.1:8080 — the OCPI root is base_url + "/ocpi"
    client: PartnerClient | None = None
    outbox: PushQueue | None = None
    clock: Clock = utcnow
    # What the `install` functions plugged into the domain, kept so that installing twice returns the same
    # object: `ocpi.authority.PartnerTokenAuthority`, `ocpi.commands.CommandRunner`, `ocpi.cdrs.CdrWriter`
    # (their modules import this one, hence `object`; each reads its own back with isinstance).
    token_authority: object | None = None
    command_runner: object | None = None
    cdr_writer: object | None = None
    token_puller: object | None = None  # `ocpi.token_pull.TokenPuller`
    # One lock per partner id: credentials exchanges of one partner never interleave.
    partner_locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    def partner_client(self) -> PartnerClient:
        """The client for calls to partners; RuntimeError when the bridge was built without one."""
        if self.client is None:
            raise RuntimeError("OcpiContext.client is not set: start the OCPI bridge first")
        return self.client

    def url(self, *path: str) -> str:
        """Our URL of a path below the OCPI root (`base_url` + "/ocpi"): `url(VERSION)` is the 2.2.1 version
        details endpoint, the module endpoints are below it."""
        return "/".join((self.base_url, "ocpi", *path))

    @property
    def versions_url(self) -> str:
        """Our versions endpoint, as given to partners."""
        return self.url("versions")

    def module_url(self, module: str) -> str:
        """Our endpoint of an OCPI module, e.g. module_url("locations")."""
        return self.url(VERSION, module)


OCPI = web.AppKey("ocpi", OcpiContext)


def context_of(request: web.Request) -> OcpiContext:
    """The OCPI context of a request (works in the sub-application and its parents)."""
    return request.config_dict[OCPI]


async def list_response(
    request: web.Request,
    list_page: Callable[[Pagination], Awaitable[tuple[list[T], int]]],
    to_object: Callable[[T], Any],
) -> web.Response:
    """A sender module's paginated GET: the request's `Pagination` (capped at our `max_page_limit`) read by
    `list_page` (page, total count), each record as its OCPI object, with the pagination headers."""
    limit = context_of(request).config.max_page_limit
    params = pagination(request, limit)
    found, total = await list_page(params)
    return page(request, [to_object(item) for item in found], total, params, limit)
