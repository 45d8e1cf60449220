"""Tenancy (issue 12, item 5): every REST route reads and writes only the caller's organization's resources.

Organization A owns a charge point (connected), an id token, a location, a tariff, a session, a reservation,
an OCPI partner and a push to it; organization B's key must see none of them: every list omits them and
every item or command route answers 404 `not_found`. The route tables below cover every operator API route
(`test_every_route_is_tried_across_tenants` fails for a new route until it is added here), so a route
without scoping fails this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.api.app import ROUTES as API_ROUTES
from csms.api.auth import CALLER, Caller, org_of
from csms.api.power_limits import SITE_LIMIT_STORE
from csms.api.solar import SOLAR_STORE
from csms.api.webhooks import WEBHOOK_STORE
from csms.domain.core import Domain
from csms.domain.firmware import FirmwareCampaign, FirmwareFile, FirmwareUpdate, LogUpload, UpdateState
from csms.domain.identity import Organization
from csms.domain.models import ApiKey, NewTransaction, Reservation, ReservationStatus
from csms.domain.secrets import hash_secret, new_api_key
from csms.domain.tenancy import DEFAULT_ORG_ID
from ocpi import admin_api
from ocpi.admin_api import emsp_scope
from ocpi.agent.store import SqlAgentStore
from ocpi.models import Cdr, OutboxEntry, OutboxStatus, Partner
from tests.api.conftest import NOW, ApiClient, StationFactory, emsp_role, error_of
from tests.api.openapi_check import OpenApiChecker
from tests.api.test_locations import location_body
from tests.api.test_tariffs import tariff_body
from tests.fakes.memory_site_limits import MemorySiteLimitStore
from tests.fakes.memory_solar import MemorySolarStore
from tests.fakes.memory_store import MemoryStore
from tests.fakes.memory_webhooks import MemoryWebhookStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore

ORG_A = "org-a"
ORG_B = "org-b"
CP = "CP-A"
TOKEN = "TOKEN-A"
LOCATION = "LOC-A"
TARIFF = "T-A"
FUTURE = (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Probe:
    """One request of organization B at organization A's resources: `path` filled in with A's ids, the
    body it sends (valid, so that only the scoping can refuse it), and what B must get: `list` (200 with no
    item of A's), `not_found` (404), `invalid` (400 naming A's resource as unknown) or `created` (201, in
    B's organization)."""

    path: str
    expect: str
    body: dict[str, Any] | None = None


PROFILE = {
    "evse_id": 1,
    "id": 1,
    "stack_level": 0,
    "purpose": "TxDefaultProfile",
    "kind": "Absolute",
    "rate_unit": "A",
    "periods": [{"start_period": 0, "limit": 16}],
}
SPEC_BODY = {
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "max_voltage": 230,
    "max_amperage": 16,
    "tariff_ids": [],
}
CP_PATH = f"/charge-points/{CP}"


CDR = "CDR-A"
ORG_BODY = {"name": "B2", "country": "NL", "contact_email": "ops@b2.example"}
WEBHOOK_BODY = {
    "url": "https://b.example/hooks",
    "events": ["session.started"],
    "secret": "whsec_abcdefghijklmnop",
}


def _table(
    session_id: int,
    reservation_id: int,
    entry_id: int,
    key_id: int = 1,
    webhook_id: int = 1,
    portal_id: int = 1,
) -> dict[tuple[str, str], Probe]:
    """Every operator API route (method, path template) -> how organization B tries it. `portal_id` is the
    id of A's site owner, driver and dispute (each the first of its kind)."""
    org = f"/organizations/{ORG_A}"
    owner, driver, dispute = f"/site-owners/{portal_id}", f"/drivers/{portal_id}", f"/disputes/{portal_id}"
    return {
        # site owners, drivers and disputes, as B's operators see them
        ("GET", "/site-owners"): Probe("/site-owners", "list"),
        ("POST", "/site-owners/invitations"): Probe(
            "/site-owners/invitations", "status:502", {"email": "s@b.example", "company": "B Sites"}
        ),
        ("GET", "/site-owners/{site_owner_id}"): Probe(owner, "not_found"),
        ("POST", "/site-owners/{site_owner_id}/approve"): Probe(f"{owner}/approve", "not_found"),
        ("PUT", "/site-owners/{site_owner_id}/locations"): Probe(
            f"{owner}/locations", "not_found", {"location_ids": []}
        ),
        ("GET", "/drivers"): Probe("/drivers", "list"),
        ("POST", "/drivers"): Probe(
            "/drivers",
            "status:400",
            {"email": "d@b.example", "name": "D", "id_tokens": [TOKEN]},  # A's token
        ),
        ("GET", "/drivers/{driver_id}"): Probe(driver, "not_found"),
        ("PUT", "/drivers/{driver_id}/id-tokens"): Probe(
            f"{driver}/id-tokens", "not_found", {"id_tokens": [TOKEN]}
        ),
        ("GET", "/disputes"): Probe("/disputes", "list"),
        ("GET", "/disputes/{dispute_id}"): Probe(dispute, "not_found"),
        ("PATCH", "/disputes/{dispute_id}"): Probe(dispute, "not_found", {"status": "under_review"}),
        # the site owners' and drivers' own routes: an operator key of B may not use them at all
        ("GET", "/site-owner/onboarding/status"): Probe("/site-owner/onboarding/status", "status:403"),
        ("POST", "/site-owner/onboarding/complete"): Probe("/site-owner/onboarding/complete", "status:403"),
        ("GET", "/site-owner/profile"): Probe("/site-owner/profile", "status:403"),
        ("PUT", "/site-owner/profile"): Probe("/site-owner/profile", "status:403", {}),
        ("PUT", "/site-owner/bank-details"): Probe("/site-owner/bank-details", "status:403", {}),
        ("POST", "/site-owner/documents"): Probe("/site-owner/documents", "status:403", {}),
        ("GET", "/site-owner/documents/{document_id}"): Probe("/site-owner/documents/1", "status:403"),
        ("GET", "/site-owner/projects"): Probe("/site-owner/projects", "status:403"),
        ("GET", "/site-owner/projects/{location_id}"): Probe(
            f"/site-owner/projects/{LOCATION}", "status:403"
        ),
        ("GET", "/portal/sessions"): Probe("/portal/sessions", "status:403"),
        ("GET", "/portal/sessions/{session_id}/cost-breakdown"): Probe(
            f"/portal/sessions/{session_id}/cost-breakdown", "status:403"
        ),
        ("GET", "/portal/sessions/{session_id}/receipt"): Probe(
            f"/portal/sessions/{session_id}/receipt", "status:403"
        ),
        ("POST", "/portal/sessions/{session_id}/dispute"): Probe(
            f"/portal/sessions/{session_id}/dispute", "status:403", {"description": "x", "expected_cost": "1"}
        ),
        # invitations of no organization's resource: an unknown token is 404 for anyone
        ("POST", "/site-owner/accept-invitation/{token}"): Probe(
            "/site-owner/accept-invitation/unknown", "not_found", {"password": "x" * 12}
        ),
        ("POST", "/portal/accept-invitation/{token}"): Probe(
            "/portal/accept-invitation/unknown", "not_found", {"password": "x" * 12}
        ),
        # routes of no organization's resource: signing in, accepting an invitation, making an organization
        ("POST", "/auth/login"): Probe(
            "/auth/login", "status:401", {"email": "a@a.example", "password": "x" * 12}
        ),
        ("POST", "/auth/refresh"): Probe("/auth/refresh", "status:401", {"refresh_token": "csmsrt_unknown"}),
        ("POST", "/auth/logout"): Probe("/auth/logout", "status:400"),  # an API key is not signed in
        ("POST", "/organizations"): Probe("/organizations", "status:201", ORG_BODY),  # a new one, not B
        ("POST", "/organizations/invitations/accept"): Probe(
            "/organizations/invitations/accept",
            "status:404",
            {"token": "unknown-token", "password": "x" * 12},
        ),
        # organization A itself: B's key names it in the path
        ("GET", "/organizations/{org_id}"): Probe(org, "not_found"),
        ("PUT", "/organizations/{org_id}"): Probe(org, "not_found", ORG_BODY),
        ("GET", "/organizations/{org_id}/settings"): Probe(f"{org}/settings", "not_found"),
        ("PUT", "/organizations/{org_id}/settings"): Probe(
            f"{org}/settings", "not_found", {"currency": "EUR", "timezone": "UTC"}
        ),
        ("GET", "/organizations/{org_id}/members"): Probe(f"{org}/members", "not_found"),
        ("PUT", "/organizations/{org_id}/members/{user_id}/role"): Probe(
            f"{org}/members/1/role", "not_found", {"role": "viewer"}
        ),
        ("DELETE", "/organizations/{org_id}/members/{user_id}"): Probe(f"{org}/members/1", "not_found"),
        ("GET", "/organizations/{org_id}/invitations"): Probe(f"{org}/invitations", "not_found"),
        ("POST", "/organizations/{org_id}/invitations"): Probe(
            f"{org}/invitations", "not_found", {"email": "x@b.example", "role": "member"}
        ),
        ("GET", "/organizations/{org_id}/invitations/{invitation_id}"): Probe(
            f"{org}/invitations/1", "not_found"
        ),
        ("DELETE", "/organizations/{org_id}/invitations/{invitation_id}"): Probe(
            f"{org}/invitations/1", "not_found"
        ),
        # API keys: B lists and makes its own, never A's
        ("GET", "/api-keys"): Probe("/api-keys", f"without:admin-{ORG_A}"),
        ("POST", "/api-keys"): Probe("/api-keys", "created", {"name": "b2", "role": "viewer"}),
        ("GET", "/api-keys/{key_id}"): Probe(f"/api-keys/{key_id}", "not_found"),
        ("DELETE", "/api-keys/{key_id}"): Probe(f"/api-keys/{key_id}", "not_found"),
        ("POST", "/api-keys/{key_id}/rotate"): Probe(f"/api-keys/{key_id}/rotate", "not_found"),
        # the Agent API's client accounts: only the eMSP role's organization (A here) has them
        ("GET", "/agent-clients"): Probe("/agent-clients", "list"),
        ("POST", "/agent-clients"): Probe("/agent-clients", "status:403", {"name": "B's planner"}),
        ("GET", "/agent-clients/{client_id}"): Probe("/agent-clients/1", "not_found"),
        ("POST", "/agent-clients/{client_id}/rotate"): Probe("/agent-clients/1/rotate", "not_found"),
        # the eMSP role's CPOs: also only organization A's
        ("GET", "/emsp/cpos"): Probe("/emsp/cpos", "list"),
        ("POST", "/emsp/cpos/invitations"): Probe("/emsp/cpos/invitations", "status:403", {"name": "B's"}),
        ("GET", "/emsp/cpos/{cpo_id}"): Probe("/emsp/cpos/1", "not_found"),
        # webhooks
        ("GET", "/webhooks"): Probe("/webhooks", "list"),
        ("POST", "/webhooks"): Probe("/webhooks", "created", WEBHOOK_BODY),
        ("GET", "/webhooks/{webhook_id}"): Probe(f"/webhooks/{webhook_id}", "not_found"),
        ("DELETE", "/webhooks/{webhook_id}"): Probe(f"/webhooks/{webhook_id}", "not_found"),
        ("GET", "/webhooks/{webhook_id}/deliveries"): Probe(
            f"/webhooks/{webhook_id}/deliveries", "not_found"
        ),
        # CDRs and the CSV export
        ("GET", "/cdrs/{cdr_id}"): Probe(f"/cdrs/{CDR}", "not_found"),
        ("POST", "/cdrs/{cdr_id}/corrections"): Probe(
            f"/cdrs/{CDR}/corrections", "not_found", {"reason": "x"}
        ),
        ("GET", "/sessions/{session_id}/cdrs"): Probe(f"/sessions/{session_id}/cdrs", "not_found"),
        ("GET", "/sessions/export.csv"): Probe("/sessions/export.csv", f"without:{CP}"),
        ("GET", "/openapi.json"): Probe("/openapi.json", "public"),
        # charge points and their per-station routes
        ("GET", "/charge-points"): Probe("/charge-points", "list"),
        ("GET", "/charge-points/{charge_point_id}"): Probe(CP_PATH, "not_found"),
        ("POST", "/charge-points"): Probe("/charge-points", "created", {"charge_point_id": "CP-B"}),
        ("PATCH", "/charge-points/{charge_point_id}"): Probe(
            CP_PATH, "not_found", {"registration_status": "Rejected"}
        ),
        ("DELETE", "/charge-points/{charge_point_id}"): Probe(CP_PATH, "not_found"),
        ("GET", "/charge-points/{charge_point_id}/messages"): Probe(f"{CP_PATH}/messages", "not_found"),
        ("GET", "/charge-points/{charge_point_id}/events"): Probe(f"{CP_PATH}/events", "not_found"),
        # firmware, campaigns and logs (A's firmware, campaign and log upload are the first of their kind)
        ("GET", "/firmware"): Probe("/firmware", "list"),
        ("POST", "/firmware"): Probe("/firmware", "created", {"filename": "b.bin"}),
        ("GET", "/firmware/{firmware_id}"): Probe("/firmware/1", "not_found"),
        ("PUT", "/firmware/{firmware_id}/content"): Probe("/firmware/1/content", "not_found"),
        ("POST", "/charge-points/{charge_point_id}/firmware-updates"): Probe(
            f"{CP_PATH}/firmware-updates", "not_found", {"firmware_id": 1}
        ),
        ("GET", "/charge-points/{charge_point_id}/firmware-updates"): Probe(
            f"{CP_PATH}/firmware-updates", "not_found"
        ),
        ("POST", "/firmware-campaigns"): Probe(
            "/firmware-campaigns", "not_found", {"firmware_id": 1, "charge_point_ids": [CP]}
        ),
        ("GET", "/firmware-campaigns/{campaign_id}"): Probe("/firmware-campaigns/1", "not_found"),
        ("POST", "/charge-points/{charge_point_id}/logs"): Probe(f"{CP_PATH}/logs", "not_found", {}),
        ("GET", "/charge-points/{charge_point_id}/logs"): Probe(f"{CP_PATH}/logs", "not_found"),
        ("GET", "/charge-points/{charge_point_id}/logs/{log_id}/content"): Probe(
            f"{CP_PATH}/logs/1/content", "not_found"
        ),
        ("POST", "/charge-points/{charge_point_id}/reset"): Probe(
            f"{CP_PATH}/reset", "not_found", {"type": "soft"}
        ),
        ("POST", "/charge-points/{charge_point_id}/unlock"): Probe(
            f"{CP_PATH}/unlock", "not_found", {"connector_id": 1}
        ),
        ("POST", "/charge-points/{charge_point_id}/availability"): Probe(
            f"{CP_PATH}/availability", "not_found", {"operative": False}
        ),
        ("POST", "/charge-points/{charge_point_id}/trigger"): Probe(
            f"{CP_PATH}/trigger", "not_found", {"message": "Heartbeat"}
        ),
        ("POST", "/charge-points/{charge_point_id}/data-transfer"): Probe(
            f"{CP_PATH}/data-transfer", "not_found", {"vendor_id": "acme"}
        ),
        ("POST", "/charge-points/{charge_point_id}/clear-cache"): Probe(
            f"{CP_PATH}/clear-cache", "not_found", {}
        ),
        ("POST", "/charge-points/{charge_point_id}/report"): Probe(f"{CP_PATH}/report", "not_found", {}),
        ("GET", "/charge-points/{charge_point_id}/certificates"): Probe(
            f"{CP_PATH}/certificates", "not_found"
        ),
        ("POST", "/charge-points/{charge_point_id}/certificates/renew"): Probe(
            f"{CP_PATH}/certificates/renew", "not_found", {}
        ),
        ("GET", "/certificates/ca.pem"): Probe("/certificates/ca.pem", "public"),
        ("GET", "/charge-points/{charge_point_id}/local-list"): Probe(f"{CP_PATH}/local-list", "not_found"),
        ("POST", "/charge-points/{charge_point_id}/local-list/sync"): Probe(
            f"{CP_PATH}/local-list/sync", "not_found", {"update_type": "Full"}
        ),
        ("POST", "/charge-points/{charge_point_id}/certificates/install"): Probe(
            f"{CP_PATH}/certificates/install",
            "not_found",
            {"certificate_type": "CSMSRootCertificate", "certificate": "PEM"},
        ),
        ("POST", "/charge-points/{charge_point_id}/certificates/installed"): Probe(
            f"{CP_PATH}/certificates/installed", "not_found", {}
        ),
        ("POST", "/charge-points/{charge_point_id}/certificates/delete"): Probe(
            f"{CP_PATH}/certificates/delete",
            "not_found",
            {
                "hash_algorithm": "SHA256",
                "issuer_name_hash": "a",
                "issuer_key_hash": "b",
                "serial_number": "9",
            },
        ),
        ("GET", "/charge-points/{charge_point_id}/configuration"): Probe(
            f"{CP_PATH}/configuration", "not_found"
        ),
        ("PATCH", "/charge-points/{charge_point_id}/configuration"): Probe(
            f"{CP_PATH}/configuration", "not_found", {"key": "HeartbeatInterval", "value": "60"}
        ),
        ("GET", "/charge-points/{charge_point_id}/charging-profile"): Probe(
            f"{CP_PATH}/charging-profile", "not_found"
        ),
        ("PUT", "/charge-points/{charge_point_id}/charging-profile"): Probe(
            f"{CP_PATH}/charging-profile", "not_found", PROFILE
        ),
        ("DELETE", "/charge-points/{charge_point_id}/charging-profile"): Probe(
            f"{CP_PATH}/charging-profile", "not_found"
        ),
        ("GET", "/charge-points/{charge_point_id}/composite-schedule"): Probe(
            f"{CP_PATH}/composite-schedule", "not_found"
        ),
        ("POST", "/charge-points/{charge_point_id}/charging-profile/report"): Probe(
            f"{CP_PATH}/charging-profile/report", "not_found"
        ),
        ("GET", "/charge-points/{charge_point_id}/charging-profile/reports"): Probe(
            f"{CP_PATH}/charging-profile/reports", "not_found"
        ),
        ("GET", "/charge-points/{charge_point_id}/charging-limits"): Probe(
            f"{CP_PATH}/charging-limits", "not_found"
        ),
        ("GET", "/charge-points/{charge_point_id}/connectors/{evse_id}/{connector_id}/spec"): Probe(
            f"{CP_PATH}/connectors/1/1/spec", "not_found"
        ),
        ("PUT", "/charge-points/{charge_point_id}/connectors/{evse_id}/{connector_id}/spec"): Probe(
            f"{CP_PATH}/connectors/1/1/spec", "not_found", SPEC_BODY
        ),
        # sessions
        ("GET", "/sessions"): Probe("/sessions", "list"),
        ("GET", "/sessions/{session_id}"): Probe(f"/sessions/{session_id}", "not_found"),
        ("POST", "/sessions"): Probe("/sessions", "not_found", {"charge_point_id": CP, "id_tag": TOKEN}),
        ("POST", "/sessions/{session_id}/stop"): Probe(f"/sessions/{session_id}/stop", "not_found"),
        ("POST", "/sessions/{session_id}/close"): Probe(
            f"/sessions/{session_id}/close", "not_found", {"reason": "StationGone", "force": True}
        ),
        ("GET", "/sessions/{session_id}/cost-breakdown"): Probe(
            f"/sessions/{session_id}/cost-breakdown", "not_found"
        ),
        ("GET", "/sessions/{session_id}/receipt"): Probe(f"/sessions/{session_id}/receipt", "not_found"),
        # reservations
        ("POST", "/reservations"): Probe(
            "/reservations", "not_found", {"charge_point_id": CP, "id_tag": TOKEN, "expiry_date": FUTURE}
        ),
        ("GET", "/reservations"): Probe("/reservations", "list"),
        ("GET", "/reservations/{reservation_id}"): Probe(f"/reservations/{reservation_id}", "not_found"),
        ("DELETE", "/reservations/{reservation_id}"): Probe(f"/reservations/{reservation_id}", "not_found"),
        # id tokens
        ("GET", "/id-tokens"): Probe("/id-tokens", "list"),
        ("GET", "/id-tokens/{id_token}"): Probe(f"/id-tokens/{TOKEN}", "not_found"),
        ("POST", "/id-tokens"): Probe("/id-tokens", "created", {"id_token": "TOKEN-B"}),
        ("PATCH", "/id-tokens/{id_token}"): Probe(f"/id-tokens/{TOKEN}", "not_found", {"status": "Blocked"}),
        ("DELETE", "/id-tokens/{id_token}"): Probe(f"/id-tokens/{TOKEN}", "not_found"),
        # locations: B may not put A's charge point or A's tariff in a location of its own
        ("GET", "/locations"): Probe("/locations", "list"),
        ("GET", "/locations/{location_id}"): Probe(f"/locations/{LOCATION}", "not_found"),
        ("POST", "/locations"): Probe(
            "/locations", "invalid", location_body(id="LOC-B", charge_point_ids=[CP])
        ),
        ("PUT", "/locations/{location_id}"): Probe(
            f"/locations/{LOCATION}", "not_found", location_body(id=LOCATION, charge_point_ids=[])
        ),
        ("DELETE", "/locations/{location_id}"): Probe(f"/locations/{LOCATION}", "not_found"),
        # a site's forecasts and a session's schedule (energy-aware charging)
        ("GET", "/locations/{location_id}/energy-prices"): Probe(
            f"/locations/{LOCATION}/energy-prices", "not_found"
        ),
        ("POST", "/locations/{location_id}/energy-prices"): Probe(
            f"/locations/{LOCATION}/energy-prices?currency=EUR", "not_found"
        ),
        ("GET", "/locations/{location_id}/carbon-intensity"): Probe(
            f"/locations/{LOCATION}/carbon-intensity", "not_found"
        ),
        ("POST", "/locations/{location_id}/carbon-intensity"): Probe(
            f"/locations/{LOCATION}/carbon-intensity", "not_found"
        ),
        ("GET", "/sessions/{session_id}/schedule"): Probe(f"/sessions/{session_id}/schedule", "not_found"),
        ("GET", "/locations/{location_id}/power-limit"): Probe(
            f"/locations/{LOCATION}/power-limit", "not_found"
        ),
        ("PUT", "/locations/{location_id}/power-limit"): Probe(
            f"/locations/{LOCATION}/power-limit", "not_found", {"max_power_w": 22000}
        ),
        # solar surplus: a site's measurements and a session's solar mode
        ("POST", "/locations/{location_id}/measurements"): Probe(
            f"/locations/{LOCATION}/measurements", "not_found", {"production_w": 5000, "consumption_w": 0}
        ),
        ("GET", "/locations/{location_id}/measurements"): Probe(
            f"/locations/{LOCATION}/measurements", "not_found"
        ),
        ("PUT", "/sessions/{session_id}/solar-mode"): Probe(
            f"/sessions/{session_id}/solar-mode", "not_found", {"mode": "solar_only"}
        ),
        ("GET", "/sessions/{session_id}/solar-mode"): Probe(
            f"/sessions/{session_id}/solar-mode", "not_found"
        ),
        # tariffs
        ("GET", "/tariffs"): Probe("/tariffs", "list"),
        ("GET", "/tariffs/{tariff_id}"): Probe(f"/tariffs/{TARIFF}", "not_found"),
        ("POST", "/tariffs"): Probe("/tariffs", "created", tariff_body(id="T-B")),
        ("PUT", "/tariffs/{tariff_id}"): Probe(f"/tariffs/{TARIFF}", "not_found", tariff_body(id=TARIFF)),
        ("DELETE", "/tariffs/{tariff_id}"): Probe(f"/tariffs/{TARIFF}", "not_found"),
        # OCPI partners and what is pushed to them
        ("GET", "/ocpi/partners"): Probe("/ocpi/partners", "list"),
        ("GET", "/ocpi/client-infos"): Probe("/ocpi/client-infos", "list"),
        ("GET", "/ocpi/outbox"): Probe("/ocpi/outbox", "list"),
        ("POST", "/ocpi/outbox/{entry_id}/retry"): Probe(f"/ocpi/outbox/{entry_id}/retry", "not_found"),
    }


ALL_ROUTES = [(r.method, r.path) for r in (*API_ROUTES, *admin_api.ROUTES)]


@dataclass(slots=True)
class Tenants:
    """Two organizations' keys and the ids of organization A's resources."""

    a: dict[str, str]
    b: dict[str, str]
    session_id: int
    reservation_id: int
    entry_id: int

    key_id: int
    webhook_id: int

    def table(self) -> dict[tuple[str, str], Probe]:
        return _table(self.session_id, self.reservation_id, self.entry_id, self.key_id, self.webhook_id)


@pytest.fixture
def ocpi_store() -> MemoryOcpiStore:
    """An empty in-memory OCPI store (its clock is the tests' fixed `NOW`)."""
    return MemoryOcpiStore(clock=lambda: NOW)


@pytest.fixture
async def tenant_client(
    domain: Domain, ocpi_store: MemoryOcpiStore, agent_store: SqlAgentStore
) -> AsyncIterator[ApiClient]:
    """A client of the app with the OCPI routes and store and the Agent API's accounts (organization A runs
    the eMSP role); every response is checked against the OpenAPI document."""
    app: web.Application = create_app(domain, extra_routes=admin_api.ROUTES)
    admin_api.install(app, ocpi_store)
    emsp_scope.install(app, emsp_scope.EmspAdmin(emsp_role(domain), agent_store, ORG_A))
    app[WEBHOOK_STORE] = MemoryWebhookStore()
    app[SITE_LIMIT_STORE] = MemorySiteLimitStore()
    app[SOLAR_STORE] = MemorySolarStore()
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as client:
        yield client
    assert not failures, "responses that do not match the OpenAPI document:\n" + "\n".join(failures)


async def _key(store: MemoryStore, org_id: str) -> dict[str, str]:
    """Headers with a new admin key of `org_id` (set directly through the store)."""
    key, prefix = new_api_key()
    await store.add_api_key(f"admin-{org_id}", prefix, hash_secret(key, rounds=4), "admin", org_id=org_id)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def tenants(
    tenant_client: ApiClient,
    store: MemoryStore,
    ocpi_store: MemoryOcpiStore,
    connect_station: StationFactory,
) -> Tenants:
    """Organization A with a connected charge point, id token, tariff, location, session, reservation,
    partner and push, each made the way its organization's callers make it; organization B empty."""
    for org in (ORG_A, ORG_B):
        await store.add_organization(Organization(org, f"Org {org}", "NL", f"ops@{org}.example"))
    a, b = await _key(store, ORG_A), await _key(store, ORG_B)
    created = await tenant_client.post("/api/v1/charge-points", json={"charge_point_id": CP}, headers=a)
    assert created.status == 201, await created.text()
    await connect_station(CP)  # registered already: only the live connection is added
    for path, body in (
        ("/id-tokens", {"id_token": TOKEN}),
        ("/tariffs", tariff_body(id=TARIFF)),
        ("/locations", location_body(id=LOCATION, charge_point_ids=[CP], tariff_ids=[TARIFF])),
    ):
        response = await tenant_client.post(f"/api/v1{path}", json=body, headers=a)
        assert response.status == 201, await response.text()
    tx = await store.add_transaction(
        NewTransaction(CP, evse_id=1, connector_id=1, started_at=NOW, id_token=TOKEN, meter_start_wh=0)
    )
    reservation = await store.add_reservation(
        Reservation(0, CP, 1, TOKEN, NOW + timedelta(hours=1), ReservationStatus.ACTIVE)
    )
    partner = await ocpi_store.add_partner(
        Partner(id=0, name="eMSP of A", country_code="NL", party_id="EMA", org_id=ORG_A)
    )
    entry = await ocpi_store.add_outbox(
        OutboxEntry(
            id=0,
            partner_id=partner.id,
            module="sessions",
            object_key=f"session:{tx.id}",
            method="PUT",
            url="https://emsp.example/ocpi/2.2.1/sessions/NL/CSM/1",
            body={"id": str(tx.id)},
            status=OutboxStatus.FAILED,
        )
    )
    await _firmware_of(store, ORG_A)
    hook = await tenant_client.post("/api/v1/webhooks", json=WEBHOOK_BODY, headers=a)
    assert hook.status == 201, await hook.text()
    agent = await tenant_client.post("/api/v1/agent-clients", json={"name": "A's planner"}, headers=a)
    assert agent.status == 201, await agent.text()
    invited = await tenant_client.post("/api/v1/emsp/cpos/invitations", json={"name": "A's CPO"}, headers=a)
    assert invited.status == 201, await invited.text()
    (key_a,) = await store.list_api_keys(ORG_A)
    await ocpi_store.save_cdr(
        Cdr(
            id=CDR,
            transaction_pk=tx.id,
            data={"id": CDR},
            total_cost_excl_vat=Decimal("1"),
            last_updated=NOW,
            org_id=ORG_A,
        )
    )
    return Tenants(a, b, tx.id, reservation.id, entry.id, key_a.id, (await hook.json())["id"])


async def _firmware_of(store: MemoryStore, org_id: str) -> None:
    """A firmware file (external location), a campaign with `CP` in it and a log upload of `CP`."""
    file = await store.add_firmware_file(
        FirmwareFile(0, org_id, "a.bin", "token-a", NOW, location="https://fw.example/a.bin")
    )
    campaign = await store.add_firmware_campaign(FirmwareCampaign(0, org_id, file.id, 1, NOW))
    await store.add_firmware_update(
        FirmwareUpdate(0, org_id, CP, file.id, UpdateState.QUEUED, NOW, NOW, campaign_id=campaign.id)
    )
    await store.add_log_upload(LogUpload(0, org_id, CP, "DiagnosticsLog", "log-token-a", NOW, NOW))


def test_every_route_is_tried_across_tenants() -> None:
    """The table names every operator API route exactly once, so a new route must say how it is scoped."""
    table = _table(1, 1, 1)
    assert sorted(set(ALL_ROUTES)) == sorted(ALL_ROUTES)
    assert sorted(table) == sorted(ALL_ROUTES)
    with_parameters = [key for key in ALL_ROUTES if "{" in key[1]]
    # 404 for another organization's resource; 403 for a route only site owners or drivers may use
    assert all(table[key].expect in ("not_found", "status:403") for key in with_parameters)


@pytest.mark.parametrize("route", ALL_ROUTES, ids=[f"{m} {p}" for m, p in ALL_ROUTES])
async def test_another_organization_sees_nothing(
    tenant_client: ApiClient, tenants: Tenants, route: tuple[str, str]
) -> None:
    """Organization B's key gets no item of organization A's from a list and 404 `not_found` (never 403)
    from every item or command route naming one; what B creates is B's, and A's resources cannot be named
    in B's locations."""
    method, _ = route
    probe = tenants.table()[route]
    response = await tenant_client.request(method, f"/api/v1{probe.path}", json=probe.body, headers=tenants.b)
    if probe.expect == "public":
        assert response.status == 200
    elif probe.expect.startswith("status:"):  # not an organization's resource: answered as for anyone
        assert response.status == int(probe.expect.removeprefix("status:")), await response.text()
    elif probe.expect.startswith("without:"):  # B's own listing: 200, and nothing of A's in it
        assert response.status == 200, await response.text()
        assert probe.expect.removeprefix("without:") not in await response.text()
    elif probe.expect == "list":
        assert response.status == 200, await response.text()
        assert (await response.json())["items"] == []
    elif probe.expect == "not_found":
        error = await error_of(response, 404)
        assert error["code"] == "not_found"
    elif probe.expect == "invalid":
        error = await error_of(response, 400)
        assert [detail["field"] for detail in error["details"]] == ["charge_point_ids.0"]
    else:
        assert probe.expect == "created"
        assert response.status == 201, await response.text()
        location = response.headers["Location"]
        mine = await tenant_client.get(location, headers=tenants.b)
        assert mine.status == 200
        theirs = await tenant_client.get(location, headers=tenants.a)
        assert (await error_of(theirs, 404))["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/charge-points",
        "/sessions",
        "/reservations",
        "/id-tokens",
        "/locations",
        "/tariffs",
        "/ocpi/partners",
        "/ocpi/outbox",
        "/firmware",
        "/agent-clients",
        "/emsp/cpos",
    ],
)
async def test_the_owner_sees_its_own(tenant_client: ApiClient, tenants: Tenants, path: str) -> None:
    """Organization A's key lists exactly its one resource of each kind (the fixture is what B misses)."""
    response = await tenant_client.get(f"/api/v1{path}", headers=tenants.a)
    assert response.status == 200, await response.text()
    assert len((await response.json())["items"]) == 1


@pytest.mark.parametrize(
    "path",
    [
        CP_PATH,
        f"{CP_PATH}/messages",
        f"{CP_PATH}/events",
        f"{CP_PATH}/firmware-updates",
        f"{CP_PATH}/logs",
        "/firmware/1",
        "/firmware-campaigns/1",
        f"{CP_PATH}/configuration",
        f"{CP_PATH}/charging-profile",
        f"{CP_PATH}/charging-profile/reports",
        f"{CP_PATH}/charging-limits",
        f"{CP_PATH}/connectors/1/1/spec",
        f"/id-tokens/{TOKEN}",
        f"/locations/{LOCATION}",
        f"/tariffs/{TARIFF}",
        "/sessions/{session_id}",
        "/sessions/{session_id}/cost-breakdown",
        "/reservations/{reservation_id}",
    ],
)
async def test_the_owner_reads_its_items(tenant_client: ApiClient, tenants: Tenants, path: str) -> None:
    """Organization A's key reads every item B was refused (so B's 404s come from scoping alone)."""
    filled = path.format(session_id=tenants.session_id, reservation_id=tenants.reservation_id)
    response = await tenant_client.get(f"/api/v1{filled}", headers=tenants.a)
    assert response.status == 200, await response.text()


async def test_the_owner_sends_commands(tenant_client: ApiClient, tenants: Tenants) -> None:
    """Organization A's key reaches its connected station (the command B was refused with 404)."""
    response = await tenant_client.post(f"/api/v1{CP_PATH}/reset", json={"type": "soft"}, headers=tenants.a)
    assert response.status == 200, await response.text()


async def test_sessions_and_reservations_belong_to_their_charge_points_organization(
    store: MemoryStore, tenants: Tenants
) -> None:
    """A transaction or reservation a station makes is in its charge point's organization."""
    tx = await store.get_transaction(tenants.session_id)
    reservation = await store.get_reservation(tenants.reservation_id)
    assert tx is not None and tx.org_id == ORG_A
    assert reservation is not None and reservation.org_id == ORG_A
    assert await store.get_transaction(tenants.session_id, org_id=ORG_B) is None


async def test_another_organizations_tariff_cannot_be_named(
    tenant_client: ApiClient, tenants: Tenants
) -> None:
    """A location or connector of organization B naming A's tariff is refused as naming an unknown one."""
    location = await tenant_client.post(
        "/api/v1/locations",
        json=location_body(id="LOC-B", charge_point_ids=[], tariff_ids=[TARIFF]),
        headers=tenants.b,
    )
    assert [d["field"] for d in (await error_of(location, 400))["details"]] == ["tariff_ids.0"]
    created = await tenant_client.post(
        "/api/v1/charge-points", json={"charge_point_id": "CP-B"}, headers=tenants.b
    )
    assert created.status == 201
    spec = await tenant_client.put(
        "/api/v1/charge-points/CP-B/connectors/1/1/spec",
        json={**SPEC_BODY, "tariff_ids": [TARIFF]},
        headers=tenants.b,
    )
    assert [d["field"] for d in (await error_of(spec, 400))["details"]] == ["tariff_ids.0"]


def test_org_of_is_the_organization_of_the_key() -> None:
    """`org_of` answers the request's API key's organization, the default one without a key."""
    from aiohttp.test_utils import make_mocked_request

    request = make_mocked_request("GET", "/api/v1/sessions")
    assert org_of(request) == DEFAULT_ORG_ID
    key = ApiKey(id=1, name="k", prefix="p", key_hash="h", org_id=ORG_B)
    request[CALLER] = Caller("key", key.id, key.org_id, key.role, api_key=key)
    assert org_of(request) == ORG_B
