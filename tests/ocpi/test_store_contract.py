"""The `OcpiStore` contract: every method behaves the same on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from csms.domain.ports import AlreadyExists, NotFound
from ocpi.models import (
    Cdr,
    ClientInfo,
    CommandPromise,
    ConnectorSpec,
    Location,
    OutboxEntry,
    OutboxStatus,
    Partner,
    PartnerStatus,
    PartnerToken,
    PartyScope,
    PendingStart,
    SessionLink,
    Tariff,
)
from ocpi.store import OcpiStore, Pagination
from tests.ocpi.conftest import T0, FakeClock


def _partner(**changes: object) -> Partner:
    partner = Partner(id=0, name="eMSP One", country_code="NL", party_id="EMS", token_a_hash="a" * 64)
    for key, value in changes.items():
        setattr(partner, key, value)
    return partner


def _location(location_id: str = "LOC1", **changes: object) -> Location:
    location = Location(
        id=location_id,
        name="Gent Zuid",
        address="F.Rooseveltlaan 3A",
        city="Gent",
        country="BEL",
        latitude="51.047599",
        longitude="3.729944",
        time_zone="Europe/Brussels",
        country_code="BE",
        party_id="BEC",
    )
    for key, value in changes.items():
        setattr(location, key, value)
    return location


def _token(uid: str = "012345678", **changes: object) -> PartnerToken:
    token = PartnerToken(
        country_code="DE",
        party_id="TNM",
        uid=uid,
        type="RFID",
        contract_id="DE8ACC12E46L89",
        issuer="TheNewMotion",
        valid=True,
        whitelist="ALLOWED",
        data={"uid": uid, "type": "RFID", "valid": True},
    )
    for key, value in changes.items():
        setattr(token, key, value)
    return token


def _entry(partner_id: int = 1, object_key: str = "session:1", **changes: object) -> OutboxEntry:
    entry = OutboxEntry(
        id=0,
        partner_id=partner_id,
        module="sessions",
        object_key=object_key,
        method="PUT",
        url="https://emsp.example.com/ocpi/2.2.1/sessions/BE/BEC/1",
        body={"id": "1", "kwh": 0.0},
    )
    for key, value in changes.items():
        setattr(entry, key, value)
    return entry


# -- partners -------------------------------------------------------------------------------------------


async def test_add_partner_assigns_new_ids_and_timestamps(ocpi_store: OcpiStore) -> None:
    """add_partner ignores the given id, assigns increasing ids and stamps created_at/updated_at."""
    first = await ocpi_store.add_partner(_partner(id=99, endpoints={"sessions:RECEIVER": "https://x/s"}))
    second = await ocpi_store.add_partner(_partner(token_a_hash="b" * 64))
    assert first.id != 99 and second.id > first.id
    assert first.created_at == first.updated_at == T0
    assert await ocpi_store.get_partner(first.id) == first
    assert first.endpoints == {"sessions:RECEIVER": "https://x/s"}
    assert first.status == PartnerStatus.PENDING
    assert await ocpi_store.get_partner(12345) is None


async def test_save_partner_overwrites_fields_and_bumps_updated_at(
    ocpi_store: OcpiStore, clock: FakeClock
) -> None:
    """save_partner overwrites every field but id and created_at; updated_at becomes now."""
    partner = await ocpi_store.add_partner(_partner())
    later = clock.advance(60)
    partner.status = PartnerStatus.REGISTERED
    partner.token_a_hash = None
    partner.token_c_hash = "c" * 64
    partner.token_b = "their-token"
    partner.versions_url = "https://emsp.example.com/ocpi/versions"
    partner.version = "2.2.1"
    partner.roles = [{"role": "EMSP", "party_id": "EMS", "country_code": "NL"}]
    partner.created_at = later  # ignored: created_at stays as stored
    await ocpi_store.save_partner(partner)
    stored = await ocpi_store.get_partner(partner.id)
    assert stored is not None
    assert stored.status == PartnerStatus.REGISTERED and stored.token_c_hash == "c" * 64
    assert stored.token_a_hash is None and stored.token_b == "their-token" and stored.version == "2.2.1"
    assert stored.roles == partner.roles
    assert stored.created_at == T0 and stored.updated_at == later


async def test_save_unknown_partner_raises_not_found(ocpi_store: OcpiStore) -> None:
    """save_partner of an id that was never added raises NotFound."""
    with pytest.raises(NotFound):
        await ocpi_store.save_partner(_partner(id=4242))


async def test_token_hashes_are_unique(ocpi_store: OcpiStore) -> None:
    """A second partner with the same token A or token C hash is refused with AlreadyExists."""
    first = await ocpi_store.add_partner(_partner(token_c_hash="c" * 64))
    with pytest.raises(AlreadyExists):
        await ocpi_store.add_partner(_partner())
    second = await ocpi_store.add_partner(_partner(token_a_hash="b" * 64))
    second.token_c_hash = "c" * 64
    with pytest.raises(AlreadyExists):
        await ocpi_store.save_partner(second)
    assert await ocpi_store.get_partner(first.id) is not None


async def test_find_partner_by_token_hash_matches_a_or_c_but_not_unregistered(ocpi_store: OcpiStore) -> None:
    """find_partner_by_token_hash finds by either hash and ignores unregistered partners."""
    partner = await ocpi_store.add_partner(_partner(token_c_hash="c" * 64))
    found_a = await ocpi_store.find_partner_by_token_hash("a" * 64)
    found_c = await ocpi_store.find_partner_by_token_hash("c" * 64)
    assert found_a is not None and found_a.id == partner.id
    assert found_c is not None and found_c.id == partner.id
    assert await ocpi_store.find_partner_by_token_hash("d" * 64) is None
    partner.status = PartnerStatus.UNREGISTERED
    await ocpi_store.save_partner(partner)
    assert await ocpi_store.find_partner_by_token_hash("c" * 64) is None


async def test_list_partners_in_id_order(ocpi_store: OcpiStore) -> None:
    """list_partners returns every partner, unregistered ones too, by id."""
    assert await ocpi_store.list_partners() == []
    one = await ocpi_store.add_partner(_partner(name="one"))
    two = await ocpi_store.add_partner(
        _partner(name="two", token_a_hash=None, status=PartnerStatus.UNREGISTERED)
    )
    assert [p.name for p in await ocpi_store.list_partners()] == ["one", "two"]
    assert [p.id for p in await ocpi_store.list_partners()] == [one.id, two.id]


# -- locations ------------------------------------------------------------------------------------------


async def test_location_round_trips_every_field(ocpi_store: OcpiStore) -> None:
    """save_location then get_location gives back every field, charge points sorted, last_updated stamped."""
    location = _location(
        postal_code="9000",
        state="Oost-Vlaanderen",
        parking_type="ON_STREET",
        facilities=["HOTEL", "CAFE"],
        opening_times={"twentyfourseven": False, "regular_hours": [{"weekday": 1, "period_begin": "08:00"}]},
        operator={"name": "BeCharged", "website": "https://www.becharged.be"},
        charging_when_closed=True,
        publish=False,
        charge_point_ids=["CP2", "CP1", "CP1"],
        tariff_ids=["T2", "T1"],
    )
    await ocpi_store.save_location(location)
    stored = await ocpi_store.get_location("LOC1")
    expected = _location(
        postal_code="9000",
        state="Oost-Vlaanderen",
        parking_type="ON_STREET",
        facilities=["HOTEL", "CAFE"],
        opening_times=location.opening_times,
        operator=location.operator,
        charging_when_closed=True,
        publish=False,
        charge_point_ids=["CP1", "CP2"],
        tariff_ids=["T2", "T1"],
        last_updated=T0,
    )
    assert stored == expected
    assert await ocpi_store.get_location("nope") is None


async def test_save_location_replaces_fields_and_charge_points(
    ocpi_store: OcpiStore, clock: FakeClock
) -> None:
    """A second save replaces the fields and exactly the charge point list; None fields become None, and
    tariffs not given are none."""
    await ocpi_store.save_location(
        _location(charge_point_ids=["CP1", "CP2"], operator={"name": "X"}, tariff_ids=["T1"])
    )
    later = clock.advance(10)
    await ocpi_store.save_location(_location(name=None, charge_point_ids=["CP3", "CP2"], last_updated=later))
    stored = await ocpi_store.get_location("LOC1")
    assert stored is not None
    assert stored.name is None and stored.operator is None and stored.tariff_ids == []
    assert stored.charge_point_ids == ["CP2", "CP3"] and stored.last_updated == later
    assert await ocpi_store.location_of("CP1") is None


async def test_charge_point_moves_between_locations(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """Listing a charge point in another location moves it; the old location's last_updated is bumped."""
    await ocpi_store.save_location(_location("A", charge_point_ids=["CP1", "CP2"]))
    later = clock.advance(5)
    await ocpi_store.save_location(_location("B", charge_point_ids=["CP2"]))
    a = await ocpi_store.get_location("A")
    b = await ocpi_store.location_of("CP2")
    assert a is not None and a.charge_point_ids == ["CP1"] and a.last_updated == later
    assert b is not None and b.id == "B" and b.charge_point_ids == ["CP2"]


async def test_location_of_and_delete_location(ocpi_store: OcpiStore) -> None:
    """location_of finds a charge point's location; delete_location removes it with its links."""
    await ocpi_store.save_location(_location(charge_point_ids=["CP1"]))
    found = await ocpi_store.location_of("CP1")
    assert found is not None and found.id == "LOC1"
    assert await ocpi_store.location_of("CPX") is None
    await ocpi_store.delete_location("LOC1")
    await ocpi_store.delete_location("LOC1")  # unknown: nothing happens
    assert await ocpi_store.get_location("LOC1") is None
    assert await ocpi_store.location_of("CP1") is None
    await ocpi_store.save_location(_location("LOC2", charge_point_ids=["CP1"]))  # the charge point is free
    found = await ocpi_store.location_of("CP1")
    assert found is not None and found.id == "LOC2"


async def test_locations_of_finds_many_charge_points_locations_at_once(ocpi_store: OcpiStore) -> None:
    """locations_of maps each charge point in a location to it (with all its charge points) and leaves out
    those in none."""
    await ocpi_store.save_location(_location("A", charge_point_ids=["CP1", "CP2"]))
    await ocpi_store.save_location(_location("B", charge_point_ids=["CP3"]))
    found = await ocpi_store.locations_of(["CP1", "CP2", "CP3", "CPX", "CP1"])
    assert sorted(found) == ["CP1", "CP2", "CP3"]
    assert found["CP1"].id == found["CP2"].id == "A" and found["CP3"].id == "B"
    assert found["CP2"].charge_point_ids == ["CP1", "CP2"]
    assert await ocpi_store.locations_of([]) == {}


async def test_list_locations_orders_filters_and_pages(ocpi_store: OcpiStore) -> None:
    """list_locations orders by last_updated then id, applies date_from ≤ t < date_to, pages and counts."""
    times = [T0 + timedelta(minutes=m) for m in (3, 1, 2, 2)]
    for name, at in zip(("D", "A", "C", "B"), times, strict=True):
        await ocpi_store.save_location(_location(name, last_updated=at, charge_point_ids=[f"CP-{name}"]))
    page, total = await ocpi_store.list_locations()
    assert [loc.id for loc in page] == ["A", "B", "C", "D"] and total == 4
    assert page[0].charge_point_ids == ["CP-A"]
    page, total = await ocpi_store.list_locations(Pagination(offset=1, limit=2))
    assert [loc.id for loc in page] == ["B", "C"] and total == 4
    page, total = await ocpi_store.list_locations(
        Pagination(date_from=T0 + timedelta(minutes=2), date_to=T0 + timedelta(minutes=3))
    )
    assert [loc.id for loc in page] == ["B", "C"] and total == 2
    page, total = await ocpi_store.list_locations(Pagination(offset=10))
    assert page == [] and total == 4


async def test_list_locations_published_only(ocpi_store: OcpiStore) -> None:
    """published_only leaves out locations whose publish flag is false, also from the count."""
    await ocpi_store.save_location(_location("PUB"))
    await ocpi_store.save_location(_location("HIDDEN", publish=False))
    page, total = await ocpi_store.list_locations(published_only=True)
    assert [loc.id for loc in page] == ["PUB"] and total == 1
    _, total = await ocpi_store.list_locations()
    assert total == 2


# -- connector specs and EVSE uids ----------------------------------------------------------------------


async def test_connector_specs_upsert_and_list_in_order(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """save_connector_spec upserts by (charge point, evse, connector); list orders by evse then connector."""
    await ocpi_store.save_connector_spec(ConnectorSpec("CP1", 2, 1))
    await ocpi_store.save_connector_spec(ConnectorSpec("CP1", 1, 2, tariff_ids=["T1"]))
    await ocpi_store.save_connector_spec(ConnectorSpec("CP2", 1, 1))
    later = clock.advance(1)
    await ocpi_store.save_connector_spec(
        ConnectorSpec(
            "CP1",
            1,
            1,
            standard="IEC_62196_T2_COMBO",
            format="CABLE",
            power_type="DC",
            max_voltage=920,
            max_amperage=500,
            max_electric_power=350000,
            tariff_ids=["T1", "T2"],
        )
    )
    specs = await ocpi_store.list_connector_specs("CP1")
    assert [(s.evse_id, s.connector_id) for s in specs] == [(1, 1), (1, 2), (2, 1)]
    assert specs[0] == ConnectorSpec(
        "CP1", 1, 1, "IEC_62196_T2_COMBO", "CABLE", "DC", 920, 500, 350000, ["T1", "T2"], last_updated=later
    )
    assert specs[1].tariff_ids == ["T1"] and specs[1].last_updated == T0
    await ocpi_store.save_connector_spec(ConnectorSpec("CP1", 1, 2, max_amperage=16))
    specs = await ocpi_store.list_connector_specs("CP1")
    assert specs[1].max_amperage == 16 and specs[1].tariff_ids == [] and len(specs) == 3
    assert await ocpi_store.list_connector_specs("CPX") == []


async def test_evse_uid_is_created_once_and_found_back(ocpi_store: OcpiStore) -> None:
    """evse_uid creates a uuid4 on first use, returns the same one afterwards, and find_evse resolves it."""
    first = await ocpi_store.evse_uid("CP1", 1)
    assert uuid.UUID(first.uid).version == 4
    assert await ocpi_store.evse_uid("CP1", 1) == first
    other = await ocpi_store.evse_uid("CP1", 2)
    assert other.uid != first.uid
    assert await ocpi_store.find_evse(first.uid) == first
    assert await ocpi_store.find_evse(str(uuid.uuid4())) is None


async def test_concurrent_first_uses_agree_on_one_evse_uid(ocpi_store: OcpiStore) -> None:
    """Concurrent first calls of evse_uid for one EVSE all return the same uid."""
    results = await asyncio.gather(*(ocpi_store.evse_uid("CP9", 1) for _ in range(5)))
    assert len({r.uid for r in results}) == 1


# -- tariffs --------------------------------------------------------------------------------------------


async def test_tariff_round_trip_keeps_strings_and_numbers(ocpi_store: OcpiStore) -> None:
    """Tariff data round-trips: strings stay strings, numbers stay numbers, Decimals keep their value."""
    data = {
        "id": "T1",
        "currency": "EUR",
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": "0.2500", "vat": 21.0, "step_size": 1}]},
            {"price_components": [{"type": "TIME", "price": Decimal("2.0011"), "step_size": 60}]},
        ],
    }
    await ocpi_store.save_tariff(Tariff("T1", "EUR", data))
    stored = await ocpi_store.get_tariff("T1")
    assert stored is not None and stored.currency == "EUR" and stored.last_updated == T0
    energy = stored.data["elements"][0]["price_components"][0]
    assert energy == {"type": "ENERGY", "price": "0.2500", "vat": 21.0, "step_size": 1}
    time_price = stored.data["elements"][1]["price_components"][0]["price"]
    assert not isinstance(time_price, str) and Decimal(str(time_price)) == Decimal("2.0011")
    assert await ocpi_store.get_tariff("T2") is None


async def test_tariffs_replace_delete_and_list(ocpi_store: OcpiStore) -> None:
    """save_tariff replaces by id, delete_tariff removes, list_tariffs orders, filters and pages."""
    for tariff_id, minutes in (("B", 1), ("A", 1), ("C", 0)):
        at = T0 + timedelta(minutes=minutes)
        await ocpi_store.save_tariff(Tariff(tariff_id, "EUR", {"id": tariff_id}, last_updated=at))
    await ocpi_store.save_tariff(
        Tariff("C", "USD", {"id": "C", "x": 1}, last_updated=T0 + timedelta(minutes=2))
    )
    page, total = await ocpi_store.list_tariffs()
    assert [t.id for t in page] == ["A", "B", "C"] and total == 3
    assert page[2].currency == "USD" and page[2].data == {"id": "C", "x": 1}
    page, total = await ocpi_store.list_tariffs(Pagination(date_from=T0 + timedelta(minutes=2), limit=1))
    assert [t.id for t in page] == ["C"] and total == 1
    page, total = await ocpi_store.list_tariffs(
        Pagination(date_to=T0 + timedelta(minutes=2), offset=1, limit=5)
    )
    assert [t.id for t in page] == ["B"] and total == 2
    await ocpi_store.delete_tariff("A")
    await ocpi_store.delete_tariff("unknown")
    assert await ocpi_store.get_tariff("A") is None
    assert (await ocpi_store.list_tariffs())[1] == 2


# -- partner tokens -------------------------------------------------------------------------------------


async def test_partner_token_upsert_and_get(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """save_partner_token inserts or replaces by (country, party, uid, type); get finds it by that key."""
    await ocpi_store.save_partner_token(_token(partner_id=3, group_id="G1"))
    stored = await ocpi_store.get_partner_token("DE", "TNM", "012345678")
    assert stored == _token(partner_id=3, group_id="G1", last_updated=T0)
    later = clock.advance(30)
    await ocpi_store.save_partner_token(_token(valid=False, whitelist="NEVER", data={"valid": False}))
    stored = await ocpi_store.get_partner_token("DE", "TNM", "012345678", "RFID")
    assert stored is not None and not stored.valid and stored.whitelist == "NEVER"
    assert stored.data == {"valid": False} and stored.group_id is None and stored.last_updated == later
    assert await ocpi_store.get_partner_token("DE", "TNM", "012345678", "APP_USER") is None


async def test_find_partner_token_by_uid_prefers_the_newest(ocpi_store: OcpiStore) -> None:
    """find_partner_token finds a token by uid alone, the newest when several parties use the uid."""
    await ocpi_store.save_partner_token(_token(last_updated=T0))
    await ocpi_store.save_partner_token(_token(party_id="ABC", last_updated=T0 + timedelta(hours=1)))
    await ocpi_store.save_partner_token(_token(country_code="NL", last_updated=T0 - timedelta(hours=1)))
    found = await ocpi_store.find_partner_token("012345678")
    assert found is not None and found.party_id == "ABC"
    assert await ocpi_store.find_partner_token("unknown") is None


async def test_tokens_pulled_at_is_kept_per_partner(ocpi_store: OcpiStore) -> None:
    """The last token pull time of a partner is None until set, then the latest value set, per partner."""
    assert await ocpi_store.tokens_pulled_at(1) is None
    await ocpi_store.set_tokens_pulled_at(1, T0)
    await ocpi_store.set_tokens_pulled_at(2, T0 - timedelta(days=1))
    await ocpi_store.set_tokens_pulled_at(1, T0 + timedelta(hours=1))
    assert await ocpi_store.tokens_pulled_at(1) == T0 + timedelta(hours=1)
    assert await ocpi_store.tokens_pulled_at(2) == T0 - timedelta(days=1)


async def test_client_infos_upsert_get_and_list(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """save_client_info inserts or replaces by (country_code, party_id), stamping last_updated when None;
    list_client_infos returns them by (country_code, party_id)."""
    await ocpi_store.save_client_info(ClientInfo("NL", "EMS", "EMSP", "CONNECTED", partner_id=4))
    await ocpi_store.save_client_info(
        ClientInfo("DE", "ABC", "CPO", "PLANNED", last_updated=T0 - timedelta(hours=2))
    )
    later = clock.advance(30)
    await ocpi_store.save_client_info(ClientInfo("NL", "EMS", "EMSP", "OFFLINE", partner_id=4))
    assert await ocpi_store.get_client_info("NL", "EMS") == ClientInfo(
        "NL", "EMS", "EMSP", "OFFLINE", partner_id=4, last_updated=later
    )
    assert await ocpi_store.get_client_info("NL", "XXX") is None
    listed = await ocpi_store.list_client_infos()
    assert [(i.country_code, i.party_id, i.status, i.last_updated) for i in listed] == [
        ("DE", "ABC", "PLANNED", T0 - timedelta(hours=2)),
        ("NL", "EMS", "OFFLINE", later),
    ]


# -- session links --------------------------------------------------------------------------------------


async def test_session_link_round_trip_and_replace(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """save_session_link inserts or replaces by session_id; get_session_link returns every field."""
    link = SessionLink(
        session_id="R7",
        partner_id=1,
        reservation_id=7,
        auth_method="COMMAND",
        authorization_reference="REF-1",
        cdr_token={"uid": "012345678", "type": "RFID", "contract_id": "DE8ACC12E46L89"},
        tariff_id="T1",
    )
    await ocpi_store.save_session_link(link)
    stored = await ocpi_store.get_session_link("R7")
    link.last_updated = T0
    assert stored == link
    later = clock.advance(1)
    await ocpi_store.save_session_link(SessionLink("R7", None, transaction_pk=5, reservation_id=7))
    stored = await ocpi_store.get_session_link("R7")
    assert stored == SessionLink("R7", None, transaction_pk=5, reservation_id=7, last_updated=later)
    assert await ocpi_store.get_session_link("nope") is None


async def test_command_promises_are_settled_once(ocpi_store: OcpiStore) -> None:
    """add_command_promise stores an unsettled promise with an id; settle_command_promise succeeds once
    (the one caller that posts), and settled promises are no longer listed."""
    command = await ocpi_store.add_command_promise(
        CommandPromise(0, 1, "START_SESSION", "https://emsp/r/1", deadline=T0, correlation_id="c-1")
    )
    watch = await ocpi_store.add_command_promise(
        CommandPromise(0, 1, "RESERVE_NOW", "https://emsp/r/2", reservation_id=7, external_id="RES-7")
    )
    assert command.id != watch.id and command.settled_at is None and command.created_at is not None
    listed = await ocpi_store.list_command_promises()
    assert [(p.id, p.deadline, p.reservation_id, p.external_id) for p in listed] == [
        (command.id, T0, None, None),
        (watch.id, None, 7, "RES-7"),
    ]
    assert await ocpi_store.settle_command_promise(command.id, "TIMEOUT")
    assert not await ocpi_store.settle_command_promise(command.id, "ACCEPTED")
    assert not await ocpi_store.settle_command_promise(9999, "ACCEPTED")
    assert [p.id for p in await ocpi_store.list_command_promises()] == [watch.id]


async def test_pending_start_for_is_scoped_to_its_charge_point(ocpi_store: OcpiStore) -> None:
    """pending_start_for finds a pending start of a uid at its charge point only, with its EVSE."""
    await ocpi_store.add_pending_start(
        PendingStart(1, 1, "CP-A", "UID1", {}, None, until=T0 + timedelta(minutes=1), evse_id=2)
    )
    found = await ocpi_store.pending_start_for("UID1", T0, "CP-A")
    assert found is not None and found.evse_id == 2
    assert await ocpi_store.pending_start_for("UID1", T0, "CP-B") is None


async def test_find_session_link_by_transaction_or_reservation(ocpi_store: OcpiStore) -> None:
    """find_session_link matches every criterion given, the newest first, and None without criteria."""
    await ocpi_store.save_session_link(SessionLink("R7", 1, reservation_id=7, last_updated=T0))
    await ocpi_store.save_session_link(
        SessionLink("42", 1, transaction_pk=42, reservation_id=7, last_updated=T0 + timedelta(seconds=1))
    )
    by_tx = await ocpi_store.find_session_link(transaction_pk=42)
    by_reservation = await ocpi_store.find_session_link(reservation_id=7)
    assert by_tx is not None and by_tx.session_id == "42"
    assert by_reservation is not None and by_reservation.session_id == "42"
    assert await ocpi_store.find_session_link(transaction_pk=42, reservation_id=8) is None
    assert await ocpi_store.find_session_link(transaction_pk=43) is None
    assert await ocpi_store.find_session_link() is None


async def test_one_session_link_per_transaction(ocpi_store: OcpiStore) -> None:
    """A second session link for the same transaction_pk is refused with AlreadyExists."""
    await ocpi_store.save_session_link(SessionLink("42", 1, transaction_pk=42))
    with pytest.raises(AlreadyExists):
        await ocpi_store.save_session_link(SessionLink("43", 1, transaction_pk=42))
    await ocpi_store.save_session_link(SessionLink("44", 1))  # many links without a transaction are fine
    await ocpi_store.save_session_link(SessionLink("45", 1))


# -- CDRs -----------------------------------------------------------------------------------------------


async def test_cdr_round_trip_keeps_the_exact_total(ocpi_store: OcpiStore) -> None:
    """save_cdr then get_cdr gives back the data and the exact Decimal total cost."""
    data = {"id": "CDR1", "total_cost": {"excl_vat": Decimal("12.3456")}, "total_energy": 15.342}
    await ocpi_store.save_cdr(Cdr("CDR1", 42, data, Decimal("12.3456")))
    stored = await ocpi_store.get_cdr("CDR1")
    assert stored is not None and stored.transaction_pk == 42 and stored.last_updated == T0
    assert stored.total_cost_excl_vat == Decimal("12.3456") and str(stored.total_cost_excl_vat) == "12.3456"
    assert Decimal(str(stored.data["total_cost"]["excl_vat"])) == Decimal("12.3456")
    assert stored.data["total_energy"] == 15.342
    assert await ocpi_store.get_cdr("CDR2") is None


async def test_cdrs_are_immutable(ocpi_store: OcpiStore) -> None:
    """A second CDR with the same id raises AlreadyExists and leaves the stored one as it was."""
    await ocpi_store.save_cdr(Cdr("CDR1", 42, {}, Decimal("1")))
    with pytest.raises(AlreadyExists):
        await ocpi_store.save_cdr(Cdr("CDR1", 43, {}, Decimal("2")))
    stored = await ocpi_store.get_cdr("CDR1")
    assert stored is not None and stored.total_cost_excl_vat == Decimal("1") and stored.transaction_pk == 42


async def test_a_transaction_has_several_cdrs_saved_all_or_none(ocpi_store: OcpiStore) -> None:
    """A transaction may have several CDRs (a correction's credit and replacement); save_cdrs stores all of
    them or, when one id is taken, none; list_transaction_cdrs gives that transaction's, oldest first."""
    await ocpi_store.save_cdr(Cdr("42", 42, {}, Decimal("1"), last_updated=T0))
    await ocpi_store.save_cdr(Cdr("7", 7, {}, Decimal("1"), last_updated=T0))
    later = T0 + timedelta(minutes=1)
    with pytest.raises(AlreadyExists):
        await ocpi_store.save_cdrs([Cdr("42-C", 42, {}, Decimal("-1"), last_updated=later),
                                    Cdr("42", 42, {}, Decimal("2"), last_updated=later)])
    assert await ocpi_store.get_cdr("42-C") is None
    await ocpi_store.save_cdrs([Cdr("42-C", 42, {}, Decimal("-1"), last_updated=later),
                                Cdr("42-1", 42, {}, Decimal("2"), last_updated=later)])
    assert [c.id for c in await ocpi_store.list_transaction_cdrs(42)] == ["42", "42-1", "42-C"]
    assert [c.total_cost_excl_vat for c in await ocpi_store.list_transaction_cdrs(42)] == [1, 2, -1]
    assert await ocpi_store.list_transaction_cdrs(8) == []


async def test_list_cdrs_orders_filters_and_pages(ocpi_store: OcpiStore) -> None:
    """list_cdrs orders by last_updated then id, filters by date window, pages and counts."""
    for pk, (cdr_id, minutes) in enumerate((("C", 0), ("B", 5), ("A", 5), ("D", 9))):
        await ocpi_store.save_cdr(
            Cdr(cdr_id, pk, {"id": cdr_id}, Decimal("0"), last_updated=T0 + timedelta(minutes=minutes))
        )
    page, total = await ocpi_store.list_cdrs()
    assert [c.id for c in page] == ["C", "A", "B", "D"] and total == 4
    page, total = await ocpi_store.list_cdrs(
        Pagination(date_from=T0 + timedelta(minutes=5), offset=1, limit=1)
    )
    assert [c.id for c in page] == ["B"] and total == 3
    page, total = await ocpi_store.list_cdrs(Pagination(date_to=T0 + timedelta(minutes=5)))
    assert [c.id for c in page] == ["C"] and total == 1


# -- partner isolation (PartyScope) ---------------------------------------------------------------------


def _scope(partner_id: int = 1, *parties: tuple[str, str]) -> PartyScope:
    return PartyScope(partner_id, frozenset(parties or (("NL", "EMS"),)))


async def _owned_links(ocpi_store: OcpiStore) -> None:
    """Links of transactions 1-6: 1 of nl/ems (lower case), 2 of NL/TWO, 3 of DE/OTH, 4 a local token's (no
    cdr_token), 5 DE/OTH's token started by partner 1's command, 6 NL/EMS's then re-saved as DE/OTH's."""

    def token(cc: str, pid: str) -> dict[str, str]:
        return {"country_code": cc, "party_id": pid, "uid": "U", "type": "RFID", "contract_id": "C"}

    links = [
        SessionLink("1", None, transaction_pk=1, cdr_token=token("nl", "ems")),
        SessionLink("2", 7, transaction_pk=2, cdr_token=token("NL", "TWO")),
        SessionLink("3", 8, transaction_pk=3, cdr_token=token("DE", "OTH")),
        SessionLink("4", None, transaction_pk=4),
        SessionLink("5", 1, transaction_pk=5, auth_method="COMMAND", cdr_token=token("DE", "OTH")),
        SessionLink("6", None, transaction_pk=6, cdr_token=token("NL", "EMS")),
        SessionLink("R9", 1, reservation_id=9, cdr_token=token("NL", "EMS")),  # no transaction
    ]
    for link in links:
        await ocpi_store.save_session_link(link)
    links[5].cdr_token = token("DE", "OTH")
    await ocpi_store.save_session_link(links[5])


async def test_owned_session_transactions_follow_the_token_party_or_the_commanding_partner(
    ocpi_store: OcpiStore,
) -> None:
    """owned_session_transactions gives the transactions of the links whose token party (any case) is one
    of the scope's parties, or that the scope's partner started; never a link without a token of another
    partner, nor one whose token changed party since."""
    await _owned_links(ocpi_store)
    assert await ocpi_store.owned_session_transactions(_scope()) == [1, 5]
    assert await ocpi_store.owned_session_transactions(_scope(1, ("NL", "EMS"), ("NL", "TWO"))) == [1, 2, 5]
    assert await ocpi_store.owned_session_transactions(_scope(8, ("DE", "OTH"))) == [3, 5, 6]
    assert await ocpi_store.owned_session_transactions(_scope(99, ("FR", "XXX"))) == []


async def test_list_cdrs_of_a_scope_counts_and_pages_only_its_cdrs(ocpi_store: OcpiStore) -> None:
    """list_cdrs(scope=...) selects in the query the CDRs of the scope's sessions: the window, the order,
    offset/limit and the total count apply to those only; a CDR without a link is nobody's."""
    await _owned_links(ocpi_store)
    for pk in (1, 2, 3, 4, 5, 6, 7):  # 7 has no link
        cdr_id = f"C{pk}"
        await ocpi_store.save_cdr(
            Cdr(cdr_id, pk, {"id": cdr_id}, Decimal("0"), last_updated=T0 + timedelta(minutes=8 - pk))
        )
    page, total = await ocpi_store.list_cdrs(scope=_scope(1, ("NL", "EMS"), ("NL", "TWO")))
    assert [c.id for c in page] == ["C5", "C2", "C1"] and total == 3
    page, total = await ocpi_store.list_cdrs(Pagination(offset=1, limit=1), scope=_scope(8, ("DE", "OTH")))
    assert [c.id for c in page] == ["C5"] and total == 3
    page, total = await ocpi_store.list_cdrs(
        Pagination(date_from=T0 + timedelta(minutes=5)), scope=_scope(8, ("DE", "OTH"))
    )
    assert [c.id for c in page] == ["C3"] and total == 1
    assert await ocpi_store.list_cdrs(scope=_scope(99, ("FR", "XXX"))) == ([], 0)
    _, total = await ocpi_store.list_cdrs()
    assert total == 7


def test_party_scope_of_a_partner_holds_every_role() -> None:
    """PartyScope.of a partner: its own party and that of each CredentialsRole, in upper case."""
    partner = _partner(
        id=3,
        country_code="nl",
        roles=[
            {"role": "EMSP", "country_code": "DE", "party_id": "two"},
            {"role": "EMSP", "country_code": None, "party_id": "BAD"},
        ],
    )
    scope = PartyScope.of(partner)
    assert scope == PartyScope(3, frozenset({("NL", "EMS"), ("DE", "TWO")}))
    assert scope.owns_party("de", "Two") and not scope.owns_party("NL", "TWO")


# -- outbox ---------------------------------------------------------------------------------------------


async def test_add_outbox_assigns_increasing_ids(ocpi_store: OcpiStore) -> None:
    """add_outbox ignores the given id, assigns increasing ids, stamps created_at and stores the body."""
    first = await ocpi_store.add_outbox(_entry(id=77))
    second = await ocpi_store.add_outbox(_entry(body=None))
    assert first.id != 77 and second.id > first.id
    assert first.created_at == T0 and first.status == OutboxStatus.PENDING and first.attempts == 0
    listed = await ocpi_store.list_outbox()
    assert listed == [second, first]
    assert listed[1].body == {"id": "1", "kwh": 0.0} and listed[0].body is None


async def test_save_outbox_updates_delivery_state(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """save_outbox overwrites status, attempts, retry time, error and sent time; unknown ids: NotFound."""
    entry = await ocpi_store.add_outbox(_entry())
    entry.attempts = 3
    entry.next_attempt_at = T0 + timedelta(seconds=30)
    entry.last_error = "HTTP 503"
    await ocpi_store.save_outbox(entry)
    assert (await ocpi_store.list_outbox())[0] == entry
    entry.status = OutboxStatus.SENT
    entry.sent_at = clock.advance(40)
    entry.next_attempt_at = None
    await ocpi_store.save_outbox(entry)
    assert (await ocpi_store.list_outbox(status="sent")) == [entry]
    with pytest.raises(NotFound):
        await ocpi_store.save_outbox(_entry(id=entry.id + 1000))


async def test_due_outbox_delivers_one_object_in_order(ocpi_store: OcpiStore) -> None:
    """Only the oldest pending entry of each (partner, object) is due, and only once its retry time came."""
    a1 = await ocpi_store.add_outbox(_entry(1, "session:1"))
    a2 = await ocpi_store.add_outbox(_entry(1, "session:1", method="PATCH"))
    b1 = await ocpi_store.add_outbox(_entry(1, "session:2", next_attempt_at=T0 + timedelta(seconds=10)))
    c1 = await ocpi_store.add_outbox(_entry(2, "session:1"))
    assert [e.id for e in await ocpi_store.due_outbox(T0)] == [a1.id, c1.id]
    assert [e.id for e in await ocpi_store.due_outbox(T0 + timedelta(seconds=10))] == [a1.id, b1.id, c1.id]
    assert [e.id for e in await ocpi_store.due_outbox(T0 + timedelta(seconds=10), limit=2)] == [a1.id, b1.id]

    # The head is waiting for a retry: the entries behind it wait too (order per object).
    a1.next_attempt_at = T0 + timedelta(seconds=60)
    a1.attempts = 1
    await ocpi_store.save_outbox(a1)
    assert [e.id for e in await ocpi_store.due_outbox(T0)] == [c1.id]

    # Delivered (or given up): the next entry of that object becomes due.
    a1.status = OutboxStatus.SENT
    await ocpi_store.save_outbox(a1)
    c1.status = OutboxStatus.FAILED
    await ocpi_store.save_outbox(c1)
    due = await ocpi_store.due_outbox(T0)
    assert [e.id for e in due] == [a2.id] and due[0].method == "PATCH"


async def test_claim_outbox_takes_due_entries_for_one_node_until_its_claim_runs_out(
    ocpi_store: OcpiStore,
) -> None:
    """claim_outbox marks the due entries it returns as claimed by the node until `until`: they are due for
    nobody else (due_outbox, another claim) until then, and the entries behind a claimed head wait too."""
    a1 = await ocpi_store.add_outbox(_entry(1, "session:1"))
    await ocpi_store.add_outbox(_entry(1, "session:1", method="PATCH"))
    b1 = await ocpi_store.add_outbox(_entry(2, "session:1"))
    until = T0 + timedelta(seconds=120)
    claimed = await ocpi_store.claim_outbox(T0, 1, node_id="node-a", until=until)
    assert [(e.id, e.claimed_by, e.claimed_until) for e in claimed] == [(a1.id, "node-a", until)]
    assert [e.id for e in await ocpi_store.due_outbox(T0)] == [b1.id]
    assert [e.id for e in await ocpi_store.claim_outbox(T0, 10, node_id="node-b", until=until)] == [b1.id]
    assert await ocpi_store.claim_outbox(T0 + timedelta(seconds=119), 10, node_id="node-c", until=until) == []

    # The claims ran out (their processes died): another node takes the same entries, in order.
    later = until + timedelta(seconds=120)
    taken = await ocpi_store.claim_outbox(until, 10, node_id="node-c", until=later)
    assert [(e.id, e.claimed_by) for e in taken] == [(a1.id, "node-c"), (b1.id, "node-c")]
    listed = {e.id: e for e in await ocpi_store.list_outbox()}
    assert (listed[a1.id].claimed_by, listed[a1.id].claimed_until) == ("node-c", later)


async def test_claim_outbox_skips_partners_and_settling_or_releasing_ends_the_claim(
    ocpi_store: OcpiStore,
) -> None:
    """skip_partners leaves a partner's entries alone; save_outbox (settling) and release_outbox (by the
    claiming node only) end a claim, and the object's next entry becomes due once the head is settled."""
    a1 = await ocpi_store.add_outbox(_entry(1, "session:1"))
    a2 = await ocpi_store.add_outbox(_entry(1, "session:1", method="PATCH"))
    b1 = await ocpi_store.add_outbox(_entry(2, "session:1"))
    until = T0 + timedelta(seconds=120)
    claimed = await ocpi_store.claim_outbox(T0, 10, node_id="node-a", until=until, skip_partners=[2])
    assert [e.id for e in claimed] == [a1.id]
    [head] = claimed
    head.status, head.attempts = OutboxStatus.SENT, 1
    await ocpi_store.save_outbox(head)
    sent = (await ocpi_store.list_outbox(status="sent"))[0]
    assert (sent.id, sent.claimed_by, sent.claimed_until) == (a1.id, None, None)

    claimed = await ocpi_store.claim_outbox(T0, 10, node_id="node-a", until=until)
    assert [e.id for e in claimed] == [a2.id, b1.id]
    await ocpi_store.release_outbox([a2.id, b1.id], "node-b")  # not node-b's claims: nothing happens
    assert await ocpi_store.due_outbox(T0) == []
    await ocpi_store.release_outbox([a2.id, b1.id], "node-a")
    due = await ocpi_store.due_outbox(T0)
    assert [(e.id, e.claimed_by, e.claimed_until) for e in due] == [(a2.id, None, None), (b1.id, None, None)]
    await ocpi_store.release_outbox([], "node-a")


async def test_list_outbox_filters_by_status_and_partner(ocpi_store: OcpiStore) -> None:
    """list_outbox filters by status and partner, newest first, at most `limit` entries."""
    e1 = await ocpi_store.add_outbox(_entry(1))
    e2 = await ocpi_store.add_outbox(_entry(2))
    e3 = await ocpi_store.add_outbox(_entry(1, "session:2"))
    e3.status = OutboxStatus.FAILED
    await ocpi_store.save_outbox(e3)
    assert [e.id for e in await ocpi_store.list_outbox(partner_id=1)] == [e3.id, e1.id]
    assert [e.id for e in await ocpi_store.list_outbox(status="pending")] == [e2.id, e1.id]
    assert [e.id for e in await ocpi_store.list_outbox(status=OutboxStatus.FAILED, partner_id=1)] == [e3.id]
    assert [e.id for e in await ocpi_store.list_outbox(limit=1)] == [e3.id]
    assert await ocpi_store.list_outbox(partner_id=9) == []


# -- copies ---------------------------------------------------------------------------------------------


async def test_returned_objects_are_copies(ocpi_store: OcpiStore) -> None:
    """Changing an object after saving it, or one that was returned, changes nothing stored."""
    location = _location(facilities=["HOTEL"], charge_point_ids=["CP1"])
    await ocpi_store.save_location(location)
    location.facilities.append("CAFE")
    location.charge_point_ids.append("CP2")
    stored = await ocpi_store.get_location("LOC1")
    assert stored is not None
    stored.facilities.append("MALL")
    again = await ocpi_store.get_location("LOC1")
    assert again is not None and again.facilities == ["HOTEL"] and again.charge_point_ids == ["CP1"]


async def test_specs_and_evse_uids_of_many_charge_points(ocpi_store: OcpiStore) -> None:
    """list_connector_specs_of and evse_uids_for read many charge points at once (an OCPI page); evse_uids_for
    keeps the uids already given and creates the missing ones, as evse_uid does."""
    for cp in ("CP1", "CP2", "CP3"):
        await ocpi_store.save_connector_spec(ConnectorSpec(cp, 1, 1))
    await ocpi_store.save_connector_spec(ConnectorSpec("CP1", 2, 1))
    specs = await ocpi_store.list_connector_specs_of(["CP2", "CP1"])
    assert [(s.charge_point_id, s.evse_id) for s in specs] == [("CP1", 1), ("CP1", 2), ("CP2", 1)]
    first = await ocpi_store.evse_uid("CP1", 1)
    other = await ocpi_store.evse_uid("CP2", 1)
    await ocpi_store.evse_uid("CP3", 1)
    got = await ocpi_store.evse_uids_for([("CP2", 1), ("CP1", 2), ("CP1", 1), ("CP9", 3), ("CP1", 2)])
    assert [(u.charge_point_id, u.evse_id) for u in got] == [("CP1", 1), ("CP1", 2), ("CP2", 1), ("CP9", 3)]
    assert got[0] == first and got[2] == other and len({u.uid for u in got}) == 4
    assert got[1] == await ocpi_store.evse_uid("CP1", 2) and got[3] == await ocpi_store.find_evse(got[3].uid)
    assert await ocpi_store.evse_uids_for([("CP1", 2), ("CP9", 3)]) == [got[1], got[3]]
    assert await ocpi_store.evse_uids_for([]) == []


async def test_concurrent_first_uses_of_many_agree_on_evse_uids(ocpi_store: OcpiStore) -> None:
    """Concurrent evse_uids_for and evse_uid of the same new EVSEs all get the same uids."""
    keys = [("CP9", 1), ("CP9", 2), ("CP8", 1)]
    results = await asyncio.gather(
        *(ocpi_store.evse_uids_for(keys) for _ in range(4)), ocpi_store.evse_uid("CP9", 2)
    )
    batches = results[:4]
    assert all(batch == batches[0] for batch in batches) and batches[0][2] == results[4]


async def test_locations_tariffs_and_partners_are_scoped_by_organization(ocpi_store: OcpiStore) -> None:
    """Given an `org_id`, gets and lists of locations, tariffs and partners see only that organization's
    (totals count only those); pushes can be listed for some partners only."""
    await ocpi_store.save_location(_location("LOC-A", org_id="a"))
    await ocpi_store.save_location(_location("LOC-B", org_id="b"))
    await ocpi_store.save_tariff(Tariff(id="T-A", currency="EUR", data={}, org_id="a"))
    await ocpi_store.save_tariff(Tariff(id="T-B", currency="EUR", data={}, org_id="b"))
    pa = await ocpi_store.add_partner(_partner(org_id="a"))
    pb = await ocpi_store.add_partner(_partner(token_a_hash="b" * 64, org_id="b"))
    locations, total = await ocpi_store.list_locations(Pagination(), org_id="b")
    assert ([loc.id for loc in locations], total) == (["LOC-B"], 1)
    assert await ocpi_store.get_location("LOC-A", org_id="b") is None
    found = await ocpi_store.get_location("LOC-A", org_id="a")
    assert found is not None and found.org_id == "a"
    tariffs, total = await ocpi_store.list_tariffs(Pagination(), org_id="a")
    assert ([t.id for t in tariffs], total) == (["T-A"], 1)
    assert await ocpi_store.get_tariff("T-B", org_id="a") is None
    assert [p.id for p in await ocpi_store.list_partners(org_id="b")] == [pb.id]
    assert len(await ocpi_store.list_partners()) == 2
    stored = await ocpi_store.get_partner(pa.id)
    assert stored is not None and stored.org_id == "a"
    await ocpi_store.add_outbox(_entry(partner_id=pa.id))
    await ocpi_store.add_outbox(_entry(partner_id=pb.id))
    assert [e.partner_id for e in await ocpi_store.list_outbox(partner_ids=[pb.id])] == [pb.id]
    assert await ocpi_store.list_outbox(partner_ids=[]) == []


async def test_cdrs_are_listed_per_organization(ocpi_store: OcpiStore) -> None:
    """A CDR keeps the organization it was saved with; `list_cdrs(org_id=)` counts only that one's."""
    await ocpi_store.save_cdr(Cdr(id="C1", transaction_pk=1, data={}, total_cost_excl_vat=Decimal(0)))
    await ocpi_store.save_cdr(
        Cdr(id="C2", transaction_pk=2, data={}, total_cost_excl_vat=Decimal(0), org_id="b")
    )
    found, total = await ocpi_store.list_cdrs(Pagination(), org_id="b")
    assert ([(c.id, c.org_id) for c in found], total) == ([("C2", "b")], 1)
    assert (await ocpi_store.list_cdrs(Pagination()))[1] == 2
    stored = await ocpi_store.get_cdr("C1")
    assert stored is not None and stored.org_id == "default"
