"""CPOs registering with our eMSP role (OCPI 2.2.1 Credentials POST and PUT on /emsp/ocpi), in one running
CSMS over real sockets: our CPO side registers with our eMSP role using a token A the eMSP invited it with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog

from csms.app import Csms
from csms.cli import main
from ocpi.client import PartnerResponse
from ocpi.credentials import credentials_object
from ocpi.emsp.registration import invite_cpo
from ocpi.emsp.store import CpoRecord
from ocpi.models import Partner, PartnerStatus
from ocpi.partners import new_token
from ocpi.registration import register_with
from ocpi.transport import hash_token
from tests.e2e.conftest import Api, location_body
from tests.ocpi.emsp.conftest import eventually, role_of


async def call(csms: Csms, token: str, method: str, path: str, body: Any = None) -> PartnerResponse:
    """Call our eMSP server at `path` (under /emsp/ocpi) with `token`, as a CPO would."""
    role = role_of(csms)
    nobody = Partner(id=0, name="test", country_code="", party_id="")
    return await csms.ocpi.ctx.client.request(
        nobody, method, role.base_url + path, body, token=token, routing=False
    )


async def cpo_registers(csms: Csms, **terms: Any) -> tuple[CpoRecord, Partner, str]:
    """Our eMSP invites; our CPO side registers with the invitation. (our record, the CPO side's
    partner, the token A)."""
    role = role_of(csms)
    invited, token_a = await invite_cpo(role, **terms)
    assert invited.status == "INVITED" and invited.token_b_hash == hash_token(token_a)
    partner = await register_with(csms.ocpi.ctx, role.versions_url, token_a)
    record = await role.store.get_cpo(invited.id)
    assert record is not None
    return record, partner, token_a


async def test_cpo_registers_with_our_invitation(running: tuple[Csms, Api]) -> None:
    """Our CPO side registers with token A: both REGISTERED with each other's endpoints and tokens, its
    locations are pulled without being asked, and token A is refused afterwards."""
    csms, api = running
    status, body = await api.post("/api/v1/locations", location_body("LOC1"))
    assert status == 201, body
    record, partner, token_a = await cpo_registers(csms, max_reservation_minutes=45)
    assert record.status == "REGISTERED" and (record.country_code, record.party_id) == ("NL", "CSM")
    assert record.versions_url == csms.ocpi.ctx.versions_url and record.token_c is not None
    assert record.name == csms.ocpi.ctx.config.business_name  # no --name: its business name
    assert "locations:SENDER" in record.endpoints and "commands:RECEIVER" in record.endpoints
    assert record.max_reservation_minutes == 45
    assert partner.status is PartnerStatus.REGISTERED and partner.role == "EMSP"
    assert partner.token_b is not None and record.token_b_hash == hash_token(partner.token_b)
    # The CPO side accepts the token we call it with (it issued it at the POST).
    stored = await csms.ocpi.ctx.store.get_partner(partner.id)
    assert stored is not None and stored.token_c_hash == hash_token(record.token_c)

    role = role_of(csms)
    pulled = await eventually(lambda: role.store.get_location(record.id, "LOC1"))  # the first pull
    assert pulled["name"] == "Site LOC1"
    cached = await role.locations(record.id, max_age=timedelta(0))
    assert [loc["id"] for loc in cached.locations] == ["LOC1"]

    for path in ("/versions", "/2.2.1/credentials"):
        refused = await call(csms, token_a, "GET", path)
        assert refused.http_status == 401, path
    assert (await call(csms, partner.token_b, "GET", "/versions")).success


async def test_post_when_registered_is_405(running: tuple[Csms, Api]) -> None:
    """A registered CPO POSTing credentials again gets 405 and keeps its token."""
    csms, _ = running
    record, partner, _ = await cpo_registers(csms)
    assert partner.token_b is not None
    again = await call(
        csms, partner.token_b, "POST", "/2.2.1/credentials", credentials_object(csms.ocpi.ctx, new_token())
    )
    assert again.http_status == 405
    assert await role_of(csms).store.get_cpo(record.id) == record


async def test_put_rotates_the_tokens(running: tuple[Csms, Api]) -> None:
    """PUT: we read the CPO's versions again with its new token, keep that token and answer a fresh one of
    ours; the old one is refused at once and the new one works both ways."""
    csms, _ = running
    record, partner, _ = await cpo_registers(csms)
    ctx, role = csms.ocpi.ctx, role_of(csms)
    assert partner.token_b is not None
    # The CPO side rotates the token we call it with (what its PUT announces).
    their_new = new_token()
    await ctx.store.save_partner(replace(partner, token_c_hash=hash_token(their_new)))
    answer = await call(
        csms, partner.token_b, "PUT", "/2.2.1/credentials", credentials_object(ctx, their_new)
    )
    assert answer.success, answer
    ours = answer.data["token"]
    assert ours != partner.token_b and answer.data["url"] == role.versions_url
    assert [r["role"] for r in answer.data["roles"]] == ["EMSP"]
    updated = await role.store.get_cpo(record.id)
    assert updated is not None and updated.status == "REGISTERED"
    assert updated.token_c == their_new and updated.token_b_hash == hash_token(ours)

    assert (await call(csms, partner.token_b, "GET", "/versions")).http_status == 401
    assert (await call(csms, ours, "GET", "/versions")).success
    await role.pull(record.id)  # we call it with its new token


async def test_put_before_registration_is_405(running: tuple[Csms, Api]) -> None:
    """An INVITED CPO PUTting credentials with its token A gets 405 and stays invited."""
    csms, _ = running
    invited, token_a = await invite_cpo(role_of(csms))
    body = credentials_object(csms.ocpi.ctx, new_token())
    answer = await call(csms, token_a, "PUT", "/2.2.1/credentials", body)
    assert answer.http_status == 405
    assert await role_of(csms).store.get_cpo(invited.id) == invited


async def test_delete_before_registration_is_405(running: tuple[Csms, Api]) -> None:
    """An INVITED CPO has nothing to unregister: DELETE with its token A is 405, the invitation stands."""
    csms, _ = running
    invited, token_a = await invite_cpo(role_of(csms))
    answer = await call(csms, token_a, "DELETE", "/2.2.1/credentials")
    assert answer.http_status == 405
    assert await role_of(csms).store.get_cpo(invited.id) == invited
    assert (await call(csms, token_a, "GET", "/versions")).http_status == 200


async def test_unreachable_versions_and_wrong_role(running: tuple[Csms, Api]) -> None:
    """A POST whose versions URL cannot be read is OCPI 3001, one without a CPO role 2001; the CPO stays
    INVITED and its token A keeps working for another try."""
    csms, _ = running
    ctx = csms.ocpi.ctx
    invited, token_a = await invite_cpo(role_of(csms))
    body = {**credentials_object(ctx, new_token()), "url": "http://127.0.0.1:1/ocpi/versions"}
    unreachable = await call(csms, token_a, "POST", "/2.2.1/credentials", body)
    assert (unreachable.http_status, unreachable.status_code) == (200, 3001)
    emsp_only = credentials_object(ctx, new_token())
    emsp_only["roles"] = [{**emsp_only["roles"][0], "role": "EMSP"}]
    wrong_role = await call(csms, token_a, "POST", "/2.2.1/credentials", emsp_only)
    assert (wrong_role.http_status, wrong_role.status_code) == (200, 2001)
    assert await role_of(csms).store.get_cpo(invited.id) == invited
    assert (await call(csms, token_a, "GET", "/versions")).success


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back the structlog configuration `main` replaces."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.mark.usefixtures("restore_logging")
async def test_cli_invite(
    running: tuple[Csms, Api],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`csms emsp cpo invite` prints our versions URL and a token A, with which our CPO side registers;
    `csms emsp cpo list` shows an invited CPO as INVITED."""
    csms, _ = running
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CSMS_DATABASE_URL", csms.services.config.database.url)
    monkeypatch.setenv("CSMS_OCPI_PUBLIC_URL", f"http://127.0.0.1:{csms.http_port}")
    args = ["emsp", "cpo", "invite", "--name", "Home CPO", "--max-reservation-minutes", "30"]
    assert await asyncio.to_thread(main, [*args, "--cancellation-fee", "2.5"]) == 0
    lines = capsys.readouterr().out.splitlines()  # the running CSMS logs to stdout too
    url_line, token_line = [x for x in lines if x.startswith(("versions URL: ", "token A: "))]
    versions_url = url_line.removeprefix("versions URL: ")
    assert versions_url == f"http://127.0.0.1:{csms.http_port}/emsp/ocpi/versions"
    partner = await register_with(csms.ocpi.ctx, versions_url, token_line.removeprefix("token A: "))
    assert partner.status is PartnerStatus.REGISTERED
    (cpo,) = await role_of(csms).cpos()
    assert cpo.name == "Home CPO" and cpo.max_reservation == timedelta(minutes=30)
    assert Decimal(cpo.cancellation_fee) == Decimal("2.5")

    assert await asyncio.to_thread(main, ["emsp", "cpo", "invite", "--cancellation-fee", "-1"]) == 2
    assert await asyncio.to_thread(main, ["emsp", "cpo", "invite"]) == 0
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["emsp", "cpo", "list"]) == 0
    listed = [x for x in capsys.readouterr().out.splitlines() if x[:2] in ("1\t", "2\t")]
    assert listed[0].startswith("1\tHome CPO\tNL/CSM\tREGISTERED\t")
    assert listed[1] == "2\t-\t-/-\tINVITED\t0\t-"  # no name until it registers
