"""OCPI 2.2.1 Locations sender (`ocpi.locations`): objects built from the operator's records and the OCPP
side, status mapping, single-object GETs and the paginated list."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from csms.domain.models import ConnectorStatus, DeviceVariable
from ocpi import locations
from ocpi.locations import emi3_evse_id, ocpi_status
from ocpi.store import OcpiStore
from ocpi.transport import ocpi_datetime
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.schemas import EVSE_ID_PATTERN, assert_valid
from tests.ocpi.senders import Harness, harness
from tests.store.conftest import T0, FakeClock

A, OCC, R, U, F = (
    ConnectorStatus.AVAILABLE,
    ConnectorStatus.OCCUPIED,
    ConnectorStatus.RESERVED,
    ConnectorStatus.UNAVAILABLE,
    ConnectorStatus.FAULTED,
)
# Every EVSE's capabilities but RESERVABLE (which depends on the station).
CAPABILITIES = [
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "REMOTE_START_STOP_CAPABLE",
    "UNLOCK_CAPABLE",
]


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    """A sender harness on the in-memory OCPI store."""
    async with harness(memory_ocpi_store, clock) as built:
        yield built


# -- status mapping (digest §12) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "detail", "has_tx", "online", "expected"),
    [
        (A, "Available", False, True, "AVAILABLE"),
        (OCC, "Preparing", False, True, "CHARGING"),
        (OCC, "Charging", True, True, "CHARGING"),
        (OCC, "SuspendedEV", True, True, "CHARGING"),
        (OCC, "SuspendedEVSE", True, True, "CHARGING"),
        (OCC, "Finishing", False, True, "BLOCKED"),
        (R, "Reserved", False, True, "RESERVED"),
        (U, "Unavailable", False, True, "INOPERATIVE"),
        (F, "Faulted", False, True, "OUTOFORDER"),
        # OCPP 2.0.1 reports no detail: Occupied is CHARGING with a transaction, BLOCKED without.
        (A, None, False, True, "AVAILABLE"),
        (OCC, None, True, True, "CHARGING"),
        (OCC, None, False, True, "BLOCKED"),
        (R, None, False, True, "RESERVED"),
        (U, None, False, True, "INOPERATIVE"),
        (F, None, False, True, "OUTOFORDER"),
        ("Available", None, False, True, "AVAILABLE"),
        # Offline, or never reported: UNKNOWN.
        (A, "Available", False, False, "UNKNOWN"),
        (OCC, "Charging", True, False, "UNKNOWN"),
        (None, None, False, True, "UNKNOWN"),
    ],
)
def test_status_mapping_table(
    status: ConnectorStatus | str | None, detail: str | None, has_tx: bool, online: bool, expected: str
) -> None:
    """ocpi_status maps OCPP 1.6 and 2.0.1 connector states to the OCPI EVSE status as the digest's table."""
    assert ocpi_status(status, detail, has_tx, online) == expected


# -- eMI3 EVSE ids --------------------------------------------------------------------------------------


def test_emi3_evse_id_form_and_limits() -> None:
    """evse_id is CC*PID*E<charge point>*<evse>, uppercase A–Z/0–9 only, an outlet id of at most 30
    characters (eMI3), and distinct for charge points whose names would be cut."""
    import re

    assert emi3_evse_id("be", "csm", "cp-01.a", 2) == "BE*CSM*ECP01A*2"
    long_a = emi3_evse_id("BE", "CSM", "X" * 60 + "a", 1)
    long_b = emi3_evse_id("BE", "CSM", "X" * 60 + "b", 1)
    assert len(long_a) == len("BE*CSM*E") + 30 and long_a != long_b
    empty = emi3_evse_id("BE", "CSM", "–––", 1)
    assert re.fullmatch(r"BE\*CSM\*E[0-9A-F]{8}\*1", empty)
    for evse_id in (long_a, long_b, empty, "BE*CSM*ECP01A*2"):
        assert re.fullmatch(EVSE_ID_PATTERN, evse_id)


# -- the Location object --------------------------------------------------------------------------------


async def test_location_object_from_records_and_ocpp(h: Harness) -> None:
    """A location's EVSEs come from the station's connectors (1.6 connector N = EVSE N), with the stored uid,
    an eMI3 evse_id, connector specs (defaults when none), mapped status and last_updated = newest change."""
    await h.add_station("CP1")
    await h.add_location("LOC1", "CP1", postal_code="9000", parking_type="ON_STREET", facilities=["CAFE"])
    h.advance(10)
    await h.status("CP1", 0, A, "Available")
    await h.status("CP1", 1, A, "Available")
    h.advance(10)
    await h.spec(
        "CP1",
        2,
        standard="IEC_62196_T2_COMBO",
        format="CABLE",
        power_type="DC",
        max_voltage=400,
        max_amperage=125,
        max_electric_power=50000,
        tariff_ids=["T1"],
    )
    h.advance(10)
    await h.status("CP1", 2, OCC, "Charging")

    status, body, _ = await h.get("locations/LOC1")
    assert status == 200 and body["status_code"] == 1000
    loc = body["data"]
    assert_valid("Location", loc)
    assert (loc["country_code"], loc["party_id"], loc["id"], loc["publish"]) == ("BE", "CSM", "LOC1", True)
    assert loc["coordinates"] == {"latitude": "51.047599", "longitude": "3.729944"}
    assert loc["facilities"] == ["CAFE"] and loc["time_zone"] == "Europe/Brussels"
    evse1, evse2 = loc["evses"]
    assert evse1["uid"] == (await h.ocpi.evse_uid("CP1", 1)).uid
    assert evse2["uid"] == (await h.ocpi.evse_uid("CP1", 2)).uid
    assert (evse1["evse_id"], evse2["evse_id"]) == ("BE*CSM*ECP1*1", "BE*CSM*ECP1*2")
    assert (evse1["status"], evse2["status"]) == ("AVAILABLE", "CHARGING")
    assert evse1["capabilities"] == ["RESERVABLE", *CAPABILITIES]
    assert evse1["connectors"] == [
        {
            "id": "1",
            "standard": "IEC_62196_T2",
            "format": "SOCKET",
            "power_type": "AC_3_PHASE",
            "max_voltage": 230,
            "max_amperage": 32,
            "last_updated": ocpi_datetime(T0.replace(second=10)),
        }
    ]
    connector = evse2["connectors"][0]
    assert (connector["standard"], connector["format"], connector["power_type"]) == (
        "IEC_62196_T2_COMBO",
        "CABLE",
        "DC",
    )
    assert connector["max_electric_power"] == 50000 and connector["tariff_ids"] == ["T1"]
    assert evse2["last_updated"] == connector["last_updated"] == ocpi_datetime(T0.replace(second=30))
    assert loc["last_updated"] == ocpi_datetime(T0.replace(second=30))


async def test_connectors_without_tariffs_show_their_locations(h: Harness) -> None:
    """A connector that names no tariff shows its location's `tariff_ids` (those price its sessions); one
    with its own shows only those."""
    await h.add_station("CP1")
    await h.add_location("LOC1", "CP1", tariff_ids=["LT1", "LT2"])
    await h.status("CP1", 1, A, "Available")
    await h.status("CP1", 2, A, "Available")
    await h.spec("CP1", 2, tariff_ids=["T1"])
    _, body, _ = await h.get("locations/LOC1")
    assert_valid("Location", body["data"])
    evse1, evse2 = body["data"]["evses"]
    assert evse1["connectors"][0]["tariff_ids"] == ["LT1", "LT2"]
    assert evse2["connectors"][0]["tariff_ids"] == ["T1"]


async def test_offline_station_is_unknown(h: Harness) -> None:
    """Every EVSE of a station that is not connected reports UNKNOWN, whatever it said last."""
    await h.add_station("CP1")
    await h.add_location("LOC1", "CP1")
    await h.status("CP1", 1, A, "Available")
    await h.status("CP1", 2, OCC, "Charging")
    h.disconnect("CP1")
    _, body, _ = await h.get("locations/LOC1")
    assert [e["status"] for e in body["data"]["evses"]] == ["UNKNOWN", "UNKNOWN"]
    h.connect("CP1")
    _, body, _ = await h.get("locations/LOC1")
    assert [e["status"] for e in body["data"]["evses"]] == ["AVAILABLE", "CHARGING"]


async def test_station_wide_status_applies_to_every_evse(h: Harness) -> None:
    """An Unavailable or Faulted on connector/EVSE 0 makes every EVSE not charging INOPERATIVE/OUTOFORDER;
    an Available on EVSE 0 does not hide the EVSEs' own states."""
    await h.add_station("CP1")
    await h.add_location("LOC1", "CP1")
    await h.status("CP1", 1, A, "Available")
    await h.status("CP1", 2, OCC, "Charging")
    await h.status("CP1", 0, U, "Unavailable")
    _, body, _ = await h.get("locations/LOC1")
    assert [e["status"] for e in body["data"]["evses"]] == ["INOPERATIVE", "CHARGING"]
    await h.status("CP1", 0, F, "Faulted")
    _, body, _ = await h.get("locations/LOC1")
    assert [e["status"] for e in body["data"]["evses"]] == ["OUTOFORDER", "CHARGING"]
    await h.status("CP1", 0, A, "Available")
    _, body, _ = await h.get("locations/LOC1")
    assert [e["status"] for e in body["data"]["evses"]] == ["AVAILABLE", "CHARGING"]


async def test_ocpp_201_evses_with_several_connectors(h: Harness) -> None:
    """2.0.1 EVSEs keep their connectors; Occupied means CHARGING only while a transaction runs on the EVSE,
    and an EVSE shows its busiest connector's status."""
    await h.add_station("CP2", version="ocpp2.0.1")
    await h.add_location("LOC1", "CP2")
    await h.status("CP2", 1, A, connector_id=1)
    await h.status("CP2", 1, OCC, connector_id=2)
    await h.status("CP2", 2, A, connector_id=1)
    _, body, _ = await h.get("locations/LOC1")
    evse1, evse2 = body["data"]["evses"]
    assert [c["id"] for c in evse1["connectors"]] == ["1", "2"] and evse1["status"] == "BLOCKED"
    assert evse2["status"] == "AVAILABLE"
    await h.start("CP2", 1)
    _, body, _ = await h.get("locations/LOC1")
    assert body["data"]["evses"][0]["status"] == "CHARGING"
    assert_valid("Location", body["data"])


async def test_configured_evse_not_yet_reported_is_unknown(h: Harness) -> None:
    """An EVSE that only has an operator ConnectorSpec is listed with status UNKNOWN."""
    await h.add_station("CP1")
    await h.add_location("LOC1", "CP1")
    await h.spec("CP1", 1, max_amperage=16)
    _, body, _ = await h.get("locations/LOC1")
    (evse,) = body["data"]["evses"]
    assert evse["status"] == "UNKNOWN" and evse["connectors"][0]["max_amperage"] == 16
    assert_valid("EVSE", evse)


async def test_reservable_only_when_the_station_can(h: Harness) -> None:
    """RESERVABLE is dropped for a 1.6 station whose SupportedFeatureProfiles lacks Reservation and for a
    2.0.1 station whose ReservationCtrlr is not available."""
    await h.add_station("CP1")
    await h.add_station("CP2", version="ocpp2.0.1")
    await h.add_station("CP3")
    await h.add_location("LOC1", "CP1", "CP2", "CP3")
    for cp in ("CP1", "CP2", "CP3"):
        await h.status(cp, 1, A, connector_id=1)
    await h.store.upsert_device_variables(
        [
            DeviceVariable("CP1", None, "SupportedFeatureProfiles", "Core,SmartCharging"),
            DeviceVariable("CP2", "ReservationCtrlr", "Available", "false"),
            DeviceVariable("CP3", None, "SupportedFeatureProfiles", "Core, Reservation"),
        ]
    )
    _, body, _ = await h.get("locations/LOC1")
    caps = [e["capabilities"] for e in body["data"]["evses"]]
    assert caps == [
        CAPABILITIES,
        CAPABILITIES,
        ["RESERVABLE", *CAPABILITIES],
    ]


# -- single objects -------------------------------------------------------------------------------------


async def test_get_evse_and_connector(h: Harness) -> None:
    """GET /{location_id}/{evse_uid} and /{connector_id} return the EVSE and the connector objects."""
    await h.add_station("CP1")
    await h.add_location("LOC1", "CP1")
    await h.status("CP1", 1, R, "Reserved")
    uid = (await h.ocpi.evse_uid("CP1", 1)).uid
    status, body, _ = await h.get(f"locations/LOC1/{uid}")
    assert status == 200 and body["data"]["status"] == "RESERVED" and body["data"]["uid"] == uid
    assert_valid("EVSE", body["data"])
    status, body, _ = await h.get(f"locations/LOC1/{uid}/1")
    assert status == 200 and body["data"]["id"] == "1"
    assert_valid("Connector", body["data"])


async def test_missing_objects_are_404(h: Harness) -> None:
    """Unknown or unpublished locations are 404/2003; unknown EVSEs (or another location's) and connectors
    are 404/2000."""
    await h.add_station("CP1")
    await h.add_station("CP2")
    await h.add_location("LOC1", "CP1")
    await h.add_location("LOC2", "CP2")
    await h.add_location("HIDDEN", publish=False)
    await h.status("CP1", 1, A, "Available")
    await h.status("CP2", 1, A, "Available")
    uid1 = (await h.ocpi.evse_uid("CP1", 1)).uid
    uid2 = (await h.ocpi.evse_uid("CP2", 1)).uid
    for path, code in [
        ("locations/NOPE", 2003),
        ("locations/HIDDEN", 2003),
        (f"locations/NOPE/{uid1}", 2003),
        ("locations/LOC1/no-such-uid", 2000),
        (f"locations/LOC1/{uid2}", 2000),
        (f"locations/LOC1/{uid1}/9", 2000),
    ]:
        status, body, _ = await h.get(path)
        assert (status, body["status_code"]) == (404, code), path
        assert "data" not in body


async def test_evse_ref_and_evse_objects(h: Harness) -> None:
    """evse_ref names (location_id, evse_uid) only for a published location; evse_objects lists a
    station's EVSEs ([] outside any location)."""
    await h.add_station("CP1")
    await h.add_station("CP2")
    await h.add_station("LONELY")
    await h.add_location("LOC1", "CP1")
    await h.add_location("HIDDEN", "CP2", publish=False)
    await h.status("CP1", 1, A, "Available")
    uid = (await h.ocpi.evse_uid("CP1", 1)).uid
    assert await locations.evse_ref(h.ctx, "CP1", 1) == ("LOC1", uid)
    assert await locations.evse_ref(h.ctx, "CP2", 1) is None
    assert await locations.evse_ref(h.ctx, "LONELY", 1) is None
    assert [e["uid"] for e in await locations.evse_objects(h.ctx, "CP1")] == [uid]
    assert await locations.evse_objects(h.ctx, "LONELY") == []


# -- the list -------------------------------------------------------------------------------------------


async def test_list_pages_through_published_locations(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """GET locations pages (server limit 3) through the published locations only, oldest first, with
    X-Total-Count, X-Limit and Link rel="next" — on every OCPI store backend."""
    async with harness(ocpi_store, clock) as h:
        for i in range(5):
            await h.add_station(f"CP{i}")
            await h.add_location(f"LOC{i}", f"CP{i}")
            await h.status(f"CP{i}", 1, A, "Available")
            h.advance(1)
        await h.add_location("HIDDEN", publish=False)
        status, body, headers = await h.get("locations", limit=10)
        assert status == 200 and len(body["data"]) == 3
        assert headers["X-Total-Count"] == "5" and headers["X-Limit"] == "3"
        assert 'rel="next"' in headers["Link"] and "offset=3" in headers["Link"]
        items, pages = await h.get_all("locations")
        assert pages == 2
        assert [loc["id"] for loc in items] == [f"LOC{i}" for i in range(5)]
        for loc in items:
            assert_valid("Location", loc)
        _, body, headers = await h.get("locations", offset=3)
        assert [loc["id"] for loc in body["data"]] == ["LOC3", "LOC4"] and "Link" not in headers


async def test_list_window_sees_status_changes(h: Harness) -> None:
    """With date_from/date_to the window applies to the computed last_updated: a location whose EVSE
    changed status is in a later window even though its record did not change."""
    for i in range(3):
        await h.add_station(f"CP{i}")
        await h.add_location(f"LOC{i}", f"CP{i}")
    h.advance(60)
    since = h.clock()
    await h.status("CP1", 1, OCC, "Charging")
    items, _ = await h.get_all("locations", date_from=ocpi_datetime(since))
    assert [loc["id"] for loc in items] == ["LOC1"]
    items, _ = await h.get_all("locations", date_to=ocpi_datetime(since))
    assert [loc["id"] for loc in items] == ["LOC0", "LOC2"]
    _, body, _ = await h.get("locations", date_from="yesterday")
    assert body["status_code"] == 2001 and "data" not in body


async def test_list_window_pages(h: Harness) -> None:
    """A windowed list pages like the plain one (limit 3: two pages for five locations)."""
    for i in range(5):
        await h.add_station(f"CP{i}")
        await h.add_location(f"LOC{i}", f"CP{i}")
        h.advance(1)
    items, pages = await h.get_all("locations", date_from=ocpi_datetime(T0))
    assert pages == 2 and [loc["id"] for loc in items] == [f"LOC{i}" for i in range(5)]
