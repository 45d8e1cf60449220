"""The fleet runner against a fake CSMS: ids, boot, scheduled transactions, reconnects and clean stops."""

from __future__ import annotations

import asyncio

import pytest

from simulators.fleet import Fleet, FleetConfig, charge_point_ids
from tests.simulators.fake_csms import FakeCsms
from tests.utils import MS


def fast_config(csms: FakeCsms, **kw: object) -> FleetConfig:
    """A fleet config with every interval in tens of milliseconds."""
    values: dict[str, object] = {
        "url": csms.url, "count": 2, "id_prefix": "FL", "tx_duration": 150 * MS, "tx_interval": 50 * MS,
        "meter_interval": 50 * MS, "call_timeout": 1000 * MS, "reconnect_delay": 50 * MS, "seed": 1,
    }  # fmt: skip
    values.update(kw)
    return FleetConfig(**values)  # type: ignore[arg-type]


def test_charge_point_ids_are_zero_padded() -> None:
    """Ids are the prefix plus an index padded to at least three digits, wider when the count needs it."""
    assert charge_point_ids("SIM", 2) == ["SIM001", "SIM002"]
    assert charge_point_ids("X", 2, first_index=999) == ["X0999", "X1000"]


def test_fleet_refuses_empty_configs() -> None:
    """A fleet needs at least one simulator and one id token."""
    with pytest.raises(ValueError):
        Fleet(FleetConfig(count=0))
    with pytest.raises(ValueError):
        Fleet(FleetConfig(id_tokens=[]))


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_fleet_boots_and_runs_transactions(csms: FakeCsms, version: str) -> None:
    """Every simulator connects, boots, reports Available and runs whole transactions with meter values."""
    config = fast_config(csms, ocpp_version=version, duration=800 * MS, id_tokens=["A", "B"])
    summary = await Fleet(config).run()
    assert summary.simulators == 2 and summary.connected == 2 and summary.booted == 2
    assert summary.errors == 0, summary.error_messages
    assert summary.transactions_started >= 2
    assert summary.transactions_stopped == summary.transactions_started
    assert summary.meter_values_sent >= 1
    assert {r.path for r in csms.requests} == {"/ocpp/FL001", "/ocpp/FL002"}
    if version == "1.6":
        assert {c["idTag"] for c in csms.calls("StartTransaction")} == {"A", "B"}
        assert {c["status"] for c in csms.calls("StatusNotification")} >= {
            "Available",
            "Preparing",
            "Charging",
        }
    else:
        started = [e for e in csms.calls("TransactionEvent") if e["eventType"] == "Started"]
        assert {e["idToken"]["idToken"] for e in started} == {"A", "B"}
    assert "transactions_started=" in summary.render()


async def test_fleet_stop_event_ends_open_transactions(csms: FakeCsms) -> None:
    """Setting the stop event stops running transactions and closes every socket before run() returns."""
    fleet = Fleet(fast_config(csms, count=1, tx_duration=60.0, tx_interval=0.0))
    stop = asyncio.Event()
    task = asyncio.create_task(fleet.run(stop))
    await csms.wait_calls("StartTransaction")
    stop.set()
    summary = await asyncio.wait_for(task, 2000 * MS)
    assert summary.transactions_started == summary.transactions_stopped == 1
    assert len(csms.calls("StopTransaction")) == 1
    assert not any(sim.connected for sim in fleet.simulators)


async def test_fleet_cancellation_still_shuts_down(csms: FakeCsms) -> None:
    """Cancelling run() stops the transactions and closes the sockets before CancelledError propagates."""
    fleet = Fleet(fast_config(csms, count=1, tx_duration=60.0, tx_interval=0.0))
    task = asyncio.create_task(fleet.run())
    await csms.wait_calls("StartTransaction")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(csms.calls("StopTransaction")) == 1
    assert not any(sim.connected for sim in fleet.simulators)


async def test_authorization_rejection_skips_the_transaction(csms: FakeCsms) -> None:
    """A token the CSMS rejects is counted and no transaction is started with it."""
    csms.responses["Authorize"] = {"idTagInfo": {"status": "Invalid"}}
    summary = await Fleet(fast_config(csms, count=1, duration=300 * MS)).run()
    assert summary.authorizations_rejected >= 1 and summary.transactions_started == 0
    assert csms.calls("StartTransaction") == []


async def test_fleet_reconnects_after_the_csms_drops_it(csms: FakeCsms) -> None:
    """When the CSMS closes the socket the simulator reconnects and boots again; the drop counts as an
    error."""
    fleet = Fleet(fast_config(csms, count=1, tx_duration=60.0, tx_interval=60.0))
    stop = asyncio.Event()
    task = asyncio.create_task(fleet.run(stop))
    await csms.wait_calls("BootNotification")
    await csms.connections[0].close(1011, "restart")
    await csms.wait_calls("BootNotification", 2)
    stop.set()
    summary = await asyncio.wait_for(task, 2000 * MS)
    assert len(csms.connections) == 2 and summary.booted == 1 and summary.errors >= 1
