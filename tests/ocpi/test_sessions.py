"""OCPI 2.2.1 Sessions sender (`ocpi.sessions`): sessions from CSMS transactions and OCPI reservations."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from csms.domain.events import Order, TransactionStarted
from csms.domain.models import ConnectorStatus, MeterSample, Reservation, ReservationStatus
from ocpi import cdrs, sessions
from ocpi.models import PartnerToken, SessionLink
from ocpi.store import OcpiStore
from ocpi.transport import ocpi_datetime
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.schemas import assert_valid
from tests.ocpi.senders import ROAMING_TOKEN, Harness, ago, harness
from tests.store.conftest import T0, FakeClock

EXAMPLES = Path("/work/shared/ocpi-examples")
SINCE = ocpi_datetime(T0)


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    """A sender harness on the in-memory OCPI store with CP1 (online) in the published location LOC1."""
    async with harness(memory_ocpi_store, clock) as built:
        await built.add_station("CP1")
        await built.add_location("LOC1", "CP1")
        await built.status("CP1", 1, ConnectorStatus.AVAILABLE, "Available")
        yield built


async def test_active_session_of_a_local_token(h: Harness) -> None:
    """A running transaction is an ACTIVE session: kwh from the meter, our CdrToken for a CSMS-local id
    token, WHITELIST, its EVSE, one charging period and no total_cost without a tariff — and, a local
    token's, it is no partner's: the partner's GET does not list it."""
    tx = await h.start("CP1", 1, id_token="TAG1", meter_start=1000)
    h.advance(1800)
    await h.meter(tx, 8_500)
    status, body, headers = await h.get("sessions", date_from=SINCE)
    assert status == 200 and body["status_code"] == 1000
    assert body["data"] == [] and headers["X-Total-Count"] == "0"
    session = await sessions.session_object(h.ctx, tx)
    assert session is not None
    assert_valid("Session", session)
    uid = (await h.ocpi.evse_uid("CP1", 1)).uid
    assert session == {
        "country_code": "BE",
        "party_id": "CSM",
        "id": str(tx.id),
        "start_date_time": ocpi_datetime(T0),
        "kwh": 7.5,
        "cdr_token": {
            "country_code": "BE",
            "party_id": "CSM",
            "uid": "TAG1",
            "type": "RFID",
            "contract_id": "TAG1",
        },
        "auth_method": "WHITELIST",
        "location_id": "LOC1",
        "evse_uid": uid,
        "connector_id": "1",
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": ocpi_datetime(T0),
                "dimensions": [{"type": "ENERGY", "volume": 7.5}, {"type": "TIME", "volume": 0.5}],
            }
        ],
        "status": "ACTIVE",
        "last_updated": ocpi_datetime(T0 + timedelta(seconds=1800)),
    }


async def test_priced_session_then_completed(h: Harness) -> None:
    """With a tariff on the connector the session carries total_cost (€0.50 + €0.25/kWh); once stopped it is
    COMPLETED with its end and the same periods and cost as its CDR."""
    await h.add_tariff(example("tariff_9_025kwh_start.json"))
    await h.spec("CP1", 1, tariff_ids=["17"])
    await h.partner_token()
    tx = await h.start("CP1", 1, id_token=ROAMING_TOKEN, meter_start=0)
    h.advance(3600)
    tx = await h.meter(tx, 10_000)
    session = await sessions.session_object(h.ctx, tx)
    assert session is not None
    assert session["kwh"] == 10 and session["total_cost"] == {"excl_vat": 3, "incl_vat": 3.35}
    assert session["charging_periods"][0]["tariff_id"] == "17"
    assert_valid("Session", session)

    h.advance(600)
    stopped = await h.stop(tx, 20_000)
    await cdrs.settle(h.ctx)  # the CDR is made in the background after the stop
    _, body, _ = await h.get("sessions", date_from=SINCE)
    (session,) = body["data"]
    assert_valid("Session", session)
    assert session["status"] == "COMPLETED" and session["end_date_time"] == ocpi_datetime(h.clock())
    assert session["kwh"] == 20 and session["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    cdr = await h.ocpi.get_cdr(str(stopped.id))
    assert cdr is not None
    assert session["charging_periods"] == cdr.data["charging_periods"]
    assert session["total_cost"] == cdr.data["total_cost"]


async def test_session_link_gives_token_method_and_reference(h: Harness) -> None:
    """A session started through OCPI shows its SessionLink's CdrToken, auth_method and
    authorization_reference."""
    tx = await h.start("CP1", 1, id_token="APPUSER1")
    token = {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": "APPUSER1",
        "type": "APP_USER",
        "contract_id": "NL-EMS-1",
    }
    await h.ocpi.save_session_link(
        SessionLink(
            session_id=str(tx.id),
            partner_id=h.partner.id,
            transaction_pk=tx.id,
            auth_method="COMMAND",
            authorization_reference="REF-42",
            cdr_token=token,
        )
    )
    session = await sessions.session_object(h.ctx, tx)
    assert session is not None
    assert session["cdr_token"] == token
    assert (session["auth_method"], session["authorization_reference"]) == ("COMMAND", "REF-42")
    assert_valid("Session", session)


async def test_partner_token_without_link(h: Harness) -> None:
    """A transaction with a partner's token uid (no SessionLink) carries that token's CdrToken."""
    await h.ocpi.save_partner_token(
        PartnerToken(
            country_code="NL",
            party_id="EMS",
            uid="CARD9",
            type="RFID",
            contract_id="NL-EMS-C9",
            issuer="EMS",
            valid=True,
            whitelist="ALWAYS",
            data={},
            partner_id=h.partner.id,
        )
    )
    tx = await h.start("CP1", 1, id_token="CARD9")
    session = await sessions.session_object(h.ctx, tx)
    assert session is not None and session["cdr_token"] == {
        "country_code": "NL",
        "party_id": "EMS",
        "uid": "CARD9",
        "type": "RFID",
        "contract_id": "NL-EMS-C9",
    }


async def test_transaction_without_token(h: Harness) -> None:
    """A transaction without an id token still is a valid session, its token uid `#NA`."""
    tx = await h.start("CP1", 1, id_token=None)
    session = await sessions.session_object(h.ctx, tx)
    assert session is not None and session["cdr_token"]["uid"] == "#NA"
    assert_valid("Session", session)


async def test_only_published_locations_have_sessions(h: Harness) -> None:
    """Transactions of charge points outside any published location are neither objects nor listed."""
    await h.add_station("CP2")
    await h.add_station("CP3")
    await h.add_location("HIDDEN", "CP2", publish=False)
    await h.partner_token()
    hidden = await h.start("CP2", 1, id_token=ROAMING_TOKEN)
    lonely = await h.start("CP3", 1, id_token=ROAMING_TOKEN)
    shown = await h.start("CP1", 1, id_token=ROAMING_TOKEN)
    assert await sessions.session_object(h.ctx, hidden) is None
    assert await sessions.session_object(h.ctx, lonely) is None
    items, _ = await h.get_all("sessions", date_from=SINCE)
    assert [s["id"] for s in items] == [str(shown.id)]


async def test_date_from_is_required(h: Harness) -> None:
    """GET sessions without date_from is refused with status 2001 (OCPI 2.2.1 Sessions)."""
    _, body, _ = await h.get("sessions")
    assert body["status_code"] == 2001 and "data" not in body


async def test_list_pages_and_windows(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """Sessions list oldest change first across pages (limit 3), and date_from/date_to select by the
    transaction's last change — on every OCPI store backend."""
    async with harness(ocpi_store, clock) as h:
        await h.add_station("CP1")
        await h.add_location("LOC1", "CP1")
        await h.partner_token()
        txs = []
        for i in range(5):
            txs.append(await h.start("CP1", i + 1, id_token=ROAMING_TOKEN))
            h.advance(10)
        stopped = await h.stop(txs[0], 2_000)  # changed last now
        items, pages = await h.get_all("sessions", date_from=SINCE)
        assert pages == 2
        assert [s["id"] for s in items] == [str(t.id) for t in txs[1:]] + [str(stopped.id)]
        for item in items:
            assert_valid("Session", item)
        _, body, headers = await h.get("sessions", date_from=SINCE)
        assert headers["X-Total-Count"] == "5" and len(body["data"]) == 3
        window = {
            "date_from": ocpi_datetime(T0 + timedelta(seconds=10)),
            "date_to": ocpi_datetime(T0 + timedelta(seconds=30)),
        }
        items, _ = await h.get_all("sessions", **window)
        assert [s["id"] for s in items] == [str(txs[1].id), str(txs[2].id)]


async def test_reservation_sessions(h: Harness) -> None:
    """An active reservation made through OCPI is a RESERVATION session (after the transactions) until it
    ends, then COMPLETED — and still listed, in the order of its last change; reservations without a
    SessionLink are no sessions; a reservation of any EVSE names the EVSE #NA."""
    store = h.store
    await h.partner_token()
    tx = await h.start("CP1", 1, id_token=ROAMING_TOKEN)
    made = []
    for evse_id, external in ((1, "RES-A"), (None, "RES-B"), (1, None)):
        made.append(
            await store.add_reservation(
                Reservation(
                    id=0,
                    charge_point_id="CP1",
                    evse_id=evse_id,
                    id_token="TAG7",
                    expiry_date=T0 + timedelta(hours=1),
                    status=ReservationStatus.ACTIVE,
                    owner="ocpi:1" if external else None,
                    external_id=external,
                )
            )
        )
    token = {"country_code": "NL", "party_id": "EMS", "uid": "TAG7", "type": "RFID", "contract_id": "C7"}
    for r in made[:2]:
        await h.ocpi.save_session_link(
            SessionLink(
                session_id=f"R{r.id}",
                partner_id=h.partner.id,
                reservation_id=r.id,
                auth_method="COMMAND",
                cdr_token=token,
            )
        )
    items, _ = await h.get_all("sessions", date_from=SINCE)
    assert [s["id"] for s in items] == [str(tx.id), f"R{made[0].id}", f"R{made[1].id}"]
    with_evse, any_evse = items[1], items[2]
    for item in items:
        assert_valid("Session", item)
    assert with_evse["status"] == "RESERVATION" and with_evse["kwh"] == 0 and with_evse["cdr_token"] == token
    assert with_evse["evse_uid"] == (await h.ocpi.evse_uid("CP1", 1)).uid and with_evse["connector_id"] == "1"
    assert (any_evse["evse_uid"], any_evse["connector_id"]) == ("#NA", "#NA")
    assert "end_date_time" not in with_evse
    assert await sessions.reservation_session_object(h.ctx, made[2]) is None

    h.advance(60)
    ended = made[0]
    ended.status = ReservationStatus.CANCELLED
    await store.save_reservation(ended)
    ended = await store.get_reservation(ended.id)  # type: ignore[assignment]
    assert ended is not None
    session = await sessions.reservation_session_object(h.ctx, ended)
    assert session is not None and session["status"] == "COMPLETED"
    assert session["end_date_time"] == ocpi_datetime(h.clock())
    assert_valid("Session", session)
    items, _ = await h.get_all("sessions", date_from=SINCE)
    assert [s["id"] for s in items] == [str(tx.id), f"R{made[1].id}", f"R{made[0].id}"]
    assert [s["status"] for s in items] == ["ACTIVE", "RESERVATION", "COMPLETED"]
    assert items[2] == session
    # A window after the end holds only the ended reservation's session (its last change is the end).
    items, _ = await h.get_all("sessions", date_from=ocpi_datetime(h.clock()))
    assert [s["id"] for s in items] == [f"R{made[0].id}"]


async def test_reservations_fill_the_pages_after_transactions(h: Harness) -> None:
    """Paging (limit 3) covers transactions first and then reservation sessions, each exactly once."""
    await h.partner_token()
    txs = [await h.start("CP1", evse, id_token=ROAMING_TOKEN) for evse in (1, 2)]
    reservations = []
    for n in range(3):
        r = await h.store.add_reservation(
            Reservation(
                id=0,
                charge_point_id="CP1",
                evse_id=3,
                id_token=f"T{n}",
                expiry_date=T0 + timedelta(hours=1),
                status=ReservationStatus.ACTIVE,
                owner="ocpi:1",
                external_id=f"R{n}",
            )
        )
        link = SessionLink(session_id=f"R{r.id}", partner_id=h.partner.id, reservation_id=r.id)
        await h.ocpi.save_session_link(link)
        reservations.append(r)
    items, pages = await h.get_all("sessions", date_from=SINCE)
    assert pages == 2
    assert [s["id"] for s in items] == [str(t.id) for t in txs] + [f"R{r.id}" for r in reservations]
    _, body, headers = await h.get("sessions", date_from=SINCE, offset=3)
    assert [s["id"] for s in body["data"]] == [f"R{r.id}" for r in reservations[1:]]
    assert headers["X-Total-Count"] == "5" and "Link" not in headers


async def test_charging_preferences_set_the_sessions_target(h: Harness) -> None:
    """PUT charging_preferences on the partner's session answers ACCEPTED and gives the planner the driver's
    needs (energy_need in Wh, departure, CHEAP); CHEAP without a departure time is DEPARTURE_REQUIRED; for a
    session that is not the partner's (a local token's) or unknown it answers HTTP 404 / 2001."""
    await h.partner_token()
    mine = await h.start("CP1", 1, id_token=ROAMING_TOKEN)
    local = await h.start("CP1", 2, id_token="TAG1")
    url = f"/ocpi/2.2.1/sessions/{mine.id}/charging_preferences"
    prefs = {"profile_type": "CHEAP", "departure_time": "2030-01-01T08:00:00Z", "energy_need": 20.5}
    resp = await h.client.put(url, json=prefs)
    assert resp.status == 200 and (await resp.json())["data"] == "ACCEPTED"
    await h.domain.energy.close()  # the schedule is planned in the background
    needs = h.domain.energy.needs_of(mine.id)
    assert needs is not None and needs.energy_wh == 20500 and needs.profile_type == "CHEAP"
    resp = await h.client.put(url, json={"profile_type": "CHEAP", "energy_need": 5})
    assert (await resp.json())["data"] == "DEPARTURE_REQUIRED"
    resp = await h.client.put(url, json={"profile_type": "CHEAP", "departure_time": "soon"})
    assert (await resp.json())["status_code"] == 2001
    answers = []
    for session_id in (local.id, 999):
        resp = await h.client.put(
            f"/ocpi/2.2.1/sessions/{session_id}/charging_preferences", json={"profile_type": "FAST"}
        )
        body = await resp.json()
        assert resp.status == 404 and body["status_code"] == 2001
        answers.append(body["status_message"])
    assert answers == [f"unknown session {local.id}", "unknown session 999"]


async def test_charging_preferences_of_a_completed_session_are_not_possible(h: Harness) -> None:
    """A session that already ended has nothing left to plan: NOT_POSSIBLE."""
    await h.partner_token()
    tx = await h.stop(await h.start("CP1", 1, id_token=ROAMING_TOKEN), 1000)
    resp = await h.client.put(
        f"/ocpi/2.2.1/sessions/{tx.id}/charging_preferences", json={"profile_type": "FAST"}
    )
    assert (await resp.json())["data"] == "NOT_POSSIBLE"


# -- the tariff is frozen at the session start ---------------------------------------------------------


async def test_tariff_is_pinned_when_the_session_starts(h: Harness) -> None:
    """The session and its CDR are priced with the tariff the connector had when the session started: the
    operator putting another tariff on the connector, or taking it off, mid-session changes nothing."""
    await h.add_tariff(example("tariff_9_025kwh_start.json"))  # "17": €0.50 + €0.25/kWh
    await h.add_tariff(example("tariff_14_step_size.json"))  # "22": by the hour
    await h.spec("CP1", 1, tariff_ids=["17"])
    tx = await h.start("CP1", 1, meter_start=0)
    link = await h.ocpi.get_session_link(str(tx.id))
    assert link is not None and link.tariff_id == "17"
    assert (link.auth_method, link.partner_id, link.cdr_token) == ("WHITELIST", None, None)
    h.advance(3600)
    tx = await h.meter(tx, 10_000)
    await h.spec("CP1", 1, tariff_ids=["22"])
    session = await sessions.session_object(h.ctx, tx)
    assert session is not None
    assert session["total_cost"] == {"excl_vat": 3, "incl_vat": 3.35}
    assert [p["tariff_id"] for p in session["charging_periods"]] == ["17"]
    assert session["last_updated"] == ocpi_datetime(h.clock())  # the pin is no change of its own

    await h.spec("CP1", 1, tariff_ids=[])
    h.advance(600)
    stopped = await h.stop(tx, 20_000)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(stopped.id))
    assert cdr is not None
    assert cdr.data["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert [t["id"] for t in cdr.data["tariffs"]] == ["17"]


async def test_a_tariff_in_force_at_the_start_keeps_pricing_after_its_window(h: Harness) -> None:
    """Validity windows are read at the session start: a session started under a tariff whose end_date_time
    passes mid-session is priced by it to the end, and a session started after the switch gets the
    connector's tariff valid from then on (both tariffs on the connector, windows back to back)."""
    switch = h.clock() + timedelta(minutes=30)
    ending = {**example("tariff_9_025kwh_start.json"), "end_date_time": ocpi_datetime(switch)}
    await h.add_tariff(ending)  # "17": €0.50 + €0.25/kWh until the switch
    await h.add_tariff({**example("tariff_14_step_size.json"), "start_date_time": ocpi_datetime(switch)})
    await h.spec("CP1", 1, tariff_ids=["17", "22"])
    before = await h.start("CP1", 1, meter_start=0)
    h.advance(3600)  # past the switch
    before = await h.meter(before, 10_000)
    session = await sessions.session_object(h.ctx, before)
    assert session is not None
    assert session["total_cost"] == {"excl_vat": 3, "incl_vat": 3.35}
    assert [p["tariff_id"] for p in session["charging_periods"]] == ["17"]
    await h.stop(before, 10_000)

    after = await h.start("CP1", 1, meter_start=10_000)
    link = await h.ocpi.get_session_link(str(after.id))
    assert link is not None and link.tariff_id == "22"


async def test_session_without_a_tariff_at_its_start_stays_free(h: Harness) -> None:
    """A tariff put on the connector after the session started does not price it."""
    await h.add_tariff(example("tariff_9_025kwh_start.json"))
    tx = await h.start("CP1", 1, meter_start=0)
    link = await h.ocpi.get_session_link(str(tx.id))
    assert link is not None and link.tariff_id == sessions.NO_TARIFF
    await h.spec("CP1", 1, tariff_ids=["17"])
    h.advance(600)
    tx = await h.meter(tx, 5_000)
    session = await sessions.session_object(h.ctx, tx)
    assert session is not None and "total_cost" not in session
    stopped = await h.stop(tx, 6_000)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(stopped.id))
    assert cdr is not None
    assert cdr.data["total_cost"] == {"excl_vat": 0, "incl_vat": 0} and "tariffs" not in cdr.data


async def test_a_connector_without_tariffs_is_priced_by_its_locations(h: Harness) -> None:
    """A connector that names no tariff takes its location's: the session's total_cost and its CDR are
    priced by it (€0.50 + €0.25/kWh), and the tariff is pinned at the start — taken off the location
    mid-session, it still prices the session to the end."""
    await h.add_tariff(example("tariff_9_025kwh_start.json"))  # "17"
    await h.add_location("LOC1", "CP1", tariff_ids=["17"])
    tx = await h.start("CP1", 1, meter_start=0)
    link = await h.ocpi.get_session_link(str(tx.id))
    assert link is not None and link.tariff_id == "17"
    h.advance(3600)
    tx = await h.meter(tx, 10_000)
    session = await sessions.session_object(h.ctx, tx)
    assert session is not None
    assert session["total_cost"] == {"excl_vat": 3, "incl_vat": 3.35}
    assert [p["tariff_id"] for p in session["charging_periods"]] == ["17"]

    await h.add_location("LOC1", "CP1", tariff_ids=[])
    h.advance(600)
    stopped = await h.stop(tx, 20_000)
    await cdrs.settle(h.ctx)
    cdr = await h.ocpi.get_cdr(str(stopped.id))
    assert cdr is not None
    assert cdr.data["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert [t["id"] for t in cdr.data["tariffs"]] == ["17"]


async def test_a_connector_tariff_wins_over_the_locations(h: Harness) -> None:
    """A connector's own tariff prices its sessions even when its location has one too."""
    await h.add_tariff(example("tariff_9_025kwh_start.json"))  # "17"
    await h.add_tariff(example("tariff_14_step_size.json"))  # "22"
    await h.add_location("LOC1", "CP1", tariff_ids=["22"])
    await h.spec("CP1", 1, tariff_ids=["17"])
    tx = await h.start("CP1", 1, meter_start=0)
    link = await h.ocpi.get_session_link(str(tx.id))
    assert link is not None and link.tariff_id == "17"


async def test_validity_windows_choose_among_the_locations_tariffs(h: Harness) -> None:
    """Among a location's tariffs, the one valid when a session starts prices it (windows back to back):
    a session before the switch gets "17", one after it "22"."""
    switch = h.clock() + timedelta(minutes=30)
    await h.add_tariff({**example("tariff_9_025kwh_start.json"), "end_date_time": ocpi_datetime(switch)})
    await h.add_tariff({**example("tariff_14_step_size.json"), "start_date_time": ocpi_datetime(switch)})
    await h.add_location("LOC1", "CP1", tariff_ids=["17", "22"])
    before = await h.start("CP1", 1, meter_start=0)
    link = await h.ocpi.get_session_link(str(before.id))
    assert link is not None and link.tariff_id == "17"
    h.advance(3600)  # past the switch
    await h.stop(before, 10_000)
    after = await h.start("CP1", 1, meter_start=10_000)
    link = await h.ocpi.get_session_link(str(after.id))
    assert link is not None and link.tariff_id == "22"


async def test_pin_updates_the_link_made_before_it(h: Harness) -> None:
    """The link the command runner (or the authority) made at the start keeps its token, method and
    reference: the pin only adds the tariff. Stations outside every location get no link at all."""
    await h.add_tariff(example("tariff_9_025kwh_start.json"))
    await h.spec("CP1", 1, tariff_ids=["17"])
    token = {"country_code": "NL", "party_id": "EMS", "uid": "APP1", "type": "APP_USER", "contract_id": "C1"}

    async def command_linker(event: TransactionStarted) -> None:
        """Stands in for the command runner: first among the subscribers, it links the transaction."""
        tx = event.transaction
        await h.ocpi.save_session_link(
            SessionLink(
                session_id=str(tx.id),
                partner_id=h.partner.id,
                transaction_pk=tx.id,
                auth_method="COMMAND",
                authorization_reference="REF-1",
                cdr_token=token,
                last_updated=ago(h, 5),
            )
        )

    h.domain.events.subscribe(TransactionStarted, command_linker, order=Order.COMMAND)
    tx = await h.start("CP1", 1, id_token="APP1")
    h.domain.events.unsubscribe(TransactionStarted, command_linker)
    link = await h.ocpi.get_session_link(str(tx.id))
    assert link is not None
    assert (link.auth_method, link.authorization_reference, link.cdr_token) == ("COMMAND", "REF-1", token)
    assert (link.partner_id, link.tariff_id, link.last_updated) == (h.partner.id, "17", ago(h, 5))

    await h.add_station("CP9")
    lonely = await h.start("CP9", 1)
    assert await h.ocpi.get_session_link(str(lonely.id)) is None


def test_pricing_input_is_the_total_energy_register_only() -> None:
    """readings_of keeps only phase-less Energy.Active.Import.Register samples in an energy unit, one per
    instant (the last), relative to the start meter, and only the ends of a run of equal readings."""
    at = [T0 + timedelta(seconds=s) for s in range(6)]
    samples = [
        MeterSample(at[0], Decimal(1_000)),
        MeterSample(at[1], Decimal(1_500)),
        MeterSample(at[1], Decimal(700), phase="L1"),
        MeterSample(at[1], Decimal(11_000), measurand="Power.Active.Import", unit="W"),
        MeterSample(at[1], Decimal("1.6"), unit="kWh"),  # the newest register of that instant wins
        MeterSample(at[2], Decimal(2_000)),
        MeterSample(at[3], Decimal(2_000)),
        MeterSample(at[4], Decimal(2_000)),
        MeterSample(at[5], Decimal(2_000)),
        MeterSample(at[5], Decimal(50), unit="A"),  # not an energy unit
    ]
    readings = sessions.readings_of(samples, 1_000)
    assert [(r.at, r.wh) for r in readings] == [
        (at[0], Decimal(0)),
        (at[1], Decimal(600)),
        (at[2], Decimal(1_000)),
        (at[5], Decimal(1_000)),
    ]
    assert sessions.readings_of(samples, None) == []


# -- partner isolation ---------------------------------------------------------------------------------


OTHER_TOKEN_C = "token-c-of-the-other-emsp"


async def test_each_partner_pulls_only_its_own_sessions(ocpi_store: OcpiStore, clock: FakeClock) -> None:
    """Two eMSPs (NL/EMS, DE/OTH) each page (limit 3) through only the sessions of their own tokens, with
    X-Total-Count and Link counting only those; a local token's session is in neither list; a session the
    other partner started by command (SessionLink partner_id) is its, whatever the token — on every OCPI
    store backend."""
    async with harness(ocpi_store, clock) as h:
        await h.add_station("CP1")
        await h.add_location("LOC1", "CP1")
        other = await h.add_partner(OTHER_TOKEN_C, "DE", "OTH")
        await h.partner_token("EMS1")
        await h.partner_token("OTH1", other)
        mine: list[str] = []
        theirs: list[str] = []
        for evse in range(1, 9):
            uid = "EMS1" if evse % 2 else "OTH1"
            tx = await h.start("CP1", evse, id_token=uid)
            (mine if uid == "EMS1" else theirs).append(str(tx.id))
            h.advance(10)
        await h.start("CP1", 9, id_token="LOCAL9")  # a CSMS-local token: nobody's
        commanded = await h.start("CP1", 10, id_token="APP1")
        link = await h.ocpi.get_session_link(str(commanded.id))
        assert link is not None
        link.partner_id, link.auth_method = other.id, "COMMAND"
        await h.ocpi.save_session_link(link)
        theirs.append(str(commanded.id))

        items, pages = await h.get_all("sessions", date_from=SINCE)
        assert [s["id"] for s in items] == mine and pages == 2
        assert {s["cdr_token"]["party_id"] for s in items} == {"EMS"}
        items, pages = await h.get_all("sessions", token=OTHER_TOKEN_C, date_from=SINCE)
        assert [s["id"] for s in items] == theirs and pages == 2
        _, body, headers = await h.get("sessions", date_from=SINCE)
        assert headers["X-Total-Count"] == "4" and len(body["data"]) == 3 and "Link" in headers
        _, body, headers = await h.get_as(OTHER_TOKEN_C, "sessions", date_from=SINCE, offset=3)
        assert headers["X-Total-Count"] == "5" and len(body["data"]) == 2 and "Link" not in headers


async def test_a_partner_with_several_roles_sees_each_partys_sessions(h: Harness) -> None:
    """A partner whose credentials hold two roles (NL/EMS, NL/TWO) pulls the sessions of both parties'
    tokens; another partner's reservation session is not in its list."""
    h.partner.roles = [
        {"role": "EMSP", "business_details": {"name": pid}, "country_code": "NL", "party_id": pid}
        for pid in ("EMS", "TWO")
    ]
    await h.ocpi.save_partner(h.partner)
    second = await h.add_partner(OTHER_TOKEN_C, "NL", "TWO")  # its token is also NL/TWO
    await h.partner_token("EMS1")
    await h.partner_token("TWO1", second)
    first = await h.start("CP1", 1, id_token="EMS1")
    h.advance(10)
    two = await h.start("CP1", 2, id_token="TWO1")
    reservation = await h.store.add_reservation(
        Reservation(
            id=0,
            charge_point_id="CP1",
            evse_id=3,
            id_token="X",
            expiry_date=T0 + timedelta(hours=1),
            status=ReservationStatus.ACTIVE,
            owner="ocpi:2",
            external_id="RES-X",
        )
    )
    token = {"country_code": "DE", "party_id": "XYZ", "uid": "X", "type": "RFID", "contract_id": "X"}
    link = SessionLink(f"R{reservation.id}", second.id, reservation_id=reservation.id, cdr_token=token)
    await h.ocpi.save_session_link(link)
    items, _ = await h.get_all("sessions", date_from=SINCE)
    assert [s["id"] for s in items] == [str(first.id), str(two.id)]
    items, _ = await h.get_all("sessions", token=OTHER_TOKEN_C, date_from=SINCE)
    assert [s["id"] for s in items] == [str(two.id), f"R{reservation.id}"]
