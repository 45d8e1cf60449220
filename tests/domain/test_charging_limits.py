"""Reported charging profiles and external limits per station (OCPP 2.0.1 K09, K12, K13)."""

from __future__ import annotations

from csms.domain.charging_limits import MAX_REPORTS, ChargingLimits, ExternalLimit
from tests.store.conftest import T0, FakeClock


def test_a_report_collects_its_messages_until_tbc_is_false() -> None:
    """ReportChargingProfiles of one request id add up, complete with the last (tbc false); other stations'
    reports stay apart."""
    limits = ChargingLimits(FakeClock())
    first = limits.record_report("CP1", 7, 1, "CSO", [{"id": 1}], tbc=True)
    assert not first.complete and first.received_at == T0
    report = limits.record_report("CP1", 7, 2, "EMS", [{"id": 2}, {"id": 3}], tbc=False)
    assert report is first and report.complete
    assert [(p.evse_id, p.source, p.profile["id"]) for p in report.profiles] == [
        (1, "CSO", 1),
        (2, "EMS", 2),
        (2, "EMS", 3),
    ]
    assert limits.reports("CP2") == []


def test_only_the_newest_reports_are_kept() -> None:
    """Past MAX_REPORTS request ids per station, the oldest report is dropped first."""
    limits = ChargingLimits(FakeClock())
    for request_id in range(MAX_REPORTS + 2):
        limits.record_report("CP1", request_id, 0, "CSO", [{"id": request_id}], tbc=False)
    assert [r.request_id for r in limits.reports("CP1")] == list(range(2, MAX_REPORTS + 2))


def test_a_limit_is_replaced_by_its_source_and_cleared_per_evse_or_everywhere() -> None:
    """NotifyChargingLimit replaces the same source's limit on the EVSE; ClearedChargingLimit removes the
    source's limit on one EVSE, or on all of them without an EVSE, leaving other sources' limits."""
    limits = ChargingLimits(FakeClock())
    limits.set_limit("CP1", ExternalLimit(1, "EMS", None, T0))
    limits.set_limit("CP1", ExternalLimit(1, "EMS", True, T0, [{"id": 1}]))
    limits.set_limit("CP1", ExternalLimit(2, "EMS", None, T0))
    limits.set_limit("CP1", ExternalLimit(0, "SO", False, T0))
    assert [(x.evse_id, x.source, x.grid_critical) for x in limits.limits("CP1")] == [
        (0, "SO", False),
        (1, "EMS", True),
        (2, "EMS", None),
    ]
    assert limits.clear_limit("CP1", "EMS", 2) == 1
    assert limits.clear_limit("CP1", "Other", None) == 0
    assert limits.clear_limit("CP1", "EMS", None) == 1
    assert [x.source for x in limits.limits("CP1")] == ["SO"]
    assert limits.limits("CP9") == []
