"""OCPI token uids longer than an OCPP 1.6 idTag (CiString(36) against CiString20Type) end to end: a 1.6
station is sent the token's stored alias (RemoteStartTransaction, ReserveNow) and presents it back
(Authorize, StartTransaction, StopTransaction); the CSMS answers for the real token, and sessions, CDRs and
OCPI carry the real uid, never the alias. A 2.0.1 station gets the uid itself."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from csms.domain.id_token_aliases import ALIAS_LENGTH
from csms.domain.models import ReservationStatus, Transaction
from tests.ocpi.schemas import assert_valid
from tests.ocpi.test_authority import WAIT, Bridge, authorization_info, envelope, open_bridge, token_body
from tests.ocpi.test_commands import CHECK_INTERVAL, accepted, command_token, expiry, reservation_of, site
from tests.utils import MS, until

LONG_UID = "EMSP-APP-USER-0123456789-ABCDE"  # 30 characters
assert len(LONG_UID) == 30


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """The bridge (as in test_commands), with the test partner registered."""
    async with open_bridge(tmp_path, reservation_check_interval=CHECK_INTERVAL) as b:
        yield b


async def alias_sent(bridge: Bridge, uid: str) -> str:
    """The stored alias of `uid` (it must have one)."""
    stored = await bridge.csms.services.store.get_id_token_alias(uid)
    assert stored is not None
    return stored.alias


async def pulled(bridge: Bridge, module: str) -> list[dict[str, Any]]:
    """The partner's GET of a sender module (sessions, cdrs): every object it is given."""
    status, answer = await bridge.call("GET", module, params={"date_from": "2000-01-01T00:00:00Z"})
    assert status == 200 and answer["status_code"] == 1000, answer
    data: list[dict[str, Any]] = answer["data"]
    return data


async def cdr_of(bridge: Bridge, tx: Transaction) -> dict[str, Any]:
    """The CDR of a transaction as the partner pulls it, polling until it was made (after the stop)."""
    async with asyncio.timeout(WAIT):
        while True:
            found = [c for c in await pulled(bridge, "cdrs") if c["session_id"] == str(tx.id)]
            if found:
                return found[0]
            await asyncio.sleep(MS)  # polled like tests.utils.until: no event announces the CDR


async def test_start_session_with_a_long_uid_on_a_16_station(bridge: Bridge) -> None:
    """START_SESSION with a 30-character uid to a 1.6 station is ACCEPTED: the station gets a 20-character
    alias in RemoteStartTransaction and starts with it (answered Accepted: the START_SESSION vouches for the
    token behind it), and the transaction, its Session and its CDR carry the real uid."""
    sim, evse = await site(bridge, "LONG-16", "1.6")
    result = await accepted(
        bridge, "START_SESSION", "start", token=command_token(LONG_UID), location_id="LOC1", evse_uid=evse
    )
    assert result == {"result": "ACCEPTED"}
    alias = await alias_sent(bridge, LONG_UID)
    assert len(alias) == ALIAS_LENGTH and alias != LONG_UID[:ALIAS_LENGTH]
    remote = await sim.wait_for_call("RemoteStartTransaction", timeout=WAIT)
    assert remote["idTag"] == alias
    tx = await bridge.transaction(sim)
    assert tx.id_token == LONG_UID
    assert sim.responses["StartTransaction"]["idTagInfo"]["status"] == "Accepted"
    link = await bridge.store.find_session_link(transaction_pk=tx.id)
    assert link is not None and link.auth_method == "COMMAND"
    [session] = [s for s in await pulled(bridge, "sessions") if s["id"] == str(tx.id)]
    assert session["cdr_token"]["uid"] == LONG_UID
    assert_valid("Session", session)
    await sim.stop_transaction(1)
    cdr = await cdr_of(bridge, tx)
    assert cdr["cdr_token"]["uid"] == LONG_UID
    assert_valid("CDR", cdr)
    stopped = await bridge.csms.services.store.get_transaction(tx.id)
    assert stopped is not None and stopped.id_token == LONG_UID
    assert alias not in str(session) and alias not in str(cdr)


async def test_reserve_now_with_a_long_uid_on_a_16_station(bridge: Bridge) -> None:
    """RESERVE_NOW with a 30-character uid reserves a 1.6 EVSE for its alias (ReserveNow idTag); the
    driver's card presenting the alias is authorized for the partner's token, its start uses the
    reservation, whose Session goes on with the real uid, and its StopTransaction with the alias is answered
    for the real token too."""
    await bridge.put_token(LONG_UID, whitelist="ALWAYS")
    sim, evse = await site(bridge, "LONGRES-16", "1.6")
    result = await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=token_body(LONG_UID),
        expiry_date=expiry(),
        reservation_id="EMSP-LONG-1",
        location_id="LOC1",
        evse_uid=evse,
    )
    assert result == {"result": "ACCEPTED"}
    alias = await alias_sent(bridge, LONG_UID)
    reserve = await sim.wait_for_call("ReserveNow", timeout=WAIT)
    assert reserve["idTag"] == alias
    reservation = await reservation_of(bridge, "EMSP-LONG-1")
    assert reservation.id_token == LONG_UID and reservation.status is ReservationStatus.ACTIVE
    assert (await sim.authorize(alias))["status"] == "Accepted"
    await sim.plug_in(1)
    await sim.start_transaction(1, alias)
    tx = await bridge.transaction(sim)
    assert tx.id_token == LONG_UID and tx.reservation_id == reservation.id
    used = await bridge.csms.services.store.get_reservation(reservation.id)
    assert used is not None and used.status is ReservationStatus.USED
    [session] = [s for s in await pulled(bridge, "sessions") if s["id"] == f"R{reservation.id}"]
    assert session["cdr_token"]["uid"] == LONG_UID and session["status"] == "ACTIVE"
    assert_valid("Session", session)
    await sim.stop_transaction(1)
    assert sim.responses["StopTransaction"]["idTagInfo"]["status"] == "Accepted"


async def test_16_authorize_of_the_alias_answers_for_the_real_token(bridge: Bridge) -> None:
    """A 1.6 Authorize of an alias is answered from the partner token it stands for (its group as
    parentIdTag), a real-time authorization asks the eMSP about the real uid, and an alias nobody was given
    is Invalid."""
    await bridge.put_token(LONG_UID, whitelist="ALWAYS", group_id="FLEET1")
    realtime = "EMSP-REALTIME-USER-0123456789-AB"
    await bridge.put_token(realtime, whitelist="NEVER")
    bridge.emsp.answer = (200, envelope(authorization_info("ALLOWED", realtime)))
    aliases = bridge.csms.domain.id_token_aliases
    alias, realtime_alias = await aliases.shorten(LONG_UID, 20), await aliases.shorten(realtime, 20)
    sim = await bridge.sim("AUTH-LONG-16", "1.6")
    info = await sim.authorize(alias)
    assert info["status"] == "Accepted" and info["parentIdTag"] == "FLEET1"
    assert (await sim.authorize(realtime_alias.lower()))["status"] == "Accepted"
    assert [uid for uid, _, _ in bridge.emsp.authorizations] == [realtime]
    unknown = "~" + "A" * (ALIAS_LENGTH - 1)
    assert (await sim.authorize(unknown))["status"] == "Invalid"


async def test_a_201_station_gets_the_real_uid(bridge: Bridge) -> None:
    """START_SESSION with a 30-character uid to a 2.0.1 station sends the uid itself (idToken has 36
    characters) and allocates no alias."""
    sim, evse = await site(bridge, "LONG-201", "2.0.1")
    await accepted(
        bridge, "START_SESSION", "start", token=command_token(LONG_UID), location_id="LOC1", evse_uid=evse
    )
    request = await sim.wait_for_call("RequestStartTransaction", timeout=WAIT)
    assert request["idToken"]["idToken"] == LONG_UID
    tx = await bridge.transaction(sim)
    assert tx.id_token == LONG_UID
    assert await bridge.csms.services.store.get_id_token_alias(LONG_UID) is None


@pytest.mark.parametrize("uid", ["SHORT-UID-1", "EXACTLY-TWENTY-CHARS"])
async def test_a_uid_that_fits_goes_to_a_16_station_as_it_is(bridge: Bridge, uid: str) -> None:
    """A uid of at most 20 characters is a 1.6 idTag as it is: no alias."""
    sim, evse = await site(bridge, f"FIT-{len(uid)}", "1.6")
    await accepted(
        bridge, "START_SESSION", "start", token=command_token(uid), location_id="LOC1", evse_uid=evse
    )
    remote = await sim.wait_for_call("RemoteStartTransaction", timeout=WAIT)
    assert remote["idTag"] == uid
    assert await bridge.csms.services.store.get_id_token_alias(uid) is None
    await until(lambda: 1 in sim.transactions, WAIT)
