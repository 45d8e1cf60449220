"""The adapters' meter value conversion keeps what a station signed: 1.6 SignedData values with their Raw
partner, 2.0.1 signedMeterValue with its sample."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import structlog
from structlog.testing import capture_logs

from csms.domain.models import SignedMeterValue
from csms.ocpp.v16 import convert as v16
from csms.ocpp.v201 import convert as v201

OCMF = 'OCMF|{"FV":"1.0","RD":[{"RV":1.234,"RU":"kWh"}]}|{"SD":"30450221"}'
END = {"context": "Transaction.End", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def meter_value(*sampled: dict[str, Any]) -> dict[str, Any]:
    return {"timestamp": "2024-05-01T12:00:00Z", "sampledValue": list(sampled)}


def test_v16_signed_value_goes_to_its_raw_partner() -> None:
    """A 1.6 SignedData value becomes the signed form (base64 of what was sent) of the Raw sample of the
    same measurand, phase, location and context; an OCMF string names its encoding, another none."""
    samples = v16.samples(
        [
            meter_value(
                {"value": "1234", **END},
                {"value": "230", "measurand": "Voltage", "unit": "V", "context": "Transaction.End"},
                {"value": OCMF, "format": "SignedData", **END},
            ),
            meter_value(
                {"value": "7"},  # every field defaulted, in both: Sample.Periodic, the register, Wh
                {"value": "A1B2C3", "format": "SignedData"},
            ),
        ]
    )
    assert [(s.value, s.signed_data) for s in samples] == [
        (Decimal(1234), SignedMeterValue(b64(OCMF), "OCMF")),
        (Decimal(230), None),
        (Decimal(7), SignedMeterValue(b64("A1B2C3"), "")),
    ]
    assert base64.b64decode(b64(OCMF)).decode() == OCMF  # what the station sent, once decoded


def test_v16_signed_value_without_raw_partner_or_too_long_is_logged_not_kept() -> None:
    """A SignedData value with no Raw value of its place (or longer than an OCPI CDR can carry) is not
    kept and is logged; the Raw samples are stored as ever."""
    log = structlog.get_logger("test")
    with capture_logs() as logs:
        samples = v16.samples(
            [
                meter_value(
                    {"value": "1234", **END, "context": "Sample.Clock"},
                    {"value": OCMF, "format": "SignedData", **END},
                    {"value": "x" * 4000, "format": "SignedData", **END, "context": "Sample.Clock"},
                )
            ],
            strict=False,
            log=log,
        )
    assert [(s.value, s.signed_data) for s in samples] == [(Decimal(1234), None)]
    assert [(e["event"], e["reason"]) for e in logs] == [
        ("signed_value_not_kept", "no Raw value"),
        ("signed_value_not_kept", "too long"),
    ]


def test_v201_signed_meter_value_is_kept_with_its_sample() -> None:
    """A 2.0.1 signedMeterValue is kept whole with its sample; a sample without one has none."""
    key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE"
    signed = {
        "signedMeterData": b64(OCMF),
        "signingMethod": "ECDSA-secp256r1-SHA256",
        "encodingMethod": "OCMF",
        "publicKey": key,
    }
    samples = v201.samples(
        [
            meter_value(
                {"value": 1234.5, "context": "Transaction.Begin", "signedMeterValue": signed},
                {"value": 11, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}},
            )
        ]
    )
    assert [(s.value, s.signed_data) for s in samples] == [
        (Decimal("1234.5"), SignedMeterValue(b64(OCMF), "OCMF", "ECDSA-secp256r1-SHA256", key)),
        (Decimal(11), None),
    ]
    assert samples[0].signed and not samples[1].signed
