"""What every OCPI handler and background task shares, stored on the OCPI sub-application."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from csms.config import OcpiConfig
from csms.domain.clock import Clock, utcnow
from csms.domain.core import Domain
from ocpi.store import OcpiStore
from ocpi.transport import VERSION


@dataclass(slots=True)
class OcpiContext:
    """The domain core (the one data model), the OCPI store, configuration and outgoing HTTP.

    `client` is the `ocpi.client.PartnerClient` used for every call to partners (registration, pushes,
    command results, real-time authorization); `outbox` the `ocpi.push.Outbox`. Both are set by whoever
    starts the bridge (csms/app.py) and shared, never module globals.
    """

    domain: Domain
    store: OcpiStore
    config: OcpiConfig
    base_url: str  # e.g. http://127.0.0.1:8080 — the OCPI root is base_url + "/ocpi"
    client: Any = None
    outbox: Any = None
    clock: Clock = utcnow
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def versions_url(self) -> str:
        """Our versions endpoint, as given to partners."""
        return f"{self.base_url}/ocpi/versions"

    @property
    def version_url(self) -> str:
        """Our 2.2.1 version details endpoint; module endpoints are below it."""
        return f"{self.base_url}/ocpi/{VERSION}"

    def module_url(self, module: str) -> str:
        """Our endpoint of an OCPI module, e.g. module_url("locations")."""
        return f"{self.version_url}/{module}"


OCPI = web.AppKey("ocpi", OcpiContext)


def context_of(request: web.Request) -> OcpiContext:
    """The OCPI context of a request (works in the sub-application and its parents)."""
    return request.config_dict[OCPI]
