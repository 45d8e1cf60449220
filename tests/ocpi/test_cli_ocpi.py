"""The `csms ocpi partner ...` commands, run in-process against a temporary SQLite database.

`partner register` talks to a real partner: the stub eMSP of tests/ocpi/test_credentials.py, which calls
back our OCPI app served in the test on the same database (as the running CSMS would).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import structlog

from csms.cli import main
from csms.config import DatabaseConfig
from csms.store.sql import open_store
from ocpi.models import PartnerStatus
from ocpi.store.sql import SqlOcpiStore
from ocpi.transport import hash_token
from tests.ocpi.test_credentials import Cpo, make_context, start_cpo, stop_cpo


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the structlog configuration `main` replaces, so later tests log as before."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI at a fresh SQLite file through the environment (no config.toml of the checkout)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CSMS_DATABASE_URL", url)
    monkeypatch.delenv("CSMS_OCPI_PUBLIC_URL", raising=False)
    monkeypatch.delenv("CSMS_HTTP_HOST", raising=False)
    monkeypatch.delenv("CSMS_HTTP_PORT", raising=False)
    monkeypatch.chdir(tmp_path)
    return url


@pytest.fixture
async def served(db_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cpo]:
    """Our OCPI app on the CLI's database, as the running CSMS; the CLI's public_url points at it."""
    store = await open_store(DatabaseConfig(url=db_url))
    try:
        async with aiohttp.ClientSession() as session:
            cpo = await start_cpo(make_context(SqlOcpiStore(store.engine)), session)
            monkeypatch.setenv("CSMS_OCPI_PUBLIC_URL", cpo.ctx.base_url)
            try:
                yield cpo
            finally:
                await stop_cpo(cpo)
    finally:
        await store.close()


def cli(*args: str) -> int:
    """Run `csms ARGS` in-process and return its exit code."""
    return main(list(args))


async def acli(*args: str) -> int:
    """Run `csms ARGS` in a worker thread (it runs its own event loop) while this loop serves HTTP."""
    return await asyncio.to_thread(main, list(args))


def test_partner_add_prints_token_a_and_versions_url(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`ocpi partner add` prints token A and our versions URL (from [http] without public_url)."""
    assert (
        cli("ocpi", "partner", "add", "--name", "Roaming", "--country-code", "de", "--party-id", "EMS") == 0
    )
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("token A: ") and len(lines[0].split(": ")[1]) >= 40
    assert lines[1] == "versions URL: http://127.0.0.1:8080/ocpi/versions"
    assert "cannot be shown again" in err

    assert cli("ocpi", "partner", "list") == 0
    assert capsys.readouterr().out.splitlines() == ["1\tpending\tDE/EMS\tEMSP\tRoaming\t-"]


def test_partner_add_json_with_public_url(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With [ocpi] public_url the versions URL is below it; --json prints the partner, token A and URL."""
    monkeypatch.setenv("CSMS_OCPI_PUBLIC_URL", "https://cpo.example.com/")
    assert (
        cli(
            "ocpi",
            "partner",
            "add",
            "--name",
            "Hub",
            "--country-code",
            "NL",
            "--party-id",
            "HUB",
            "--role",
            "HUB",
            "--json",
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["our_versions_url"] == "https://cpo.example.com/ocpi/versions"
    assert (data["country_code"], data["party_id"], data["role"], data["status"]) == (
        "NL",
        "HUB",
        "HUB",
        "pending",
    )
    assert data["token_a"]

    assert cli("ocpi", "partner", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed] == ["Hub"]
    assert not [key for key in listed[0] if "token" in key]
    assert data["token_a"] not in json.dumps(listed)


async def test_partner_add_token_a_is_stored_hashed(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The printed token A finds the pending partner by its hash; the token itself is stored nowhere."""
    assert (
        await acli("ocpi", "partner", "add", "--name", "P", "--country-code", "BE", "--party-id", "PPP") == 0
    )
    token_a = capsys.readouterr().out.splitlines()[0].split(": ")[1]
    store = await open_store(DatabaseConfig(url=db_url))
    try:
        found = await SqlOcpiStore(store.engine).find_partner_by_token_hash(hash_token(token_a))
    finally:
        await store.close()
    assert found is not None and found.party_id == "PPP" and found.status == PartnerStatus.PENDING
    assert found.token_a_hash == hash_token(token_a) and found.token_b is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country-code", "DEU", "--party-id", "EMS"], "country code"),
        (["--country-code", "DE", "--party-id", "EM"], "party id"),
        (["--country-code", "DE", "--party-id", "EMS", "--role", "KING"], "role"),
    ],
    ids=["country-code", "party-id", "role"],
)
def test_partner_add_rejects_bad_input(
    db_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Malformed identifiers exit with 2 and say which one is wrong; nothing is stored."""
    assert cli("ocpi", "partner", "add", "--name", "X", *args) == 2
    assert message in capsys.readouterr().err
    assert cli("ocpi", "partner", "list") == 0
    assert capsys.readouterr().out == ""


def test_partner_add_needs_a_name(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --name argparse refuses the command (exit 2)."""
    assert cli("ocpi", "partner", "add", "--country-code", "DE", "--party-id", "EMS") == 2
    assert "--name" in capsys.readouterr().err


def test_partner_add_warns_about_a_wildcard_host(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Listening on 0.0.0.0 without public_url gives a URL partners cannot use: the command warns."""
    monkeypatch.setenv("CSMS_HTTP_HOST", "0.0.0.0")
    assert cli("ocpi", "partner", "add", "--name", "X", "--country-code", "DE", "--party-id", "EMS") == 0
    assert "public_url" in capsys.readouterr().err


async def test_partner_register(served: Cpo, capsys: pytest.CaptureFixture[str]) -> None:
    """`ocpi partner register URL TOKEN_A` registers with a running partner, which then calls our running CSMS
    with the token we sent; `list` shows the partner registered."""
    emsp = await served.stub(country_code="FR", party_id="ROA", name="Roam FR")
    token_a = emsp.issue_token_a()

    assert await acli("ocpi", "partner", "register", emsp.versions_url, token_a) == 0

    out = capsys.readouterr().out
    assert out.strip() == "registered with partner 1 Roam FR (FR/ROA EMSP), 6 endpoints"
    partner = await served.store.get_partner(1)
    assert partner is not None and partner.status == PartnerStatus.REGISTERED
    assert emsp.cpo_token is not None and emsp.cpo_credentials is not None
    assert emsp.cpo_credentials["url"] == served.versions_url
    assert (await served.get(served.versions_url, emsp.cpo_token))[0] == 200

    assert await acli("ocpi", "partner", "list") == 0
    assert capsys.readouterr().out.splitlines() == [
        f"1\tregistered\tFR/ROA\tEMSP\tRoam FR\t{emsp.versions_url}"
    ]


async def test_partner_register_json_and_name(served: Cpo, capsys: pytest.CaptureFixture[str]) -> None:
    """--name names the partner and --json prints it (its endpoints, never a token)."""
    emsp = await served.stub()
    token_a = emsp.issue_token_a()
    assert (
        await acli("ocpi", "partner", "register", emsp.versions_url, token_a, "--name", "Mine", "--json") == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "Mine" and data["status"] == "registered"
    assert data["endpoints"]["sessions:RECEIVER"] == f"{emsp.base_url}/2.2.1/sessions"
    assert emsp.cpo_token is not None
    assert emsp.cpo_token not in json.dumps(data) and token_a not in json.dumps(data)


async def test_partner_register_failure(served: Cpo, capsys: pytest.CaptureFixture[str]) -> None:
    """A partner whose versions are down: exit 1, the OCPI status and reason on stderr, nothing registered."""
    emsp = await served.stub(versions_http_status=503)
    assert await acli("ocpi", "partner", "register", emsp.versions_url, emsp.issue_token_a()) == 1
    err = capsys.readouterr().err
    assert "registration with" in err and "OCPI status 3001" in err and "HTTP 503" in err
    assert await served.store.list_partners() == []
