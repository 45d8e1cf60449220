"""What both versions' command tables share: the translation type, its errors, and JSON helpers.

Each version has one table, `csms/ocpp/v16/commands.py` and `csms/ocpp/v201/commands.py`, from a
version-neutral command type (`csms.domain.commands`) to a `Translation`:

    if translation.prepare: command = await translation.prepare(ctx, command)  # e.g. 1.6 id token aliases
    action, payload = translation.build(command)          # may raise Inexpressible: nothing is sent
    outcome = await session.call(action, payload)          # one CALL, see StationSession.execute
    result = translation.parse(command, outcome.payload)  # CommandResult(ANSWERED, status, data)
    if translation.record: await translation.record(ctx, command, result)

`build` and `parse` are pure functions (tested without a socket); `prepare` is the optional look-up before
`build` (the 1.6 alias of an id token too long for an idTag), `record` the optional side effect of an answer
(storing a 1.6 configuration as device model).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Generic, TypeVar

from csms.domain.clock import isoformat_z, parse_datetime
from csms.domain.commands import ChargingProfile, CommandResult, GetLog, Outcome, UpdateFirmware
from csms.domain.device_model import DeviceModelService
from csms.ocpp.router import StationContext

Payload = dict[str, Any]
C = TypeVar("C")

TENTH = Decimal("0.1")


class Inexpressible(Exception):
    """The command (with these values) has no form in this OCPP version; it becomes NOT_SUPPORTED and
    nothing is sent. The message says why, for the caller."""


@dataclass(frozen=True, slots=True)
class Translation(Generic[C]):
    """How one command type travels in one OCPP version.

    Attributes:
        build: the command → (action, request payload); raises `Inexpressible`.
        parse: the command and the station's (schema-valid) response payload → an ANSWERED result.
        record: optional; runs after `parse` with the connection's context, e.g. to store what the
            station reported. A failure there is logged and does not change the result.
        prepare: optional; runs before `build` with the connection's context and returns the command
            `build` and `parse` get, e.g. with its id token replaced by the alias the version can carry.
            A failure there is logged and the command is CALL_ERROR InternalError (nothing is sent).
    """

    build: Callable[[C], tuple[str, Payload]]
    parse: Callable[[C, Payload], CommandResult]
    record: Callable[[StationContext, C, CommandResult], Awaitable[None]] | None = None
    prepare: Callable[[StationContext, C], Awaitable[C]] | None = None


#: One version's surface: command type → translation. A type missing here is NOT_SUPPORTED.
CommandTable = Mapping[type[Any], Translation[Any]]


def answered(payload: Payload, status: str | None = None, **data: Any) -> CommandResult:
    """An ANSWERED result with the station's status word and, in domain words, the rest.

    `status` defaults to the payload's `status`. A 2.0.1 `statusInfo` becomes `data["reason_code"]` (and
    `data["additional_info"]` when given); keyword arguments whose value is None are left out.
    """
    out = {key: value for key, value in data.items() if value is not None}
    info = payload.get("statusInfo")
    if isinstance(info, dict):
        out.update(status_info(info))
    return CommandResult(Outcome.ANSWERED, status=status or payload.get("status"), data=out)


def status_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """2.0.1 StatusInfoType → {"reason_code", "additional_info"?}."""
    out: dict[str, Any] = {"reason_code": info["reasonCode"]}
    if "additionalInfo" in info:
        out["additional_info"] = info["additionalInfo"]
    return out


def json_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number orjson can write: int when integral, else the nearest float.

    orjson cannot serialize Decimal. The float is safe for the values we send (limits and rates already
    rounded to 0.1 by `tenths`, or other decimals of at most 15 significant digits): a double holds every
    such decimal closely enough that its shortest repr, which is what orjson writes, is the decimal's own
    text (float(Decimal("16.1")) is written "16.1"), so the station reads exactly the value we meant, and
    `Decimal(str(x)) % 0.1 == 0` (the 1.6 schema's multipleOf check) holds.

    Raises:
        Inexpressible: NaN or infinity (no JSON number exists).
    """
    if not value.is_finite():
        raise Inexpressible(f"{value} is not a number a station can take")
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def tenths(value: Decimal) -> int | float:
    """A charging limit or rate as a JSON number with at most one decimal.

    OCPP 1.6 SetChargingProfile has `multipleOf: 0.1` for `limit` and `minChargingRate`; OCPP 2.0.1 says
    "accepts at most one digit fraction (e.g. 8.1)". The value is rounded toward zero: a limit is an
    upper bound, so rounding down never allows more current or power than asked (16.19 A → 16.1 A).
    """
    return json_number(value.quantize(TENTH, rounding=ROUND_DOWN))


def jsonable(value: Any) -> Any:
    """`value` with every Decimal (in nested lists and dicts too) turned into a JSON number."""
    if isinstance(value, Decimal):
        return json_number(value)
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return value


def present(**fields: Any) -> Payload:
    """The fields whose value is not None: absent optional fields are left out, never null (OCPP-J)."""
    return {name: value for name, value in fields.items() if value is not None}


def schedule_fields(profile: ChargingProfile) -> Payload:
    """The ChargingSchedule fields 1.6 and 2.0.1 share (2.0.1 adds the schedule's `id`)."""
    return {
        "chargingRateUnit": profile.rate_unit,
        "chargingSchedulePeriod": [
            {"startPeriod": p.start_period, "limit": tenths(p.limit)} | present(numberPhases=p.number_phases)
            for p in profile.periods
        ],
        **present(
            duration=profile.duration,
            startSchedule=None if profile.start_schedule is None else isoformat_z(profile.start_schedule),
            minChargingRate=None if profile.min_charging_rate is None else tenths(profile.min_charging_rate),
        ),
    }


def parse_composite_schedule(evse_id: int, start: str, schedule: Mapping[str, Any]) -> dict[str, Any]:
    """A 1.6 ChargingSchedule / 2.0.1 CompositeScheduleType in the domain words of a GetCompositeSchedule
    result (`csms.domain.commands.GetCompositeSchedule`): limits as Decimal, the start as UTC datetime."""
    return {
        "evse_id": evse_id,
        "schedule_start": parse_datetime(start),
        "rate_unit": schedule["chargingRateUnit"],
        "periods": [
            {"start_period": p["startPeriod"], "limit": Decimal(str(p["limit"]))}
            | present(number_phases=p.get("numberPhases"))
            for p in schedule["chargingSchedulePeriod"]
        ],
        **present(duration=schedule.get("duration")),
    }


def profile_fields(profile: ChargingProfile) -> Payload:
    """The ChargingProfile fields 1.6 and 2.0.1 share: the versions differ in the profile id's name, the
    purpose words, the transaction id's type and whether the schedule is one object or a list."""
    return {
        "stackLevel": profile.stack_level,
        "chargingProfileKind": profile.kind,
        **present(
            recurrencyKind=profile.recurrency_kind,
            validFrom=None if profile.valid_from is None else isoformat_z(profile.valid_from),
            validTo=None if profile.valid_to is None else isoformat_z(profile.valid_to),
        ),
    }


def transaction_id_16(ocpp_transaction_id: str) -> int:
    """A 1.6 transactionId (an integer the CSMS allocated) from the neutral string form.

    Raises:
        Inexpressible: not an integer (e.g. a 2.0.1 transaction id sent to a 1.6 station).
    """
    try:
        return int(ocpp_transaction_id)
    except ValueError:
        raise Inexpressible(f"transaction id {ocpp_transaction_id!r} is not a 1.6 transactionId") from None


def device_model(ctx: StationContext) -> DeviceModelService:
    """The device model service for a handler or a command's `record` step."""
    return ctx.domain.device_model


def firmware_fields(command: UpdateFirmware) -> Payload:
    """FirmwareType, the same in 2.0.1 UpdateFirmware and 1.6 security extension SignedUpdateFirmware
    (location, retrieveDateTime, installDateTime, signingCertificate, signature)."""
    return {
        "location": command.location,
        "retrieveDateTime": isoformat_z(command.retrieve_at),
        **present(
            installDateTime=None if command.install_at is None else isoformat_z(command.install_at),
            signingCertificate=command.signing_certificate,
            signature=command.signature,
        ),
    }


def build_update_firmware_signed(command: UpdateFirmware, action: str) -> tuple[str, Payload]:
    """2.0.1 UpdateFirmware / 1.6 SignedUpdateFirmware: requestId, firmware and the retry settings."""
    return action, {
        "requestId": command.request_id,
        "firmware": firmware_fields(command),
        **present(retries=command.retries, retryInterval=command.retry_interval),
    }


def build_get_log(command: GetLog) -> tuple[str, Payload]:
    """GetLog (2.0.1 and 1.6 security extension): logType, requestId, log{remoteLocation, timestamps}."""
    log: Payload = {
        "remoteLocation": command.remote_location,
        **present(
            oldestTimestamp=None if command.oldest is None else isoformat_z(command.oldest),
            latestTimestamp=None if command.latest is None else isoformat_z(command.latest),
        ),
    }
    return "GetLog", {
        "logType": command.log_type,
        "requestId": command.request_id,
        "log": log,
        **present(retries=command.retries, retryInterval=command.retry_interval),
    }


def parse_get_log(command: GetLog, payload: Payload) -> CommandResult:
    """status and the file name the station will upload (optional)."""
    return answered(payload, filename=payload.get("filename"))
