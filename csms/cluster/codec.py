"""Commands and command results as JSON, for the trip from the node that asks to the node that holds the
station (csms.cluster.routing).

The domain's command dataclasses are the schema: pydantic's `TypeAdapter` turns each one into JSON
(datetime as RFC 3339, Decimal as a string, enums as their value) and validates it back into the same
dataclass, so a command arrives exactly as it was built.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError

from csms.domain.commands import Command, CommandResult

_COMMANDS: dict[str, TypeAdapter[Any]] = {cls.__name__: TypeAdapter(cls) for cls in get_args(Command)}
_RESULT: TypeAdapter[CommandResult] = TypeAdapter(CommandResult)


class CodecError(ValueError):
    """A message from another node that does not hold a known command or a valid result."""


def encode_command(command: Command) -> dict[str, Any]:
    """`{"type": <dataclass name>, "body": {...}}`: JSON-ready."""
    name = type(command).__name__
    return {"type": name, "body": _COMMANDS[name].dump_python(command, mode="json")}


def decode_command(data: Any) -> Command:
    """The command `encode_command` made; raises CodecError for anything else."""
    if not isinstance(data, dict) or data.get("type") not in _COMMANDS:
        raise CodecError(f"not a known command: {str(data)[:200]}")
    try:
        command: Command = _COMMANDS[data["type"]].validate_python(data.get("body"))
    except ValidationError as exc:
        raise CodecError(f"invalid {data['type']}: {exc}") from exc
    return command


def encode_result(result: CommandResult) -> dict[str, Any]:
    """A `CommandResult`, JSON-ready."""
    encoded: dict[str, Any] = _RESULT.dump_python(result, mode="json")
    return encoded


def decode_result(data: Any) -> CommandResult:
    """The result `encode_result` made; raises CodecError for anything else."""
    try:
        return _RESULT.validate_python(data)
    except ValidationError as exc:
        raise CodecError(f"invalid command result: {exc}") from exc
