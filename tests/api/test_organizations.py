"""`/organizations`: organizations, members and roles, settings and email invitations (through a real SMTP
sink on 127.0.0.1), and `/api-keys` per organization."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from csms.config import Config, EmailConfig, SecurityConfig
from csms.domain.identity import Organization
from csms.domain.secrets import hash_secret, new_api_key
from csms.domain.services import Services
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.writer import BatchedWriter
from tests.api.conftest import ApiClient, error_of
from tests.api.identity_helpers import SettableClock, add_user, bearer, sign_in
from tests.fakes.memory_store import MemoryStore
from tests.smtp_sink import SmtpSink, invitation_token, smtp_sink

ORG = f"/api/v1/organizations/{DEFAULT_ORG_ID}"


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    """An SMTP sink on a free loopback port."""
    async with smtp_sink() as sink:
        yield sink


@pytest.fixture
def config(sink: SmtpSink) -> Config:
    """Cheap bcrypt; invitations sent to the sink."""
    return Config(security=SecurityConfig(bcrypt_rounds=4), email=EmailConfig(port=sink.port, timeout=5.0))


@pytest.fixture
def clock() -> SettableClock:
    """The services' clock, which tests move."""
    return SettableClock()


@pytest.fixture
def services(config: Config, store: MemoryStore, writer: BatchedWriter, clock: SettableClock) -> Services:
    """Services on the in-memory store with the settable clock."""
    return Services(config=config, store=store, writer=writer, clock=clock)


@pytest.fixture
async def other_org(store: MemoryStore) -> tuple[str, dict[str, str]]:
    """A second organization and an admin key of it."""
    await store.add_organization(Organization("org_other", "Other", "BE", "ops@other.example"))
    key, prefix = new_api_key()
    await store.add_api_key("other", prefix, hash_secret(key, rounds=4), "admin", "org_other")
    return "org_other", bearer(key)


async def json_of(response: Any, status: int) -> Any:
    """Assert the status and return the JSON body."""
    assert response.status == status, await response.text()
    return await response.json()


# -- organizations -----------------------------------------------------------------------------------


async def test_create_get_and_replace_an_organization(client: ApiClient, auth: dict[str, str]) -> None:
    """An admin key creates an organization (201, Location; country upper-cased); its own organization is
    read and replaced with PUT; the new one is another organization's, so 404 to this key."""
    body = {"name": "Acme", "country": "de", "contact_email": "ops@acme.example"}
    response = await client.post("/api/v1/organizations", json=body, headers=auth)
    created = await json_of(response, 201)
    assert created["country"] == "DE" and created["id"].startswith("org_")
    assert response.headers["Location"] == f"/api/v1/organizations/{created['id']}"
    hidden = await client.get(f"/api/v1/organizations/{created['id']}", headers=auth)
    assert (await error_of(hidden, 404))["code"] == "not_found"

    own = await json_of(await client.get(ORG, headers=auth), 200)
    assert own["id"] == DEFAULT_ORG_ID
    replaced = {"name": "Operator", "country": "GB", "contact_email": "ops@operator.example"}
    assert (await json_of(await client.put(ORG, json=replaced, headers=auth), 200))["name"] == "Operator"
    assert (await json_of(await client.get(ORG, headers=auth), 200)).items() >= replaced.items()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "country": "XX", "contact_email": "a@a.example"}, "country"),
        ({"name": "A", "country": "DEU", "contact_email": "a@a.example"}, "country"),
        ({"name": "A", "country": "DE", "contact_email": "nope"}, "contact_email"),
        ({"name": "", "country": "DE", "contact_email": "a@a.example"}, "name"),
    ],
)
async def test_invalid_organizations_are_400_naming_the_field(
    client: ApiClient, auth: dict[str, str], body: dict[str, str], field: str
) -> None:
    """An unknown ISO 3166-1 alpha-2 code, a malformed email or an empty name is 400 naming the field."""
    error = await error_of(await client.post("/api/v1/organizations", json=body, headers=auth), 400)
    assert [d["field"] for d in error["details"]] == [field]


async def test_only_an_admin_key_creates_organizations(client: ApiClient, make_api_key: Any) -> None:
    """A member key may not create organizations (403)."""
    key = await make_api_key("member")
    body = {"name": "A", "country": "DE", "contact_email": "a@a.example"}
    response = await client.post("/api/v1/organizations", json=body, headers=bearer(key))
    assert (await error_of(response, 403))["code"] == "forbidden"


async def test_another_organization_is_never_visible(
    client: ApiClient, auth: dict[str, str], other_org: tuple[str, dict[str, str]]
) -> None:
    """Every route under another organization's id is 404, also for an admin key."""
    org_id, _ = other_org
    base = f"/api/v1/organizations/{org_id}"
    for method, path in [
        ("GET", base), ("PUT", base), ("GET", f"{base}/members"), ("GET", f"{base}/settings"),
        ("PUT", f"{base}/settings"), ("GET", f"{base}/invitations"), ("POST", f"{base}/invitations"),
        ("DELETE", f"{base}/members/1"), ("PUT", f"{base}/members/1/role"),
        ("DELETE", f"{base}/invitations/1"),
    ]:  # fmt: skip
        response = await client.request(method, path, json={}, headers=auth)
        assert (await error_of(response, 404))["code"] == "not_found", (method, path)


# -- members -----------------------------------------------------------------------------------------


async def test_members_roles_and_the_last_admin(client: ApiClient, store: MemoryStore) -> None:
    """Admins list members and change roles; demoting or removing the only admin is 409 `last_admin`; once
    there is another admin it works; a viewer's change is 403; an unknown member is 404."""
    ann = await add_user(store, "ann@example.com", (DEFAULT_ORG_ID, "admin"))
    bob = await add_user(store, "bob@example.com", (DEFAULT_ORG_ID, "viewer"))
    admin = bearer((await sign_in(client, "ann@example.com"))["access_token"])
    bob_auth = bearer((await sign_in(client, "bob@example.com"))["access_token"])

    members = await json_of(await client.get(f"{ORG}/members", headers=bob_auth), 200)
    assert [(m["user_id"], m["role"]) for m in members["items"]] == [(ann, "admin"), (bob, "viewer")]
    demote = await client.put(f"{ORG}/members/{ann}/role", json={"role": "member"}, headers=admin)
    assert (await error_of(demote, 409))["code"] == "last_admin"
    remove = await client.delete(f"{ORG}/members/{ann}", headers=admin)
    assert (await error_of(remove, 409))["code"] == "last_admin"
    by_viewer = await client.put(f"{ORG}/members/{bob}/role", json={"role": "admin"}, headers=bob_auth)
    assert (await error_of(by_viewer, 403))["code"] == "forbidden"

    promoted = await client.put(f"{ORG}/members/{bob}/role", json={"role": "admin"}, headers=admin)
    assert (await json_of(promoted, 200))["role"] == "admin"
    assert (
        await client.delete(f"{ORG}/members/{ann}", headers=bob_auth)
    ).status == 204
    assert (await store.list_memberships(ann)) == []
    unknown = await client.put(f"{ORG}/members/{ann}/role", json={"role": "viewer"}, headers=bob_auth)
    assert (await error_of(unknown, 404))["code"] == "not_found"
    bad_role = await client.put(f"{ORG}/members/{bob}/role", json={"role": "owner"}, headers=bob_auth)
    assert [d["field"] for d in (await error_of(bad_role, 400))["details"]] == ["role"]


# -- settings ----------------------------------------------------------------------------------------


async def test_settings_defaults_and_replacement(client: ApiClient, auth: dict[str, str]) -> None:
    """Settings start as EUR/UTC; PUT replaces them all."""
    assert await json_of(await client.get(f"{ORG}/settings", headers=auth), 200) == {
        "currency": "EUR", "timezone": "UTC", "billing_email": None, "notifications": {},
    }  # fmt: skip
    body = {"currency": "gbp", "timezone": "Europe/London", "billing_email": "bills@example.com",
            "notifications": {"invoices": True, "faults": False}}  # fmt: skip
    replaced = await json_of(await client.put(f"{ORG}/settings", json=body, headers=auth), 200)
    assert replaced == {**body, "currency": "GBP"}
    assert await json_of(await client.get(f"{ORG}/settings", headers=auth), 200) == replaced


@pytest.mark.parametrize(
    ("change", "field"),
    [({"currency": "EUX"}, "currency"), ({"timezone": "Europe/Atlantis"}, "timezone"),
     ({"timezone": "../etc/passwd"}, "timezone"), ({"billing_email": "x"}, "billing_email")],
)  # fmt: skip
async def test_invalid_settings_are_400_naming_the_field(
    client: ApiClient, auth: dict[str, str], change: dict[str, str], field: str
) -> None:
    """A currency that is not ISO 4217, a time zone that is not IANA or a malformed billing email is 400
    naming the field."""
    body = {"currency": "EUR", "timezone": "UTC", **change}
    error = await error_of(await client.put(f"{ORG}/settings", json=body, headers=auth), 400)
    assert [d["field"] for d in error["details"]] == [field]


# -- invitations -------------------------------------------------------------------------------------


async def invite(
    client: ApiClient, auth: dict[str, str], sink: SmtpSink, email: str, role: str
) -> tuple[int, str]:
    """Invite `email`; return the invitation id and the token from the email the sink received."""
    before = len(sink.messages)
    created = await json_of(
        await client.post(f"{ORG}/invitations", json={"email": email, "role": role}, headers=auth), 201
    )
    message = (await sink.wait_for(before + 1))[before]
    assert message["To"] == email
    return created["id"], invitation_token(message)


async def test_an_invitation_is_emailed_and_accepted_once(
    client: ApiClient, auth: dict[str, str], sink: SmtpSink, store: MemoryStore
) -> None:
    """The invitation email carries a token (never in the API answer); accepting it with a password creates
    the user as a member with the invited role, who can then sign in; accepting again is 409
    `invitation_used`."""
    response = await client.post(f"{ORG}/invitations", json={"email": "Cy@Example.com", "role": "member"},
                                 headers=auth)  # fmt: skip
    created = await json_of(response, 201)
    token = invitation_token((await sink.wait_for(1))[0])
    assert token not in str(created) and created["status"] == "pending"
    assert created["expires_at"] == "2025-01-05T03:04:05.678Z"  # 72 hours
    assert response.headers["Location"] == f"{ORG}/invitations/{created['id']}"

    accept = {"token": token, "password": "a new password", "name": "Cy"}
    accepted = await json_of(await client.post("/api/v1/organizations/invitations/accept", json=accept), 200)
    assert accepted == {"org_id": DEFAULT_ORG_ID, "user_id": accepted["user_id"], "email": "Cy@Example.com",
                        "role": "member", "user_created": True}  # fmt: skip
    member = bearer((await sign_in(client, "cy@example.com", "a new password"))["access_token"])
    assert (await json_of(await client.get(f"{ORG}/members", headers=member), 200))["items"][0][
        "name"
    ] == "Cy"
    listed = await json_of(await client.get(f"{ORG}/invitations", headers=auth), 200)
    assert [i["status"] for i in listed["items"]] == ["accepted"]

    again = await client.post("/api/v1/organizations/invitations/accept", json=accept)
    assert (await error_of(again, 409))["code"] == "invitation_used"


async def test_an_existing_user_is_added_without_a_password(
    client: ApiClient, auth: dict[str, str], sink: SmtpSink, store: MemoryStore, other_org: tuple[str, Any]
) -> None:
    """A user who exists (in another organization) accepts without a password and is added as they are."""
    user_id = await add_user(store, "dee@example.com", ("org_other", "admin"))
    _, token = await invite(client, auth, sink, "DEE@example.com", "viewer")
    accepted = await json_of(
        await client.post("/api/v1/organizations/invitations/accept", json={"token": token}), 200
    )
    assert (accepted["user_id"], accepted["user_created"]) == (user_id, False)
    assert await store.list_memberships(user_id) == [("org_other", "admin"), (DEFAULT_ORG_ID, "viewer")]


async def test_a_new_user_needs_a_password(client: ApiClient, auth: dict[str, str], sink: SmtpSink) -> None:
    """Accepting for an email without a user and without a password is 400 naming `password`; the
    invitation stays usable."""
    _, token = await invite(client, auth, sink, "eve@example.com", "viewer")
    url = "/api/v1/organizations/invitations/accept"
    error = await error_of(await client.post(url, json={"token": token}), 400)
    assert [d["field"] for d in error["details"]] == ["password"]
    assert (await client.post(url, json={"token": token, "password": "long enough"})).status == 200


async def test_expired_cancelled_and_unknown_tokens_are_refused(
    client: ApiClient, auth: dict[str, str], sink: SmtpSink, clock: SettableClock
) -> None:
    """A cancelled invitation is 410 `invitation_cancelled`, an expired one 410 `invitation_expired`, an
    unknown token 404; cancelling twice is 204 both times."""
    url = "/api/v1/organizations/invitations/accept"
    body = {"password": "long enough"}
    cancelled_id, cancelled = await invite(client, auth, sink, "f@example.com", "viewer")
    assert (await client.delete(f"{ORG}/invitations/{cancelled_id}", headers=auth)).status == 204
    assert (await client.delete(f"{ORG}/invitations/{cancelled_id}", headers=auth)).status == 204
    error = await error_of(await client.post(url, json={"token": cancelled, **body}), 410)
    assert error["code"] == "invitation_cancelled"

    _, expiring = await invite(client, auth, sink, "g@example.com", "viewer")
    clock.advance(72 * 3600)
    error = await error_of(await client.post(url, json={"token": expiring, **body}), 410)
    assert error["code"] == "invitation_expired"
    error = await error_of(await client.post(url, json={"token": "csmsinv_unknown", **body}), 404)
    assert error["code"] == "not_found"


async def test_cancelling_an_accepted_invitation_is_409(
    client: ApiClient, auth: dict[str, str], sink: SmtpSink
) -> None:
    """An accepted invitation cannot be cancelled: 409 `invitation_used`; an unknown id is 404."""
    invitation_id, token = await invite(client, auth, sink, "h@example.com", "viewer")
    url = "/api/v1/organizations/invitations/accept"
    assert (await client.post(url, json={"token": token, "password": "long enough"})).status == 200
    error = await error_of(await client.delete(f"{ORG}/invitations/{invitation_id}", headers=auth), 409)
    assert error["code"] == "invitation_used"
    assert (await client.delete(f"{ORG}/invitations/999", headers=auth)).status == 404


async def test_a_refused_email_is_502_and_keeps_no_invitation(
    client: ApiClient, auth: dict[str, str], sink: SmtpSink
) -> None:
    """When the mail server refuses the message the answer is 502 `email_failed` and no invitation is kept."""
    sink.refuse = True
    response = await client.post(f"{ORG}/invitations", json={"email": "i@example.com", "role": "viewer"},
                                 headers=auth)  # fmt: skip
    assert (await error_of(response, 502))["code"] == "email_failed"
    assert (await json_of(await client.get(f"{ORG}/invitations", headers=auth), 200))["items"] == []


# -- API keys ----------------------------------------------------------------------------------------


async def test_api_keys_are_created_listed_rotated_and_revoked(
    client: ApiClient, auth: dict[str, str]
) -> None:
    """A new key is shown once and works; lists never show secrets; rotating refuses the old secret at once
    and the new one works; revoking refuses it at once."""
    response = await client.post("/api/v1/api-keys", json={"name": "ci", "role": "viewer"}, headers=auth)
    created = await json_of(response, 201)
    assert response.headers["Location"] == f"/api/v1/api-keys/{created['id']}"
    assert created["org_id"] == DEFAULT_ORG_ID and created["key"].startswith(f"csms_{created['prefix']}_")
    old = bearer(created["key"])
    assert (await client.get("/api/v1/charge-points", headers=old)).status == 200
    listed = await json_of(await client.get("/api/v1/api-keys", headers=auth), 200)
    assert all("key" not in k for k in listed["items"]) and created["id"] in [
        k["id"] for k in listed["items"]
    ]

    rotated = await json_of(await client.post(f"/api/v1/api-keys/{created['id']}/rotate", headers=auth), 200)
    assert rotated["id"] == created["id"] and rotated["key"] != created["key"]
    assert (await error_of(await client.get("/api/v1/charge-points", headers=old), 401))[
        "code"
    ] == "unauthorized"
    new = bearer(rotated["key"])
    assert (await client.get("/api/v1/charge-points", headers=new)).status == 200

    assert (await client.delete(f"/api/v1/api-keys/{created['id']}", headers=auth)).status == 204
    assert (await client.get("/api/v1/charge-points", headers=new)).status == 401
    assert (await client.get(f"/api/v1/api-keys/{created['id']}", headers=auth)).status == 404


async def test_api_keys_of_another_organization_are_not_found(
    client: ApiClient, auth: dict[str, str], other_org: tuple[str, dict[str, str]], make_api_key: Any
) -> None:
    """Keys are per organization: another's key id is 404 for get, rotate and revoke; a member key may not
    manage keys (403)."""
    _, other_auth = other_org
    mine = await json_of(
        await client.post("/api/v1/api-keys", json={"name": "x", "role": "admin"}, headers=auth), 201
    )
    for method, path in [("GET", ""), ("POST", "/rotate"), ("DELETE", "")]:
        response = await client.request(method, f"/api/v1/api-keys/{mine['id']}{path}", headers=other_auth)
        assert response.status == 404, (method, path)
    listed = await json_of(await client.get("/api/v1/api-keys", headers=other_auth), 200)
    assert [k["org_id"] for k in listed["items"]] == ["org_other"]
    member = bearer(await make_api_key("member"))
    assert (await client.get("/api/v1/api-keys", headers=member)).status == 403
