"""The OCPI 2.2.1 Commands receiver (`ocpi.commands`) end to end: a real CSMS on free ports, charge point
simulators of both OCPP versions over real websockets, the commands module over HTTP, and a small eMSP
(aiohttp on 127.0.0.1) collecting the CommandResults POSTed to each `response_url`."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from csms.domain.clock import isoformat_z, utcnow
from csms.domain.models import AuthorizationStatus, IdToken, Reservation, ReservationStatus, TransactionStatus
from ocpi.commands import RESULT_MARGIN, owner_of
from ocpi.models import OutboxEntry, Partner, PartnerStatus, Tariff
from ocpi.transport import encode_token
from tests.ocpi.schemas import assert_valid, assert_valid_patch
from tests.ocpi.test_authority import EMSP_CC, EMSP_PID, TOKEN_B, WAIT, Bridge, open_bridge, token_body
from tests.utils import MS

VERSIONS = ["1.6", "2.0.1"]
CHECK_INTERVAL = 50 * MS  # [ocpp] reservation_check_interval: how often ended reservations are noticed
CALL_TIMEOUT = 30.0  # the default [ocpp] call_timeout


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """The bridge, noticing ended reservations every CHECK_INTERVAL."""
    async with open_bridge(tmp_path, reservation_check_interval=CHECK_INTERVAL) as b:
        yield b


def command_token(uid: str, **fields: Any) -> dict[str, Any]:
    """The Token an eMSP sends with a command (an app user's, never pushed to us)."""
    return token_body(uid, type="APP_USER", whitelist="NEVER", **fields)


def expiry(seconds: float = 3600) -> str:
    """An OCPI DateTime `seconds` from now."""
    return isoformat_z(utcnow() + timedelta(seconds=seconds))


async def command(bridge: Bridge, name: str, key: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    """POST commands/<name> with response_url the eMSP's result URL `key`; returns (HTTP status, envelope)."""
    body = {"response_url": bridge.emsp.result_url(key), **fields}
    return await bridge.call("POST", f"commands/{name}", body)


async def accepted(bridge: Bridge, name: str, key: str, **fields: Any) -> dict[str, Any]:
    """Send a command that must be ACCEPTED synchronously; return its CommandResult (waiting for it)."""
    status, answer = await command(bridge, name, key, **fields)
    assert status == 200 and answer["status_code"] == 1000, answer
    assert answer["data"]["result"] == "ACCEPTED", answer
    assert_valid("CommandResponse", answer["data"])
    result = await bridge.emsp.result(key)
    assert_valid("CommandResult", result)
    return result


async def site(bridge: Bridge, cp_id: str, version: str, **config: Any) -> tuple[Any, str]:
    """A simulator in a published location; returns it and the OCPI uid of its EVSE 1."""
    sim = await bridge.sim(cp_id, version, **config)
    await bridge.location(cp_id)
    return sim, await bridge.evse_uid(cp_id, 1)


async def reservation_of(bridge: Bridge, reservation_id: str) -> Reservation:
    """The CSMS reservation the partner calls `reservation_id`."""
    r = await bridge.csms.services.store.find_reservation_by_external_id(
        owner_of(bridge.partner), reservation_id
    )
    assert r is not None
    return r


# -- START_SESSION / STOP_SESSION -------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_start_session_starts_a_linked_transaction(bridge: Bridge, version: str) -> None:
    """START_SESSION answers ACCEPTED with a timeout, POSTs ACCEPTED to response_url with our token B, the
    station starts a transaction for the (unvalidated) token, and its SessionLink is COMMAND with the
    command's CdrToken and authorization_reference."""
    sim, evse = await site(bridge, f"START-{version}", version)
    status, answer = await command(
        bridge,
        "START_SESSION",
        "start",
        token=command_token("APPUSER1"),
        location_id="LOC1",
        evse_uid=evse,
        authorization_reference="AUTH-REF-1",
    )
    assert status == 200 and answer["status_code"] == 1000
    assert answer["data"] == {"result": "ACCEPTED", "timeout": math.ceil(CALL_TIMEOUT) + RESULT_MARGIN}
    result = await bridge.emsp.result("start")
    assert result == {"result": "ACCEPTED"}
    assert bridge.emsp.result_headers[0]["Authorization"] == encode_token(TOKEN_B)
    tx = await bridge.transaction(sim)
    assert tx.id_token == "APPUSER1" and tx.remote_start_id is not None
    link = await bridge.store.find_session_link(transaction_pk=tx.id)
    assert link is not None
    assert link.session_id == str(tx.id) and link.partner_id == bridge.partner.id
    assert link.auth_method == "COMMAND" and link.authorization_reference == "AUTH-REF-1"
    assert link.cdr_token == {
        "country_code": EMSP_CC,
        "party_id": EMSP_PID,
        "uid": "APPUSER1",
        "type": "APP_USER",
        "contract_id": "DE-EMS-CAPPUSER1",
    }
    # The command's token is not validated: the CSMS answered the transaction's token Accepted...
    if version == "1.6":
        assert sim.responses["StartTransaction"]["idTagInfo"]["status"] == "Accepted"
    else:
        assert sim.responses["TransactionEvent"]["idTokenInfo"]["status"] == "Accepted"
    # ...but only for the command's own transaction: afterwards the uid is unknown again.
    assert not await bridge.runner.vouches_for("APPUSER1", f"START-{version}", 1)
    verdict = await bridge.csms.domain.authorization.authorize("APPUSER1")
    assert verdict.status is AuthorizationStatus.INVALID


@pytest.mark.parametrize("version", VERSIONS)
async def test_transaction_reported_before_the_answer_is_still_linked(tmp_path: Path, version: str) -> None:
    """A transaction the station reports while the CSMS still waits for its answer to the remote start is
    linked to the START_SESSION (matched by station and token)."""
    action = "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction"
    async with open_bridge(tmp_path, call_timeout=1000 * MS) as bridge:
        sim, evse = await site(bridge, f"EARLY-{version}", version, silent={action})
        status, answer = await command(
            bridge, "START_SESSION", "s", token=command_token("EARLY1"), location_id="LOC1", evse_uid=evse
        )
        assert answer["data"]["result"] == "ACCEPTED"
        await sim.wait_for_call(action, timeout=WAIT)
        await sim.plug_in(1)
        await sim.start_transaction(1, "EARLY1")
        tx = await bridge.transaction(sim)
        link = await bridge.store.find_session_link(transaction_pk=tx.id)
        assert link is not None and link.auth_method == "COMMAND"
        assert (await bridge.emsp.result("s"))["result"] == "TIMEOUT"


@pytest.mark.parametrize("version", VERSIONS)
async def test_start_session_without_evse_lets_the_station_choose(bridge: Bridge, version: str) -> None:
    """START_SESSION naming only the location starts on the location's connected charge point."""
    sim, _ = await site(bridge, f"ANY-{version}", version, connectors=2)
    result = await accepted(bridge, "START_SESSION", "s", token=command_token("APPUSER2"), location_id="LOC1")
    assert result["result"] == "ACCEPTED"
    await sim.wait_until(lambda: bool(sim.transactions), WAIT)


@pytest.mark.parametrize("version", VERSIONS)
async def test_start_session_rejected_by_the_station(bridge: Bridge, version: str) -> None:
    """A remote start the station rejects gives the CommandResult REJECTED."""
    action = "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction"
    _, evse = await site(bridge, f"REJ-{version}", version, answers={action: "Rejected"})
    result = await accepted(
        bridge, "START_SESSION", "s", token=command_token("APPUSER3"), location_id="LOC1", evse_uid=evse
    )
    assert result["result"] == "REJECTED"


@pytest.mark.parametrize("version", VERSIONS)
async def test_stop_session_stops_the_transaction(bridge: Bridge, version: str) -> None:
    """STOP_SESSION of the partner's session (id = transaction id) is ACCEPTED, the station stops it and
    the transaction completes."""
    sim, evse = await site(bridge, f"STOP-{version}", version)
    await accepted(
        bridge, "START_SESSION", "start", token=command_token("APPUSER4"), location_id="LOC1", evse_uid=evse
    )
    tx = await bridge.transaction(sim)
    result = await accepted(bridge, "STOP_SESSION", "stop", session_id=str(tx.id))
    assert result["result"] == "ACCEPTED"
    await sim.wait_until(lambda: 1 not in sim.transactions, WAIT)
    stored = await bridge.csms.services.store.get_transaction(tx.id)
    assert stored is not None and stored.status is TransactionStatus.COMPLETED


async def test_stop_session_of_a_whitelisted_partner_session(bridge: Bridge) -> None:
    """A session started with the partner's RFID (no command) can be stopped by that partner."""
    await bridge.put_token("CARD5", whitelist="ALWAYS")
    sim, _ = await site(bridge, "STOP-RFID", "1.6")
    await sim.plug_in(1)
    await sim.start_transaction(1, "CARD5")
    tx = await bridge.transaction(sim)
    result = await accepted(bridge, "STOP_SESSION", "stop", session_id=str(tx.id))
    assert result["result"] == "ACCEPTED"
    await sim.wait_until(lambda: 1 not in sim.transactions, WAIT)


async def test_stop_session_of_a_session_that_is_not_the_partners(bridge: Bridge) -> None:
    """STOP_SESSION of a transaction started with a CSMS token (not the partner's), of an unknown id, or
    of a non-numeric id answers UNKNOWN_SESSION and sends nothing to the station."""
    await bridge.csms.services.store.add_id_token(IdToken("LOCAL1"))
    sim, _ = await site(bridge, "STOP-OTHER", "1.6")
    await sim.plug_in(1)
    await sim.start_transaction(1, "LOCAL1")
    tx = await bridge.transaction(sim)
    for session_id in (str(tx.id), "999999", "R1"):
        status, answer = await command(bridge, "STOP_SESSION", "stop", session_id=session_id)
        assert status == 200 and answer["data"]["result"] == "UNKNOWN_SESSION", answer
        assert_valid("CommandResponse", answer["data"])
    assert not any(action == "RemoteStopTransaction" for action, _ in sim.calls_received)


# -- RESERVE_NOW / CANCEL_RESERVATION -----------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_reserve_now_reserves_the_evse(bridge: Bridge, version: str) -> None:
    """RESERVE_NOW is ACCEPTED once the station accepted ReserveNow: the reservation is active under the
    partner's reservation_id (our own integer id goes to the station) with the SessionLink R<id>."""
    sim, evse = await site(bridge, f"RES-{version}", version)
    result = await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER6"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-1",
        location_id="LOC1",
        evse_uid=evse,
        authorization_reference="AUTH-RES-1",
    )
    assert result == {"result": "ACCEPTED"}
    reservation = await reservation_of(bridge, "EMSP-RES-1")
    assert reservation.status is ReservationStatus.ACTIVE and reservation.evse_id == 1
    assert reservation.id_token == "APPUSER6"
    assert set(sim.reservations) == {reservation.id}
    link = await bridge.store.get_session_link(f"R{reservation.id}")
    assert link is not None
    assert link.reservation_id == reservation.id and link.partner_id == bridge.partner.id
    assert link.auth_method == "COMMAND" and link.authorization_reference == "AUTH-RES-1"
    assert link.cdr_token is not None and link.cdr_token["uid"] == "APPUSER6"
    # The driver the reservation is for is Accepted at that EVSE (the eMSP vouched for the token), not
    # at another EVSE or station, and not another token.
    assert await bridge.runner.reserved_for("APPUSER6", f"RES-{version}", 1)
    assert await bridge.runner.reserved_for("APPUSER6", f"RES-{version}", None)
    assert not await bridge.runner.reserved_for("APPUSER6", f"RES-{version}", 2)
    assert not await bridge.runner.reserved_for("APPUSER6", "ELSEWHERE", 1)
    assert not await bridge.runner.reserved_for("APPUSER9", f"RES-{version}", 1)
    accepted_here = await bridge.runner.token_authority.authorize(
        "APPUSER6", charge_point_id=f"RES-{version}", evse_id=1
    )
    assert accepted_here is not None and accepted_here.status is AuthorizationStatus.ACCEPTED


@pytest.mark.parametrize("version", VERSIONS)
async def test_reserve_now_on_an_occupied_evse(bridge: Bridge, version: str) -> None:
    """RESERVE_NOW on an EVSE with a cable plugged in gives EVSE_OCCUPIED and no active reservation."""
    sim, evse = await site(bridge, f"OCC-{version}", version)
    await sim.plug_in(1)
    result = await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER7"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-2",
        location_id="LOC1",
        evse_uid=evse,
    )
    assert result["result"] == "EVSE_OCCUPIED"
    assert (await reservation_of(bridge, "EMSP-RES-2")).status is ReservationStatus.REJECTED
    assert sim.reservations == {}


@pytest.mark.parametrize("version", VERSIONS)
async def test_reserve_now_on_an_unavailable_evse(bridge: Bridge, version: str) -> None:
    """RESERVE_NOW on a faulted EVSE gives EVSE_INOPERATIVE."""
    sim, evse = await site(bridge, f"FLT-{version}", version)
    await sim.send_status(1, "Faulted", error_code="GroundFailure" if version == "1.6" else "NoError")
    result = await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER8"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-3",
        location_id="LOC1",
        evse_uid=evse,
    )
    assert result["result"] == "EVSE_INOPERATIVE"


@pytest.mark.parametrize("version", VERSIONS)
async def test_start_session_by_the_reserved_token_uses_the_reservation(bridge: Bridge, version: str) -> None:
    """After RESERVE_NOW, START_SESSION by another token is REJECTED (the EVSE is held), and START_SESSION by
    the reserved token starts a transaction that uses the reservation."""
    sim, evse = await site(bridge, f"USE-{version}", version)
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("HOLDER1"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-4",
        location_id="LOC1",
        evse_uid=evse,
    )
    reservation = await reservation_of(bridge, "EMSP-RES-4")
    intruder = await accepted(
        bridge,
        "START_SESSION",
        "intruder",
        token=command_token("INTRUDER"),
        location_id="LOC1",
        evse_uid=evse,
    )
    assert intruder["result"] == "REJECTED"
    result = await accepted(
        bridge, "START_SESSION", "start", token=command_token("HOLDER1"), location_id="LOC1", evse_uid=evse
    )
    assert result["result"] == "ACCEPTED"
    tx = await bridge.transaction(sim)
    assert tx.reservation_id == reservation.id
    used = await bridge.csms.services.store.get_reservation(reservation.id)
    assert used is not None and used.status is ReservationStatus.USED and used.transaction_pk == tx.id
    link = await bridge.store.find_session_link(transaction_pk=tx.id)
    assert link is not None and link.auth_method == "COMMAND" and link.reservation_id == reservation.id


@pytest.mark.parametrize("version", VERSIONS)
async def test_same_reservation_id_replaces_the_reservation(bridge: Bridge, version: str) -> None:
    """A second RESERVE_NOW with the same reservation_id replaces the reservation: same id, new expiry, one
    reservation at the station."""
    sim, evse = await site(bridge, f"REPL-{version}", version)
    fields = {"reservation_id": "EMSP-RES-5", "location_id": "LOC1", "evse_uid": evse}
    await accepted(
        bridge, "RESERVE_NOW", "first", token=command_token("APPUSER9"), expiry_date=expiry(600), **fields
    )
    first = await reservation_of(bridge, "EMSP-RES-5")
    later = expiry(7200)
    result = await accepted(
        bridge, "RESERVE_NOW", "second", token=command_token("APPUSER9"), expiry_date=later, **fields
    )
    assert result["result"] == "ACCEPTED"
    second = await reservation_of(bridge, "EMSP-RES-5")
    assert second.id == first.id and second.status is ReservationStatus.ACTIVE
    assert isoformat_z(second.expiry_date)[:19] == later[:19]
    assert set(sim.reservations) == {first.id}


@pytest.mark.parametrize("version", VERSIONS)
async def test_cancel_reservation(bridge: Bridge, version: str) -> None:
    """CANCEL_RESERVATION of the partner's reservation_id cancels it at the station (ACCEPTED), and no
    CANCELED_RESERVATION follows on the RESERVE_NOW response_url."""
    sim, evse = await site(bridge, f"CAN-{version}", version)
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER10"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-6",
        location_id="LOC1",
        evse_uid=evse,
    )
    result = await accepted(bridge, "CANCEL_RESERVATION", "cancel", reservation_id="EMSP-RES-6")
    assert result == {"result": "ACCEPTED"}
    cancelled = await reservation_of(bridge, "EMSP-RES-6")
    assert cancelled.status is ReservationStatus.CANCELLED
    assert sim.reservations == {}
    await bridge.runner.watcher.check()
    await bridge.runner.settle()
    assert len(bridge.emsp.results["reserve"]) == 1


async def with_sessions_receiver(bridge: Bridge) -> Partner:
    """Give the bridge's partner a sessions RECEIVER endpoint, and register a second partner with one too;
    returns the second partner."""
    bridge.partner.endpoints["sessions:RECEIVER"] = f"{bridge.emsp.url}/sessions"
    await bridge.store.save_partner(bridge.partner)
    return await bridge.store.add_partner(
        Partner(
            id=0,
            name="Other eMSP",
            country_code="NL",
            party_id="OTH",
            status=PartnerStatus.REGISTERED,
            token_b="token-b-other",
            endpoints={"sessions:RECEIVER": f"{bridge.emsp.url}/other/sessions"},
        )
    )


async def session_pushes(bridge: Bridge, session_id: str) -> list[OutboxEntry]:
    """Every push of one session queued in the outbox (whatever became of it), oldest first."""
    entries = await bridge.store.list_outbox(limit=1000)
    return sorted((e for e in entries if e.object_key == f"session:{session_id}"), key=lambda e: e.id)


@pytest.mark.parametrize("version", VERSIONS)
async def test_reservation_session_is_pushed_and_completed(bridge: Bridge, version: str) -> None:
    """An accepted RESERVE_NOW PUTs the reservation's Session (status RESERVATION) to the partner that
    reserved, and to no other; CANCEL_RESERVATION then PATCHes it to COMPLETED."""
    other = await with_sessions_receiver(bridge)
    _, evse = await site(bridge, f"RSP-{version}", version)
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER14"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-10",
        location_id="LOC1",
        evse_uid=evse,
        authorization_reference="AUTH-RES-10",
    )
    reservation = await reservation_of(bridge, "EMSP-RES-10")
    session_id = f"R{reservation.id}"
    [put] = await session_pushes(bridge, session_id)
    assert (put.method, put.partner_id, put.module) == ("PUT", bridge.partner.id, "sessions")
    assert put.url == f"{bridge.emsp.url}/sessions/NL/CSM/{session_id}"
    assert put.body is not None
    assert_valid("Session", put.body)
    assert put.body["id"] == session_id and put.body["status"] == "RESERVATION"
    assert put.body["evse_uid"] == evse and put.body["cdr_token"]["uid"] == "APPUSER14"
    assert (put.body["auth_method"], put.body["authorization_reference"]) == ("COMMAND", "AUTH-RES-10")
    assert "end_date_time" not in put.body

    await accepted(bridge, "CANCEL_RESERVATION", "cancel", reservation_id="EMSP-RES-10")
    put_again, patch = await session_pushes(bridge, session_id)
    assert put_again.id == put.id
    assert (patch.method, patch.partner_id, patch.url) == ("PATCH", bridge.partner.id, put.url)
    assert patch.body is not None
    assert_valid_patch("Session", patch.body)
    assert patch.body["status"] == "COMPLETED" and set(patch.body) == {
        "status",
        "end_date_time",
        "last_updated",
    }
    assert await bridge.store.list_outbox(partner_id=other.id) == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_expired_reservation_session_is_completed(bridge: Bridge, version: str) -> None:
    """A reservation that expires unused: its Session is PATCHed to COMPLETED (before CANCELED_RESERVATION
    is POSTed), and GET sessions still lists it, COMPLETED."""
    await with_sessions_receiver(bridge)
    _, evse = await site(bridge, f"RSX-{version}", version)
    since = isoformat_z(utcnow() - timedelta(minutes=1))
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER15"),
        expiry_date=expiry(1000 * MS),
        reservation_id="EMSP-RES-11",
        location_id="LOC1",
        evse_uid=evse,
    )
    assert (await bridge.emsp.result("reserve", index=1))["result"] == "CANCELED_RESERVATION"
    reservation = await reservation_of(bridge, "EMSP-RES-11")
    pushes = await session_pushes(bridge, f"R{reservation.id}")
    assert [(e.method, (e.body or {}).get("status")) for e in pushes] == [
        ("PUT", "RESERVATION"),
        ("PATCH", "COMPLETED"),
    ]
    status, answer = await bridge.call("GET", "sessions", params={"date_from": since})
    assert status == 200 and answer["status_code"] == 1000
    [listed] = [s for s in answer["data"] if s["id"] == f"R{reservation.id}"]
    completed = pushes[1].body
    assert completed is not None
    assert listed["status"] == "COMPLETED" and listed["end_date_time"] == completed["end_date_time"]
    assert_valid("Session", listed)


# RESERVATION_EXPIRES: 3.00 FLAT @20 %; RESERVATION: 2.40/h @20 % in steps of an hour; charging: 0.30/kWh.
RESERVATION_TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "CSM",
    "id": "RES-E2E",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [{"type": "FLAT", "price": 3.00, "vat": 20, "step_size": 1}],
            "restrictions": {"reservation": "RESERVATION_EXPIRES"},
        },
        {
            "price_components": [{"type": "TIME", "price": 2.40, "vat": 20, "step_size": 3600}],
            "restrictions": {"reservation": "RESERVATION"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20, "step_size": 1}]},
    ],
    "last_updated": "2026-01-01T00:00:00Z",
}


@pytest.mark.parametrize("version", VERSIONS)
async def test_expired_reservation_is_billed_in_a_reservation_cdr(bridge: Bridge, version: str) -> None:
    """A reservation that expires unused under a tariff with reservation elements: its COMPLETED PATCH
    carries the reservation cost and a CDR for it alone follows (POSTed to the partner, listed on GET cdrs).
    Under a second, an hour step: 3.00 expiry fee + 1 h × 2.40 = 5.40 excl., 6.48 incl."""
    await with_sessions_receiver(bridge)
    bridge.partner.endpoints["cdrs:RECEIVER"] = f"{bridge.emsp.url}/cdrs"
    await bridge.store.save_partner(bridge.partner)
    await bridge.store.save_tariff(Tariff(id="RES-E2E", currency="EUR", data=RESERVATION_TARIFF))
    _, evse = await site(bridge, f"RSC-{version}", version)
    location = await bridge.store.get_location("LOC1")
    assert location is not None
    location.tariff_ids = ["RES-E2E"]
    await bridge.store.save_location(location)
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER16"),
        expiry_date=expiry(1000 * MS),
        reservation_id="EMSP-RES-12",
        location_id="LOC1",
        evse_uid=evse,
    )
    assert (await bridge.emsp.result("reserve", index=1))["result"] == "CANCELED_RESERVATION"
    reservation = await reservation_of(bridge, "EMSP-RES-12")
    session_id = f"R{reservation.id}"
    pushes = await session_pushes(bridge, session_id)
    assert [(e.module, e.method) for e in pushes] == [
        ("sessions", "PUT"),
        ("sessions", "PATCH"),
        ("cdrs", "POST"),
    ]
    patch, post = pushes[1].body, pushes[2].body
    assert patch is not None and post is not None
    assert_valid_patch("Session", patch)
    assert patch["status"] == "COMPLETED" and patch["total_cost"] == {"excl_vat": 5.4, "incl_vat": 6.48}
    assert (pushes[2].partner_id, pushes[2].url) == (bridge.partner.id, f"{bridge.emsp.url}/cdrs")
    assert_valid("CDR", post)
    assert (post["id"], post["session_id"], post["total_energy"]) == (session_id, session_id, 0)
    assert post["total_reservation_cost"] == {"excl_vat": 5.4, "incl_vat": 6.48}
    assert post["end_date_time"] == patch["end_date_time"]
    status, answer = await bridge.call("GET", "cdrs")
    assert status == 200 and [c["id"] for c in answer["data"]] == [session_id]


async def test_cancel_of_an_unknown_reservation(bridge: Bridge) -> None:
    """CANCEL_RESERVATION of a reservation_id the partner never used gives UNKNOWN_RESERVATION."""
    result = await accepted(bridge, "CANCEL_RESERVATION", "cancel", reservation_id="NEVER-MADE")
    assert result["result"] == "UNKNOWN_RESERVATION"


@pytest.mark.parametrize("version", VERSIONS)
async def test_cancel_of_a_reservation_the_station_lost(bridge: Bridge, version: str) -> None:
    """A CancelReservation the station rejects (it does not know the reservation): UNKNOWN_RESERVATION."""
    sim, evse = await site(bridge, f"LOST-{version}", version, answers={"CancelReservation": "Rejected"})
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER11"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-7",
        location_id="LOC1",
        evse_uid=evse,
    )
    result = await accepted(bridge, "CANCEL_RESERVATION", "cancel", reservation_id="EMSP-RES-7")
    assert result["result"] == "UNKNOWN_RESERVATION"


@pytest.mark.parametrize("version", VERSIONS)
async def test_operator_cancel_sends_canceled_reservation(bridge: Bridge, version: str) -> None:
    """When the operator cancels a reservation made through RESERVE_NOW, CANCELED_RESERVATION is POSTed to
    the RESERVE_NOW response_url."""
    _, evse = await site(bridge, f"OPC-{version}", version)
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER12"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-8",
        location_id="LOC1",
        evse_uid=evse,
    )
    reservation = await reservation_of(bridge, "EMSP-RES-8")
    await bridge.csms.domain.reservations.cancel(reservation.id)
    result = await bridge.emsp.result("reserve", index=1)
    assert result["result"] == "CANCELED_RESERVATION"
    assert_valid("CommandResult", result)


@pytest.mark.parametrize("version", VERSIONS)
async def test_expired_reservation_sends_canceled_reservation(bridge: Bridge, version: str) -> None:
    """When a reservation made through RESERVE_NOW expires, CANCELED_RESERVATION is POSTed to its
    response_url."""
    _, evse = await site(bridge, f"EXP-{version}", version)
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER13"),
        expiry_date=expiry(1000 * MS),
        reservation_id="EMSP-RES-9",
        location_id="LOC1",
        evse_uid=evse,
    )
    result = await bridge.emsp.result("reserve", index=1)
    assert result["result"] == "CANCELED_RESERVATION"
    assert (await reservation_of(bridge, "EMSP-RES-9")).status is ReservationStatus.EXPIRED


# -- UNLOCK_CONNECTOR ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_unlock_connector(bridge: Bridge, version: str) -> None:
    """UNLOCK_CONNECTOR sends UnlockConnector for the EVSE's connector; Unlocked gives ACCEPTED."""
    sim, evse = await site(bridge, f"UNL-{version}", version)
    result = await accepted(
        bridge, "UNLOCK_CONNECTOR", "unlock", location_id="LOC1", evse_uid=evse, connector_id="1"
    )
    assert result == {"result": "ACCEPTED"}
    action, payload = next((a, p) for a, p in sim.calls_received if a == "UnlockConnector")
    assert payload == ({"connectorId": 1} if version == "1.6" else {"evseId": 1, "connectorId": 1})


@pytest.mark.parametrize("version", VERSIONS)
async def test_unlock_failure(bridge: Bridge, version: str) -> None:
    """A stuck cable lock (UnlockFailed) gives FAILED."""
    _, evse = await site(bridge, f"STUCK-{version}", version, unlock_fails=True)
    result = await accepted(
        bridge, "UNLOCK_CONNECTOR", "unlock", location_id="LOC1", evse_uid=evse, connector_id="1"
    )
    assert result["result"] == "FAILED"


async def test_unlock_not_supported(bridge: Bridge) -> None:
    """A 1.6 station answering NotSupported to UnlockConnector gives NOT_SUPPORTED."""
    _, evse = await site(bridge, "NOSUP", "1.6", answers={"UnlockConnector": "NotSupported"})
    result = await accepted(
        bridge, "UNLOCK_CONNECTOR", "unlock", location_id="LOC1", evse_uid=evse, connector_id="1"
    )
    assert result["result"] == "NOT_SUPPORTED"


# -- stations that cannot answer -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", ["START_SESSION", "RESERVE_NOW"])
async def test_station_that_never_answers_gives_timeout(tmp_path: Path, version: str, name: str) -> None:
    """A station that does not answer within [ocpp] call_timeout gives TIMEOUT; the synchronous answer's
    timeout covered that wait."""
    call_timeout = 300 * MS
    async with open_bridge(tmp_path, call_timeout=call_timeout) as bridge:
        silent = {
            ("START_SESSION", "1.6"): "RemoteStartTransaction",
            ("START_SESSION", "2.0.1"): "RequestStartTransaction",
        }.get((name, version), "ReserveNow")
        _, evse = await site(bridge, f"MUTE-{version}", version, silent={silent})
        fields: dict[str, Any] = {
            "token": command_token("APPUSER14"),
            "location_id": "LOC1",
            "evse_uid": evse,
        }
        if name == "RESERVE_NOW":
            fields.update(expiry_date=expiry(), reservation_id="EMSP-RES-10")
        status, answer = await command(bridge, name, "mute", **fields)
        calls = 2 if name == "RESERVE_NOW" else 1
        assert answer["data"] == {
            "result": "ACCEPTED",
            "timeout": math.ceil(call_timeout * calls) + RESULT_MARGIN,
        }
        result = await bridge.emsp.result("mute")
        assert result["result"] == "TIMEOUT"


@pytest.mark.parametrize("name", ["START_SESSION", "UNLOCK_CONNECTOR", "RESERVE_NOW"])
async def test_offline_station_gives_failed(bridge: Bridge, name: str) -> None:
    """A command for a charge point that is not connected gives FAILED."""
    await bridge.location("NEVER-CONNECTED")
    evse = await bridge.evse_uid("NEVER-CONNECTED", 1)
    fields: dict[str, Any] = {"location_id": "LOC1", "evse_uid": evse}
    if name == "UNLOCK_CONNECTOR":
        fields["connector_id"] = "1"
    else:
        fields["token"] = command_token("APPUSER15")
    if name == "RESERVE_NOW":
        fields.update(expiry_date=expiry(), reservation_id="EMSP-RES-11")
    result = await accepted(bridge, name, "offline", **fields)
    assert result["result"] == "FAILED"
    assert result["message"][0]["text"]


# -- synchronous refusals ------------------------------------------------------------------------------------


async def test_unknown_location_is_2003_rejected(bridge: Bridge) -> None:
    """A command for an unknown location answers status 2003 with result REJECTED, and no result follows."""
    status, answer = await command(
        bridge, "START_SESSION", "s", token=command_token("APPUSER16"), location_id="NOWHERE"
    )
    assert status == 200 and answer["status_code"] == 2003
    assert answer["data"]["result"] == "REJECTED"
    assert_valid("CommandResponse", answer["data"])
    await bridge.runner.settle()
    assert bridge.emsp.results == {}


async def test_unpublished_location_is_unknown(bridge: Bridge) -> None:
    """A location that is not published is unknown to partners (2003)."""
    location = await bridge.location("CP-HIDDEN")
    location.publish = False
    await bridge.store.save_location(location)
    status, answer = await command(
        bridge, "START_SESSION", "s", token=command_token("APPUSER17"), location_id="LOC1"
    )
    assert answer["status_code"] == 2003


async def test_evse_not_in_the_location_is_rejected(bridge: Bridge) -> None:
    """An evse_uid that is unknown, or belongs to another location, answers REJECTED."""
    await bridge.location("CP-A")
    await bridge.location("CP-B", location_id="LOC2")
    other = await bridge.evse_uid("CP-B", 1)
    for evse in ("no-such-evse", other):
        status, answer = await command(
            bridge, "UNLOCK_CONNECTOR", "u", location_id="LOC1", evse_uid=evse, connector_id="1"
        )
        assert status == 200 and answer["status_code"] == 1000
        assert answer["data"]["result"] == "REJECTED"
    await bridge.runner.settle()
    assert bridge.emsp.results == {}


async def test_unknown_connector_is_rejected(bridge: Bridge) -> None:
    """UNLOCK_CONNECTOR of a connector id that is not a connector number answers REJECTED."""
    await bridge.location("CP-A")
    evse = await bridge.evse_uid("CP-A", 1)
    _, answer = await command(
        bridge, "UNLOCK_CONNECTOR", "u", location_id="LOC1", evse_uid=evse, connector_id="A"
    )
    assert answer["data"]["result"] == "REJECTED"


async def test_unknown_command_is_not_supported(bridge: Bridge) -> None:
    """POST commands/<something else> answers NOT_SUPPORTED."""
    status, answer = await command(bridge, "SELF_DESTRUCT", "x")
    assert status == 200 and answer["data"]["result"] == "NOT_SUPPORTED"
    assert_valid("CommandResponse", answer["data"])


async def test_reservation_expiring_in_the_past_is_rejected(bridge: Bridge) -> None:
    """RESERVE_NOW with an expiry_date that has passed answers REJECTED."""
    await bridge.location("CP-A")
    _, answer = await command(
        bridge,
        "RESERVE_NOW",
        "r",
        token=command_token("APPUSER18"),
        expiry_date=expiry(-60),
        reservation_id="OLD",
        location_id="LOC1",
    )
    assert answer["data"]["result"] == "REJECTED"


@pytest.mark.parametrize(
    ("name", "fields", "problem"),
    [
        ("START_SESSION", {"location_id": "LOC1"}, "token"),
        ("START_SESSION", {"token": {"uid": "X"}, "location_id": "LOC1"}, "token.type"),
        ("START_SESSION", {"token": "X", "location_id": "LOC1"}, "token"),
        (
            "START_SESSION",
            {"token": command_token("U"), "location_id": "LOC1", "connector_id": "1"},
            "evse_uid",
        ),
        ("STOP_SESSION", {}, "session_id"),
        (
            "RESERVE_NOW",
            {"token": command_token("U"), "location_id": "LOC1", "reservation_id": "R"},
            "expiry_date",
        ),
        (
            "RESERVE_NOW",
            {
                "token": command_token("U"),
                "location_id": "LOC1",
                "reservation_id": "R",
                "expiry_date": "soon",
            },
            "expiry_date",
        ),
        ("CANCEL_RESERVATION", {"reservation_id": "R" * 37}, "reservation_id"),
        ("UNLOCK_CONNECTOR", {"location_id": "LOC1", "evse_uid": "E"}, "connector_id"),
    ],
)
async def test_invalid_body_is_2001(bridge: Bridge, name: str, fields: dict[str, Any], problem: str) -> None:
    """A command body with a missing or malformed field answers 2001 naming the field."""
    status, answer = await command(bridge, name, "bad", **fields)
    assert answer["status_code"] == 2001, answer
    assert problem in answer["status_message"]


async def test_missing_response_url_is_2001(bridge: Bridge) -> None:
    """A command without response_url answers 2001: there is nowhere to send the result."""
    status, answer = await bridge.call("POST", "commands/CANCEL_RESERVATION", {"reservation_id": "R"})
    assert answer["status_code"] == 2001 and "response_url" in answer["status_message"]


async def test_invalid_json_is_400(bridge: Bridge) -> None:
    """A command body that is not JSON is HTTP 400 / 2001."""
    async with bridge.http.post(f"{bridge.ocpi_url}/2.2.1/commands/STOP_SESSION", data=b"{") as resp:
        assert resp.status == 400
        assert (await resp.json())["status_code"] == 2001
