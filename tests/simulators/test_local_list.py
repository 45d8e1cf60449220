"""The simulated station's local list: updates, VersionMismatch and offline authorization."""

from __future__ import annotations

from simulators.chargepoint.local_list import LocalList


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
