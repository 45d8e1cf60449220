"""`csms emsp cpo add|list` against a running CSMS, and the `[emsp]` configuration (file and CSMS_EMSP_*)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import structlog

from csms.app import Csms
from csms.cli import main
from csms.config import ConfigError, load_config
from ocpi.models import PartnerStatus
from ocpi.partners import issue_partner
from tests.e2e.conftest import e2e_config


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the structlog configuration `main` replaces."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


async def test_cli_add_and_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`emsp cpo add` registers our eMSP role (the running CSMS answers the CPO's callback) with our own
    CPO side; `emsp cpo list` shows it."""
    config = e2e_config(tmp_path)
    config = replace(config, emsp=replace(config.emsp, enabled=True, pull_interval_seconds=0))
    csms = await Csms.start(config)
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("CSMS_DATABASE_URL", config.database.url)
        monkeypatch.setenv("CSMS_OCPI_PUBLIC_URL", f"http://127.0.0.1:{csms.http_port}")
        ctx = csms.ocpi.ctx
        partner, token_a = await issue_partner(ctx, name="Our eMSP", country_code="NL", party_id="EMS")
        args = ["emsp", "cpo", "add", "--versions-url", ctx.versions_url, "--token-a", token_a]
        args += ["--max-reservation-minutes", "60", "--cancellation-fee", "1.50", "--name", "Home CPO"]
        assert await asyncio.to_thread(main, args) == 0
        out = capsys.readouterr().out.splitlines()[-1]  # the running CSMS logs to stdout too
        assert out.startswith("registered with CPO 1 Home CPO (NL/CSM CPO), ") and "endpoints" in out
        stored = await ctx.store.get_partner(partner.id)
        assert stored is not None and stored.status is PartnerStatus.REGISTERED
        assert csms.emsp is not None
        (cpo,) = await csms.emsp.cpos()  # the running role reads what the CLI stored
        assert cpo.max_reservation.total_seconds() == 3600 and Decimal(cpo.cancellation_fee) == Decimal("1.5")

        assert await asyncio.to_thread(main, ["emsp", "cpo", "list"]) == 0
        [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("1\t")]
        assert line.split("\t")[:5] == ["1", "Home CPO", "NL/CSM", "REGISTERED", line.split("\t")[4]]
        assert int(line.split("\t")[4]) > 5 and line.split("\t")[5] == "-"
    finally:
        await csms.stop()


def test_config_file_and_environment(tmp_path: Path) -> None:
    """`[emsp]` keys from the file, CSMS_EMSP_* overriding them; a malformed party is refused."""
    path = tmp_path / "c.toml"
    path.write_text('[emsp]\nenabled = true\nparty_id = "ABC"\nmax_reservation_minutes = 60\n')
    config = load_config(path, {"CSMS_EMSP_COUNTRY_CODE": "DE", "CSMS_EMSP_PULL_INTERVAL_SECONDS": "30"})
    assert config.emsp.enabled and config.emsp.party_id == "ABC" and config.emsp.country_code == "DE"
    assert config.emsp.pull_interval_seconds == 30.0 and config.emsp.max_reservation_minutes == 60
    assert not load_config(None, {}).emsp.enabled
    with pytest.raises(ConfigError, match="emsp"):
        load_config(None, {"CSMS_EMSP_PARTY_ID": "TOOLONG"})
