"""OCPI objects we receive, declared once as field tables, and the one validator that checks them.

A `Field` says what OCPI 2.2.1 says of one field: its JSON kind, maximum length (strings; CiString adds
printable ASCII), enum values and whether it is required. The receiver modules declare their objects with
them (`ocpi.tokens.TOKEN_FIELDS`, `ocpi.commands.http.BODY_FIELDS`) and `check_object` answers any mismatch
with status 2001.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ocpi.transport import OcpiError, invalid_parameters, parse_ocpi_datetime

STRING_KINDS = ("string", "cistring", "datetime", "url")


@dataclass(frozen=True, slots=True)
class Field:
    """One field of an OCPI object: its JSON kind, maximum length (strings), enum values and whether it
    is required. `kind` is one of "string", "cistring", "boolean", "datetime", "object", "array", "url".
    `fields` describes the members of a nested object."""

    name: str
    kind: str
    max_length: int | None = None
    required: bool = False
    enum: tuple[str, ...] | None = None
    fields: tuple[Field, ...] = ()


def _string_problems(f: Field, name: str, value: str) -> list[str]:
    problems = []
    if f.required and value == "":
        problems.append(f"{name} must not be empty")
    if f.max_length is not None and len(value) > f.max_length:
        problems.append(f"{name} is longer than {f.max_length} characters")
    if f.kind == "cistring" and not all(0x20 <= ord(c) <= 0x7E for c in value):
        problems.append(f"{name} must be printable ASCII")
    if f.enum is not None and value not in f.enum:
        problems.append(f"{name} must be one of {', '.join(f.enum)}")
    if f.kind == "datetime":
        try:
            parse_ocpi_datetime(value)
        except OcpiError:
            problems.append(f"{name} is not an RFC 3339 DateTime")
    if f.kind == "url" and not value.startswith(("http://", "https://")):
        problems.append(f"{name} must be an http(s) URL")
    return problems


def _value_problems(f: Field, name: str, value: Any) -> list[str]:
    """What is wrong with one given (non-null) value of field `f`."""
    if f.kind in STRING_KINDS:
        if not isinstance(value, str):
            return [f"{name} must be a string"]
        return _string_problems(f, name, value)
    expected: Callable[[Any], bool] | None = _JSON_KINDS.get(f.kind)
    if expected is not None and not expected(value):
        return [f"{name} must be {_KIND_NAMES[f.kind]}"]
    if f.kind == "object":
        return problems_of(value, f.fields, name + ".")
    return []


_JSON_KINDS: dict[str, Callable[[Any], bool]] = {
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}
_KIND_NAMES = {"boolean": "a boolean", "object": "an object", "array": "an array"}


def problems_of(obj: Mapping[str, Any], fields: Iterable[Field], prefix: str = "") -> list[str]:
    """Every problem of `obj` against its declaration, named with `prefix` (JSON null is "not given")."""
    problems: list[str] = []
    for f in fields:
        name = prefix + f.name
        value = obj.get(f.name)
        if value is None:
            if f.required:
                problems.append(f"{name} is required")
            continue
        problems.extend(_value_problems(f, name, value))
    return problems


def check_object(obj: Mapping[str, Any], fields: Iterable[Field], *, what: str) -> None:
    """Check an incoming OCPI object's required fields, types, enums and string lengths.

    Raises:
        OcpiError: HTTP 200 / 2001 naming every problem found (OCPI 2.2.1 "Status codes": a request that
            is valid JSON reached the OCPI layer and gets an OCPI error, not an HTTP one; see
            `ocpi.transport.invalid_parameters`).
    """
    problems = problems_of(obj, fields)
    if problems:
        raise invalid_parameters(f"invalid {what}: " + "; ".join(problems))
