"""Reservation cost (OCPI 2.2.1 Sessions "Reservation", TariffRestrictions.reservation): a session that
charges on a reservation is priced from the reservation's start (`ocpi.sessions.price_transaction`), and an
unused reservation gets a CDR for its reservation cost alone (`ocpi.cdrs.create_reservation_cdr`).

Every amount below is worked out by hand from `RESERVATION_TARIFF`:

- RESERVATION_EXPIRES: €3.00 FLAT @20 % (a no-show fee; listed first, so it wins the FLAT of an expired
  reservation);
- RESERVATION: €1.00 FLAT @20 % (reservation fee) + €2.40/h TIME @20 % in steps of 60 s;
- otherwise: €0.30/kWh @20 %.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.events import Order, TransactionStarted
from csms.domain.models import ConnectorStatus, NewTransaction, Reservation, ReservationStatus, Transaction
from ocpi import cdrs
from ocpi.models import SessionLink
from ocpi.running_cost import OcpiSessionCosts
from ocpi.session_costs import session_cost
from ocpi.sessions import reservation_session_object, session_object
from ocpi.store import OcpiStore
from ocpi.transport import ocpi_datetime
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.schemas import assert_valid
from tests.ocpi.senders import Harness, harness
from tests.store.conftest import T0, FakeClock

RESERVATION_TARIFF: dict[str, Any] = {
    "country_code": "BE",
    "party_id": "CSM",
    "id": "RES1",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "FLAT", "price": "3.00", "vat": 20, "step_size": 1}],
            "restrictions": {"reservation": "RESERVATION_EXPIRES"},
        },
        {
            "price_components": [
                {"type": "FLAT", "price": "1.00", "vat": 20, "step_size": 1},
                {"type": "TIME", "price": "2.40", "vat": 20, "step_size": 60},
            ],
            "restrictions": {"reservation": "RESERVATION"},
        },
        {"price_components": [{"type": "ENERGY", "price": "0.30", "vat": 20, "step_size": 1}]},
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}
# The same tariff without its reservation elements: reservations cost nothing and change nothing.
PLAIN_TARIFF: dict[str, Any] = {
    **RESERVATION_TARIFF,
    "id": "PLAIN1",
    "elements": RESERVATION_TARIFF["elements"][2:],
}


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    """CP1 (online) in the published location LOC1; tariffs RES1 and PLAIN1 stored, none on a connector."""
    async with harness(memory_ocpi_store, clock) as built:
        await built.add_station("CP1")
        await built.add_location("LOC1", "CP1", postal_code="9000")
        await built.status("CP1", 1, ConnectorStatus.AVAILABLE, "Available")
        await built.add_tariff(RESERVATION_TARIFF)
        await built.add_tariff(PLAIN_TARIFF)
        yield built


async def on_tariff(h: Harness, tariff_id: str) -> None:
    await h.spec("CP1", 1, standard="IEC_62196_T2", format="CABLE", power_type="AC_3_PHASE",
                 tariff_ids=[tariff_id])  # fmt: skip


async def reserve(h: Harness, *, expires_in: int = 3600) -> Reservation:
    """A RESERVE_NOW reservation of CP1 EVSE 1 made now by the harness's partner, with its Session link."""
    reservation = await h.store.add_reservation(
        Reservation(
            id=0,
            charge_point_id="CP1",
            evse_id=1,
            id_token="APPUSER1",
            expiry_date=h.clock() + timedelta(seconds=expires_in),
            status=ReservationStatus.ACTIVE,
            external_id="EMSP-RES-1",
            owner="partner",
        )
    )
    await h.ocpi.save_session_link(
        SessionLink(
            session_id=f"R{reservation.id}",
            partner_id=h.partner.id,
            reservation_id=reservation.id,
            auth_method="COMMAND",
            cdr_token={
                "country_code": "NL",
                "party_id": "EMS",
                "uid": "APPUSER1",
                "type": "APP_USER",
                "contract_id": "NL-EMS-C1",
            },
            last_updated=h.clock(),
        )
    )
    return reservation


async def end(h: Harness, reservation: Reservation, status: ReservationStatus) -> Reservation:
    """The reservation ended now (`status`), as the reservation service stores it."""
    reservation.status = status
    await h.store.save_reservation(reservation)
    stored = await h.store.get_reservation(reservation.id)
    assert stored is not None
    return stored


async def charge_on(h: Harness, reservation: Reservation) -> Transaction:
    """The reserved driver starts charging now on the reservation (meter 500 Wh), linked as the command
    runner links it (`Order.COMMAND`, before the tariff is pinned): the reservation's Session link gets the
    transaction."""

    async def link_it(event: TransactionStarted) -> None:
        link = await h.ocpi.get_session_link(f"R{reservation.id}")
        assert link is not None
        link.transaction_pk = event.transaction.id
        await h.ocpi.save_session_link(link)

    h.domain.events.subscribe(TransactionStarted, link_it, order=Order.COMMAND)
    try:
        outcome = await h.domain.transactions.start(
            NewTransaction(
                charge_point_id="CP1",
                evse_id=1,
                connector_id=1,
                started_at=h.clock(),
                id_token="APPUSER1",
                meter_start_wh=500,
                reservation_id=reservation.id,
            )
        )
    finally:
        h.domain.events.unsubscribe(TransactionStarted, link_it)
    return outcome.transaction


def money(excl: str, incl: str) -> dict[str, Decimal]:
    return {"excl_vat": Decimal(excl), "incl_vat": Decimal(incl)}


def as_decimals(price: dict[str, Any]) -> dict[str, Decimal]:
    return {key: Decimal(str(value)) for key, value in price.items()}


async def test_session_on_a_reservation_includes_the_reservation_cost(h: Harness) -> None:
    """Reserved at T0, charging from T0 + 630 s, 10 kWh in 1.5 h. Reservation: 630 s billed as 660 s (60 s
    steps) × €2.40/h = 0.44 + €1.00 fee = 1.44 excl.; incl. 0.528 + 1.20 = 1.728 → 1.73. Energy: 10 × 0.30
    = 3.00 excl., 3.60 incl. Total 4.44 / 5.33: in the running Session, the cost breakdown, the OCPP 2.0.1
    quote and the CDR, whose periods begin with the reservation (630 s = 0.175 h of RESERVATION_TIME)."""
    await on_tariff(h, "RES1")
    reservation = await reserve(h)
    h.advance(630)
    tx = await charge_on(h, reservation)
    h.advance(5400)
    tx = await h.meter(tx, 10_500)

    session = await session_object(h.ctx, tx)
    assert session is not None
    assert session["id"] == f"R{reservation.id}" and session["status"] == "ACTIVE"
    assert as_decimals(session["total_cost"]) == money("4.44", "5.33")
    assert session["charging_periods"][0] == {
        "start_date_time": ocpi_datetime(T0),
        "dimensions": [{"type": "RESERVATION_TIME", "volume": 0.175}],
        "tariff_id": "RES1",
    }
    assert session["charging_periods"][1]["start_date_time"] == ocpi_datetime(T0 + timedelta(seconds=630))

    breakdown = await session_cost(h.ctx, tx)
    assert (breakdown.total.excl_vat, breakdown.total.incl_vat) == (Decimal("4.44"), Decimal("5.33"))
    reserved = breakdown.amounts["reservation"]
    assert (reserved.excl_vat, reserved.incl_vat) == (Decimal("1.44"), Decimal("1.73"))
    energy = breakdown.amounts["energy"]
    assert (energy.excl_vat, energy.incl_vat) == (Decimal("3.00"), Decimal("3.60"))
    # Chargeprice-style shares of 5.33 incl.: session 1.73 (0.32457…), kWh 3.60 (0.67542…)
    assert breakdown.shares() == {
        "session": Decimal("0.3246"),
        "kwh": Decimal("0.6754"),
        "minute": Decimal(0),
    }

    quote = await OcpiSessionCosts(h.ctx).quote(tx)  # what an OCPP 2.0.1 station showing costs is told
    assert quote is not None and quote.amount == Decimal("5.33")

    h.advance(60)
    await h.stop(tx, 10_500)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(tx.id))
    assert cdr is not None
    data = cdr.data
    assert_valid("CDR", data)
    assert data["session_id"] == f"R{reservation.id}"
    assert data["start_date_time"] == ocpi_datetime(T0)  # OCPI: with a reservation, the reservation's start
    assert as_decimals(data["total_cost"]) == money("4.44", "5.33")
    assert as_decimals(data["total_reservation_cost"]) == money("1.44", "1.73")
    assert as_decimals(data["total_energy_cost"]) == money("3.00", "3.60")
    assert "total_fixed_cost" not in data  # the reservation fee is reservation cost, not the session's FLAT
    assert Decimal(str(data["total_time"])) == Decimal("1.5167")  # 5460 s, 4 decimals
    assert data["charging_periods"][0]["dimensions"] == [{"type": "RESERVATION_TIME", "volume": 0.175}]
    assert cdr.total_cost_excl_vat == Decimal("4.44")

    billed = await session_cost(h.ctx, tx)  # the CDR's totals from now on
    assert billed.billed and billed.amounts["reservation"].excl_vat == Decimal("1.44")


async def test_tariff_without_reservation_elements_changes_nothing(h: Harness) -> None:
    """Under PLAIN1 the same session costs its energy only (3.00 / 3.60), one period from the charging
    start, no total_reservation_cost; the expired reservation of another driver gets no CDR."""
    await on_tariff(h, "PLAIN1")
    reservation = await reserve(h)
    h.advance(630)
    tx = await charge_on(h, reservation)
    h.advance(5400)
    tx = await h.meter(tx, 10_500)
    breakdown = await session_cost(h.ctx, tx)
    assert breakdown.amounts["reservation"].excl_vat == 0
    await h.stop(tx, 10_500)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(tx.id))
    assert cdr is not None
    assert as_decimals(cdr.data["total_cost"]) == money("3.00", "3.60")
    assert "total_reservation_cost" not in cdr.data
    assert cdr.data["start_date_time"] == ocpi_datetime(T0 + timedelta(seconds=630))
    assert [p["start_date_time"] for p in cdr.data["charging_periods"]] == [
        ocpi_datetime(T0 + timedelta(seconds=630))
    ]

    unused = await reserve(h, expires_in=900)
    h.advance(900)
    expired = await end(h, unused, ReservationStatus.EXPIRED)
    assert await cdrs.create_reservation_cdr(h.ctx, expired) is None
    assert await h.ocpi.get_cdr(f"R{unused.id}") is None


async def test_expired_reservation_gets_a_reservation_only_cdr(h: Harness) -> None:
    """Reserved at T0 for 900 s, never used, noticed expired at T0 + 905 s: billed until its expiry.
    RESERVATION_EXPIRES wins the FLAT (€3.00, listed first), RESERVATION prices the time: 900 s × €2.40/h =
    0.60. Total 3.60 excl., 4.32 incl.; energy and time 0; one RESERVATION_TIME period of 0.25 h. The
    COMPLETED Session then shows the CDR's cost, and the partner pulls the CDR."""
    await on_tariff(h, "RES1")
    reservation = await reserve(h, expires_in=900)
    h.advance(905)
    expired = await end(h, reservation, ReservationStatus.EXPIRED)
    cdr = await cdrs.create_reservation_cdr(h.ctx, expired)
    assert cdr is not None and cdr.id == f"R{reservation.id}" and cdr.transaction_pk == -reservation.id
    data = cdr.data
    assert_valid("CDR", data)
    assert (data["id"], data["session_id"], data["auth_method"]) == (cdr.id, cdr.id, "COMMAND")
    assert data["cdr_token"]["uid"] == "APPUSER1"
    assert (data["start_date_time"], data["end_date_time"]) == (
        ocpi_datetime(T0),
        ocpi_datetime(T0 + timedelta(seconds=900)),
    )
    assert as_decimals(data["total_cost"]) == money("3.60", "4.32")
    assert as_decimals(data["total_reservation_cost"]) == money("3.60", "4.32")
    assert (data["total_energy"], data["total_time"]) == (0, 0)
    assert "total_fixed_cost" not in data and "total_energy_cost" not in data
    assert data["charging_periods"] == [
        {
            "start_date_time": ocpi_datetime(T0),
            "dimensions": [{"type": "RESERVATION_TIME", "volume": 0.25}],
            "tariff_id": "RES1",
        }
    ]
    assert data["cdr_location"]["evse_uid"] == (await h.ocpi.evse_uid("CP1", 1)).uid
    assert [t["id"] for t in data["tariffs"]] == ["RES1"]
    assert await cdrs.create_reservation_cdr(h.ctx, expired) == cdr  # immutable, made once

    listed, _ = await h.get_all("cdrs")
    assert [c["id"] for c in listed] == [cdr.id]  # the partner's own reservation's CDR
    session = await reservation_session_object(h.ctx, expired)
    assert session is not None and session["status"] == "COMPLETED"
    assert session["end_date_time"] == data["end_date_time"]
    assert (
        session["total_cost"] == data["total_cost"]
        and session["charging_periods"] == data["charging_periods"]
    )
    assert_valid("Session", session)


async def test_cancelled_reservation_is_billed_without_the_no_show_fee(h: Harness) -> None:
    """Cancelled at T0 + 300 s: RESERVATION elements only (no RESERVATION_EXPIRES fee): €1.00 + 300 s ×
    €2.40/h = 0.20 → 1.20 excl., 1.44 incl., until the cancellation. The COMPLETED Session shows it."""
    await on_tariff(h, "RES1")
    reservation = await reserve(h)
    h.advance(300)
    cancelled = await end(h, reservation, ReservationStatus.CANCELLED)
    cdr = await cdrs.create_reservation_cdr(h.ctx, cancelled)
    assert cdr is not None
    assert as_decimals(cdr.data["total_cost"]) == money("1.20", "1.44")
    assert cdr.data["end_date_time"] == ocpi_datetime(T0 + timedelta(seconds=300))
    [period] = cdr.data["charging_periods"]
    assert period["dimensions"] == [{"type": "RESERVATION_TIME", "volume": 0.0833}]  # 300 s, 4 decimals


async def test_no_reservation_cdr_while_active_or_once_used(h: Harness) -> None:
    """An active reservation, and one a transaction used, get no reservation-only CDR."""
    await on_tariff(h, "RES1")
    reservation = await reserve(h)
    assert await cdrs.create_reservation_cdr(h.ctx, reservation) is None
    h.advance(60)
    await charge_on(h, reservation)
    used = await end(h, reservation, ReservationStatus.USED)
    assert await cdrs.create_reservation_cdr(h.ctx, used) is None


async def test_only_the_reserving_partner_pulls_the_reservation_cdr(
    ocpi_store: OcpiStore, clock: FakeClock
) -> None:
    """An unused reservation's CDR (no transaction: found by its session's link) is listed to the partner
    that reserved, counted in its X-Total-Count, and to no other partner — on every OCPI store backend."""
    other_token_c = "token-c-of-the-other-emsp"
    async with harness(ocpi_store, clock) as h:
        await h.add_station("CP1")
        await h.add_location("LOC1", "CP1")
        await h.add_tariff(RESERVATION_TARIFF)
        await on_tariff(h, "RES1")
        await h.add_partner(other_token_c, "DE", "OTH")
        reservation = await reserve(h, expires_in=900)
        h.advance(900)
        cdr = await cdrs.create_reservation_cdr(h.ctx, await end(h, reservation, ReservationStatus.EXPIRED))
        assert cdr is not None
        stored = await h.ocpi.get_cdr(cdr.id)
        assert stored is not None and stored.transaction_pk == -reservation.id
        _, body, headers = await h.get("cdrs")
        assert [c["id"] for c in body["data"]] == [cdr.id] and headers["X-Total-Count"] == "1"
        _, body, headers = await h.get_as(other_token_c, "cdrs")
        assert body["data"] == [] and headers["X-Total-Count"] == "0"
