"""2.0.1 ↔ domain translations shared by several 2.0.1 handlers (idTokenInfo, meter values)."""

from __future__ import annotations

from typing import Any

from csms.domain.clock import isoformat_z, parse_datetime
from csms.domain.metering import MAX_MULTIPLIER, usable_decimal
from csms.domain.models import AuthorizationResult, MeterSample, SignedMeterValue


def id_token_info(result: AuthorizationResult) -> dict[str, Any]:
    """2.0.1 IdTokenInfoType; absent optional fields are omitted, never null (OCPP 2.0.1 Part 4 §4.1.3)."""
    info: dict[str, Any] = {"status": result.status.value}
    if result.expiry_date is not None:
        info["cacheExpiryDateTime"] = isoformat_z(result.expiry_date)
    if result.group_id_token is not None:
        info["groupIdToken"] = {"idToken": result.group_id_token, "type": "Central"}
    return info


def _signed(smv: dict[str, Any]) -> SignedMeterValue:
    """A SignedMeterValueType as the domain keeps it (every field is required by the 2.0.1 schema)."""
    return SignedMeterValue(
        signed_meter_data=smv["signedMeterData"],
        encoding_method=smv["encodingMethod"],
        signing_method=smv["signingMethod"],
        public_key=smv["publicKey"],
    )


def samples(meter_values: list[dict[str, Any]], log: Any = None) -> list[MeterSample]:
    """2.0.1 MeterValueType[] → samples: numeric value, unitOfMeasure {unit (default Wh), multiplier}.

    The schema bounds neither the value nor the multiplier; a sample beyond what a meter can read
    (|value| ≥ 10^15, |multiplier| > 9) is skipped and logged rather than failing the whole message (an
    Ended event must stay storable). A `signedMeterValue` is kept with its sample (`signed_data`).
    """
    out: list[MeterSample] = []
    for mv in meter_values:
        ts = parse_datetime(mv["timestamp"])
        for sv in mv["sampledValue"]:
            uom = sv.get("unitOfMeasure", {})
            # str() first: a JSON number arrives as int or float; its shortest repr is the exact text sent.
            value = usable_decimal(sv["value"])
            multiplier = uom.get("multiplier", 0)
            if value is None or abs(multiplier) > MAX_MULTIPLIER:
                if log is not None:
                    log.warning("sample_skipped", value=str(sv["value"])[:50], multiplier=multiplier)
                continue
            out.append(
                MeterSample(
                    timestamp=ts,
                    value=value,
                    measurand=sv.get("measurand", "Energy.Active.Import.Register"),
                    unit=uom.get("unit", "Wh"),
                    multiplier=multiplier,
                    phase=sv.get("phase"),
                    context=sv.get("context", "Sample.Periodic"),
                    location=sv.get("location"),
                    signed_data=_signed(sv["signedMeterValue"]) if "signedMeterValue" in sv else None,
                )
            )
    return out
