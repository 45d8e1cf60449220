"""The site-owner and driver portals over REST (issue 12, items 6 and 7): invitations by email, onboarding,
projects with energy and revenue share, a driver's own sessions, cost breakdown, receipt and disputes that
operators move on (and credit through a CDR correction); the `site_owner` and `driver` principals reach only
their own routes and their own data."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.api.mailer import EmailFailed
from csms.domain.events import DisputeChanged, Order
from csms.domain.models import Transaction
from csms.domain.portal import iban_valid, masked_iban
from csms.domain.secrets import hash_secret, new_api_key
from ocpi import admin_api
from tests.api.conftest import error_of
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.senders import Harness, harness
from tests.ocpi.test_corrections import CONFIG, finished, setup
from tests.store.conftest import FakeClock

ApiClient = TestClient[web.Request, web.Application]
IBAN = "NL91ABNA0417164300"  # a valid IBAN (mod-97 gives 1)
PASSWORD = "correct horse battery"


@dataclass
class Outbox:
    """A mailer that keeps what it sends."""

    sent: list[tuple[str, str, str]] = field(default_factory=list)
    refuse: bool = False

    async def send(self, to: str, subject: str, body: str) -> None:
        if self.refuse:
            raise EmailFailed("554 refused")
        self.sent.append((to, subject, body))

    def token(self, prefix: str) -> str:
        """The token of the last email."""
        match = re.search(rf"\b({prefix}[A-Za-z0-9_-]+)", self.sent[-1][2])
        assert match is not None
        return match.group(1)


@dataclass
class Portal:
    """The API app on the harness, an admin key's headers, the mail outbox and the events seen."""

    h: Harness
    api: ApiClient
    admin: dict[str, str]
    viewer: dict[str, str]
    mail: Outbox
    events: list[DisputeChanged]

    async def call(self, method: str, path: str, headers: dict[str, str] | None, body: Any = None,
                   status: int = 200) -> Any:  # fmt: skip
        response = await self.api.request(method, f"/api/v1{path}", json=body, headers=headers or {})
        assert response.status == status, (method, path, await response.text())
        if response.content_type == "application/json":
            return await response.json()
        return await response.read()

    async def sign_in(self, email: str) -> dict[str, str]:
        tokens = await self.call("POST", "/auth/login", None, {"email": email, "password": PASSWORD})
        return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
async def portal(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Portal]:
    """CP1 in LOC1 (tariff 17), an admin and a viewer key; every response is checked against the OpenAPI
    document."""
    async with harness(memory_ocpi_store, clock, config=CONFIG) as h:
        await setup(h)
        await h.add_station("CP2")
        await h.add_location("LOC2", "CP2")
        headers = {}
        for role in ("admin", "viewer"):
            key, prefix = new_api_key()
            await h.store.add_api_key(f"test-{role}", prefix, hash_secret(key, rounds=4), role)
            headers[role] = {"Authorization": f"Bearer {key}"}
        mail = Outbox()
        app = create_app(h.domain, extra_routes=admin_api.ROUTES, mailer=mail)
        admin_api.install(app, h.ocpi, h.ctx)
        failures: list[str] = []
        app.middlewares.append(OpenApiChecker.shared().middleware(failures))
        events: list[DisputeChanged] = []

        async def seen(event: DisputeChanged) -> None:
            events.append(event)

        h.domain.services.events.subscribe(DisputeChanged, seen, order=Order.PUBLISH)
        async with TestClient(TestServer(app)) as client:
            yield Portal(h, client, headers["admin"], headers["viewer"], mail, events)
        assert not failures, "responses not matching the OpenAPI document:\n" + "\n".join(failures)


def test_iban_mod_97_and_masking() -> None:
    """An IBAN is valid when the ISO 13616 mod-97 check gives 1 (spaces and case ignored); shown masked but
    for its last four characters."""
    assert iban_valid(IBAN) and iban_valid("nl91 abna 0417 1643 00") and iban_valid("DE89370400440532013000")
    assert (
        not iban_valid("NL92ABNA0417164300") and not iban_valid("NL91") and not iban_valid("12ABNA0417164300")
    )
    assert masked_iban(IBAN) == "*" * 14 + "4300"


async def invited_site_owner(
    p: Portal, email: str = "owner@example.com", share: str = "10"
) -> tuple[int, str]:
    """Invite a site owner; return their id and the emailed token."""
    body = {"email": email, "company": "Garage Janssens", "revenue_share_percent": share}
    owner = await p.call("POST", "/site-owners/invitations", p.admin, body, 201)
    assert owner["stage"] == "invited" and owner["status"] == "pending"
    assert p.mail.sent[-1][0] == email
    return owner["id"], p.mail.token("csmsso_")


async def signed_in_site_owner(p: Portal, email: str = "owner@example.com") -> tuple[int, dict[str, str]]:
    owner_id, token = await invited_site_owner(p, email)
    await p.call("POST", f"/site-owner/accept-invitation/{token}", None, {"password": PASSWORD})
    return owner_id, await p.sign_in(email)


async def onboard(p: Portal, headers: dict[str, str]) -> None:
    profile = {"company": "Garage Janssens BV", "contact_name": "An Janssens", "phone": "+32 9 123 45 67",
               "address": "Veldstraat 1", "postal_code": "9000", "city": "Gent", "country": "BE"}  # fmt: skip
    await p.call("PUT", "/site-owner/profile", headers, profile)
    await p.call(
        "PUT", "/site-owner/bank-details", headers, {"account_holder": "Garage Janssens", "iban": IBAN}
    )
    document = {"name": "lease.pdf", "kind": "contract", "content_base64": base64.b64encode(b"%PDF").decode()}
    await p.call("POST", "/site-owner/documents", headers, document, 201)


async def test_site_owner_invitation_is_emailed_and_accepted_once(portal: Portal) -> None:
    """The invitation email carries a single-use token: accepting it creates the user (who signs in through
    /auth/login); a second use is 409 `invitation_used`, an unknown token 404; the organization lists the site
    owner (viewers too), another id is 404."""
    p = portal
    owner_id, token = await invited_site_owner(p)
    assert f"/api/v1/site-owner/accept-invitation/{token}" in p.mail.sent[-1][2]
    await error_of(
        await p.api.post("/api/v1/site-owner/accept-invitation/csmsso_nope", json={"password": PASSWORD}), 404
    )
    accepted = await p.call(
        "POST", f"/site-owner/accept-invitation/{token}", None, {"password": PASSWORD, "name": "An"}
    )
    assert accepted["email"] == "owner@example.com" and accepted["org_id"] == "default"
    again = await p.api.post(f"/api/v1/site-owner/accept-invitation/{token}", json={"password": PASSWORD})
    assert (await error_of(again, 409))["code"] == "invitation_used"
    listed = await p.call("GET", "/site-owners", p.viewer)
    assert [(o["id"], o["status"], o["stage"]) for o in listed["items"]] == [
        (owner_id, "accepted", "profile")
    ]
    assert (await p.call("GET", f"/site-owners/{owner_id}", p.viewer))["revenue_share_percent"] == "10"
    await error_of(await p.api.get("/api/v1/site-owners/999", headers=p.viewer), 404)
    await p.sign_in("owner@example.com")


async def test_invitations_that_cannot_be_emailed_are_502_and_kept_nowhere(portal: Portal) -> None:
    """When the mail server refuses the email, a site owner or driver invitation is 502 `email_failed` and
    nothing is stored; staff below admin may not invite site owners (403)."""
    p = portal
    p.mail.refuse = True
    site_owner = await p.api.post("/api/v1/site-owners/invitations", headers=p.admin,
                                  json={"email": "x@example.com", "company": "X"})  # fmt: skip
    assert (await error_of(site_owner, 502))["code"] == "email_failed"
    await p.call("POST", "/id-tokens", p.admin, {"id_token": "T"}, 201)  # the organization's own token
    driver = await p.api.post("/api/v1/drivers", headers=p.admin,
                              json={"email": "x@example.com", "name": "X", "id_tokens": ["T"]})  # fmt: skip
    assert (await error_of(driver, 502))["code"] == "email_failed"
    assert (await p.call("GET", "/site-owners", p.viewer))["items"] == []
    assert (await p.call("GET", "/drivers", p.viewer))["items"] == []
    viewer = await p.api.post("/api/v1/site-owners/invitations", headers=p.viewer,
                              json={"email": "x@example.com", "company": "X"})  # fmt: skip
    assert (await error_of(viewer, 403))["code"] == "forbidden"


async def test_expired_site_owner_invitation_is_410(portal: Portal) -> None:
    """An invitation token past `[email] invitation_hours` is refused with 410 `invitation_expired`."""
    _, token = await invited_site_owner(portal)
    portal.h.advance(portal.h.domain.services.config.email.invitation_hours * 3600 + 1)
    response = await portal.api.post(
        f"/api/v1/site-owner/accept-invitation/{token}", json={"password": PASSWORD}
    )
    assert (await error_of(response, 410))["code"] == "invitation_expired"


async def test_onboarding_goes_through_its_stages_and_is_approved(portal: Portal) -> None:
    """Stages profile -> bank_details -> documents; completing early is 400 `onboarding_incomplete` listing
    what is missing; a bad IBAN is 400 naming `iban`; the IBAN is shown masked; then submitted, and approved
    by the organization (409 `onboarding_not_submitted` before)."""
    p = portal
    owner_id, me = await signed_in_site_owner(p)
    status = await p.call("GET", "/site-owner/onboarding/status", me)
    assert status == {"stage": "profile", "missing": ["profile", "bank_details", "documents"]}
    early = await p.api.post("/api/v1/site-owner/onboarding/complete", headers=me)
    error = await error_of(early, 400)
    assert error["code"] == "onboarding_incomplete"
    assert error["details"] == {"missing": ["profile", "bank_details", "documents"]}
    refused = await p.api.post(f"/api/v1/site-owners/{owner_id}/approve", headers=p.admin)
    assert (await error_of(refused, 409))["code"] == "onboarding_not_submitted"
    bad = await p.api.put("/api/v1/site-owner/bank-details", headers=me,
                          json={"account_holder": "X", "iban": "NL92ABNA0417164300"})  # fmt: skip
    assert (await error_of(bad, 400))["details"][0]["field"] == "iban"
    bad_doc = await p.api.post("/api/v1/site-owner/documents", headers=me,
                               json={"name": "x", "kind": "contract", "content_base64": "%%%"})  # fmt: skip
    assert (await error_of(bad_doc, 400))["details"][0]["field"] == "content_base64"
    profile = {"company": "Garage Janssens BV", "contact_name": "An Janssens", "phone": "+32 9 123 45 67",
               "address": "Veldstraat 1", "postal_code": "9000", "city": "Gent", "country": "BE"}  # fmt: skip
    await p.call("PUT", "/site-owner/profile", me, profile)
    assert (await p.call("GET", "/site-owner/onboarding/status", me))["stage"] == "bank_details"
    shown = await p.call(
        "PUT", "/site-owner/bank-details", me, {"account_holder": "Garage", "iban": "nl91 abna 0417 1643 00"}
    )
    assert shown == {"account_holder": "Garage", "iban_masked": "**************4300", "bic": None}
    assert (await p.call("GET", "/site-owner/onboarding/status", me)) == {
        "stage": "documents",
        "missing": ["documents"],
    }
    document = {
        "name": "lease.pdf",
        "kind": "contract",
        "content_base64": base64.b64encode(b"%PDF-1.4").decode(),
    }
    response = await p.api.post("/api/v1/site-owner/documents", headers=me, json=document)
    assert response.status == 201
    doc = await response.json()
    assert doc["size"] == 8 and response.headers["Location"] == f"/api/v1/site-owner/documents/{doc['id']}"
    assert (await p.call("GET", f"/site-owner/documents/{doc['id']}", me))["name"] == "lease.pdf"
    await error_of(await p.api.get("/api/v1/site-owner/documents/999", headers=me), 404)
    assert (await p.call("POST", "/site-owner/onboarding/complete", me)) == {
        "stage": "submitted",
        "missing": [],
    }
    approved = await p.call("POST", f"/site-owners/{owner_id}/approve", p.admin)
    assert approved["stage"] == "approved" and approved["approved_at"] is not None
    account = await p.call("GET", "/site-owner/profile", me)
    assert account["stage"] == "approved" and account["company"] == "Garage Janssens BV"
    assert account["bank_details"]["iban_masked"].endswith("4300") and IBAN not in str(account)
    assert [d["kind"] for d in account["documents"]] == ["contract"]


async def test_site_owner_sees_only_their_projects_with_energy_and_revenue_share(portal: Portal) -> None:
    """The organization assigns LOC1 (400 for an unknown location, 409 for one another site owner hosts);
    the site owner's projects show CP1 with the energy (Wh) of its sessions and their 10 % share of the
    incl.-VAT revenue; LOC2, hosted by no one of theirs, is 404."""
    p = portal
    owner_id, me = await signed_in_site_owner(p)
    unknown = await p.api.put(
        f"/api/v1/site-owners/{owner_id}/locations", headers=p.admin, json={"location_ids": ["NOPE"]}
    )
    assert (await error_of(unknown, 400))["details"][0]["field"] == "location_ids"
    assigned = await p.call("PUT", f"/site-owners/{owner_id}/locations", p.admin, {"location_ids": ["LOC1"]})
    assert assigned["location_ids"] == ["LOC1"]
    other_id, _ = await invited_site_owner(p, "other@example.com")
    taken = await p.api.put(
        f"/api/v1/site-owners/{other_id}/locations", headers=p.admin, json={"location_ids": ["LOC1"]}
    )
    assert (await error_of(taken, 409))["code"] == "location_taken"
    await finished(p.h)  # 10 kWh, 3.35 incl. VAT (1.5 h: sign in again)
    me = await p.sign_in("owner@example.com")
    projects = await p.call("GET", "/site-owner/projects", me)
    assert [x["location_id"] for x in projects["items"]] == ["LOC1"]
    project = projects["items"][0]
    assert project["charge_points"] == [{"charge_point_id": "CP1", "energy_wh": 10_000, "sessions": 1}]
    assert project["energy_wh"] == 10_000 and project["revenue_incl_vat"] == "3.3500"
    assert project["revenue_share"] == "0.34" and project["currency"] == "EUR"
    assert (await p.call("GET", "/site-owner/projects/LOC1", me)) == project
    await error_of(await p.api.get("/api/v1/site-owner/projects/LOC2", headers=me), 404)


async def test_portal_principals_reach_only_their_own_routes(portal: Portal) -> None:
    """A site owner's operator calls are 403 `forbidden`, as are a driver's site-owner calls and an admin's
    portal calls."""
    p = portal
    _, owner = await signed_in_site_owner(p)
    driver = await signed_in_driver(p, ["EMS1"])
    for headers, path in ((owner, "/charge-points"), (owner, "/site-owners"), (owner, "/portal/sessions"),
                          (driver, "/sessions"), (driver, "/site-owner/profile"), (driver, "/disputes"),
                          (p.admin, "/site-owner/profile"), (p.admin, "/portal/sessions")):  # fmt: skip
        assert (await error_of(await p.api.get(f"/api/v1{path}", headers=headers), 403))[
            "code"
        ] == "forbidden"
    # Nor may they found an organization of their own (a signed-in user of no organization may).
    org = {"name": "Mine", "country": "NL", "contact_email": "me@example.com"}
    for headers in (owner, driver):
        answer = await p.api.post("/api/v1/organizations", headers=headers, json=org)
        assert (await error_of(answer, 403))["code"] == "forbidden"


async def signed_in_driver(
    p: Portal, id_tokens: list[str], email: str = "driver@example.com"
) -> dict[str, str]:
    for id_token in id_tokens:  # a driver's tokens must be the organization's (tenancy)
        await p.api.post("/api/v1/id-tokens", headers=p.admin, json={"id_token": id_token})
    body = {"email": email, "name": "Dirk", "id_tokens": id_tokens}
    driver = await p.call("POST", "/drivers", p.admin, body, 201)
    assert driver["status"] == "pending" and p.mail.sent[-1][0] == email
    token = p.mail.token("csmsdrv_")
    await p.call("POST", f"/portal/accept-invitation/{token}", None, {"password": PASSWORD})
    used = await p.api.post(f"/api/v1/portal/accept-invitation/{token}", json={"password": PASSWORD})
    assert (await error_of(used, 409))["code"] == "invitation_used"
    return await p.sign_in(email)


async def test_driver_sees_only_the_sessions_of_their_tokens(portal: Portal) -> None:
    """A driver lists their sessions by start time window (newest first), gets the cost breakdown and PDF
    receipt of theirs; another token's session is 404 everywhere; `limit` above 100 is 400 naming it; when the
    operator takes a token away its sessions go too."""
    p = portal
    mine = await finished(p.h)  # EMS1
    p.h.advance(3600)
    theirs = await finished(p.h, uid="OTHER")
    p.h.advance(3600)
    later = await finished(p.h)
    me = await signed_in_driver(p, ["EMS1"])
    listed = await p.call("GET", "/portal/sessions", me)
    assert [s["id"] for s in listed["items"]] == [later.id, mine.id] and listed["next_cursor"] is None
    window = {"from": mine.started_at.isoformat(), "to": theirs.started_at.isoformat()}
    response = await p.api.get("/api/v1/portal/sessions", headers=me, params=window)
    assert [s["id"] for s in (await response.json())["items"]] == [mine.id]
    first = await p.api.get("/api/v1/portal/sessions?limit=1", headers=me)
    page = await first.json()
    assert [s["id"] for s in page["items"]] == [later.id] and page["next_cursor"] is not None
    next_url = first.headers["Link"].split(">")[0].lstrip("<")
    assert [s["id"] for s in (await (await p.api.get(next_url, headers=me)).json())["items"]] == [mine.id]
    bad_cursor = await p.api.get("/api/v1/portal/sessions?cursor=nope", headers=me)
    assert (await error_of(bad_cursor, 400))["details"][0]["field"] == "cursor"
    too_many = await p.api.get("/api/v1/portal/sessions?limit=101", headers=me)
    assert (await error_of(too_many, 400))["details"][0]["field"] == "limit"
    bad_time = await p.api.get("/api/v1/portal/sessions?from=yesterday", headers=me)
    assert (await error_of(bad_time, 400))["details"][0]["field"] == "from"
    breakdown = await p.call("GET", f"/portal/sessions/{mine.id}/cost-breakdown", me)
    assert breakdown["total"] == {"excl_vat": "3.0000", "incl_vat": "3.3500"}
    receipt = await p.api.get(f"/api/v1/portal/sessions/{mine.id}/receipt", headers=me)
    assert receipt.status == 200 and receipt.content_type == "application/pdf"
    assert (await receipt.read()).startswith(b"%PDF")
    for path in (f"/portal/sessions/{theirs.id}/cost-breakdown", f"/portal/sessions/{theirs.id}/receipt"):
        await error_of(await p.api.get(f"/api/v1{path}", headers=me), 404)
    dispute = await p.api.post(f"/api/v1/portal/sessions/{theirs.id}/dispute", headers=me,
                               json={"description": "x", "expected_cost": "1"})  # fmt: skip
    await error_of(dispute, 404)
    drivers = await p.call("GET", "/drivers", p.viewer)
    driver_id = drivers["items"][0]["id"]
    assert drivers["items"][0]["id_tokens"] == ["EMS1"] and drivers["items"][0]["status"] == "accepted"
    await p.call("POST", "/id-tokens", p.admin, {"id_token": "OTHER"}, 201)
    changed = await p.call("PUT", f"/drivers/{driver_id}/id-tokens", p.admin, {"id_tokens": ["OTHER"]})
    assert changed["id_tokens"] == ["OTHER"]
    assert (await p.call("GET", f"/drivers/{driver_id}", p.viewer))["id_tokens"] == ["OTHER"]
    assert [s["id"] for s in (await p.call("GET", "/portal/sessions", me))["items"]] == [theirs.id]
    await error_of(await p.api.get(f"/api/v1/portal/sessions/{mine.id}/receipt", headers=me), 404)
    await error_of(await p.api.get("/api/v1/drivers/999", headers=p.viewer), 404)


async def test_a_running_session_has_no_receipt(portal: Portal) -> None:
    """The receipt of the driver's running session is 409 `session_active`."""
    p = portal
    me = await signed_in_driver(p, ["EMS1"])
    tx = await p.h.start("CP1", 1, id_token="EMS1", meter_start=0)
    response = await p.api.get(f"/api/v1/portal/sessions/{tx.id}/receipt", headers=me)
    assert (await error_of(response, 409))["code"] == "session_active"


async def test_dispute_is_filed_then_worked_and_credited(portal: Portal) -> None:
    """A driver files a dispute (201, `open`, event `created`); operators list it (by status); only open ->
    under_review -> resolved | rejected moves are allowed (409 `invalid_transition`); resolving needs a
    resolution and, with `credit`, corrects the session's CDR (credit + replacement priced again), each
    change an `updated` event."""
    p = portal
    tx = await finished(p.h)
    me = await signed_in_driver(p, ["EMS1"])
    bad = await p.api.post(f"/api/v1/portal/sessions/{tx.id}/dispute", headers=me,
                           json={"description": "too much", "expected_cost": "cheap"})  # fmt: skip
    assert (await error_of(bad, 400))["details"][0]["field"] == "expected_cost"
    claim = {"description": "charged for 10 kWh, got 5", "expected_cost": "1.70"}
    response = await p.api.post(f"/api/v1/portal/sessions/{tx.id}/dispute", headers=me, json=claim)
    assert response.status == 201
    dispute = await response.json()
    assert (
        dispute["status"] == "open" and dispute["expected_cost"] == "1.70" and dispute["session_id"] == tx.id
    )
    assert response.headers["Location"] == f"/api/v1/disputes/{dispute['id']}"
    assert [(e.change, e.dispute.id) for e in p.events] == [("created", dispute["id"])]
    path = f"/disputes/{dispute['id']}"
    assert [d["id"] for d in (await p.call("GET", "/disputes?status=open", p.viewer))["items"]] == [
        dispute["id"]
    ]
    assert (await p.call("GET", "/disputes?status=resolved", p.viewer))["items"] == []
    await error_of(await p.api.get("/api/v1/disputes?status=nope", headers=p.viewer), 400)
    skip = await p.api.patch(
        f"/api/v1{path}", headers=p.admin, json={"status": "resolved", "resolution": "ok"}
    )
    error = await error_of(skip, 409)
    assert error["code"] == "invalid_transition" and error["details"]["allowed"] == ["under_review"]
    assert (await p.call("PATCH", path, p.admin, {"status": "under_review"}))["status"] == "under_review"
    unexplained = await p.api.patch(f"/api/v1{path}", headers=p.admin, json={"status": "resolved"})
    assert (await error_of(unexplained, 400))["details"][0]["field"] == "resolution"
    body = {"status": "resolved", "resolution": "meter misread", "credit": {"total_energy_wh": 5000}}
    resolved = await p.call("PATCH", path, p.admin, body)
    assert resolved["status"] == "resolved" and resolved["resolution"] == "meter misread"
    assert (resolved["credit_cdr_id"], resolved["replacement_cdr_id"]) == (f"{tx.id}-C", f"{tx.id}-R1")
    replacement = await p.h.ocpi.get_cdr(f"{tx.id}-R1")
    assert replacement is not None and replacement.data["total_energy"] == 5
    assert (await p.call("GET", path, p.viewer)) == resolved
    again = await p.api.patch(
        f"/api/v1{path}", headers=p.admin, json={"status": "rejected", "resolution": "no"}
    )
    assert (await error_of(again, 409))["code"] == "invalid_transition"
    assert [e.change for e in p.events] == ["created", "updated", "updated"]
    await error_of(await p.api.get("/api/v1/disputes/999", headers=p.viewer), 404)


async def dispute_under_review(p: Portal) -> tuple[Transaction, str]:
    """A finished session with a driver's dispute that an operator took under review; (session, path)."""
    tx = await finished(p.h)
    me = await signed_in_driver(p, ["EMS1"])
    dispute = await p.call("POST", f"/portal/sessions/{tx.id}/dispute", me,
                           {"description": "why", "expected_cost": "0"}, 201)  # fmt: skip
    path = f"/disputes/{dispute['id']}"
    await p.call("PATCH", path, p.admin, {"status": "under_review"})
    return tx, path


async def test_concurrent_resolutions_credit_the_cdr_once(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two operators resolve the same dispute with a credit at once; the second arrives while the first's
    correction is done but its answer not yet sent. The second is 409 `invalid_transition` and the CDR is
    credited once (one credit CDR, one replacement): the transition is claimed before the correction."""
    from ocpi.admin_api import portal as portal_api

    p = portal
    tx, path = await dispute_under_review(p)
    path = f"/api/v1{path}"
    corrected, release = asyncio.Event(), asyncio.Event()
    real = portal_api.correct_cdr

    async def held(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        if not corrected.is_set():  # the first correction: done, then held before its answer
            corrected.set()
            await release.wait()
        return result

    monkeypatch.setattr(portal_api, "correct_cdr", held)
    body = {"status": "resolved", "resolution": "refund", "credit": {"total_energy_wh": 1000}}
    first = asyncio.create_task(p.api.patch(path, headers=p.admin, json=body))
    await asyncio.wait_for(corrected.wait(), 5)
    second = await p.api.patch(path, headers=p.admin, json=body)
    release.set()
    assert (await error_of(second, 409))["code"] == "invalid_transition"
    assert (await first).status == 200
    assert await p.h.ocpi.get_cdr(f"{tx.id}-R1") is not None
    assert await p.h.ocpi.get_cdr(f"{tx.id}-R1-C") is None and await p.h.ocpi.get_cdr(f"{tx.id}-R2") is None


async def test_a_refused_credit_leaves_the_dispute_under_review(portal: Portal) -> None:
    """When the correction is refused (an unknown tariff), the answer is its error and the dispute stays
    under review, with no credit ids, so it can be resolved again."""
    p = portal
    tx, path = await dispute_under_review(p)
    body = {"status": "resolved", "resolution": "refund", "credit": {"tariff_id": "NO-SUCH-TARIFF"}}
    refused = await p.api.patch(f"/api/v1{path}", headers=p.admin, json=body)
    assert refused.status in (400, 404, 409), await refused.text()
    after = await p.call("GET", path, p.viewer)
    assert after["status"] == "under_review" and after["credit_cdr_id"] is None
    resolved = await p.call("PATCH", path, p.admin, {"status": "resolved", "resolution": "refund",
                                                      "credit": {"total_energy_wh": 1000}})  # fmt: skip
    assert resolved["credit_cdr_id"] == f"{tx.id}-C"


async def test_a_dispute_is_rejected_without_credit(portal: Portal) -> None:
    """Rejecting a dispute under review stores the resolution and touches no CDR; `credit` is only for
    resolving (400 naming `credit`)."""
    p = portal
    tx, path = await dispute_under_review(p)
    credit = {"status": "rejected", "resolution": "correct", "credit": {"total_energy_wh": 1}}
    assert (await error_of(await p.api.patch(f"/api/v1{path}", headers=p.admin, json=credit), 400))[
        "details"
    ][0]["field"] == "credit"
    rejected = await p.call(
        "PATCH", path, p.admin, {"status": "rejected", "resolution": "the meter is right"}
    )
    assert rejected["status"] == "rejected" and rejected["credit_cdr_id"] is None
    assert [c.id for c in await p.h.ocpi.list_transaction_cdrs(tx.id)] == [str(tx.id)]
