"""What OCPP 2.0.1 stations report about the limits on their charging: the charging profiles they hold
(GetChargingProfiles → ReportChargingProfiles, K09) and the external limits set on them by others than the
CSMS (NotifyChargingLimit / ClearedChargingLimit, K12-K14), kept per station in this process (ADR 0021).

The REST API reads them back; a report arrives in one or more ReportChargingProfiles of the same request
id (`tbc` true on all but the last).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from csms.domain.clock import Clock, parse_datetime
from csms.domain.smart_charging import VOLTAGE_V

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
        # Told of the charge point whenever its external limits change (the load balancer re-balances).
        self.on_change: Callable[[str], None] | None = None

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
        self._changed(charge_point_id)

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
        if gone:
            self._changed(charge_point_id)
        return len(gone)

    def limits(self, charge_point_id: str) -> list[ExternalLimit]:
        """The external limits in force on the station, by EVSE then source."""
        return sorted(self._limits.get(charge_point_id, {}).values(), key=lambda x: (x.evse_id, x.source))

    def _changed(self, charge_point_id: str) -> None:
        if self.on_change is not None:
            self.on_change(charge_point_id)

    def cap_w(self, charge_point_id: str, evse_id: int) -> int | None:
        """The lowest power in W the external limits in force now allow on the EVSE (its own and the
        station's, EVSE 0), or None when none of them states a limit for now (OCPP 2.0.1 K12: the station
        enforces them whatever the CSMS sends). A limit in A counts on its numberPhases (default 3)."""
        now = self._clock()
        caps = [
            cap
            for limit in self.limits(charge_point_id)
            if limit.evse_id in (0, evse_id)
            for schedule in limit.schedules
            if (cap := schedule_limit_w(schedule, now)) is not None
        ]
        return min(caps, default=None)


def schedule_limit_w(schedule: dict[str, Any], now: datetime) -> int | None:
    """The limit in W a 2.0.1 ChargingScheduleType states at `now`: the last period started by then (from
    `startSchedule`, else from its first period), None outside the schedule's `duration` or before it."""
    start = schedule.get("startSchedule")
    elapsed = 0.0 if start is None else (now - parse_datetime(start)).total_seconds()
    duration = schedule.get("duration")
    if elapsed < 0 or (duration is not None and elapsed >= duration):
        return None
    started = [p for p in schedule["chargingSchedulePeriod"] if p["startPeriod"] <= elapsed]
    if not started:
        return None
    period = max(started, key=lambda p: p["startPeriod"])
    limit = Decimal(str(period["limit"]))
    if schedule["chargingRateUnit"] == "A":
        limit *= VOLTAGE_V * period.get("numberPhases", 3)
    return int(limit)
