"""The `Store` protocol's contract, run against every backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from csms.domain.models import (
    BootInfo,
    ChargePoint,
    ConnectorStatus,
    Direction,
    FrameRecord,
    IdToken,
    MeterReading,
    MeterSample,
    NewTransaction,
    RegistrationStatus,
    SignedMeterValue,
    StatusChange,
    TokenStatus,
    TransactionStatus,
)
from csms.domain.ports import (
    AlreadyExists,
    BatchItem,
    HeartbeatSeen,
    NotFound,
    Pagination,
    StationFieldsChanged,
    Store,
    TransactionEventSeen,
    TransactionMeterChanged,
)
from csms.store.sql import SqlStore
from csms.store.tables import StatusHistoryRow
from tests.fakes.memory_store import MemoryStore

from .conftest import T0, FakeClock

CEST = timezone(timedelta(hours=2))


def at(seconds: float) -> datetime:
    """T0 plus `seconds`, in UTC."""
    return T0 + timedelta(seconds=seconds)


def assert_utc(*values: datetime | None) -> None:
    """Every non-None value is timezone-aware and in UTC."""
    for v in values:
        if v is not None:
            assert v.tzinfo is not None and v.utcoffset() == timedelta(0), v


async def add_cp(store: Store, charge_point_id: str, **fields: Any) -> ChargePoint:
    return await store.add_charge_point(ChargePoint(charge_point_id=charge_point_id, **fields))


def new_tx(cp: str = "CP1", evse: int = 1, *, ocpp_id: str | None = None, **fields: Any) -> NewTransaction:
    return NewTransaction(
        charge_point_id=cp,
        evse_id=evse,
        connector_id=1,
        started_at=fields.pop("started_at", T0),
        ocpp_transaction_id=ocpp_id,
        **fields,
    )


def frame(cp: str, n: int, when: datetime = T0) -> FrameRecord:
    return FrameRecord(
        charge_point_id=cp,
        direction=Direction.IN if n % 2 else Direction.OUT,
        message_type=2,
        message_id=f"m{n}",
        action="Heartbeat",
        frame=f'[2,"m{n}","Heartbeat",{{}}]',
        at=when,
    )


async def history(store: Store) -> list[tuple[Any, ...]]:
    """The status history as (cp, evse, connector, status, detail, timestamp, received_at), oldest first."""
    if isinstance(store, MemoryStore):
        return [
            (
                e.change.charge_point_id,
                e.change.evse_id,
                e.change.connector_id,
                str(e.change.status),
                e.change.status_detail,
                e.change.timestamp,
                e.received_at,
            )
            for e in store.status_history
        ]
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as conn:
        rows = (await conn.execute(select(StatusHistoryRow.__table__).order_by(StatusHistoryRow.id))).all()
    return [
        (r.charge_point_id, r.evse_id, r.connector_id, r.status, r.detail, r.timestamp, r.received_at)
        for r in rows
    ]


# -- charge points -----------------------------------------------------------------------------------


async def test_add_and_get_charge_point(store: Store) -> None:
    """A new charge point is returned as stored with UTC created/updated times and reads back equal."""
    added = await add_cp(store, "CP1", registration_status=RegistrationStatus.PENDING, password_hash="h")
    assert added.created_at == T0 and added.updated_at == T0
    got = await store.get_charge_point("CP1")
    assert got == added
    assert got is not None and got.registration_status is RegistrationStatus.PENDING
    assert_utc(got.created_at, got.updated_at)
    assert await store.get_charge_point("nope") is None


async def test_add_charge_point_twice_raises_already_exists(store: Store) -> None:
    """Adding a charge point id that is already registered raises AlreadyExists and keeps the first."""
    await add_cp(store, "CP1", vendor="first")
    with pytest.raises(AlreadyExists):
        await add_cp(store, "CP1", vendor="second")
    got = await store.get_charge_point("CP1")
    assert got is not None and got.vendor == "first"


async def test_update_charge_point_overwrites_registration_and_boot_fields(
    store: Store, clock: FakeClock
) -> None:
    """update_charge_point writes status, password and boot fields but leaves the batched columns alone."""
    cp = await add_cp(store, "CP1")
    await store.apply_batch(
        [HeartbeatSeen("CP1", at(5)), StationFieldsChanged("CP1", {"firmware_status": "Idle"})]
    )
    stale = cp  # read before the heartbeat: its last_heartbeat_at/firmware_status are None
    stale.registration_status = RegistrationStatus.REJECTED
    stale.password_hash = "new-hash"
    stale.vendor = "ACME"
    stale.firmware_version = "2.0"
    clock.advance(60)
    await store.update_charge_point(stale)
    got = await store.get_charge_point("CP1")
    assert got is not None
    assert (got.registration_status, got.password_hash, got.vendor, got.firmware_version) == (
        RegistrationStatus.REJECTED,
        "new-hash",
        "ACME",
        "2.0",
    )
    assert got.last_heartbeat_at == at(5) and got.firmware_status == "Idle"
    assert got.updated_at == at(60) and got.created_at == T0


async def test_charge_points_changed_since_page_by_id(store: Store) -> None:
    """list_charge_points_changed keeps those stamped at or after `since`, by id; `after` and `limit` page
    through them."""
    old = datetime(2026, 1, 1, tzinfo=UTC)
    new = old + timedelta(hours=1)
    for cp, at in (("CP3", new), ("CP1", new), ("CP2", old), ("CP4", new)):
        await add_cp(store, cp, updated_at=at)
    changed = await store.list_charge_points_changed(new)
    assert [cp.charge_point_id for cp in changed] == ["CP1", "CP3", "CP4"]
    first = await store.list_charge_points_changed(new, limit=2)
    rest = await store.list_charge_points_changed(new, after=first[-1].charge_point_id, limit=2)
    assert [cp.charge_point_id for cp in first + rest] == ["CP1", "CP3", "CP4"]


async def test_update_unknown_charge_point_raises_not_found(store: Store) -> None:
    """update_charge_point of an unregistered id raises NotFound."""
    with pytest.raises(NotFound):
        await store.update_charge_point(ChargePoint(charge_point_id="ghost"))


async def test_record_boot_stores_boot_data_version_and_time(store: Store) -> None:
    """record_boot stores the BootNotification fields, OCPP version and last_boot_at (in UTC)."""
    await add_cp(store, "CP1", serial_number="old-serial")
    boot = BootInfo(vendor="ACME", model="X1", firmware_version="1.2.3", iccid="8901", reason="PowerUp")
    await store.record_boot("CP1", "2.0.1", boot, datetime(2024, 5, 1, 14, 0, tzinfo=CEST))
    got = await store.get_charge_point("CP1")
    assert got is not None
    assert (got.vendor, got.model, got.firmware_version, got.iccid, got.boot_reason) == (
        "ACME",
        "X1",
        "1.2.3",
        "8901",
        "PowerUp",
    )
    assert got.serial_number is None  # the station did not send one this time
    assert got.ocpp_version == "2.0.1"
    assert got.last_boot_at == T0
    assert_utc(got.last_boot_at)
    with pytest.raises(NotFound):
        await store.record_boot("ghost", "1.6", boot, T0)


async def test_list_charge_points_pages_by_id(store: Store) -> None:
    """Charge points page in id order; each page's cursor leads to the next and the last page has none."""
    for cp in ["CP3", "CP1", "CP5", "CP2", "CP4"]:
        await add_cp(store, cp)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = await store.list_charge_points(limit=2, cursor=cursor)
        pages += 1
        assert len(page) <= 2
        seen += [cp.charge_point_id for cp in page]
        if cursor is None:
            break
    assert seen == ["CP1", "CP2", "CP3", "CP4", "CP5"] and pages == 3
    page, cursor = await store.list_charge_points(limit=5)
    assert len(page) == 5 and cursor is None  # exactly `limit` left: no dangling cursor
    assert await store.list_charge_points(limit=3, cursor="CP5") == ([], None)


async def test_list_rejects_bad_limit_and_cursor(store: Store) -> None:
    """A limit below 1 or a newest-first cursor that is not an id raises ValueError."""
    with pytest.raises(ValueError):
        await store.list_charge_points(limit=0)
    with pytest.raises(ValueError):
        await store.list_transactions(limit=10, cursor="not-an-id")
    with pytest.raises(ValueError):
        await store.list_frames("CP1", limit=10, cursor="x")


# -- id tokens ----------------------------------------------------------------------------------------


async def test_id_tokens_add_get_duplicate_and_pages(store: Store) -> None:
    """Tokens round-trip with UTC times, a duplicate raises AlreadyExists, lists page by id_token."""
    expiry = datetime(2025, 1, 1, 2, 0, tzinfo=CEST)
    added = await store.add_id_token(
        IdToken(id_token="TAG-B", status=TokenStatus.BLOCKED, expiry_date=expiry, group_id_token="GRP")
    )
    assert added.created_at == T0
    got = await store.get_id_token("TAG-B")
    assert got == added and got is not None
    assert got.expiry_date == expiry and got.status is TokenStatus.BLOCKED and got.type == "ISO14443"
    assert_utc(got.expiry_date, got.created_at, got.updated_at)
    assert await store.get_id_token("nope") is None
    with pytest.raises(AlreadyExists):
        await store.add_id_token(IdToken(id_token="TAG-B"))
    for tag in ["TAG-C", "TAG-A"]:
        await store.add_id_token(IdToken(id_token=tag))
    page1, cursor = await store.list_id_tokens(limit=2)
    assert [t.id_token for t in page1] == ["TAG-A", "TAG-B"] and cursor == "TAG-B"
    page2, cursor = await store.list_id_tokens(limit=2, cursor=cursor)
    assert [t.id_token for t in page2] == ["TAG-C"] and cursor is None


# -- transactions -------------------------------------------------------------------------------------


async def test_add_transaction_16_uses_str_id_as_ocpp_id(store: Store) -> None:
    """A 1.6 transaction (no ocpp id) gets an integer id and ocpp_transaction_id == str(id)."""
    await add_cp(store, "CP1")
    tx1 = await store.add_transaction(new_tx(id_token="TAG", meter_start_wh=1000))
    tx2 = await store.add_transaction(new_tx(evse=2))
    assert isinstance(tx1.id, int) and tx2.id > tx1.id
    assert tx1.ocpp_transaction_id == str(tx1.id) and tx2.ocpp_transaction_id == str(tx2.id)
    assert tx1.status is TransactionStatus.ACTIVE and tx1.meter_start_wh == 1000
    assert await store.get_transaction(tx1.id) == tx1
    assert await store.find_transaction("CP1", str(tx2.id)) == tx2
    assert await store.get_transaction(999_999) is None


async def test_add_transaction_201_keeps_station_id_and_rejects_duplicates(store: Store) -> None:
    """A 2.0.1 transaction keeps the station's id; the same id on the same station raises AlreadyExists."""
    await add_cp(store, "CP1")
    await add_cp(store, "CP2")
    tx = await store.add_transaction(new_tx(ocpp_id="abc-123"))
    assert tx.ocpp_transaction_id == "abc-123"
    with pytest.raises(AlreadyExists):
        await store.add_transaction(new_tx(ocpp_id="abc-123"))
    other = await store.add_transaction(new_tx("CP2", ocpp_id="abc-123"))  # another station may reuse it
    assert await store.find_transaction("CP1", "abc-123") == tx
    assert await store.find_transaction("CP2", "abc-123") == other
    assert await store.find_transaction("CP1", "missing") is None


async def test_add_transaction_with_seq_no_records_the_event(store: Store) -> None:
    """With seq_no set, add_transaction records that seqNo, so the same seqNo is then a duplicate."""
    await add_cp(store, "CP1")
    tx = await store.add_transaction(new_tx(ocpp_id="t-1", seq_no=0))
    assert tx.last_seq_no == 0
    assert await store.add_transaction_event(tx.id, 0, "Started", "Authorized", T0) is False
    assert await store.add_transaction_event(tx.id, 1, "Updated", "MeterValuePeriodic", at(60)) is True


async def test_add_transaction_event_detects_duplicates_per_transaction(store: Store) -> None:
    """A seqNo is new once per transaction: the repeat returns False, another transaction may use it."""
    await add_cp(store, "CP1")
    a = await store.add_transaction(new_tx(ocpp_id="a"))
    b = await store.add_transaction(new_tx(ocpp_id="b"))
    assert await store.add_transaction_event(a.id, 5, "Updated", None, T0) is True
    assert await store.add_transaction_event(a.id, 5, "Updated", None, T0) is False
    assert await store.add_transaction_event(b.id, 5, "Updated", None, T0) is True
    with pytest.raises(NotFound):
        await store.add_transaction_event(999_999, 1, "Updated", None, T0)


async def test_batched_seq_nos_are_recorded_once_and_listed(store: Store) -> None:
    """TransactionEventSeen items record seqNos (repeats and unknown transactions ignored); they list back."""
    await add_cp(store, "CP1")
    tx = await store.add_transaction(new_tx(ocpp_id="batched", seq_no=0))
    await store.apply_batch(
        [
            TransactionEventSeen(tx.id, 1, "Updated", "MeterValuePeriodic", at(60)),
            TransactionEventSeen(tx.id, 1, "Updated", "MeterValuePeriodic", at(60)),
            TransactionEventSeen(tx.id, 0, "Started", "Authorized", T0),
            TransactionEventSeen(999_999, 1, "Updated", None, T0),
        ]
    )
    await store.apply_batch([TransactionEventSeen(tx.id, 2, "Ended", "StopAuthorized", at(120))])
    assert await store.list_transaction_seq_nos(tx.id) == {0, 1, 2}
    assert await store.list_transaction_seq_nos(999_999) == set()


async def test_find_started_transaction_matches_exact_start(store: Store) -> None:
    """find_started_transaction matches station, EVSE, exact start (any zone) and token, incl. no token."""
    await add_cp(store, "CP1")
    started = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    with_tag = await store.add_transaction(new_tx(started_at=started, id_token="TAG"))
    no_tag = await store.add_transaction(new_tx(evse=2, started_at=started))
    same_instant_cest = started.astimezone(CEST)
    assert await store.find_started_transaction("CP1", 1, same_instant_cest, "TAG") == with_tag
    assert await store.find_started_transaction("CP1", 2, started, None) == no_tag
    assert await store.find_started_transaction("CP1", 1, started, None) is None
    assert await store.find_started_transaction("CP1", 1, started, "OTHER") is None
    assert await store.find_started_transaction("CP1", 1, started + timedelta(microseconds=1), "TAG") is None
    assert await store.find_started_transaction("CP2", 1, started, "TAG") is None


async def test_save_transaction_writes_stop_data(store: Store, clock: FakeClock) -> None:
    """save_transaction persists stop data, meters, state and seq_no; unknown ids raise NotFound."""
    await add_cp(store, "CP1")
    tx = await store.add_transaction(new_tx(ocpp_id="t", meter_start_wh=1_000, id_token="TAG"))
    tx.status = TransactionStatus.COMPLETED
    tx.meter_stop_wh = 3_000_000_123  # beyond 32 bits: a lifetime register in Wh
    tx.last_meter_wh = 3_000_000_000
    tx.stopped_at = datetime(2024, 5, 1, 15, 0, tzinfo=CEST)
    tx.stop_reason = "Local"
    tx.stop_id_token = "TAG"
    tx.charging_state = "Idle"
    tx.last_seq_no = 7
    tx.offline = True
    clock.advance(3600)
    await store.save_transaction(tx)
    assert tx.updated_at == at(3600)
    got = await store.get_transaction(tx.id)
    assert got == tx
    assert got is not None and got.stopped_at == at(3600) and got.energy_wh == 3_000_000_123 - 1_000
    assert_utc(got.started_at, got.stopped_at, got.updated_at)
    tx.id = 999_999
    with pytest.raises(NotFound):
        await store.save_transaction(tx)


async def test_list_transactions_newest_first_with_cursor_and_filters(store: Store) -> None:
    """Transactions list newest first (by id) across pages, filtered by station and status."""
    await add_cp(store, "CP1")
    await add_cp(store, "CP2")
    ids = []
    for i in range(5):
        tx = await store.add_transaction(new_tx("CP1" if i % 2 == 0 else "CP2", ocpp_id=f"t{i}"))
        ids.append(tx.id)
    done = await store.get_transaction(ids[2])
    assert done is not None
    done.status = TransactionStatus.COMPLETED
    await store.save_transaction(done)

    seen: list[int] = []
    cursor: str | None = None
    while True:
        page, cursor = await store.list_transactions(limit=2, cursor=cursor)
        assert len(page) <= 2
        seen += [t.id for t in page]
        if cursor is None:
            break
    assert seen == ids[::-1]

    page, cursor = await store.list_transactions(charge_point_id="CP1", limit=10)
    assert [t.id for t in page] == [ids[4], ids[2], ids[0]] and cursor is None
    page, _ = await store.list_transactions(status=TransactionStatus.ACTIVE, limit=10)
    assert [t.id for t in page] == [ids[4], ids[3], ids[1], ids[0]]
    page, _ = await store.list_transactions(
        charge_point_id="CP1", status=TransactionStatus.COMPLETED, limit=10
    )
    assert [t.id for t in page] == [ids[2]]
    page, cursor = await store.list_transactions(charge_point_id="CP1", limit=1, cursor=str(ids[4]))
    assert [t.id for t in page] == [ids[2]] and cursor == str(ids[2])


async def test_list_active_transactions_of_one_station(store: Store) -> None:
    """list_active_transactions returns only the station's active transactions, oldest first."""
    await add_cp(store, "CP1")
    await add_cp(store, "CP2")
    a = await store.add_transaction(new_tx(ocpp_id="a"))
    b = await store.add_transaction(new_tx(evse=2, ocpp_id="b"))
    await store.add_transaction(new_tx("CP2", ocpp_id="c"))
    b.status = TransactionStatus.COMPLETED
    await store.save_transaction(b)
    c = await store.add_transaction(new_tx(evse=3, ocpp_id="d"))
    assert [t.id for t in await store.list_active_transactions("CP1")] == [a.id, c.id]
    assert await store.list_active_transactions("nobody") == []


# -- meter samples ------------------------------------------------------------------------------------


async def test_meter_samples_round_trip_exact_decimals_in_time_order(store: Store) -> None:
    """Samples come back exactly (Decimal, unit, phase, signed form), in time order then insertion order."""
    signed = SignedMeterValue("T0NNRnx7fXx7fQ==", "OCMF", "ECDSA-secp256r1-SHA256", "3059301306")
    await add_cp(store, "CP1")
    tx = await store.add_transaction(new_tx(ocpp_id="t"))
    values = [Decimal("12345.678"), Decimal("1E+3"), Decimal("0.000001"), Decimal("-5.50"), Decimal("230.0")]
    late = MeterSample(timestamp=at(120), value=values[0])
    early_a = MeterSample(
        timestamp=datetime(2024, 5, 1, 14, 1, tzinfo=CEST),
        value=values[1],
        measurand="Voltage",
        unit="V",
        phase="L1-N",
        context="Sample.Periodic",
        location="Outlet",
        multiplier=-1,
        signed_data=signed,
    )
    early_b = MeterSample(timestamp=at(60), value=values[2], measurand="Current.Import", unit="A", phase="L2")
    early_c = MeterSample(timestamp=at(60), value=values[3], measurand="Power.Active.Import", unit="kW")
    await store.apply_batch(
        [
            MeterReading("CP1", 1, [late, early_a], transaction_pk=tx.id),
            MeterReading(
                "CP1",
                1,
                [early_b, early_c, MeterSample(timestamp=at(180), value=values[4])],
                transaction_pk=tx.id,
            ),
            MeterReading("CP1", 1, [MeterSample(timestamp=at(1), value=Decimal(1))]),  # no transaction
        ]
    )
    got = await store.list_meter_samples(tx.id)
    assert [s.value for s in got] == [values[1], values[2], values[3], values[0], values[4]]
    assert [str(s.value) for s in got] == ["1E+3", "0.000001", "-5.50", "12345.678", "230.0"]
    assert got[0] == MeterSample(
        timestamp=at(60),
        value=Decimal("1E+3"),
        measurand="Voltage",
        unit="V",
        phase="L1-N",
        context="Sample.Periodic",
        location="Outlet",
        multiplier=-1,
        signed_data=signed,
    )
    assert_utc(*(s.timestamp for s in got))
    assert await store.list_meter_samples(999_999) == []


async def test_signed_samples_keep_their_signed_form_and_list_alone(store: Store) -> None:
    """Signed samples come back with their signed form, listed alone in time order; unsigned have none."""
    await add_cp(store, "CP1")
    tx = await store.add_transaction(new_tx(ocpp_id="t"))
    other = await store.add_transaction(new_tx(ocpp_id="u"))
    end = SignedMeterValue("ZW5k", "EDL", "ECDSA-brainpool256r1-SHA256", "a" * 2500)
    start = SignedMeterValue("T0NNRnx7IlJEIjpbXX18eyJTRCI6IuKCrCJ9", "OCMF")  # 1.6: only data and encoding
    await store.apply_batch(
        [
            MeterReading(
                "CP1",
                1,
                [
                    MeterSample(timestamp=at(300), value=Decimal("1500.5"), signed_data=end),
                    MeterSample(timestamp=at(200), value=Decimal(1200)),
                    MeterSample(timestamp=at(100), value=Decimal(1000), signed_data=start),
                ],
                transaction_pk=tx.id,
            ),
            MeterReading(
                "CP1", 1, [MeterSample(at(150), Decimal(7), signed_data=start)], transaction_pk=other.id
            ),
        ]
    )
    got = await store.list_signed_samples(tx.id)
    assert [(s.value, s.signed_data) for s in got] == [(Decimal(1000), start), (Decimal("1500.5"), end)]
    assert [s.signed for s in await store.list_meter_samples(tx.id)] == [True, False, True]
    assert await store.list_signed_samples(999_999) == []


# -- message log --------------------------------------------------------------------------------------


async def test_list_frames_newest_first_per_station_with_cursor(store: Store) -> None:
    """Frames of one station list newest first across pages; other stations' frames are not included."""
    await add_cp(store, "CP1")
    await add_cp(store, "CP2")
    await store.apply_batch([frame("CP1" if n % 3 else "CP2", n, at(n)) for n in range(1, 10)])
    expected = [n for n in range(9, 0, -1) if n % 3]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = await store.list_frames("CP1", limit=4, cursor=cursor)
        assert len(page) <= 4
        seen += [f.message_id for f in page]
        if cursor is None:
            break
    assert seen == [f"m{n}" for n in expected]
    first, _ = await store.list_frames("CP1", limit=1)
    assert first == [frame("CP1", 8, at(8))]
    assert_utc(first[0].at)
    assert await store.list_frames("nobody", limit=5) == ([], None)


async def test_purge_frames_deletes_only_older_frames(store: Store) -> None:
    """purge_frames deletes frames logged strictly before the cut-off and returns how many."""
    await add_cp(store, "CP1")
    await store.apply_batch([frame("CP1", n, at(n)) for n in range(10)])
    assert await store.purge_frames(at(4).astimezone(CEST)) == 4
    page, _ = await store.list_frames("CP1", limit=100)
    assert [f.message_id for f in page] == [f"m{n}" for n in range(9, 3, -1)]
    assert await store.purge_frames(at(0)) == 0


# -- API keys -----------------------------------------------------------------------------------------


async def test_api_keys_add_find_and_unique_prefix(store: Store) -> None:
    """An API key is found by prefix with its hash and role; a second key with the prefix raises."""
    key = await store.add_api_key("ops", "abc123", "$2b$12$hash", "admin")
    assert isinstance(key.id, int) and key.created_at == T0
    assert await store.find_api_key("abc123") == key
    assert await store.find_api_key("zzz") is None
    with pytest.raises(AlreadyExists):
        await store.add_api_key("other", "abc123", "h2", "viewer")
    second = await store.add_api_key("ro", "def456", "h3", "viewer")
    assert second.id != key.id and second.role == "viewer"


# -- apply_batch --------------------------------------------------------------------------------------


async def test_apply_batch_applies_every_item_kind(store: Store, clock: FakeClock) -> None:
    """One batch applies heartbeats, station fields, statuses, samples, transaction meters and frames."""
    await add_cp(store, "CP1")
    tx = await store.add_transaction(new_tx(ocpp_id="t", meter_start_wh=100))
    clock.advance(10)
    items: list[BatchItem] = [
        HeartbeatSeen("CP1", at(1)),
        StationFieldsChanged("CP1", {"firmware_status": "Downloading", "log_status": "Uploading"}),
        StatusChange("CP1", 1, 1, ConnectorStatus.OCCUPIED, at(2), status_detail="Charging", info="plugged"),
        MeterReading("CP1", 1, [MeterSample(timestamp=at(3), value=Decimal("150.5"))], transaction_pk=tx.id),
        TransactionMeterChanged(tx.id, 150, "Charging", at(3)),
        frame("CP1", 1, at(4)),
    ]
    await store.apply_batch(items)

    cp = await store.get_charge_point("CP1")
    assert cp is not None
    assert cp.last_heartbeat_at == at(1)
    assert (cp.firmware_status, cp.log_status, cp.diagnostics_status) == ("Downloading", "Uploading", None)
    connectors = await store.list_connectors("CP1")
    assert len(connectors) == 1
    c = connectors[0]
    assert (c.evse_id, c.connector_id, c.status, c.status_detail, c.info, c.status_at) == (
        1,
        1,
        ConnectorStatus.OCCUPIED,
        "Charging",
        "plugged",
        at(2),
    )
    assert await history(store) == [("CP1", 1, 1, "Occupied", "Charging", at(2), at(10))]
    assert [s.value for s in await store.list_meter_samples(tx.id)] == [Decimal("150.5")]
    got = await store.get_transaction(tx.id)
    assert got is not None
    assert (got.last_meter_wh, got.charging_state, got.updated_at, got.energy_wh) == (
        150,
        "Charging",
        at(3),
        50,
    )
    frames, _ = await store.list_frames("CP1", limit=10)
    assert frames == [frame("CP1", 1, at(4))]


async def test_apply_batch_skips_unknown_charge_points_and_transactions(store: Store) -> None:
    """Items of unknown stations or transactions are skipped without failing the rest of the batch."""
    await add_cp(store, "CP1")
    tx = await store.add_transaction(new_tx(ocpp_id="t"))
    await store.apply_batch(
        [
            HeartbeatSeen("ghost", at(1)),
            StationFieldsChanged("ghost", {"firmware_status": "Installed"}),
            StatusChange("ghost", 1, 1, ConnectorStatus.FAULTED, at(1)),
            MeterReading("ghost", 1, [MeterSample(timestamp=at(1), value=Decimal(1))]),
            MeterReading("CP1", 1, [MeterSample(timestamp=at(1), value=Decimal(2))], transaction_pk=999_999),
            TransactionMeterChanged(999_999, 5, "EVConnected", at(1)),
            frame("ghost", 1),
            # the known ones around them still land
            StatusChange("CP1", 1, 1, ConnectorStatus.AVAILABLE, at(2)),
            MeterReading("CP1", 1, [MeterSample(timestamp=at(2), value=Decimal(3))], transaction_pk=tx.id),
            frame("CP1", 2),
            HeartbeatSeen("CP1", at(3)),
        ]
    )
    assert await store.get_charge_point("ghost") is None
    assert await store.list_connectors("ghost") == []
    assert [c.status for c in await store.list_connectors("CP1")] == [ConnectorStatus.AVAILABLE]
    assert [h[0] for h in await history(store)] == ["CP1"]
    assert [s.value for s in await store.list_meter_samples(tx.id)] == [Decimal(3)]
    assert await store.list_frames("ghost", limit=5) == ([], None)
    assert len((await store.list_frames("CP1", limit=5))[0]) == 1
    cp = await store.get_charge_point("CP1")
    assert cp is not None and cp.last_heartbeat_at == at(3)


async def test_apply_batch_coalesces_heartbeats_to_newest(store: Store) -> None:
    """Several heartbeats of a station in one batch leave the newest time, whatever their order."""
    await add_cp(store, "CP1")
    await add_cp(store, "CP2")
    await store.apply_batch(
        [
            HeartbeatSeen("CP1", at(10)),
            HeartbeatSeen("CP2", at(5)),
            HeartbeatSeen("CP1", at(30).astimezone(CEST)),
            HeartbeatSeen("CP1", at(20)),
        ]
    )
    cp1, cp2 = await store.get_charge_point("CP1"), await store.get_charge_point("CP2")
    assert cp1 is not None and cp1.last_heartbeat_at == at(30)
    assert cp2 is not None and cp2.last_heartbeat_at == at(5)
    assert_utc(cp1.last_heartbeat_at)


async def test_apply_batch_status_changes_last_wins_and_history_keeps_all(store: Store) -> None:
    """Several status changes of one connector: the row holds the last, the history all, in order."""
    await add_cp(store, "CP1")
    await store.apply_batch([StatusChange("CP1", 1, 1, ConnectorStatus.AVAILABLE, at(1))])
    await store.apply_batch(
        [
            StatusChange("CP1", 1, 1, ConnectorStatus.OCCUPIED, at(2), status_detail="Preparing"),
            StatusChange("CP1", 2, 1, ConnectorStatus.UNAVAILABLE, at(2)),
            StatusChange("CP1", 0, 0, ConnectorStatus.AVAILABLE, at(2)),
            StatusChange(
                "CP1",
                1,
                1,
                ConnectorStatus.OCCUPIED,
                at(3),
                status_detail="Charging",
                error_code="NoError",
                vendor_id="acme",
                vendor_error_code="E0",
            ),
        ]
    )
    connectors = await store.list_connectors("CP1")
    assert [(c.evse_id, c.connector_id, c.status) for c in connectors] == [
        (0, 0, ConnectorStatus.AVAILABLE),
        (1, 1, ConnectorStatus.OCCUPIED),
        (2, 1, ConnectorStatus.UNAVAILABLE),
    ]
    c = connectors[1]
    assert (c.status_detail, c.error_code, c.vendor_id, c.vendor_error_code, c.status_at) == (
        "Charging",
        "NoError",
        "acme",
        "E0",
        at(3),
    )
    assert_utc(c.status_at)
    assert [(h[1], h[2], h[3], h[4]) for h in await history(store)] == [
        (1, 1, "Available", None),
        (1, 1, "Occupied", "Preparing"),
        (2, 1, "Unavailable", None),
        (0, 0, "Available", None),
        (1, 1, "Occupied", "Charging"),
    ]


async def test_apply_batch_transaction_meter_none_keeps_previous_value(store: Store) -> None:
    """In TransactionMeterChanged None means unchanged; later items of a transaction win."""
    await add_cp(store, "CP1")
    tx = await store.add_transaction(new_tx(ocpp_id="t"))
    await store.apply_batch(
        [
            TransactionMeterChanged(tx.id, 500, "Charging", at(1)),
            TransactionMeterChanged(tx.id, 700, None, at(2)),
        ]
    )
    await store.apply_batch([TransactionMeterChanged(tx.id, None, "SuspendedEV", at(3))])
    got = await store.get_transaction(tx.id)
    assert got is not None
    assert (got.last_meter_wh, got.charging_state, got.updated_at) == (700, "SuspendedEV", at(3))


async def test_apply_batch_ignores_unknown_station_fields(store: Store) -> None:
    """StationFieldsChanged only sets the three status columns; other keys are ignored."""
    await add_cp(store, "CP1", vendor="ACME")
    await store.apply_batch(
        [StationFieldsChanged("CP1", {"vendor": "EVIL", "diagnostics_status": "Uploaded"})]
    )
    cp = await store.get_charge_point("CP1")
    assert cp is not None and cp.vendor == "ACME" and cp.diagnostics_status == "Uploaded"


async def test_apply_empty_batch_is_a_no_op(store: Store) -> None:
    """An empty batch writes nothing and does not fail."""
    await store.apply_batch([])
    assert await store.list_charge_points(limit=1) == ([], None)


async def test_list_transactions_updated_pages_by_change_time(store: Store, clock: FakeClock) -> None:
    """list_transactions_updated filters date_from <= updated_at < date_to (and stations), orders by
    (updated_at, id), pages with offset/limit and counts every match (what OCPI session pulls need)."""
    await add_cp(store, "CP1")
    await add_cp(store, "CP2")
    a = await store.add_transaction(new_tx(ocpp_id="a"))  # updated at T0
    clock.advance(10)
    b = await store.add_transaction(new_tx("CP2", ocpp_id="b"))  # T0+10
    c = await store.add_transaction(new_tx(evse=2, ocpp_id="c"))  # T0+10, larger id
    clock.advance(10)
    a.status = TransactionStatus.COMPLETED
    await store.save_transaction(a)  # a moves to T0+20
    # The batched meter update moves b's updated_at too.
    await store.apply_batch([TransactionMeterChanged(b.id, 1_500, "Charging", at(30))])

    page, total = await store.list_transactions_updated(Pagination(offset=0, limit=10))
    assert [t.id for t in page] == [c.id, a.id, b.id] and total == 3
    assert page[1].status is TransactionStatus.COMPLETED and page[2].last_meter_wh == 1_500
    assert_utc(*(t.updated_at for t in page))

    pages: list[int] = []
    for offset in (0, 2, 4):
        page, total = await store.list_transactions_updated(Pagination(offset=offset, limit=2))
        assert total == 3
        pages += [t.id for t in page]
    assert pages == [c.id, a.id, b.id]

    page, total = await store.list_transactions_updated(Pagination(at(10), at(30), 0, 10))
    assert [t.id for t in page] == [c.id, a.id] and total == 2
    # Bounds in another zone mean the same instants.
    page, total = await store.list_transactions_updated(Pagination(date_from=at(20).astimezone(CEST)))
    assert [t.id for t in page] == [a.id, b.id] and total == 2
    page, total = await store.list_transactions_updated(Pagination(offset=1, limit=10), ["CP1"])
    assert [t.id for t in page] == [a.id] and total == 2
    assert await store.list_transactions_updated(Pagination(limit=10), []) == ([], 0)
    assert await store.list_transactions_updated(Pagination(date_from=at(31), limit=5)) == ([], 0)


async def test_list_transactions_updated_of_some_transactions(store: Store, clock: FakeClock) -> None:
    """`transaction_ids` limits list_transactions_updated to those transactions (one roaming partner's) in
    the query: the page and the total count only those; an empty collection gives nothing."""
    await add_cp(store, "CP1")
    txs = []
    for n in range(4):
        txs.append(await store.add_transaction(new_tx(evse=n + 1, ocpp_id=f"t{n}")))
        clock.advance(10)
    mine = [txs[0].id, txs[2].id, txs[3].id]
    page, total = await store.list_transactions_updated(Pagination(offset=1, limit=1), ["CP1"], mine)
    assert [t.id for t in page] == [txs[2].id] and total == 3
    page, total = await store.list_transactions_updated(Pagination(date_from=at(10)), None, mine)
    assert [t.id for t in page] == [txs[2].id, txs[3].id] and total == 2
    assert await store.list_transactions_updated(Pagination(limit=10), None, []) == ([], 0)


async def test_listings_of_many_stations_at_once(store: Store) -> None:
    """list_connectors_of and list_active_transactions_of read many stations in one call (an OCPI page):
    the same rows as the one-station listings, of those stations only."""
    for cp in ("CP1", "CP2", "CP3"):
        await add_cp(store, cp)
    await store.apply_batch(
        [
            StatusChange("CP2", 1, 1, ConnectorStatus.AVAILABLE, T0),
            StatusChange("CP1", 2, 1, ConnectorStatus.OCCUPIED, T0),
            StatusChange("CP1", 1, 1, ConnectorStatus.AVAILABLE, T0),
            StatusChange("CP3", 1, 1, ConnectorStatus.FAULTED, T0),
        ]
    )
    connectors = await store.list_connectors_of(["CP2", "CP1", "CP1"])
    assert [(c.charge_point_id, c.evse_id) for c in connectors] == [("CP1", 1), ("CP1", 2), ("CP2", 1)]
    assert connectors[:2] == await store.list_connectors("CP1")
    a = await store.add_transaction(new_tx("CP1", ocpp_id="a"))
    b = await store.add_transaction(new_tx("CP2", ocpp_id="b"))
    done = await store.add_transaction(new_tx("CP1", 2, ocpp_id="c"))
    done.status = TransactionStatus.COMPLETED
    await store.save_transaction(done)
    await store.add_transaction(new_tx("CP3", ocpp_id="d"))
    assert [t.id for t in await store.list_active_transactions_of(["CP1", "CP2"])] == [a.id, b.id]
    assert await store.list_connectors_of([]) == [] and await store.list_active_transactions_of([]) == []


async def test_listings_of_many_stations_keep_their_order_across_in_chunks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With more stations than one `IN` holds (IN_CHUNK 1 here), list_connectors_of is still ordered by
    (charge_point_id, evse_id, connector_id) and list_active_transactions_of by id."""
    monkeypatch.setattr("csms.store.sql.base.IN_CHUNK", 1)
    for cp in ("CP1", "CP2"):
        await add_cp(store, cp)
    await store.apply_batch(
        [
            StatusChange("CP2", 1, 1, ConnectorStatus.AVAILABLE, T0),
            StatusChange("CP1", 1, 1, ConnectorStatus.AVAILABLE, T0),
        ]
    )
    older = await store.add_transaction(new_tx("CP2", ocpp_id="a"))
    newer = await store.add_transaction(new_tx("CP1", ocpp_id="b"))
    assert [c.charge_point_id for c in await store.list_connectors_of(["CP2", "CP1"])] == ["CP1", "CP2"]
    assert [t.id for t in await store.list_active_transactions_of(["CP2", "CP1"])] == [older.id, newer.id]
