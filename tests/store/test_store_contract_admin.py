"""The `DeviceModelStore`, `ChargingProfileStore` and `AdminStore` contracts, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.models import (
    ChargePoint,
    ConnectorStatus,
    DeviceVariable,
    IdToken,
    MeterReading,
    MeterSample,
    Reservation,
    ReservationStatus,
    StatusChange,
    StoredChargingProfile,
    TokenStatus,
)
from csms.domain.ports import NotFound, Store

from .conftest import T0, FakeClock
from .test_store_contract import CEST, add_cp, assert_utc, at, frame, history, new_tx


def variable(component: str | None, name: str, value: str | None = "1", **fields: Any) -> DeviceVariable:
    return DeviceVariable(
        charge_point_id=fields.pop("cp", "CP1"), component=component, variable=name, value=value, **fields
    )


def profile(cp: str, profile_id: int, evse_id: int = 1, **fields: Any) -> StoredChargingProfile:
    return StoredChargingProfile(
        charge_point_id=cp,
        evse_id=evse_id,
        profile_id=profile_id,
        purpose=fields.pop("purpose", "TxDefaultProfile"),
        stack_level=fields.pop("stack_level", 0),
        profile=fields.pop("body", {"id": profile_id}),
        **fields,
    )


# -- device model -------------------------------------------------------------------------------------


async def test_device_variables_round_trip_with_none_key_parts(store: Store) -> None:
    """1.6 keys (no component) and 2.0.1 variables with or without instance/EVSE/connector read back equal."""
    key16 = variable(None, "HeartbeatInterval", "300", readonly=False, data_type=None)
    evse_level = variable(
        "EVSE",
        "Power",
        "22000",
        readonly=True,
        evse_id=1,
        attribute_type="MaxSet",
        data_type="decimal",
    )
    station = variable("EVSE", "Power", "44000", evse_id=0)
    full = variable(
        "Connector",
        "Available",
        "true",
        component_instance="left",
        evse_id=2,
        connector_id=1,
        variable_instance="x",
        updated_at=datetime(2024, 5, 1, 13, 0, tzinfo=CEST),
    )
    await store.upsert_device_variables([full, evse_level, key16, station])
    got = await store.list_device_variables("CP1")
    assert got == [
        DeviceVariable(**{**_fields(key16), "updated_at": T0}),
        DeviceVariable(**{**_fields(full), "updated_at": at(-3600)}),
        DeviceVariable(**{**_fields(station), "updated_at": T0}),
        DeviceVariable(**{**_fields(evse_level), "updated_at": T0}),
    ]
    assert got[0].component is None and got[0].evse_id is None and got[0].variable_instance is None
    assert got[2].evse_id == 0 and got[2].connector_id is None
    assert_utc(*(v.updated_at for v in got))
    assert await store.list_device_variables("CP2") == []


def _fields(v: DeviceVariable) -> dict[str, Any]:
    return {name: getattr(v, name) for name in DeviceVariable.__dataclass_fields__}


async def test_upsert_device_variables_updates_by_key(store: Store, clock: FakeClock) -> None:
    """The same key updates value, readonly, data type and time; any other key part makes a new row."""
    await store.upsert_device_variables(
        [
            variable(None, "MeterValueSampleInterval", "60"),
            variable("OCPPCommCtrlr", "HeartbeatInterval", "30"),
        ]
    )
    clock.advance(10)
    await store.upsert_device_variables(
        [
            variable(None, "MeterValueSampleInterval", "15", readonly=True, data_type="integer"),
            variable(None, "MeterValueSampleInterval", "20", readonly=True, data_type="integer"),  # last wins
            variable("OCPPCommCtrlr", "HeartbeatInterval", "60", attribute_type="Target"),
            variable(None, "MeterValueSampleInterval", "5", cp="CP2"),
        ]
    )
    await store.upsert_device_variables([])
    got = [
        (v.component, v.variable, v.attribute_type, v.value, v.readonly, v.data_type, v.updated_at)
        for v in await store.list_device_variables("CP1")
    ]
    assert got == [
        (None, "MeterValueSampleInterval", "Actual", "20", True, "integer", at(10)),
        ("OCPPCommCtrlr", "HeartbeatInterval", "Actual", "30", False, None, T0),
        ("OCPPCommCtrlr", "HeartbeatInterval", "Target", "60", False, None, at(10)),
    ]
    assert [v.value for v in await store.list_device_variables("CP2")] == ["5"]


async def test_device_variable_value_may_be_long_or_missing(store: Store) -> None:
    """A value up to 2500 characters (2.0.1 NotifyReport) or no value at all (write-only) is stored."""
    long_value = "A," * 1250
    await store.upsert_device_variables(
        [variable("Security", "BasicAuthPassword", None), variable("X", "List", long_value)]
    )
    got = {v.variable: v.value for v in await store.list_device_variables("CP1")}
    assert got == {"BasicAuthPassword": None, "List": long_value}


# -- charging profiles --------------------------------------------------------------------------------


async def test_charging_profiles_save_replace_and_list(store: Store, clock: FakeClock) -> None:
    """Profiles are listed by profile_id with their JSON intact; saving the same id replaces it."""
    body = {"id": 7, "periods": [{"start_period": 0, "limit": "16.5"}], "kind": "Absolute", "n": 3, "x": None}
    await store.save_charging_profile(profile("CP1", 7, body=body, transaction_pk=12, purpose="TxProfile"))
    await store.save_charging_profile(profile("CP1", 3, evse_id=0, purpose="ChargingStationMaxProfile"))
    await store.save_charging_profile(profile("CP2", 1))
    got = await store.list_charging_profiles("CP1")
    assert [p.profile_id for p in got] == [3, 7]
    assert got[1] == StoredChargingProfile(
        "CP1", 1, 7, "TxProfile", 0, body, transaction_pk=12, created_at=T0
    )
    clock.advance(5)
    await store.save_charging_profile(profile("CP1", 7, evse_id=2, stack_level=3, body={"id": 7, "v": 2}))
    replaced = (await store.list_charging_profiles("CP1"))[1]
    assert (replaced.evse_id, replaced.stack_level, replaced.profile, replaced.transaction_pk) == (
        2,
        3,
        {"id": 7, "v": 2},
        None,
    )
    assert replaced.created_at == at(5)
    assert_utc(replaced.created_at)
    assert await store.list_charging_profiles("nobody") == []


async def test_charging_profile_must_be_json(store: Store) -> None:
    """A profile body that is not JSON-serializable raises TypeError and stores nothing."""
    with pytest.raises(TypeError):
        await store.save_charging_profile(profile("CP1", 1, body={"limit": Decimal("16")}))
    assert await store.list_charging_profiles("CP1") == []


async def test_delete_charging_profiles_by_id_evse_or_all(store: Store) -> None:
    """delete_charging_profiles deletes by id, by EVSE, by both, or all of a station, and counts them."""
    for pid, evse in [(1, 1), (2, 1), (3, 2), (4, 0)]:
        await store.save_charging_profile(profile("CP1", pid, evse_id=evse))
    await store.save_charging_profile(profile("CP2", 1))
    assert await store.delete_charging_profiles("CP1", profile_id=3, evse_id=1) == 0
    assert await store.delete_charging_profiles("CP1", profile_id=3) == 1
    assert await store.delete_charging_profiles("CP1", evse_id=1) == 2
    assert await store.delete_charging_profiles("CP1", profile_id=99) == 0
    assert [p.profile_id for p in await store.list_charging_profiles("CP1")] == [4]
    assert await store.delete_charging_profiles("CP1") == 1
    assert await store.list_charging_profiles("CP1") == []
    assert len(await store.list_charging_profiles("CP2")) == 1


# -- admin --------------------------------------------------------------------------------------------


async def test_delete_charge_point_removes_its_state_and_keeps_history(store: Store) -> None:
    """Deleting a charge point removes its connectors, status history, device model and profiles, but
    keeps its transactions, meter samples, reservations and message log; other stations are untouched."""
    for cp in ("CP1", "CP2"):
        await add_cp(store, cp)
        await store.apply_batch([StatusChange(cp, 1, 1, ConnectorStatus.AVAILABLE, at(1)), frame(cp, 1)])
        await store.upsert_device_variables([variable(None, "K", cp=cp)])
        await store.save_charging_profile(profile(cp, 1))
    tx = await store.add_transaction(new_tx("CP1", ocpp_id="t"))
    await store.apply_batch(
        [MeterReading("CP1", 1, [MeterSample(timestamp=at(2), value=Decimal(5))], transaction_pk=tx.id)]
    )
    r = await store.add_reservation(Reservation(0, "CP1", 1, "TAG", at(60), ReservationStatus.ACTIVE))

    await store.delete_charge_point("CP1")

    assert await store.get_charge_point("CP1") is None
    assert await store.list_connectors("CP1") == []
    assert [h[0] for h in await history(store)] == ["CP2"]
    assert await store.list_device_variables("CP1") == []
    assert await store.list_charging_profiles("CP1") == []
    assert await store.get_transaction(tx.id) is not None
    assert [s.value for s in await store.list_meter_samples(tx.id)] == [Decimal(5)]
    assert await store.get_reservation(r.id) == r
    assert len((await store.list_frames("CP1", limit=5))[0]) == 1
    assert await store.get_charge_point("CP2") is not None
    assert len(await store.list_connectors("CP2")) == 1
    assert len(await store.list_device_variables("CP2")) == 1
    assert len(await store.list_charging_profiles("CP2")) == 1
    with pytest.raises(NotFound):
        await store.delete_charge_point("CP1")
    await add_cp(store, "CP1")  # the id can be registered again, with a clean slate
    assert await store.list_connectors("CP1") == []


async def test_update_id_token_overwrites_fields(store: Store, clock: FakeClock) -> None:
    """update_id_token writes type, status, expiry and group and sets updated_at; unknown raises NotFound."""
    await store.add_id_token(IdToken("TAG", group_id_token="OLD", expiry_date=at(10)))
    clock.advance(60)
    token = IdToken(
        "TAG",
        type="Central",
        status=TokenStatus.BLOCKED,
        expiry_date=datetime(2025, 1, 1, 1, 0, tzinfo=CEST),
        group_id_token=None,
    )
    await store.update_id_token(token)
    assert token.updated_at == at(60)
    got = await store.get_id_token("TAG")
    assert got is not None
    assert (got.type, got.status, got.group_id_token, got.created_at, got.updated_at) == (
        "Central",
        TokenStatus.BLOCKED,
        None,
        T0,
        at(60),
    )
    assert got.expiry_date == datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
    assert_utc(got.expiry_date, got.updated_at)
    with pytest.raises(NotFound):
        await store.update_id_token(IdToken("GHOST"))


async def test_delete_id_token(store: Store) -> None:
    """delete_id_token removes the token (it may be added again); an unknown token raises NotFound."""
    await store.add_id_token(IdToken("TAG"))
    await store.add_id_token(IdToken("KEEP"))
    await store.delete_id_token("TAG")
    assert await store.get_id_token("TAG") is None
    assert await store.get_id_token("KEEP") is not None
    with pytest.raises(NotFound):
        await store.delete_id_token("TAG")
    await store.add_id_token(IdToken("TAG"))


async def test_device_variables_keyed_of_many_stations(store: Store) -> None:
    """list_device_variables_keyed reads only the variables of these (component, variable) names, any
    instance, EVSE or connector, of the given stations."""
    await store.add_charge_point(ChargePoint(charge_point_id="CP2"))
    await store.add_charge_point(ChargePoint(charge_point_id="CP3"))
    wanted = [
        variable(None, "SupportedFeatureProfiles", "Core,Reservation"),
        variable("ReservationCtrlr", "Enabled", "false", cp="CP2"),
        variable("ReservationCtrlr", "Enabled", "true", cp="CP2", evse_id=1, attribute_type="Target"),
    ]
    others = [
        variable(None, "HeartbeatInterval", "300"),
        variable(None, "Enabled", "false"),
        variable("EVSE", "Enabled", "false", cp="CP2", evse_id=1),
        variable("ReservationCtrlr", "Enabled", cp="CP3"),
    ]
    await store.upsert_device_variables([*wanted, *others])
    keys = [(None, "SupportedFeatureProfiles"), ("ReservationCtrlr", "Enabled")]
    got = await store.list_device_variables_keyed(["CP1", "CP2"], keys)
    assert sorted((v.charge_point_id, v.component or "", v.variable, v.value) for v in got) == [
        ("CP1", "", "SupportedFeatureProfiles", "Core,Reservation"),
        ("CP2", "ReservationCtrlr", "Enabled", "false"),
        ("CP2", "ReservationCtrlr", "Enabled", "true"),
    ]
    assert await store.list_device_variables_keyed(["CP1"], []) == []
    assert await store.list_device_variables_keyed([], keys) == []
