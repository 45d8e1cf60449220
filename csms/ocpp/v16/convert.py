"""1.6 ↔ domain translations shared by several 1.6 handlers (idTag words, sampled values, connectors)."""

from __future__ import annotations

from typing import Any

from csms.domain.clock import isoformat_z, parse_datetime
from csms.domain.metering import usable_decimal
from csms.domain.models import AuthorizationResult, AuthorizationStatus, ConnectorStatus, MeterSample
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


def samples(meter_values: list[dict[str, Any]], *, strict: bool = True, log: Any = None) -> list[MeterSample]:
    """1.6 MeterValue[] → samples, with the spec's defaults for omitted fields.

    Signed values (format SignedData) carry an opaque blob, not a number; they are not energy readings we
    can compute with and are skipped here (the frame log keeps them verbatim).

    Raises:
        HandlerError: (strict only) a Raw value that is not a usable decimal number
            (PropertyConstraintViolation). With strict=False such samples are skipped and logged.
    """
    out: list[MeterSample] = []
    for mv in meter_values:
        ts = parse_datetime(mv["timestamp"])
        for sv in mv["sampledValue"]:
            if sv.get("format") == "SignedData":
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
    return out
