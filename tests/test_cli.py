"""The `csms` command line, run in-process against a temporary SQLite database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from csms.cli import main
from csms.config import Config, DatabaseConfig
from csms.domain.models import ApiKey
from csms.domain.secrets import SecretVerifier, api_key_prefix
from csms.domain.tenancy import DEFAULT_ORG_ID
from csms.store.sql import open_store


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the structlog configuration `main` replaces, so later tests log as before."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the CLI at a fresh SQLite file through the environment, with a cheap bcrypt cost."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CSMS_DATABASE_URL", url)
    monkeypatch.setenv("CSMS_SECURITY_BCRYPT_ROUNDS", "4")
    monkeypatch.chdir(tmp_path)  # so a stray config.toml of the checkout is not read
    return url


@pytest.fixture
def config_file(tmp_path: Path) -> str:
    """A small configuration file; the environment still supplies (and overrides) the database."""
    path = tmp_path / "csms.toml"
    path.write_text('[log]\nlevel = "warning"\n')
    return str(path)


def cli(*args: str) -> int:
    """Run `csms ARGS` in-process and return its exit code."""
    return main(list(args))


def test_db_upgrade(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`db upgrade` creates the database file and says so."""
    assert cli("db", "upgrade") == 0
    assert (tmp_path / "cli.db").exists()
    assert "up to date" in capsys.readouterr().out


def test_chargepoint_add_list_and_duplicate(
    db_url: str, config_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`chargepoint add` stores a charge point, `list` shows it, adding it again fails with exit code 1."""
    assert cli("--config", config_file, "chargepoint", "add", "CP-1", "--password", "s" * 20) == 0
    assert "CP-1" in capsys.readouterr().out
    assert cli("chargepoint", "add", "CP-2", "--status", "Pending", "--json") == 0
    added = json.loads(capsys.readouterr().out)
    assert added["charge_point_id"] == "CP-2"
    assert added["registration_status"] == "Pending"
    assert "connected" not in added

    assert cli("chargepoint", "add", "CP-1") == 1
    assert "already exists" in capsys.readouterr().err

    assert cli("chargepoint", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["CP-1", "Accepted"], ["CP-2", "Pending"]]
    assert cli("chargepoint", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["charge_point_id"], c["has_password"]) for c in listed] == [("CP-1", True), ("CP-2", False)]


def test_chargepoint_add_into_an_organization(db_url: str) -> None:
    """`chargepoint add --org ORG_ID` registers the charge point in that organization; without `--org` it
    is the default organization's."""
    assert cli("chargepoint", "add", "CP-X", "--org", "org-x") == 0
    assert cli("chargepoint", "add", "CP-D") == 0

    async def organizations() -> list[str | None]:
        store = await open_store(DatabaseConfig(url=db_url))
        try:
            found = [await store.get_charge_point(cp) for cp in ("CP-X", "CP-D")]
            return [None if cp is None else cp.org_id for cp in found]
        finally:
            await store.close()

    assert asyncio.run(organizations()) == ["org-x", "default"]


def test_chargepoint_security_profile(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`chargepoint add --security-profile 3` stores the profile, `set --security-profile 2` changes it,
    and a profile outside 1..3 is a usage error."""
    assert cli("chargepoint", "add", "CP-S", "--security-profile", "3", "--json") == 0
    assert json.loads(capsys.readouterr().out)["security_profile"] == 3
    assert cli("chargepoint", "set", "CP-S", "--security-profile", "2") == 0
    assert "updated" in capsys.readouterr().out
    assert cli("chargepoint", "list", "--json") == 0
    assert [c["security_profile"] for c in json.loads(capsys.readouterr().out)] == [2]
    assert cli("chargepoint", "add", "CP-T", "--security-profile", "4") == 2


def test_chargepoint_add_bad_input(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad id, a short password or an unknown status is a usage error (exit code 2) with a message."""
    assert cli("chargepoint", "add", "CP/1") == 2
    assert "charge_point_id" in capsys.readouterr().err
    assert cli("chargepoint", "add", "CP-1", "--password", "short") == 2
    assert "password" in capsys.readouterr().err
    assert cli("chargepoint", "add", "CP-1", "--status", "Maybe") == 2
    assert "invalid choice" in capsys.readouterr().err


def test_token_add_and_list(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`token add` stores a token with its options; duplicates fail; `token list` shows them."""
    assert (
        cli(
            "token",
            "add",
            "TAG1",
            "--type",
            "KeyCode",
            "--status",
            "Blocked",
            "--expiry",
            "2026-01-01T00:00:00Z",
            "--group",
            "FLEET",
            "--json",
        )
        == 0
    )
    token = json.loads(capsys.readouterr().out)
    assert token["type"] == "KeyCode"
    assert token["status"] == "Blocked"
    assert token["expiry_date"] == "2026-01-01T00:00:00.000Z"
    assert token["group_id_token"] == "FLEET"
    assert cli("token", "add", "TAG0") == 0
    assert "TAG0" in capsys.readouterr().out
    assert cli("token", "add", "TAG0") == 1
    assert "already exists" in capsys.readouterr().err
    assert cli("token", "add", "TAG2", "--expiry", "next week") == 2
    assert "expiry_date" in capsys.readouterr().err

    assert cli("token", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["TAG0", "TAG1"]


def test_apikey_create_prints_a_key_that_verifies(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`apikey create` prints the key once and stores only a bcrypt hash the key verifies against."""
    assert cli("apikey", "create", "--name", "ops", "--role", "viewer") == 0
    captured = capsys.readouterr()
    key = captured.out.strip()
    assert "cannot be shown again" in captured.err
    prefix = api_key_prefix(key)
    assert prefix is not None

    async def find() -> ApiKey | None:
        store = await open_store(DatabaseConfig(url=db_url))
        try:
            return await store.find_api_key(prefix)
        finally:
            await store.close()

    stored = asyncio.run(find())
    assert stored is not None
    assert stored.name == "ops" and stored.role == "viewer"
    assert key not in stored.key_hash
    assert stored.key_hash.startswith("$2b$04$")
    assert asyncio.run(SecretVerifier().verify(key, stored.key_hash))

    assert stored.org_id == DEFAULT_ORG_ID

    assert cli("apikey", "create", "--name", "ci", "--json") == 0
    created = json.loads(capsys.readouterr().out)
    assert created["role"] == "admin"
    assert created["org_id"] == DEFAULT_ORG_ID
    assert api_key_prefix(created["key"]) == created["prefix"]


def test_org_create_prints_the_id_alone_and_list_shows_it(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`org create` prints only the new organization's id; `org list` shows it after the default one
    (tab-separated id, name, country, or `--json`); `apikey create --org` makes a key of it."""
    assert cli("org", "create", "Acme Charging", "--country", "de", "--email", "ops@acme.example") == 0
    org_id = capsys.readouterr().out
    assert org_id.endswith("\n") and org_id.count("\n") == 1
    org_id = org_id.strip()
    assert org_id.startswith("org_") and " " not in org_id

    assert cli("org", "list") == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert lines == [[DEFAULT_ORG_ID, "Default organization", "NL"], [org_id, "Acme Charging", "DE"]]
    assert cli("org", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(o["id"], o["contact_email"]) for o in listed][1] == (org_id, "ops@acme.example")

    assert cli("apikey", "create", "--name", "acme-ci", "--org", org_id, "--json") == 0
    assert json.loads(capsys.readouterr().out)["org_id"] == org_id
    assert cli("apikey", "create", "--name", "nobody", "--org", "org_missing") == 1
    assert "org_missing" in capsys.readouterr().err


def test_org_create_refuses_unknown_countries_and_bad_emails(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown ISO 3166-1 code (XX) or a malformed email exits 2 naming the field; nothing is created."""
    assert cli("org", "create", "X", "--country", "XX", "--email", "a@b.example") == 2
    assert "country" in capsys.readouterr().err
    assert cli("org", "create", "X", "--country", "DE", "--email", "not-an-email") == 2
    assert "contact_email" in capsys.readouterr().err
    assert cli("org", "list") == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_usage_errors(db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No command, an unknown role or a missing config file named explicitly exits with code 2."""
    assert cli() == 2
    assert cli("apikey", "create", "--name", "x", "--role", "root") == 2
    assert cli("--config", str(tmp_path / "missing.toml"), "chargepoint", "list") == 2
    assert "not found" in capsys.readouterr().err


def test_run_calls_the_server(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`run` hands the loaded configuration to `csms.app.run` (replaced here, so nothing is served), through
    `csms.workers.run_server` (one worker: no supervisor)."""
    import csms.workers

    seen: list[Config] = []
    monkeypatch.setattr(csms.workers, "run", seen.append)
    assert main(["run"]) == 0
    assert seen[0].database.url == db_url


def test_chargepoint_set_accepts_a_pending_charge_point(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`chargepoint set ID --status Accepted` changes the stored status; an unknown id or no change fails."""
    assert cli("chargepoint", "add", "PEND-1", "--status", "Pending") == 0
    assert cli("chargepoint", "set", "PEND-1", "--status", "Accepted", "--password", "p" * 16) == 0
    assert cli("chargepoint", "list", "--json") == 0
    capsys.readouterr()
    assert cli("chargepoint", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["registration_status"], c["has_password"]) for c in listed] == [("Accepted", True)]
    assert cli("chargepoint", "set", "NOPE", "--status", "Accepted") == 1
    assert cli("chargepoint", "set", "PEND-1") == 1


def test_location_power_limit(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`location power-limit` stores a known location's limit (schedule HH:MM=W); an unknown location or a
    bad value is refused."""
    from ocpi.models import Location
    from ocpi.store.sql import SqlOcpiStore

    async def add_location() -> None:
        store = await open_store(DatabaseConfig(url=db_url))
        try:
            location = Location(
                id="LOC-CLI", name="CLI", address="Main street 1", city="Gent", country="BEL",
                latitude="51.047599", longitude="3.729944", time_zone="Europe/Brussels", country_code="BE",
                party_id="CSM", charge_point_ids=[],
            )  # fmt: skip
            await SqlOcpiStore(store.engine).save_location(location)  # type: ignore[attr-defined]
        finally:
            await store.close()

    asyncio.run(add_location())
    capsys.readouterr()
    code = cli(
        "location", "power-limit", "LOC-CLI", "--max-power-w", "22000", "--schedule", "18:00=11000", "--json"
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {
        "location_id": "LOC-CLI",
        "max_power_w": 22000,
        "max_current_a": None,
        "phases": 3,
        "min_current_a": "6",
        "schedule": [{"start": "18:00", "max_power_w": 11000}],
    }
    assert cli("location", "power-limit", "NOPE", "--max-power-w", "1000") == 1
    assert "not found" in capsys.readouterr().err
    assert cli("location", "power-limit", "LOC-CLI", "--phases", "2", "--max-power-w", "1") == 2
    assert cli("location", "power-limit", "LOC-CLI", "--schedule", "18:00") == 2
    assert cli("location", "power-limit", "LOC-CLI") == 2  # no limit at all
