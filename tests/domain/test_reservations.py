"""Reservations: created only when accepted, refused clearly, cancelled, expired, ended by the station, used.

The station is a scripted `StationGateway` (the network edge) behind the real `CommandService`; the store
is the in-memory one and the clock is fixed (tests move it explicitly).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from csms.domain.authorization import AuthorizationService
from csms.domain.commands import (
    CancelReservation,
    Command,
    CommandResult,
    CommandService,
    Outcome,
    ReserveNow,
)
from csms.domain.core import Domain
from csms.domain.events import EventBus, Order, ReservationChanged, TransactionStarted
from csms.domain.models import (
    ChargePoint,
    IdToken,
    NewTransaction,
    Reservation,
    ReservationStatus,
    Transaction,
    TransactionStatus,
)
from csms.domain.reservations import ReservationError, ReservationService
from tests.domain.conftest import NOW
from tests.fakes.memory_store import MemoryStore
from tests.utils import MS

EXPIRY = NOW + timedelta(minutes=30)
ACCEPTED = CommandResult(Outcome.ANSWERED, status="Accepted")


class Clock:
    """A fixed clock that a test moves forward explicitly."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ScriptedStation:
    """A `StationGateway` answering each command type with scripted results (Accepted when none is left)."""

    def __init__(self) -> None:
        self.online = True
        self.answers: dict[type, list[CommandResult]] = {}
        self.sent: list[tuple[str, Command]] = []
        self.cancel_sent = asyncio.Event()

    def script(self, command_type: type, *results: CommandResult) -> None:
        self.answers.setdefault(command_type, []).extend(results)

    def ocpp_version(self, charge_point_id: str) -> str | None:
        return "2.0.1" if self.online else None

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        self.sent.append((charge_point_id, command))
        if isinstance(command, CancelReservation):
            self.cancel_sent.set()
        if not self.online:
            return CommandResult(Outcome.OFFLINE, description="not connected")
        queue = self.answers.get(type(command))
        return queue.pop(0) if queue else ACCEPTED

    def reserve_nows(self) -> list[ReserveNow]:
        return [c for _, c in self.sent if isinstance(c, ReserveNow)]

    def cancels(self) -> list[tuple[str, int]]:
        return [(cp, c.reservation_id) for cp, c in self.sent if isinstance(c, CancelReservation)]


def groups(store: MemoryStore, clock: Clock) -> Callable[[str], Awaitable[str | None]]:
    """The group lookup the domain wires in: `AuthorizationService.group_of` over the token store."""
    return AuthorizationService(store, clock).group_of


@pytest.fixture
def clock() -> Clock:
    """The fixed clock at NOW."""
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryStore:
    """An in-memory store on the fixed clock."""
    return MemoryStore(clock=clock)


@pytest.fixture
def station() -> ScriptedStation:
    """The scripted station gateway, online."""
    return ScriptedStation()


@pytest.fixture
async def service(
    store: MemoryStore, station: ScriptedStation, clock: Clock
) -> AsyncIterator[ReservationService]:
    """The reservation service over the scripted station; stopped (background tasks ended) afterwards."""
    svc = ReservationService(
        store, CommandService(station), clock, check_interval=5 * MS, group_of=groups(store, clock)
    )
    yield svc
    await svc.stop()


async def reserve(service: ReservationService, **fields: Any) -> Reservation:
    args: dict[str, Any] = {"charge_point_id": "CP1", "evse_id": 1, "id_token": "TAG", "expiry_date": EXPIRY}
    args.update(fields)
    return await service.create(**args)


async def refused(service: ReservationService, **fields: Any) -> ReservationError:
    with pytest.raises(ReservationError) as info:
        await reserve(service, **fields)
    return info.value


def started(reservation_id: int | None, id_token: str | None = "TAG", cp: str = "CP1") -> Transaction:
    return Transaction(
        id=7,
        charge_point_id=cp,
        evse_id=1,
        connector_id=1,
        ocpp_transaction_id="tx-7",
        status=TransactionStatus.ACTIVE,
        started_at=NOW,
        id_token=id_token,
        reservation_id=reservation_id,
    )


async def stored(store: MemoryStore, reservation_id: int) -> Reservation:
    r = await store.get_reservation(reservation_id)
    assert r is not None
    return r


# -- create -------------------------------------------------------------------------------------------


async def test_accepted_reservation_is_active_and_carries_its_id_to_the_station(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """An accepted ReserveNow leaves one active reservation whose id is the reservationId that was sent."""
    r = await reserve(
        service, id_token_type="ISO14443", group_id_token="GRP", connector_type="cType2", evse_id=2
    )
    assert r.status is ReservationStatus.ACTIVE and r.station_status == "Accepted" and r.reason is None
    assert station.reserve_nows() == [
        ReserveNow(
            reservation_id=r.id,
            expiry=EXPIRY,
            id_token="TAG",
            evse_id=2,
            id_token_type="ISO14443",
            group_id_token="GRP",
            connector_type="cType2",
        )
    ]
    assert await stored(store, r.id) == r
    second = await reserve(service, evse_id=3)
    assert second.id != r.id and station.reserve_nows()[1].reservation_id == second.id


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("Occupied", "evse_occupied"),
        ("Faulted", "evse_faulted"),
        ("Unavailable", "evse_unavailable"),
        ("Rejected", "reservation_rejected"),
    ],
)
async def test_refused_reservation_is_stored_rejected_with_a_clear_code(
    service: ReservationService, station: ScriptedStation, store: MemoryStore, answer: str, code: str
) -> None:
    """A station's Occupied/Faulted/Unavailable/Rejected raises its code and leaves the row rejected."""
    station.script(ReserveNow, CommandResult(Outcome.ANSWERED, status=answer))
    error = await refused(service)
    assert error.code == code and answer in error.message
    assert error.result is not None and error.result.status == answer
    assert error.reservation is not None
    r = await stored(store, error.reservation.id)
    assert (r.status, r.station_status, r.reason) == (ReservationStatus.REJECTED, answer, code)
    assert await store.find_active_reservations("CP1") == []
    assert station.cancels() == []


async def test_offline_station_fails_the_reservation_without_cleanup(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """With the station offline the reservation ends failed (charge_point_offline); no cancel follows."""
    station.online = False
    error = await refused(service)
    assert error.code == "charge_point_offline" and error.reservation is not None
    r = await stored(store, error.reservation.id)
    assert (r.status, r.station_status, r.reason) == (ReservationStatus.FAILED, None, "charge_point_offline")
    await asyncio.sleep(0)
    assert station.cancels() == []


async def test_timeout_fails_the_reservation_and_cancels_it_in_the_background(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """No answer in time: failed with station_timeout, then a CancelReservation for that id is sent."""
    station.script(ReserveNow, CommandResult(Outcome.TIMEOUT))
    with capture_logs() as logs:
        error = await refused(service)
        assert error.code == "station_timeout" and error.reservation is not None
        await asyncio.wait_for(station.cancel_sent.wait(), 100 * MS)
        await asyncio.sleep(0)
    assert station.cancels() == [("CP1", error.reservation.id)]
    assert (await stored(store, error.reservation.id)).status is ReservationStatus.FAILED
    assert any(e["event"] == "reservation_cleanup_sent" for e in logs)


@pytest.mark.parametrize(
    ("result", "code"),
    [
        (CommandResult(Outcome.CALL_ERROR, error_code="InternalError"), "call_error"),
        (CommandResult(Outcome.CALL_ERROR, error_code="NotImplemented"), "not_supported"),
        (CommandResult(Outcome.CALL_ERROR, error_code="NotSupported"), "not_supported"),
        (CommandResult(Outcome.NOT_SUPPORTED), "not_supported"),
        (CommandResult(Outcome.DISCONNECTED), "station_timeout"),
    ],
)
async def test_call_errors_fail_the_reservation(
    service: ReservationService,
    station: ScriptedStation,
    store: MemoryStore,
    result: CommandResult,
    code: str,
) -> None:
    """A CALLERROR is call_error, or not_supported for NotImplemented/NotSupported; the row ends failed."""
    station.script(ReserveNow, result)
    error = await refused(service)
    assert error.code == code and error.result is result and error.reservation is not None
    assert (await stored(store, error.reservation.id)).status is ReservationStatus.FAILED


async def test_expiry_in_the_past_is_a_value_error_and_stores_nothing(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """An expiry date at or before now raises ValueError before anything is stored or sent."""
    with pytest.raises(ValueError):
        await reserve(service, expiry_date=NOW)
    assert await store.list_reservations(limit=10) == ([], None)
    assert station.sent == []


# -- replacement by external id ----------------------------------------------------------------------


async def test_same_external_id_replaces_the_active_reservation_under_the_same_id(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """A partner's same reservation id again re-sends ReserveNow with our same id and updates that row."""
    first = await reserve(service, owner="P1", external_id="r1")
    later = EXPIRY + timedelta(hours=1)
    second = await reserve(
        service, owner="P1", external_id="r1", evse_id=2, id_token="NEW", expiry_date=later
    )
    assert second.id == first.id
    assert [c.reservation_id for c in station.reserve_nows()] == [first.id, first.id]
    r = await stored(store, first.id)
    assert (r.status, r.evse_id, r.id_token, r.expiry_date) == (ReservationStatus.ACTIVE, 2, "NEW", later)
    page, _ = await store.list_reservations(limit=10)
    assert len(page) == 1
    other = await reserve(service, owner="P2", external_id="r1")  # another partner's id is its own
    assert other.id != first.id


async def test_refused_replacement_keeps_the_earlier_reservation(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """When the station refuses the replacement, the error carries the earlier reservation, still active."""
    first = await reserve(service, owner="P1", external_id="r1")
    station.script(ReserveNow, CommandResult(Outcome.ANSWERED, status="Occupied"))
    error = await refused(service, owner="P1", external_id="r1", evse_id=2)
    assert error.code == "evse_occupied" and error.reservation == first
    assert await stored(store, first.id) == first
    assert station.cancels() == []


async def test_replacement_on_another_station_cancels_the_earlier_one(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """Replacing onto another station creates a new reservation there and cancels the earlier one."""
    first = await reserve(service, owner="P1", external_id="r1")
    second = await reserve(service, owner="P1", external_id="r1", charge_point_id="CP2")
    assert second.id != first.id and second.charge_point_id == "CP2"
    assert station.cancels() == [("CP1", first.id)]
    old = await stored(store, first.id)
    assert (old.status, old.reason) == (ReservationStatus.CANCELLED, "replaced")
    assert await store.find_reservation_by_external_id("P1", "r1") == second


async def test_external_id_of_an_ended_reservation_makes_a_new_one(
    service: ReservationService, station: ScriptedStation
) -> None:
    """An external id whose reservation is no longer active starts a fresh reservation with a new id."""
    first = await reserve(service, owner="P1", external_id="r1")
    await service.cancel(first.id)
    second = await reserve(service, owner="P1", external_id="r1")
    assert second.id != first.id


# -- cancel -------------------------------------------------------------------------------------------


async def test_cancel_accepted_marks_cancelled(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """An accepted CancelReservation for the reservation's id leaves it cancelled."""
    r = await reserve(service)
    cancelled = await service.cancel(r.id)
    assert station.cancels() == [("CP1", r.id)]
    assert (cancelled.status, cancelled.reason) == (ReservationStatus.CANCELLED, None)
    assert await stored(store, r.id) == cancelled


async def test_cancel_unknown_at_station_still_cancels(
    service: ReservationService, station: ScriptedStation
) -> None:
    """A station answering Rejected (it does not know the reservation) still ends it: unknown_at_station."""
    r = await reserve(service)
    station.script(CancelReservation, CommandResult(Outcome.ANSWERED, status="Rejected"))
    cancelled = await service.cancel(r.id)
    assert (cancelled.status, cancelled.reason) == (ReservationStatus.CANCELLED, "unknown_at_station")


@pytest.mark.parametrize(
    ("result", "code"),
    [
        (CommandResult(Outcome.OFFLINE), "charge_point_offline"),
        (CommandResult(Outcome.TIMEOUT), "station_timeout"),
    ],
)
async def test_cancel_without_an_answer_keeps_the_reservation_active(
    service: ReservationService,
    station: ScriptedStation,
    store: MemoryStore,
    result: CommandResult,
    code: str,
) -> None:
    """Offline or no answer: cancel raises its code and the reservation stays active."""
    r = await reserve(service)
    station.script(CancelReservation, result)
    with pytest.raises(ReservationError) as info:
        await service.cancel(r.id)
    assert info.value.code == code and info.value.reservation == r
    assert (await stored(store, r.id)).status is ReservationStatus.ACTIVE


async def test_cancel_unknown_or_ended_reservation(
    service: ReservationService, station: ScriptedStation
) -> None:
    """Cancelling an unknown id is reservation_not_found; a cancelled one is reservation_not_active."""
    with pytest.raises(ReservationError) as info:
        await service.cancel(12345)
    assert info.value.code == "reservation_not_found"
    r = await reserve(service)
    await service.cancel(r.id)
    with pytest.raises(ReservationError) as info:
        await service.cancel(r.id)
    assert info.value.code == "reservation_not_active"
    assert info.value.reservation is not None and info.value.reservation.status is ReservationStatus.CANCELLED
    assert len(station.cancels()) == 1


# -- expiry and station reports ------------------------------------------------------------------------


async def test_expire_due_expires_even_with_the_station_offline(
    service: ReservationService, station: ScriptedStation, store: MemoryStore, clock: Clock
) -> None:
    """Past its expiry a reservation becomes expired while the station is offline; later ones stay."""
    soon = await reserve(service)
    later = await reserve(service, evse_id=2, expiry_date=EXPIRY + timedelta(minutes=1))
    station.online = False
    sent = len(station.sent)
    assert await service.expire_due() == []
    clock.advance(30 * 60)
    expired = await service.expire_due()
    assert [r.id for r in expired] == [soon.id] and expired[0].status is ReservationStatus.EXPIRED
    assert (await stored(store, soon.id)).status is ReservationStatus.EXPIRED
    assert (await stored(store, later.id)).status is ReservationStatus.ACTIVE
    assert await service.expire_due() == []
    assert len(station.sent) == sent  # expiry needs no station


async def test_background_task_expires_reservations(
    service: ReservationService, store: MemoryStore, clock: Clock
) -> None:
    """start() expires what is due at once and keeps checking every interval until stop()."""
    first = await reserve(service)
    second = await reserve(service, evse_id=2, expiry_date=EXPIRY + timedelta(minutes=5))
    clock.advance(30 * 60)
    await service.start()
    assert (await stored(store, first.id)).status is ReservationStatus.EXPIRED
    clock.advance(5 * 60)
    for _ in range(200):
        if (await stored(store, second.id)).status is ReservationStatus.EXPIRED:
            break
        await asyncio.sleep(MS)
    assert (await stored(store, second.id)).status is ReservationStatus.EXPIRED
    await service.stop()
    third = await reserve(service, expiry_date=clock.now + timedelta(seconds=1))
    clock.advance(2)
    await asyncio.sleep(20 * MS)
    assert (await stored(store, third.id)).status is ReservationStatus.ACTIVE


@pytest.mark.parametrize(
    ("update", "status", "reason"),
    [
        ("Expired", ReservationStatus.EXPIRED, "expired_at_station"),
        ("Removed", ReservationStatus.CANCELLED, "removed_by_station"),
    ],
)
async def test_station_update_ends_the_reservation(
    service: ReservationService, store: MemoryStore, update: str, status: ReservationStatus, reason: str
) -> None:
    """2.0.1 ReservationStatusUpdate Expired/Removed ends the station's active reservation."""
    r = await reserve(service)
    await service.station_update("CP1", r.id, update)
    got = await stored(store, r.id)
    assert (got.status, got.reason) == (status, reason)
    await service.station_update("CP1", r.id, "Removed")  # already ended: ignored
    assert await stored(store, r.id) == got


async def test_station_update_for_unknown_or_foreign_reservation_is_ignored(
    service: ReservationService, store: MemoryStore
) -> None:
    """An unknown id, another station's reservation or an unknown status word changes nothing."""
    r = await reserve(service)
    with capture_logs() as logs:
        await service.station_update("CP1", 999, "Expired")
        await service.station_update("CP2", r.id, "Expired")
        await service.station_update("CP1", r.id, "Bogus")
    assert (await stored(store, r.id)).status is ReservationStatus.ACTIVE
    assert [e["event"] for e in logs] == [
        "reservation_update_unknown_reservation",
        "reservation_update_unknown_reservation",
        "reservation_update_status_unknown",
    ]


# -- use by transactions --------------------------------------------------------------------------------


async def test_transaction_with_the_reserved_token_uses_the_reservation(
    service: ReservationService, store: MemoryStore
) -> None:
    """A transaction started with the reservation id by the reserved token marks it used with its pk."""
    r = await reserve(service)
    await service.transaction_started(started(r.id, "TAG"))
    got = await stored(store, r.id)
    assert (got.status, got.transaction_pk) == (ReservationStatus.USED, 7)
    await service.transaction_stopped(started(r.id, "TAG"))
    assert await stored(store, r.id) == got


async def test_transaction_with_a_token_of_the_reserved_group_uses_the_reservation(
    service: ReservationService, store: MemoryStore
) -> None:
    """A token whose stored group equals the reservation's group id (1.6 parentIdTag) may use it."""
    await store.add_id_token(IdToken("CARD-2", group_id_token="FLEET"))
    r = await reserve(service, id_token="CARD-1", group_id_token="FLEET")
    await service.transaction_started(started(r.id, "CARD-2"))
    assert (await stored(store, r.id)).status is ReservationStatus.USED


async def test_transaction_with_a_wrong_token_leaves_the_reservation_active(
    service: ReservationService, store: MemoryStore
) -> None:
    """Another token (or none) starting with the reservation id is logged and the reservation stays active."""
    await store.add_id_token(IdToken("STRANGER", group_id_token="OTHER-GROUP"))
    r = await reserve(service, group_id_token="FLEET")
    with capture_logs() as logs:
        await service.transaction_started(started(r.id, "STRANGER"))
        await service.transaction_started(started(r.id, None))
    assert (await stored(store, r.id)).status is ReservationStatus.ACTIVE
    assert [e["event"] for e in logs] == ["reservation_used_by_wrong_token"] * 2


async def test_transaction_reservation_of_another_station_or_ended_is_ignored(
    service: ReservationService, store: MemoryStore
) -> None:
    """A reservation id of another station, an ended reservation or no id at all changes nothing."""
    r = await reserve(service)
    await service.transaction_started(started(r.id, "TAG", cp="CP2"))
    await service.transaction_started(started(None))
    assert (await stored(store, r.id)).status is ReservationStatus.ACTIVE
    await service.cancel(r.id)
    await service.transaction_started(started(r.id))
    assert (await stored(store, r.id)).status is ReservationStatus.CANCELLED


async def test_domain_marks_the_reservation_used_when_the_transaction_starts(domain: Domain) -> None:
    """Domain registers the reservation service, so a transaction start with its id uses it."""
    store = domain.services.store
    await store.add_charge_point(ChargePoint("CP"))
    await store.add_id_token(IdToken("TAG"))
    r = await store.add_reservation(
        Reservation(0, "CP", 1, "TAG", NOW + timedelta(hours=1), ReservationStatus.ACTIVE)
    )
    assert len(domain.events.subscribers(TransactionStarted)) == 1
    outcome = await domain.transactions.start(
        NewTransaction("CP", 1, 1, NOW, id_token="TAG", reservation_id=r.id)
    )
    got = await store.get_reservation(r.id)
    assert got is not None and (got.status, got.transaction_pk) == (
        ReservationStatus.USED,
        outcome.transaction.id,
    )


# -- remote start check --------------------------------------------------------------------------------


async def test_check_start_refuses_another_token_on_a_reserved_evse(service: ReservationService) -> None:
    """A remote start on a reserved EVSE for another token is connector_reserved; other EVSEs are free."""
    r = await reserve(service, evse_id=1)
    with pytest.raises(ReservationError) as info:
        await service.check_start("CP1", 1, "OTHER")
    assert info.value.code == "connector_reserved" and info.value.reservation == r
    assert await service.check_start("CP1", 2, "OTHER") is None
    assert await service.check_start("CP2", 1, "OTHER") is None


async def test_check_start_returns_the_reservation_the_token_holds(
    service: ReservationService, store: MemoryStore
) -> None:
    """The reserved token, the reserved group, or a token whose stored group matches gets the reservation."""
    await store.add_id_token(IdToken("MEMBER", group_id_token="FLEET"))
    r = await reserve(service, evse_id=1, id_token="OWNER", group_id_token="FLEET")
    assert await service.check_start("CP1", 1, "OWNER") == r
    assert await service.check_start("CP1", 1, "ANY", group_id_token="FLEET") == r
    assert await service.check_start("CP1", 1, "MEMBER") == r
    with pytest.raises(ReservationError):
        await service.check_start("CP1", 1, "ANY", group_id_token="OTHER")


async def test_check_start_station_wide_reservation_applies_to_starts_without_evse(
    service: ReservationService,
) -> None:
    """A station-wide reservation (EVSE None) blocks a start naming no EVSE (None or 0) for another token."""
    await reserve(service, evse_id=None)
    for evse_id in (None, 0):
        with pytest.raises(ReservationError) as info:
            await service.check_start("CP1", evse_id, "OTHER")
        assert info.value.code == "connector_reserved"
    assert await service.check_start("CP1", None, "TAG") is not None
    assert await service.check_start("CP1", 1, "OTHER") is None


async def test_check_start_ignores_reservations_past_expiry(
    service: ReservationService, clock: Clock
) -> None:
    """A reservation past its expiry no longer blocks, even before the expiry task marked it."""
    await reserve(service, evse_id=1)
    clock.advance(30 * 60)
    assert await service.check_start("CP1", 1, "OTHER") is None


async def test_group_of_a_token_the_store_does_not_know_comes_from_authorization(
    store: MemoryStore, station: ScriptedStation, clock: Clock
) -> None:
    """A roaming partner's token in the reserved group uses the reservation: its group comes from the
    authorization service (partner authorities), not only from the CSMS token store."""
    from csms.domain.models import AuthorizationResult, AuthorizationStatus

    class PartnerTokens:
        async def authorize(
            self,
            id_token: str,
            *,
            charge_point_id: str | None = None,
            evse_id: int | None = None,
            org_id: str | None = None,
        ) -> AuthorizationResult | None:
            return AuthorizationResult(AuthorizationStatus.ACCEPTED, group_id_token="GRP1")

    authorization = AuthorizationService(store, clock)
    authorization.add_authority(PartnerTokens(), order=0)
    svc = ReservationService(store, CommandService(station), clock, group_of=authorization.group_of)
    r = await reserve(svc, id_token="TOKA", group_id_token="GRP1")
    await svc.transaction_started(started(r.id, "TOKB"))
    stored = await store.get_reservation(r.id)
    assert stored is not None and stored.status is ReservationStatus.USED
    await svc.stop()


class YieldingStation(ScriptedStation):
    """Like a real station, answers only after other tasks had a chance to run."""

    async def execute(self, charge_point_id: str, command: Command) -> CommandResult:
        await asyncio.sleep(0)
        return await super().execute(charge_point_id, command)


async def test_concurrent_creates_with_one_partner_id_leave_one_reservation(
    store: MemoryStore, clock: Clock
) -> None:
    """Two RESERVE_NOW with the same (owner, external_id) at once end as one active reservation."""
    svc = ReservationService(store, CommandService(YieldingStation()), clock, group_of=groups(store, clock))
    first, second = await asyncio.gather(
        reserve(svc, owner="ocpi:1", external_id="SAME", evse_id=1),
        reserve(svc, owner="ocpi:1", external_id="SAME", evse_id=1),
    )
    assert first.id == second.id
    active, _ = await store.list_reservations(status=ReservationStatus.ACTIVE, limit=10)
    assert [r.id for r in active] == [first.id]
    await svc.stop()


# -- events -------------------------------------------------------------------------------------------


async def test_each_reservation_change_is_published_on_the_bus(
    store: MemoryStore, station: ScriptedStation, clock: Clock
) -> None:
    """ReservationChanged is published when a reservation becomes active, is cancelled, expires, ends at
    the station or is used; a refused one publishes nothing."""
    bus = EventBus()
    seen: list[tuple[int, str, ReservationStatus]] = []

    async def note(event: ReservationChanged) -> None:
        seen.append((event.reservation.id, event.change, event.reservation.status))

    bus.subscribe(ReservationChanged, note, order=Order.PUBLISH)
    svc = ReservationService(store, CommandService(station), clock, group_of=groups(store, clock), events=bus)
    cancelled, used, ended, expiring = [await reserve(svc, evse_id=n) for n in (1, 2, 3, 4)]
    station.script(ReserveNow, CommandResult(Outcome.ANSWERED, status="Occupied"))
    await refused(svc, evse_id=5)
    await svc.cancel(cancelled.id)
    await svc.transaction_started(started(used.id))
    await svc.station_update("CP1", ended.id, "Removed")
    clock.advance((EXPIRY - NOW).total_seconds())
    await svc.expire_due()
    assert seen == [
        (cancelled.id, "created", ReservationStatus.ACTIVE),
        (used.id, "created", ReservationStatus.ACTIVE),
        (ended.id, "created", ReservationStatus.ACTIVE),
        (expiring.id, "created", ReservationStatus.ACTIVE),
        (cancelled.id, "cancelled", ReservationStatus.CANCELLED),
        (used.id, "used", ReservationStatus.USED),
        (ended.id, "cancelled", ReservationStatus.CANCELLED),
        (expiring.id, "expired", ReservationStatus.EXPIRED),
    ]


# -- change (issue 15: the dashboard's reservation edit) -----------------------------------------------


async def test_change_resends_reserve_now_with_the_same_id_and_updates_the_row(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """Changing token and expiry sends ReserveNow with the reservation's own id; once accepted the row keeps
    its id and carries the new token and expiry."""
    r = await reserve(service)
    later = EXPIRY + timedelta(minutes=30)
    changed = await service.change(r.id, id_token="OTHER", expiry_date=later)
    assert (changed.id, changed.id_token, changed.expiry_date, changed.status) == (
        r.id, "OTHER", later, ReservationStatus.ACTIVE,
    )  # fmt: skip
    again = station.reserve_nows()[-1]
    assert (again.reservation_id, again.id_token, again.expiry) == (r.id, "OTHER", later)
    assert await store.get_reservation(r.id) == changed


async def test_refused_change_keeps_the_reservation(
    service: ReservationService, station: ScriptedStation, store: MemoryStore
) -> None:
    """A station that refuses the new ReserveNow leaves the reservation as it was; an ended or unknown
    reservation and a past expiry are refused without sending anything."""
    r = await reserve(service)
    station.script(ReserveNow, CommandResult(Outcome.ANSWERED, status="Occupied"))
    with pytest.raises(ReservationError) as info:
        await service.change(r.id, expiry_date=EXPIRY + timedelta(minutes=5))
    assert info.value.code == "evse_occupied"
    assert await store.get_reservation(r.id) == r
    sent = len(station.sent)
    with pytest.raises(ValueError):
        await service.change(r.id, expiry_date=NOW)
    await service.cancel(r.id)
    with pytest.raises(ReservationError) as info:
        await service.change(r.id, id_token="OTHER")
    assert info.value.code == "reservation_not_active"
    with pytest.raises(ReservationError) as info:
        await service.change(12345, id_token="OTHER")
    assert info.value.code == "reservation_not_found"
    assert len(station.sent) == sent + 1  # only the cancel
