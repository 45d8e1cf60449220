"""Every command and its result survive the trip between nodes unchanged (csms.cluster.codec)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from csms.cluster.codec import CodecError, decode_command, decode_result, encode_command, encode_result
from csms.domain import commands as c
from csms.domain.local_list import LocalListEntry

T = datetime(2026, 12, 4, 8, 30, 15, 123000, tzinfo=UTC)
PROFILE = c.ChargingProfile(
    id=7, stack_level=1, purpose="TxProfile", kind="Absolute", rate_unit="W",
    periods=[c.ChargingSchedulePeriod(0, Decimal("11000.5"), 3),
             c.ChargingSchedulePeriod(900, Decimal("7400"))],
    ocpp_transaction_id="tx-1", valid_from=T, start_schedule=T, min_charging_rate=Decimal("1.25"),
)  # fmt: skip
EVERY_COMMAND = [
    c.StartSession("TOKEN1", 42, evse_id=2, group_id_token="G", charging_profile=PROFILE),
    c.StopSession("tx-9"),
    c.ReserveNow(5, T, "TOKEN2", evse_id=1, connector_type="cType2"),
    c.CancelReservation(5),
    c.UnlockConnector(1, 2),
    c.Reset(c.ResetKind.ON_IDLE, evse_id=3),
    c.ChangeAvailability(False, 1, 1),
    c.TriggerMessage("StatusNotification", 1),
    c.ClearCache(),
    c.CertificateSigned("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "V2GCertificate"),
    c.RenewCertificate(),
    c.InstallCertificate("CSMSRootCertificate", "PEM"),
    c.GetInstalledCertificateIds(["CSMSRootCertificate", "V2GCertificateChain"]),
    c.DeleteCertificate("SHA256", "a" * 64, "b" * 64, "1f"),
    c.DataTransfer("vendor", "msg", {"nested": [1, "two", None]}),
    c.GetConfiguration(["HeartbeatInterval", "OCPPCommCtrlr.HeartbeatInterval"]),
    c.ChangeConfiguration("HeartbeatInterval", "60"),
    c.GetBaseReport(11, "SummaryInventory"),
    c.SetChargingProfile(0, PROFILE),
    c.ClearChargingProfile(profile_id=7, purpose="TxProfile"),
    c.GetCompositeSchedule(1, 3600, "W"),
    c.GetChargingProfiles(12, 0, "TxProfile", 1, ["EMS"], [7]),
    c.CostUpdated(Decimal("0.9394"), "tx-9"),
    c.UpdateFirmware(3, "https://csms/fw.bin", T, T, 2, 60, signing_certificate="PEM", signature="c2ln"),
    c.GetLog(4, "SecurityLog", "https://csms/files/logs/t", oldest=T, latest=T, retries=1),
    c.SendLocalList(
        3,
        "Differential",
        [LocalListEntry("TOKEN1", "Blocked", T, "G", "ISO15693")],
        [LocalListEntry("TOKEN2", "Accepted")],
    ),
    c.GetLocalListVersion(),
]


def test_every_command_type_is_covered() -> None:
    from typing import get_args

    assert {type(cmd) for cmd in EVERY_COMMAND} == set(get_args(c.Command))


@pytest.mark.parametrize("command", EVERY_COMMAND, ids=lambda cmd: type(cmd).__name__)
def test_a_command_arrives_as_it_was_built(command: c.Command) -> None:
    import orjson

    over_the_wire = orjson.loads(orjson.dumps(encode_command(command)))
    assert decode_command(over_the_wire) == command


def test_a_result_arrives_as_it_was_made() -> None:
    import orjson

    result = c.CommandResult(c.Outcome.ANSWERED, "Accepted", {"ocpp_transaction_id": "17", "keys": [1]})
    assert decode_result(orjson.loads(orjson.dumps(encode_result(result)))) == result
    timeout = c.CommandResult(c.Outcome.TIMEOUT, description="no answer")
    assert decode_result(encode_result(timeout)) == timeout


def test_a_composite_schedule_reads_the_same_after_the_trip() -> None:
    """A GetCompositeSchedule result from another node (datetime and Decimals as text) gives the same
    schedule as the one answered here."""
    import orjson

    data = {
        "evse_id": 1,
        "schedule_start": T,
        "rate_unit": "W",
        "duration": 600,
        "periods": [
            {"start_period": 0, "limit": Decimal("7400.5")},
            {"start_period": 60, "limit": Decimal("0")},
        ],
    }
    here = c.CommandResult(c.Outcome.ANSWERED, "Accepted", data)
    there = decode_result(orjson.loads(orjson.dumps(encode_result(here))))
    assert c.composite_schedule_of(there) == c.composite_schedule_of(here) is not None


@pytest.mark.parametrize(
    "data",
    [None, "Reset", {"type": "Shutdown", "body": {}}, {"type": "Reset", "body": {"kind": "sideways"}},
     {"type": "UnlockConnector", "body": {}}],
)  # fmt: skip
def test_anything_else_is_a_codec_error(data: object) -> None:
    with pytest.raises(CodecError):
        decode_command(data)


def test_an_invalid_result_is_a_codec_error() -> None:
    with pytest.raises(CodecError):
        decode_result({"outcome": "maybe"})
