"""The OCPI 2.2.1 JSON Schemas (tests/ocpi/schemas.py) accept the official examples, catch broken objects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.ocpi.schemas import KINDS, assert_valid, assert_valid_patch, schema_of, validation_errors

EXAMPLES = Path("/work/shared/ocpi-examples")


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


# Every official example that is a complete object, with its kind.
FULL_OBJECTS: list[tuple[str, str]] = [
    *((p.name, "Location") for p in sorted(EXAMPLES.glob("location_example*.json"))),
    *(
        (p.name, "Tariff")
        for p in sorted(EXAMPLES.glob("tariff_*.json"))
        if p.name != "tariff_put_example.json"
    ),
    *((p.name, "Tariff") for p in sorted(EXAMPLES.glob("tariffrestriction_example_*.json"))),
    ("session_example_1_simple_start.json", "Session"),
    ("session_example_2_short_finished.json", "Session"),
    ("cdr_example.json", "CDR"),
    ("token_example_1_app_user.json", "Token"),
    ("token_example_2_full_rfid.json", "Token"),
    ("token_put_example.json", "Token"),
    *((p.name, "Credentials") for p in sorted(EXAMPLES.glob("credentials_example*.json"))),
    ("version_details_example.json", "VersionDetails"),
    ("version_details_example2.json", "VersionDetails"),
    ("type_displaytext_example.json", "DisplayText"),
    ("location_hours_247_open_exception_closing.json", "Hours"),
    ("location_hours_opening_hours_with_exceptional_closing.json", "Hours"),
    ("location_hours_opening_hours_with_exceptional_opening.json", "Hours"),
    ("transport_and_format_get_token_example.json", "Envelope"),
    ("transport_and_format_get_token_list_example.json", "Envelope"),
]


@pytest.mark.parametrize(("name", "kind"), FULL_OBJECTS)
def test_official_examples_are_valid(name: str, kind: str) -> None:
    """Each complete official OCPI 2.2.1 example validates against the schema of its kind."""
    assert_valid(kind, example(name))


def test_official_versions_list_is_valid() -> None:
    """Every entry of the official versions example is a valid Version."""
    for version in example("versions_info_example.json"):
        assert_valid("Version", version)


@pytest.mark.parametrize(
    "name",
    [
        "location_energymix_example_complete.json",
        "location_energymix_example_simple.json",
        "location_energymix_example_energy_provider.json",
    ],
)
def test_official_energy_mix_examples_are_valid(name: str) -> None:
    """The energy mix examples (objects wrapped in {"energy_mix": ...}) validate as EnergyMix."""
    assert_valid("EnergyMix", example(name)["energy_mix"])


def test_official_regular_hours_example_is_valid() -> None:
    """The regular hours example (wrapped in {"opening_times": ...}) validates as Hours."""
    assert_valid("Hours", example("location_regularhours_example.json")["opening_times"])


def test_official_token_list_envelope_holds_valid_tokens() -> None:
    """The tokens in the official paginated-list envelope are valid Tokens."""
    for token in example("transport_and_format_get_token_list_example.json")["data"]:
        assert_valid("Token", token)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("session_patch_example_charging_period.json", "Session"),
        ("session_patch_example_total_cost.json", "Session"),
        ("token_patch_example.json", "Token"),
        ("location_patch_example_location.json", "Location"),
        ("location_patch_example_status.json", "EVSE"),
        ("location_patch_example_tariff.json", "Connector"),
    ],
)
def test_official_patch_examples_are_valid_patches(name: str, kind: str) -> None:
    """The official PATCH examples are valid partial objects with last_updated."""
    assert_valid_patch(kind, example(name))


def test_patch_requires_last_updated() -> None:
    """A PATCH body without last_updated is rejected (OCPI 2.2.1: PATCH needs last_updated)."""
    with pytest.raises(AssertionError, match="last_updated"):
        assert_valid_patch("Session", {"kwh": 1.5})


def test_the_faulty_official_add_evse_example_is_rejected() -> None:
    """The official "add EVSE" PUT example is not a valid EVSE (integer physical_reference, unknown `floor`,
    connectors without power_type): the schema reports each of these."""
    problems = "\n".join(validation_errors("EVSE", example("location_put_example_add_evse.json")))
    assert "floor" in problems and "physical_reference" in problems and "power_type" in problems


def test_put_tariff_example_lacks_last_updated() -> None:
    """The official Tariff PUT example omits last_updated, which a complete Tariff object requires."""
    problems = validation_errors("Tariff", example("tariff_put_example.json"))
    assert problems == ["$: 'last_updated' is a required property"]


def test_common_mistakes_are_caught() -> None:
    """Wrong enums, too-long strings, offsets instead of Z, unknown fields and >4 decimals are reported."""
    session = example("session_example_2_short_finished.json")
    session["status"] = "RESERVED"  # the prose word, not the enum (OCPI 2.2.1 SessionStatus)
    session["id"] = "x" * 37
    session["last_updated"] = "2015-06-29T23:50:17+00:00"
    session["kwhh"] = 1
    session["kwh"] = 1.123456
    problems = "\n".join(validation_errors("Session", session))
    for needle in ("RESERVED", "too long", "last_updated", "kwhh", "more than 4 decimals"):
        assert needle in problems, needle


def test_cistring_must_be_ascii() -> None:
    """A CiString with non-ASCII characters is rejected."""
    token = example("token_put_example.json")
    token["uid"] = "ÄÖÜ"
    assert validation_errors("Token", token)


def test_every_kind_has_a_well_formed_schema() -> None:
    """Every kind's schema is itself a valid draft 2020-12 schema, and unknown kinds raise KeyError."""
    for kind in KINDS:
        assert validation_errors(kind, {}, patch=True) is not None
        assert schema_of(kind)["$ref"] == f"#/$defs/{kind}"
    with pytest.raises(KeyError):
        schema_of("Nope")
