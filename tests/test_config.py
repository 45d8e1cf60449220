"""Configuration: file values, environment overrides, types, and errors for unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from csms.config import Config, ConfigError, OcpiParty, load_config


def test_defaults_without_a_file() -> None:
    """No file and no environment gives the documented defaults."""
    assert load_config(None, {}) == Config()
    assert Config().ocpp.port == 9000 and Config().http.port == 8080


def test_shipped_config_toml_is_valid_and_matches_the_defaults() -> None:
    """The shipped config.toml loads and documents the same values as the code defaults."""
    shipped = load_config(Path(__file__).parent.parent / "config.toml", {})
    assert shipped == Config()


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    """CSMS_<SECTION>_<KEY> wins over the file, converted to the key's type."""
    path = tmp_path / "c.toml"
    path.write_text(
        '[ocpp]\nport = 9500\nunknown_charge_points = "pending"\n[database]\nurl = "sqlite+aiosqlite:///a.db"\n'
    )
    config = load_config(
        path,
        {
            "CSMS_OCPP_PORT": "9100",
            "CSMS_HTTP_PORT": "0",
            "CSMS_OCPP_MESSAGE_LOG": "false",
            "CSMS_DATABASE_URL": "sqlite+aiosqlite:///var/b.db",
            "CSMS_OCPP_CALL_TIMEOUT": "2.5",
            "CSMS_OCPP_UNKNOWN_CHARGE_POINTS_ORG": "org-x",
        },
    )
    assert config.ocpp.unknown_charge_points_org == "org-x"
    assert config.ocpp.port == 9100 and config.http.port == 0
    assert config.ocpp.unknown_charge_points == "pending"
    assert config.ocpp.message_log is False and config.ocpp.call_timeout == 2.5
    assert config.database.url == "sqlite+aiosqlite:///var/b.db"


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[ocpp]\nprot = 1\n", {}, "unknown key"),
        ("[oc]\nport = 1\n", {}, "unknown section"),
        ("", {"CSMS_OCPP_PORT": "nine"}, "ocpp.port"),
        ("", {"CSMS_OCPP_UNKNOWN_CHARGE_POINTS": "maybe"}, "not one of"),
        ("", {"CSMS_OCPP_MESSAGE_LOG": "perhaps"}, "ocpp.message_log"),
        ("[ocpp]\nport = true\n", {}, "ocpp.port"),
        ("[ocpi]\npush_claim_seconds = 0\n", {}, "ocpi.push_claim_seconds"),
        ("", {"CSMS_OCPP_UNKNOWN_CHARGE_POINTS_ORG": " "}, "ocpp.unknown_charge_points_org"),
        ("", {"CSMS_OCPP_UNKNOWN_CHARGE_POINTS_ORG": "o" * 65}, "ocpp.unknown_charge_points_org"),
        ('[ocpi]\nextra_parties = "BE-ABC:Name"\n', {}, "ocpi.extra_parties: 'BE-ABC:Name'"),
        ("", {"CSMS_OCPI_EXTRA_PARTIES": "BE*AB:Name"}, "ocpi.extra_parties"),
        ("", {"CSMS_OCPI_EXTRA_PARTIES": "BE*ABC:"}, "ocpi.extra_parties"),
        ("", {"CSMS_OCPI_EXTRA_PARTIES": "BE*ABC:A;be*abc:B"}, "BE\\*ABC is named twice"),
        ("", {"CSMS_OCPI_EXTRA_PARTIES": "nl*csm:Again"}, "NL\\*CSM is named twice"),
    ],
)
def test_invalid_configuration_is_an_error(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    """Unknown sections or keys and values of the wrong type raise ConfigError naming the key."""
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env)


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    """A configuration file named explicitly must exist."""
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.toml", {})


def test_extra_ocpi_parties_from_the_file_and_the_environment(tmp_path: Path) -> None:
    """`[ocpi] extra_parties` lists more CPO parties after the default one, codes in upper case; the
    environment overrides the file."""
    path = tmp_path / "c.toml"
    path.write_text('[ocpi]\nextra_parties = "be*abc:ABC Charging ; DE*X1Z:X: Energy;"\n')
    parties = load_config(path, {}).ocpi.parties()
    assert parties == (
        OcpiParty("NL", "CSM", "Open CSMS"),
        OcpiParty("BE", "ABC", "ABC Charging"),
        OcpiParty("DE", "X1Z", "X: Energy"),
    )
    assert load_config(path, {}).ocpi.party("de", "x1z") == parties[2]
    assert load_config(path, {}).ocpi.party("FR", "ABC") is None
    overridden = load_config(path, {"CSMS_OCPI_EXTRA_PARTIES": "FR*ABC:Fr"}).ocpi.parties()
    assert [(p.country_code, p.party_id) for p in overridden] == [("NL", "CSM"), ("FR", "ABC")]
    assert Config().ocpi.parties() == (OcpiParty("NL", "CSM", "Open CSMS"),)


def test_ocpp_tls_table_and_environment(tmp_path: Path) -> None:
    """`[ocpp.tls]` keys land in `tls_*`, `CSMS_OCPP_TLS_*` override them, and the listener is enabled only
    with a certificate and a key."""
    path = tmp_path / "c.toml"
    path.write_text('[ocpp]\nport = 9000\n[ocpp.tls]\nport = 0\ncert_file = "s.pem"\nkey_file = "s.key"\n')
    config = load_config(path, {"CSMS_OCPP_TLS_CLIENT_CA_FILE": "ca.pem", "CSMS_OCPP_TLS_PORT": "9444"})
    ocpp = config.ocpp
    assert (ocpp.tls_port, ocpp.tls_cert_file, ocpp.tls_key_file) == (9444, "s.pem", "s.key")
    assert ocpp.tls_client_ca_file == "ca.pem" and ocpp.tls_enabled
    assert Config().ocpp.tls_port == 9443 and not Config().ocpp.tls_enabled
    path.write_text("[ocpp]\ntls = 1\n")
    with pytest.raises(ConfigError, match="ocpp.tls"):
        load_config(path, {})
    path.write_text("[ocpp.tls]\nbogus = 1\n")
    with pytest.raises(ConfigError, match="tls_bogus"):
        load_config(path, {})
