"""The simulated station's local list: updates, VersionMismatch and offline authorization."""

from __future__ import annotations

import pytest

from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from simulators.chargepoint.errors import SimulatorError
from simulators.chargepoint.local_list import LocalList
from tests.simulators.conftest import MakeSim
from tests.simulators.fake_csms import FakeCsms


def test_full_then_differential_then_offline_authorization() -> None:
    local = LocalList()
    assert local.apply_update(1, "Full", [("A", {"status": "Accepted"}), ("B", {"status": "Accepted"})]) == (
        "Accepted"
    )
    assert local.apply_update(2, "Differential", [("B", {"status": "Blocked"}), ("A", None)]) == "Accepted"
    assert local.version == 2 and "A" not in local.entries
    assert not local.authorize_offline("B") and not local.authorize_offline("A")
    assert local.apply_update(3, "Differential", [("A", {"status": "Accepted"})]) == "Accepted"
    assert local.authorize_offline("A")


def test_stale_differential_is_version_mismatch_and_disabled_list_fails() -> None:
    local = LocalList(version=5)
    assert local.apply_update(5, "Differential", [("A", {"status": "Accepted"})]) == "VersionMismatch"
    assert local.entries == {}
    local.enabled = False
    assert local.apply_update(6, "Full", []) == "Failed"


def test_v16_station_answers_local_list_messages() -> None:
    sim = ChargePointSimulator(SimulatorConfig(charge_point_id="CP1", url="ws://127.0.0.1:1/ocpp"))
    handlers = sim._handlers_16()
    assert handlers["GetLocalListVersion"]({})[0] == {"listVersion": 0}
    answer = handlers["SendLocalList"](
        {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "A", "idTagInfo": {"status": "Accepted"}},
                {"idTag": "B", "idTagInfo": {"status": "Blocked"}},
            ],
        }
    )
    assert answer[0] == {"status": "Accepted"}
    stale = {"listVersion": 1, "updateType": "Differential", "localAuthorizationList": [{"idTag": "B"}]}
    assert handlers["SendLocalList"](stale)[0] == {"status": "VersionMismatch"}
    assert handlers["GetLocalListVersion"]({})[0] == {"listVersion": 1}
    assert sim.local_list.authorize_offline("A") and not sim.local_list.authorize_offline("B")


def test_v201_station_answers_local_list_messages() -> None:
    config = SimulatorConfig(charge_point_id="CP2", url="ws://127.0.0.1:1/ocpp", ocpp_version="2.0.1")
    handlers = ChargePointSimulator(config)._handlers_201()
    token = {"idToken": "A", "type": "ISO14443"}
    full = {
        "versionNumber": 3,
        "updateType": "Full",
        "localAuthorizationList": [{"idToken": token, "idTokenInfo": {"status": "Accepted"}}],
    }
    assert handlers["SendLocalList"](full)[0] == {"status": "Accepted"}
    removal = {
        "versionNumber": 4,
        "updateType": "Differential",
        "localAuthorizationList": [{"idToken": token}],
    }
    assert handlers["SendLocalList"](removal)[0] == {"status": "Accepted"}
    assert handlers["GetLocalListVersion"]({})[0] == {"versionNumber": 4}


async def test_offline_start_is_authorized_from_the_local_list(csms: FakeCsms, make_sim: MakeSim) -> None:
    sim = make_sim("1.6")
    await sim.connect()
    sim.local_list.apply_update(1, "Full", [("A", {"status": "Accepted"}), ("B", {"status": "Blocked"})])
    await sim.go_offline(abrupt=True)
    with pytest.raises(SimulatorError):
        await sim.start_transaction(1, "B")
    assert (await sim.start_transaction(1, "A")).startswith("offline-")
