"""Configuration: file values, environment overrides, types, and errors for unknown keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from csms.config import Config, ConfigError, load_config


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
        },
    )
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
