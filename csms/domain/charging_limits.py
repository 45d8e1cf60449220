"""What OCPP 2.0.1 stations report about the limits on their charging: the charging profiles they hold
(GetChargingProfiles → ReportChargingProfiles, K09) and the external limits set on them by others than the
CSMS (NotifyChargingLimit / ClearedChargingLimit, K12-K14), kept per station in this process (ADR 0021).

The REST API reads them back; a report arrives in one or more ReportChargingProfiles of the same request
id (`tbc` true on all but the last).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csms.domain.clock import Clock

# Reports kept per station: the newest ones (older request ids are dropped first).
MAX_REPORTS = 16


@dataclass(slots=True)
class ReportedChargingProfile:
    """One profile a station holds: on `evse_id` (0: the station), set by `source` (CSO, EMS, SO, ...);
    `profile` is the station's ChargingProfileType as reported (OCPP 2.0.1 field names)."""

    evse_id: int
    source: str
    profile: dict[str, Any]


@dataclass(slots=True)
class ChargingProfileReport:
    """The profiles a station reported for one GetChargingProfiles request; `complete` once the message
    with `tbc` false arrived."""

    request_id: int
    received_at: datetime
    complete: bool = False
    profiles: list[ReportedChargingProfile] = field(default_factory=list)


@dataclass(slots=True)
class ExternalLimit:
    """A limit set on a station (`evse_id` 0) or EVSE by an external source (EMS, SO, Other), which the
    station enforces whatever the CSMS sends (OCPP 2.0.1 K12); `schedules` are its ChargingScheduleTypes as
    reported, when given."""

    evse_id: int
    source: str
    grid_critical: bool | None
    reported_at: datetime
    schedules: list[dict[str, Any]] = field(default_factory=list)


class ChargingLimits:
    """Reported charging profiles and external limits per charge point, in memory."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._reports: dict[str, OrderedDict[int, ChargingProfileReport]] = {}
        self._limits: dict[str, dict[tuple[int, str], ExternalLimit]] = {}

    def record_report(
        self,
        charge_point_id: str,
        request_id: int,
        evse_id: int,
        source: str,
        profiles: list[dict[str, Any]],
        tbc: bool,
    ) -> ChargingProfileReport:
        """Add one ReportChargingProfiles to the report of its request id (a new one starts it).

        Returns:
            The report so far; `complete` when `tbc` was false.
        """
        reports = self._reports.setdefault(charge_point_id, OrderedDict())
        report = reports.get(request_id)
        if report is None:
            report = reports[request_id] = ChargingProfileReport(request_id, self._clock())
            while len(reports) > MAX_REPORTS:
                reports.popitem(last=False)
        report.profiles.extend(ReportedChargingProfile(evse_id, source, p) for p in profiles)
        report.complete = not tbc
        return report

    def reports(self, charge_point_id: str) -> list[ChargingProfileReport]:
        """The station's reports, oldest first."""
        return list(self._reports.get(charge_point_id, {}).values())

    def set_limit(self, charge_point_id: str, limit: ExternalLimit) -> None:
        """Record NotifyChargingLimit: the source's limit on the EVSE replaces its earlier one."""
        self._limits.setdefault(charge_point_id, {})[(limit.evse_id, limit.source)] = limit

    def clear_limit(self, charge_point_id: str, source: str, evse_id: int | None) -> int:
        """Record ClearedChargingLimit: the source's limit on the EVSE (None: on every EVSE and the
        station) no longer applies.

        Returns:
            How many limits were removed.
        """
        limits = self._limits.get(charge_point_id, {})
        gone = [key for key in limits if key[1] == source and (evse_id is None or key[0] == evse_id)]
        for key in gone:
            del limits[key]
        return len(gone)

    def limits(self, charge_point_id: str) -> list[ExternalLimit]:
        """The external limits in force on the station, by EVSE then source."""
        return sorted(self._limits.get(charge_point_id, {}).values(), key=lambda x: (x.evse_id, x.source))
