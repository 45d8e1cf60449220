"""1.6 ↔ domain translations shared by several 1.6 handlers (idTag words, sampled values, connectors)."""

from __future__ import annotations

import base64
from typing import Any

from csms.domain.clock import isoformat_z, parse_datetime
from csms.domain.metering import usable_decimal
from csms.domain.models import (
    AuthorizationResult,
    AuthorizationStatus,
    ConnectorStatus,
    MeterSample,
    SignedMeterValue,
)
from csms.ocpp.errors import ErrorKind
from csms.ocpp.router import HandlerError, StationContext

# 1.6 ChargePointStatus → neutral status. The 1.6 word itself is kept as the connector's status detail.
STATUS = {
    "Available": ConnectorStatus.AVAILABLE,
    "Preparing": ConnectorStatus.OCCUPIED,
    "Charging": ConnectorStatus.OCCUPIED,
    "SuspendedEVSE": ConnectorStatus.OCCUPIED,
    "SuspendedEV": ConnectorStatus.OCCUPIED,
    "Finishing": ConnectorStatus.OCCUPIED,
    "Reserved": ConnectorStatus.RESERVED,
    "Unavailable": ConnectorStatus.UNAVAILABLE,
    "Faulted": ConnectorStatus.FAULTED,
}


def evse_of(connector_id: int) -> tuple[int, int]:
    """A 1.6 connector is an EVSE with one connector; connector 0 is the charge point itself."""
    return (connector_id, 1) if connector_id > 0 else (0, 0)


ID_TOKEN_MAX = 20  # 1.6 IdToken is CiString20Type


async def id_token_of(ctx: StationContext, id_tag: str) -> str:
    """The id token behind an idTag the station presented: the token itself, or the token whose alias it is
    (sent to the station in its place, being longer than 20 characters: `commands.short_id_token`)."""
    return await ctx.domain.id_token_aliases.resolve(id_tag)


def id_tag_info(result: AuthorizationResult) -> dict[str, Any]:
    """1.6 IdTagInfo; 1.6 has no `Unknown` status, so an unknown token is Invalid.

    A group id longer than 1.6's 20 characters (tokens may be 36 long in 2.0.1 and OCPI) cannot be sent
    as parentIdTag; it is left out rather than making the whole answer invalid.
    """
    status = "Invalid" if result.status is AuthorizationStatus.UNKNOWN else result.status.value
    info: dict[str, Any] = {"status": status}
    if result.expiry_date is not None:
        info["expiryDate"] = isoformat_z(result.expiry_date)
    if result.group_id_token is not None and len(result.group_id_token) <= ID_TOKEN_MAX:
        info["parentIdTag"] = result.group_id_token
    return info


# OCPI 2.2.1 SignedValue.signed_data is string(5000): a longer signed form could never reach a CDR.
SIGNED_DATA_MAX = 5000
OCMF_PREFIX = "OCMF|"  # Open Charge Metering Format: "OCMF|{payload}|{signature}" (the Eichrecht convention)


def samples(meter_values: list[dict[str, Any]], *, strict: bool = True, log: Any = None) -> list[MeterSample]:
    """1.6 MeterValue[] → samples, with the spec's defaults for omitted fields.

    A signed value (format SignedData) carries an opaque blob, not a number (OCPP 1.6 SampledValue.value
    "Raw (decimal) number or SignedData"): it becomes the `signed_data` of the Raw sample of the same
    MeterValue with the same measurand, phase, location and context (stations that sign send both, the
    Raw one to compute with). A signed value without such a partner has no reading to attach to; it is
    logged and left to the frame log, which keeps it verbatim.

    Raises:
        HandlerError: (strict only) a Raw value that is not a usable decimal number
            (PropertyConstraintViolation). With strict=False such samples are skipped and logged.
    """
    out: list[MeterSample] = []
    for mv in meter_values:
        ts = parse_datetime(mv["timestamp"])
        first = len(out)
        signed: list[dict[str, Any]] = []
        for sv in mv["sampledValue"]:
            if sv.get("format") == "SignedData":
                signed.append(sv)
                continue
            value = usable_decimal(sv["value"])
            if value is None:
                if strict:
                    raise HandlerError(
                        ErrorKind.PROPERTY,
                        f"sampledValue.value {sv['value']!r} is not a usable decimal number",
                    )
                if log is not None:
                    log.warning("sample_skipped", value=str(sv["value"])[:50])
                continue
            unit = sv.get("unit", "Wh")
            out.append(
                MeterSample(
                    timestamp=ts,
                    value=value,
                    measurand=sv.get("measurand", "Energy.Active.Import.Register"),
                    unit="Celsius" if unit == "Celcius" else unit,
                    phase=sv.get("phase"),
                    context=sv.get("context", "Sample.Periodic"),
                    location=sv.get("location"),
                )
            )
        if signed:
            _attach_signed(out[first:], signed, log)
    return out


def _sample_place(sv: dict[str, Any]) -> tuple[str, str | None, str | None, str]:
    """What a SignedData value must share with its Raw partner, with the spec's defaults applied."""
    return (
        sv.get("measurand", "Energy.Active.Import.Register"),
        sv.get("phase"),
        sv.get("location"),
        sv.get("context", "Sample.Periodic"),
    )


def _attach_signed(raw: list[MeterSample], signed: list[dict[str, Any]], log: Any) -> None:
    """Give each Raw sample of one MeterValue the SignedData value of the same place (see `samples`)."""
    by_place = {(s.measurand, s.phase, s.location, s.context): s for s in raw}
    for sv in signed:
        partner = by_place.get(_sample_place(sv))
        blob = sv["value"]
        encoded = base64.b64encode(blob.encode()).decode("ascii")
        if partner is None or len(encoded) > SIGNED_DATA_MAX:
            if log is not None:
                log.warning(
                    "signed_value_not_kept",
                    reason="no Raw value" if partner is None else "too long",
                    measurand=sv.get("measurand"),
                    context=sv.get("context"),
                    length=len(blob),
                )
            continue
        # 1.6 names no encoding; an OCMF string says its own (OCMF: "OCMF|{payload}|{signature}").
        partner.signed_data = SignedMeterValue(
            signed_meter_data=encoded, encoding_method="OCMF" if blob.startswith(OCMF_PREFIX) else ""
        )
