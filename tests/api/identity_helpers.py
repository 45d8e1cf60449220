"""Helpers for the sign-in, organization and API key tests: a settable clock, users, sign-in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from csms.domain.secrets import hash_secret
from tests.api.conftest import NOW, ApiClient
from tests.fakes.memory_store import MemoryStore

PASSWORD = "correct horse battery"


class SettableClock:
    """The services' clock: `NOW` until a test moves it."""

    def __init__(self) -> None:
        self.now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


async def add_user(store: MemoryStore, email: str, *memberships: tuple[str, str]) -> int:
    """Store a user with `PASSWORD` and the given (org_id, role) memberships; return the user's id."""
    user = await store.add_user(email, email.split("@")[0], hash_secret(PASSWORD, rounds=4))
    for org_id, role in memberships:
        await store.set_member(org_id, user.id, role)
    return user.id


async def sign_in(client: ApiClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """`POST /auth/login` and return the token pair (asserting 200)."""
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


def bearer(token: str, **headers: str) -> dict[str, str]:
    """Request headers authenticating with `token` (plus `headers`)."""
    return {"Authorization": f"Bearer {token}", **headers}
