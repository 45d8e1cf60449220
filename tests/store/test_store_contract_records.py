"""The `StationEventStore` contract and 1.6 / 2.0.1 transaction ids of one station, on every backend."""

from __future__ import annotations

import pytest

from csms.domain.models import OCPP_16, OCPP_201, StationEvent, StationEventKind
from csms.domain.ports import Store

from .test_store_contract import add_cp, assert_utc, at, new_tx


def event(cp: str, kind: StationEventKind, type_: str, seconds: float, **fields: object) -> StationEvent:
    return StationEvent(charge_point_id=cp, kind=kind, type=type_, timestamp=at(seconds), **fields)  # type: ignore[arg-type]


async def test_station_events_are_listed_newest_first_with_filters_and_pages(store: Store) -> None:
    """Batched events come back per station newest first, filtered by kind, type and time, in pages; an
    event of an unknown station is skipped."""
    await add_cp(store, "CP1")
    await add_cp(store, "CP2")
    await store.apply_batch([
        event("CP1", StationEventKind.SECURITY, "StartupOfTheDevice", 0, tech_info="cold"),
        event("CP1", StationEventKind.NOTIFY, "HardWiredNotification", 10, event_id=7, trigger="Delta",
              component="Connector", variable="AvailabilityState", actual_value="Faulted", cleared=False,
              details={"techCode": "E1", "component": {"name": "Connector", "evse": {"id": 1}}}),
        event("CP2", StationEventKind.SECURITY, "FirmwareUpdated", 20),
        event("CP1", StationEventKind.SECURITY, "ResetOrReboot", 30),
        event("GONE", StationEventKind.SECURITY, "ResetOrReboot", 30),
    ])
    events, cursor = await store.list_station_events("CP1", limit=10)
    assert [e.type for e in events] == ["ResetOrReboot", "HardWiredNotification", "StartupOfTheDevice"]
    assert cursor is None
    notify = events[1]
    assert (notify.kind, notify.event_id, notify.actual_value, notify.cleared) == (
        StationEventKind.NOTIFY, 7, "Faulted", False
    )
    assert notify.details == {"techCode": "E1", "component": {"name": "Connector", "evse": {"id": 1}}}
    assert_utc(notify.timestamp, notify.received_at)
    assert events[2].tech_info == "cold" and events[2].details == {}
    kinds = await store.list_station_events("CP1", limit=10, kind=StationEventKind.SECURITY)
    assert [e.type for e in kinds[0]] == ["ResetOrReboot", "StartupOfTheDevice"]
    typed = await store.list_station_events("CP1", limit=10, type="StartupOfTheDevice")
    assert [e.type for e in typed[0]] == ["StartupOfTheDevice"]
    window = await store.list_station_events("CP1", limit=10, since=at(10), until=at(30))
    assert [e.type for e in window[0]] == ["HardWiredNotification"]
    first, cursor = await store.list_station_events("CP1", limit=2)
    assert cursor is not None
    rest, end = await store.list_station_events("CP1", limit=2, cursor=cursor)
    assert [e.id for e in first + rest] == [e.id for e in events] and end is None
    with pytest.raises(ValueError):
        await store.list_station_events("CP1", limit=2, cursor="x")


async def test_a_201_id_equal_to_a_16_id_of_the_same_station_is_another_transaction(store: Store) -> None:
    """A station's 2.0.1 transaction "N" is stored beside its 1.6 transaction N; each version's lookup finds
    its own, and a lookup without version prefers the 2.0.1 one."""
    await add_cp(store, "CP1")
    legacy = await store.add_transaction(new_tx())
    number = legacy.ocpp_transaction_id
    assert number == str(legacy.id) and legacy.ocpp_version == OCPP_16
    assert await store.find_transaction("CP1", number, OCPP_201) is None
    new = await store.add_transaction(new_tx(ocpp_id=number, seq_no=0))
    assert new.id != legacy.id and new.ocpp_version == OCPP_201
    by_16 = await store.find_transaction("CP1", number, OCPP_16)
    by_201 = await store.find_transaction("CP1", number, OCPP_201)
    anyhow = await store.find_transaction("CP1", number)
    assert by_16 is not None and by_16.id == legacy.id and by_16.ocpp_transaction_id == number
    assert by_201 is not None and by_201.id == new.id
    assert anyhow is not None and anyhow.id == new.id
    assert await store.find_transaction("CP1", "not-a-number", OCPP_16) is None
    assert await store.find_transaction("CP2", number, OCPP_16) is None
    await store.save_transaction(by_16)  # saving keeps the 1.6 id where it is
    again = await store.find_transaction("CP1", number, OCPP_16)
    assert again is not None and again.id == legacy.id
