"""Organizations end to end over real sockets: the CSMS on free ports, an SMTP sink on 127.0.0.1 port 0,
and HTTP clients that sign in as users."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from csms.app import Csms
from csms.config import EmailConfig
from csms.domain.secrets import hash_secret, new_api_key
from tests.e2e.conftest import e2e_config
from tests.smtp_sink import SmtpSink, invitation_token, smtp_sink


class Client:
    """A REST client that may sign in as a user."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None = None) -> None:
        self.session = session
        self.base = base
        self.token = token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {} if self.token is None else {"Authorization": f"Bearer {self.token}"}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as resp:
            return resp.status, (await resp.json() if resp.content_type == "application/json" else None)

    async def sign_in(self, email: str, password: str) -> None:
        status, tokens = await self.call("POST", "/auth/login", {"email": email, "password": password})
        assert status == 200, tokens
        self.token = tokens["access_token"]


async def accept_from_mail(client: Client, sink: SmtpSink, count: int, **body: Any) -> dict[str, Any]:
    """Take the token from the `count`-th email the sink received and accept the invitation with it."""
    message = (await sink.wait_for(count))[count - 1]
    status, accepted = await client.call(
        "POST", "/organizations/invitations/accept", {"token": invitation_token(message), **body}
    )
    assert status == 200, accepted
    return accepted  # type: ignore[no-any-return]


async def test_an_admin_builds_an_organization_and_a_viewer_may_not_write(tmp_path: Path) -> None:
    """An operator key invites an admin (the email reaches the sink, its token is accepted), who signs in,
    creates an organization, invites a member by email, demotes them to viewer and cannot demote
    themselves as the last admin; the viewer reads but their write is 403."""
    async with smtp_sink() as sink:
        config = replace(e2e_config(tmp_path), email=EmailConfig(port=sink.port, timeout=5.0))
        csms = await Csms.start(config)
        try:
            key, prefix = new_api_key()
            await csms.services.store.add_api_key("operator", prefix, hash_secret(key, rounds=4), "admin")
            base = f"http://127.0.0.1:{csms.http_port}/api/v1"
            async with aiohttp.ClientSession() as session:
                operator = Client(session, base, key)
                status, _ = await operator.call(
                    "POST",
                    "/organizations/default/invitations",
                    {"email": "ada@acme.example", "role": "admin"},
                )
                assert status == 201
                ada = Client(session, base)
                await accept_from_mail(ada, sink, 1, password="ada's password", name="Ada")
                await ada.sign_in("ada@acme.example", "ada's password")

                body = {"name": "Acme Charging", "country": "DE", "contact_email": "ops@acme.example"}
                status, org = await ada.call("POST", "/organizations", body)
                assert status == 201, org
                acme = f"/organizations/{org['id']}"
                status, _ = await ada.call(
                    "POST", f"{acme}/invitations", {"email": "bo@acme.example", "role": "member"}
                )
                assert status == 201
                bo = Client(session, base)
                accepted = await accept_from_mail(bo, sink, 2, password="bo's password")
                assert (accepted["org_id"], accepted["role"]) == (org["id"], "member")

                status, member = await ada.call(
                    "PUT", f"{acme}/members/{accepted['user_id']}/role", {"role": "viewer"}
                )
                assert (status, member["role"]) == (200, "viewer")
                status, members = await ada.call("GET", f"{acme}/members")
                ada_id = next(m["user_id"] for m in members["items"] if m["email"] == "ada@acme.example")
                status, error = await ada.call("PUT", f"{acme}/members/{ada_id}/role", {"role": "member"})
                assert (status, error["error"]["code"]) == (409, "last_admin")

                await bo.sign_in("bo@acme.example", "bo's password")
                status, settings = await bo.call("GET", f"{acme}/settings")
                assert (status, settings["currency"]) == (200, "EUR")
                settings_body = {"currency": "USD", "timezone": "America/New_York"}
                status, error = await bo.call("PUT", f"{acme}/settings", settings_body)
                assert (status, error["error"]["code"]) == (403, "forbidden")
                status, _ = await bo.call("GET", "/organizations/default")
                assert status == 404  # never visible to a non-member

                status, _ = await bo.call("POST", "/auth/logout")
                assert status == 204
                status, _ = await bo.call("GET", f"{acme}/settings")
                assert status == 401
        finally:
            await csms.stop()
