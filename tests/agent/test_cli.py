"""`csms agent client add|rotate|list`: the key alone on stdout, stored only hashed; rotation replaces it."""

from __future__ import annotations

import asyncio

import pytest

from csms.cli import main
from csms.config import DatabaseConfig
from csms.domain.secrets import SecretVerifier
from csms.store.sql.engine import make_engine
from ocpi.agent.keys import key_prefix
from ocpi.agent.models import AgentClient
from ocpi.agent.store import SqlAgentStore
from tests.test_cli import db_url, restore_logging  # noqa: F401 - the CLI tests' fixtures


def stored(url: str) -> list[AgentClient]:
    async def read() -> list[AgentClient]:
        engine = make_engine(DatabaseConfig(url=url))
        try:
            return await SqlAgentStore(engine).list_clients()
        finally:
            await engine.dispose()

    return asyncio.run(read())


def matches(key: str, client: AgentClient) -> bool:
    return asyncio.run(SecretVerifier().verify(key, client.key_hash))


def test_add_prints_the_key_alone_and_rotate_replaces_it(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    code = main(["agent", "client", "add", "--name", "App", "--reservation-fee", "1.50",
                 "--commission-percent", "5", "--monthly-quota", "1000"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and out.count("\n") == 1
    key = out.strip()
    [client] = stored(db_url)
    assert key_prefix(key) == client.key_prefix and matches(key, client) and key not in client.key_hash
    assert (str(client.reservation_fee), str(client.commission_percent), client.monthly_quota) == (
        "1.5000",
        "5.0000",
        1000,
    )
    assert main(["agent", "client", "rotate", str(client.id)]) == 0
    new_key = capsys.readouterr().out.strip()
    [rotated] = stored(db_url)
    assert new_key != key and matches(new_key, rotated) and not matches(key, rotated)
    assert main(["agent", "client", "list"]) == 0
    listing = capsys.readouterr().out
    assert "App" in listing and key not in listing and new_key not in listing
    assert main(["agent", "client", "rotate", "999"]) == 1
    assert main(["agent", "client", "add", "--name", "X", "--commission-percent", "101"]) == 2


def test_add_stores_a_webhook_secret_it_never_prints_and_refuses_private_addresses(
    db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "whsec-cli-0123456789"
    assert main(["db", "upgrade"]) == 0
    local = ["--webhook-url", "http://127.0.0.1:9/hook"]
    assert main(["agent", "client", "add", "--name", "Local", *local]) == 2  # [agent] default: refused
    assert "not a public address" in capsys.readouterr().err
    monkeypatch.setenv("CSMS_AGENT_ALLOW_PRIVATE_WEBHOOK_ADDRESSES", "true")
    assert main(["agent", "client", "add", "--name", "App", *local, "--webhook-secret", secret]) == 0
    assert secret not in capsys.readouterr().out
    [client] = stored(db_url)
    assert (client.webhook_url, client.webhook_secret) == ("http://127.0.0.1:9/hook", secret)
    assert main(["agent", "client", "list"]) == 0
    assert secret not in capsys.readouterr().out
