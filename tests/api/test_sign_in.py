"""`/auth`: signing in with email and password, access and refresh tokens, signing out, and how a user's
token selects the organization and role it acts with."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from csms.api.auth import CALLER, Caller, org_of, principal_of
from csms.api.errors import ApiError
from csms.config import Config
from csms.domain.identity import Organization, token_digest
from csms.domain.services import Services
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.writer import BatchedWriter
from tests.api.conftest import ApiClient, error_of
from tests.api.identity_helpers import PASSWORD, SettableClock, add_user, bearer, sign_in
from tests.fakes.memory_store import MemoryStore


@pytest.fixture
def clock() -> SettableClock:
    """The services' clock, which tests move."""
    return SettableClock()


@pytest.fixture
def services(config: Config, store: MemoryStore, writer: BatchedWriter, clock: SettableClock) -> Services:
    """Services on the in-memory store with the settable clock."""
    return Services(config=config, store=store, writer=writer, clock=clock)


async def test_login_answers_a_bearer_token_pair_stored_only_as_digests(
    client: ApiClient, store: MemoryStore
) -> None:
    """A user signs in (email in any case) and gets an access and a refresh token; the store keeps only
    their SHA-256 digests, and the access token authenticates."""
    await add_user(store, "Ann@Example.com", (DEFAULT_ORG_ID, "viewer"))
    tokens = await sign_in(client, "ann@example.COM")
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    assert tokens["access_token"].startswith("csmsat_") and tokens["refresh_token"].startswith("csmsrt_")
    session = await store.find_user_session(access_digest=token_digest(tokens["access_token"]))
    assert session is not None and session.refresh_digest == token_digest(tokens["refresh_token"])
    response = await client.get("/api/v1/charge-points", headers=bearer(tokens["access_token"]))
    assert response.status == 200


@pytest.mark.parametrize(
    ("email", "password"), [("ann@example.com", "wrong password"), ("bob@x.example", PASSWORD)]
)
async def test_bad_credentials_do_not_say_which_part_was_wrong(
    client: ApiClient, store: MemoryStore, email: str, password: str
) -> None:
    """A wrong password and an unknown email get the same 401 `invalid_credentials`."""
    await add_user(store, "ann@example.com", (DEFAULT_ORG_ID, "admin"))
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    error = await error_of(response, 401)
    assert (error["code"], error["message"]) == ("invalid_credentials", "wrong email or password")


async def test_access_tokens_expire_and_refresh_replaces_both_tokens(
    client: ApiClient, store: MemoryStore, clock: SettableClock
) -> None:
    """After `[auth] access_token_seconds` the access token is 401; the refresh token gets a new pair, after
    which the old refresh token is refused; after `refresh_token_seconds` refreshing is refused too."""
    await add_user(store, "ann@example.com", (DEFAULT_ORG_ID, "viewer"))
    tokens = await sign_in(client, "ann@example.com")
    clock.advance(900)
    response = await client.get("/api/v1/charge-points", headers=bearer(tokens["access_token"]))
    assert (await error_of(response, 401))["code"] == "unauthorized"

    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status == 200
    fresh = await response.json()
    assert fresh["access_token"] != tokens["access_token"]
    assert (await client.get("/api/v1/charge-points", headers=bearer(fresh["access_token"]))).status == 200
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (await error_of(again, 401))["code"] == "invalid_refresh_token"

    clock.advance(30 * 86400)
    late = await client.post("/api/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})
    assert (await error_of(late, 401))["code"] == "invalid_refresh_token"


async def test_logout_revokes_the_access_and_the_refresh_token(client: ApiClient, store: MemoryStore) -> None:
    """`POST /auth/logout` is 204; afterwards both tokens of that sign-in are refused."""
    await add_user(store, "ann@example.com", (DEFAULT_ORG_ID, "viewer"))
    tokens = await sign_in(client, "ann@example.com")
    response = await client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"]))
    assert response.status == 204
    after = await client.get("/api/v1/charge-points", headers=bearer(tokens["access_token"]))
    assert (await error_of(after, 401))["code"] == "unauthorized"
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (await error_of(refresh, 401))["code"] == "invalid_refresh_token"


async def test_logout_with_an_api_key_is_refused(client: ApiClient, auth: dict[str, str]) -> None:
    """An API key cannot be signed out: 400 `not_a_user_token`."""
    response = await client.post("/api/v1/auth/logout", headers=auth)
    assert (await error_of(response, 400))["code"] == "not_a_user_token"


async def test_a_user_acts_in_one_organization_with_that_membership_role(
    client: ApiClient, store: MemoryStore
) -> None:
    """Without a header a user acts in their oldest organization; `X-Organization-Id` picks another, where
    their role there applies; an organization they are not in is 403 `not_a_member`."""
    await store.add_organization(Organization("org_b", "B", "DE", "b@b.example"))
    await store.add_organization(Organization("org_c", "C", "DE", "c@c.example"))
    await add_user(store, "ann@example.com", (DEFAULT_ORG_ID, "viewer"), ("org_b", "admin"))
    token = (await sign_in(client, "ann@example.com"))["access_token"]
    body = {"charge_point_id": "CP-1"}

    as_viewer = await client.post("/api/v1/charge-points", json=body, headers=bearer(token))
    assert (await error_of(as_viewer, 403))["details"] == {"role": "viewer", "required_role": "admin"}
    keys = await client.get("/api/v1/api-keys", headers=bearer(token, **{"X-Organization-Id": "org_b"}))
    assert keys.status == 200
    elsewhere = await client.get(
        "/api/v1/charge-points", headers=bearer(token, **{"X-Organization-Id": "org_c"})
    )
    assert (await error_of(elsewhere, 403))["code"] == "not_a_member"


async def test_a_user_of_no_organization_may_only_create_one(client: ApiClient, store: MemoryStore) -> None:
    """A user who belongs to no organization is 403 on organization resources but may create an
    organization, of which they become the admin."""
    await add_user(store, "new@example.com")
    token = (await sign_in(client, "new@example.com"))["access_token"]
    response = await client.get("/api/v1/charge-points", headers=bearer(token))
    assert (await error_of(response, 403))["code"] == "forbidden"
    body = {"name": "New Co", "country": "FR", "contact_email": "ops@new.example"}
    created = await client.post("/api/v1/organizations", json=body, headers=bearer(token))
    assert created.status == 201
    org_id = (await created.json())["id"]
    members = await client.get(f"/api/v1/organizations/{org_id}/members", headers=bearer(token))
    assert [(m["email"], m["role"]) for m in (await members.json())["items"]] == [
        ("new@example.com", "admin")
    ]


def test_org_of_and_principal_of_name_the_caller() -> None:
    """`org_of` is the caller's organization (403 `no_organization` for a user of none); `principal_of` is
    `key:<id>`, `user:<id>`, or the peer address before authentication."""
    request = make_mocked_request("GET", "/api/v1/charge-points")
    assert principal_of(request).startswith("ip:")
    request[CALLER] = Caller("key", 7, "org_b", "admin")
    assert (org_of(request), principal_of(request)) == ("org_b", "key:7")
    request[CALLER] = Caller("user", 3, None, "")
    assert principal_of(request) == "user:3"
    with pytest.raises(ApiError) as raised:
        org_of(request)
    assert (raised.value.status, raised.value.code) == (403, "no_organization")
