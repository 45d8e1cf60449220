"""OCPI command state that outlives its process (`CommandPromise`s: results owed, watched reservations) and
the START_SESSION token vouched for at the command's station and EVSE only, over a real CSMS and store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from csms.domain.models import AuthorizationStatus
from csms.domain.remote_start import REMOTE_START_WINDOW
from ocpi.commands import CommandRunner
from ocpi.models import PendingStart
from tests.ocpi.test_authority import Bridge, open_bridge
from tests.ocpi.test_commands import CHECK_INTERVAL, accepted, command_token, expiry, reservation_of, site

VERSIONS = ["1.6", "2.0.1"]


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """The bridge, noticing ended reservations every CHECK_INTERVAL."""
    async with open_bridge(tmp_path, reservation_check_interval=CHECK_INTERVAL) as b:
        yield b


async def test_a_command_whose_process_died_is_answered_timeout_once_after_restart(bridge: Bridge) -> None:
    """A command accepted by a runner that is dropped before its answer (the process died) is answered
    TIMEOUT once by the runner of the next start; a later start, and the old operation finishing late,
    post nothing more (OCPI 2.2.1 Commands: the result is sent once)."""
    never = asyncio.Event()

    async def hangs() -> tuple[str, str | None]:
        await never.wait()
        return "ACCEPTED", None

    crashed = CommandRunner(bridge.ctx)
    url = bridge.emsp.result_url("lost")
    await crashed.run(bridge.partner, "UNLOCK_CONNECTOR", url, hangs, due_in=0)
    await crashed.close()  # dropped without posting: the CancelledError is no answer
    assert "lost" not in bridge.emsp.results

    restarted = CommandRunner(bridge.ctx)
    await restarted.recover()
    result = await bridge.emsp.result("lost")
    assert result["result"] == "TIMEOUT" and result["message"][0]["language"] == "en"
    await restarted.settle()

    late = CommandRunner(bridge.ctx)
    await late.run(bridge.partner, "UNLOCK_CONNECTOR", bridge.emsp.result_url("late"), hangs, due_in=0)
    again = CommandRunner(bridge.ctx)
    await again.recover()  # the late one's deadline passed too: TIMEOUT for it, nothing more for "lost"
    assert (await bridge.emsp.result("late"))["result"] == "TIMEOUT"
    await again.settle()
    never.set()  # the late operation answers after all: its result was posted already
    await late.settle()
    assert len(bridge.emsp.results["lost"]) == 1 and len(bridge.emsp.results["late"]) == 1
    for runner in (restarted, late, again):
        await runner.close()


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_reservation_watched_before_a_restart_still_gets_canceled_reservation(
    bridge: Bridge, version: str
) -> None:
    """A RESERVE_NOW reservation whose runner stopped (a restart) is watched again by the next start's
    runner: when the operator cancels it, CANCELED_RESERVATION is POSTed to the RESERVE_NOW response_url,
    once, however many runners watch it."""
    sim, evse = await site(bridge, f"DUR-{version}", version)
    await accepted(
        bridge,
        "RESERVE_NOW",
        "reserve",
        token=command_token("APPUSER20"),
        expiry_date=expiry(),
        reservation_id="EMSP-RES-20",
        location_id="LOC1",
        evse_uid=evse,
    )
    await bridge.runner.close()  # the process stops: its in-memory watch is gone
    first, second = CommandRunner(bridge.ctx), CommandRunner(bridge.ctx)
    await first.recover()
    await second.recover()  # e.g. a second worker on the same database
    reservation = await reservation_of(bridge, "EMSP-RES-20")
    await bridge.csms.domain.reservations.cancel(reservation.id)
    ended = await bridge.emsp.result("reserve", index=1)
    assert ended["result"] == "CANCELED_RESERVATION"
    for runner in (first, second):
        await runner.watcher.check()
        await runner.settle()
    assert len(bridge.emsp.results["reserve"]) == 2 and sim.reservations == {}
    for runner in (first, second):
        await runner.close()


async def test_start_session_token_is_vouched_for_at_its_station_and_evse_only(bridge: Bridge) -> None:
    """A START_SESSION's token (never pushed to us) waiting for its transaction at station A, EVSE 1 is
    Accepted there (by the command, as another node stored it), and not at station B, EVSE 2 of A, nor
    where the asker names no station."""
    domain = bridge.csms.domain
    remote_start_id = domain.remote_starts.new_id()
    domain.remote_starts.expect("CP-A", remote_start_id, "APPUSER30", 1)
    await bridge.store.add_pending_start(
        PendingStart(
            remote_start_id=remote_start_id,
            partner_id=bridge.partner.id,
            charge_point_id="CP-A",
            uid="APPUSER30",
            cdr_token=command_token("APPUSER30"),
            authorization_reference=None,
            until=bridge.ctx.clock() + REMOTE_START_WINDOW,
            evse_id=1,
        )
    )
    authorize = domain.authorization.authorize
    accepted_at_a = await authorize("APPUSER30", charge_point_id="CP-A", evse_id=1)
    assert accepted_at_a.status is AuthorizationStatus.ACCEPTED
    assert (await authorize("APPUSER30", charge_point_id="CP-A")).status is AuthorizationStatus.ACCEPTED
    for where in ({"charge_point_id": "CP-B", "evse_id": 1}, {"charge_point_id": "CP-A", "evse_id": 2}, {}):
        assert (await authorize("APPUSER30", **where)).status is AuthorizationStatus.INVALID, where
