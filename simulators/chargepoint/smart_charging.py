"""The simulated station's charging power: the composite schedule of its installed profiles (OCPP 1.6
§3.13, OCPP 2.0.1 K08), capped by what the EV wants, and the GetCompositeSchedule answer built from it;
on 2.0.1 also GetChargingProfiles answered with ReportChargingProfiles (K09), and NotifyChargingLimit /
ClearedChargingLimit sent on request (K12, K13)."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from csms.domain.clock import parse_datetime
from csms.domain.commands import ChargingProfile, ChargingSchedulePeriod
from csms.domain.smart_charging import VOLTAGE_V, composite_limit_w, composite_schedule
from simulators.chargepoint.answers import StationAnswers
from simulators.chargepoint.model import FollowUp, JsonDict, _Answer

PHASES = 3  # the simulator is a three-phase station


def neutral_profile(profile: JsonDict, v16: bool) -> ChargingProfile:
    """A 1.6 csChargingProfiles / 2.0.1 ChargingProfileType (its first schedule) in neutral words."""
    schedule = profile["chargingSchedule"] if v16 else profile["chargingSchedule"][0]

    def when(key: str, source: JsonDict) -> object:
        return parse_datetime(source[key]) if key in source else None

    return ChargingProfile(
        id=profile["chargingProfileId"] if v16 else profile["id"],
        stack_level=profile["stackLevel"],
        purpose=profile["chargingProfilePurpose"],
        kind=profile["chargingProfileKind"],
        rate_unit=schedule["chargingRateUnit"],
        periods=[
            ChargingSchedulePeriod(p["startPeriod"], Decimal(str(p["limit"])), p.get("numberPhases"))
            for p in schedule["chargingSchedulePeriod"]
        ],
        recurrency_kind=profile.get("recurrencyKind"),
        valid_from=when("validFrom", profile),  # type: ignore[arg-type]
        valid_to=when("validTo", profile),  # type: ignore[arg-type]
        duration=schedule.get("duration"),
        start_schedule=when("startSchedule", schedule),  # type: ignore[arg-type]
    )


class StationSmartCharging(StationAnswers):
    """Charging power that follows the installed charging profiles."""

    def _profiles_for(self, connector: int) -> list[ChargingProfile]:
        installed = [
            *self.charging_profiles.get(0, {}).values(),
            *self.charging_profiles.get(connector, {}).values(),
        ]
        return [neutral_profile(p, self._v16) for p in installed]

    def current_power_w(self, connector: int) -> int:
        """The power in W the EV on `connector` draws now: 0 without a transaction, else the lowest of
        the EV's wanted power (`config.power_w`) and the composite schedule limit."""
        tx = self._tx.get(connector)
        if tx is None:
            return 0
        limit = composite_limit_w(self._profiles_for(connector), self._clock(), tx.started_at, PHASES, True)
        return self.config.power_w if limit is None else max(0, min(self.config.power_w, limit))

    def _answer_composite_schedule(self, connector: int, duration: int, unit: str | None) -> JsonDict | None:
        """The composite schedule of `connector` for `duration` s, or None for an unknown connector."""
        if connector != 0 and connector not in self.connector_ids:
            return None
        tx = self._tx.get(connector)
        now = self._clock().replace(microsecond=0)
        periods = composite_schedule(
            self._profiles_for(connector),
            now,
            duration,
            tx.started_at if tx else None,
            PHASES,
            tx is not None,
            self.config.power_w,
        )
        rate_unit = unit or "W"
        return {
            "scheduleStart": now.isoformat().replace("+00:00", "Z"),
            "duration": duration,
            "chargingRateUnit": rate_unit,
            "chargingSchedulePeriod": [
                {
                    "startPeriod": start,
                    "limit": limit if rate_unit == "W" else round(limit / (VOLTAGE_V * PHASES), 1),
                    **({} if rate_unit == "W" else {"numberPhases": PHASES}),
                }
                for start, limit in periods
            ],
        }

    def _on_get_composite_schedule_16(self, payload: JsonDict) -> _Answer:
        connector = payload["connectorId"]
        schedule = self._answer_composite_schedule(
            connector, payload["duration"], payload.get("chargingRateUnit")
        )
        if schedule is None:
            return {"status": "Rejected"}, None
        start = schedule.pop("scheduleStart")
        return {
            "status": "Accepted",
            "connectorId": connector,
            "scheduleStart": start,
            "chargingSchedule": {**schedule, "startSchedule": start},
        }, None

    def _on_get_composite_schedule_201(self, payload: JsonDict) -> _Answer:
        evse_id = payload["evseId"]
        schedule = self._answer_composite_schedule(
            evse_id, payload["duration"], payload.get("chargingRateUnit")
        )
        if schedule is None:
            return {"status": "Rejected"}, None
        return {"status": "Accepted", "schedule": {"evseId": evse_id, **schedule}}, None

    def _matching_profiles(self, payload: JsonDict) -> dict[int, list[JsonDict]]:
        """The installed profiles a GetChargingProfiles asks for, by EVSE (OCPP 2.0.1 K09.FR.03: every
        criterion given must match)."""
        criteria = payload["chargingProfile"]
        evse_id = payload.get("evseId")
        found: dict[int, list[JsonDict]] = {}
        for where, installed in sorted(self.charging_profiles.items()):
            if evse_id is not None and where != evse_id:
                continue
            for profile in installed.values():
                if (
                    criteria.get("chargingProfilePurpose", profile["chargingProfilePurpose"])
                    == profile["chargingProfilePurpose"]
                    and criteria.get("stackLevel", profile["stackLevel"]) == profile["stackLevel"]
                    and profile["id"] in criteria.get("chargingProfileId", [profile["id"]])
                    and "CSO" in criteria.get("chargingLimitSource", ["CSO"])
                ):
                    found.setdefault(where, []).append(profile)
        return found

    def _on_get_charging_profiles_201(self, payload: JsonDict) -> _Answer:
        """GetChargingProfiles: NoProfiles, or Accepted and then one ReportChargingProfiles per EVSE holding
        matching profiles (all set by the CSMS: source CSO), `tbc` true on all but the last (K09.FR.02)."""
        found = self._matching_profiles(payload)
        if not found:
            return {"status": "NoProfiles"}, None
        reports = [
            {
                "requestId": payload["requestId"],
                "chargingLimitSource": "CSO",
                "evseId": evse,
                "chargingProfile": p,
            }
            for evse, p in found.items()
        ]

        def commit() -> FollowUp:
            return partial(self._send_profile_reports, reports)

        return {"status": "Accepted"}, commit

    async def _send_profile_reports(self, reports: list[JsonDict]) -> None:
        for i, report in enumerate(reports):
            await self.call("ReportChargingProfiles", {**report, "tbc": i < len(reports) - 1})

    async def notify_charging_limit(
        self,
        source: str,
        evse_id: int | None = None,
        grid_critical: bool | None = None,
        schedules: list[JsonDict] | None = None,
    ) -> JsonDict:
        """Send NotifyChargingLimit: an external `source` (EMS, SO, Other) limits the EVSE (None: the
        station); returns the CSMS's answer."""
        limit: dict[str, Any] = {"chargingLimitSource": source}
        if grid_critical is not None:
            limit["isGridCritical"] = grid_critical
        payload: JsonDict = {"chargingLimit": limit}
        if evse_id is not None:
            payload["evseId"] = evse_id
        if schedules:
            payload["chargingSchedule"] = schedules
        return await self.call("NotifyChargingLimit", payload)

    async def cleared_charging_limit(self, source: str, evse_id: int | None = None) -> JsonDict:
        """Send ClearedChargingLimit: the `source`'s limit on the EVSE (None: everywhere) was released."""
        payload: JsonDict = {"chargingLimitSource": source}
        if evse_id is not None:
            payload["evseId"] = evse_id
        return await self.call("ClearedChargingLimit", payload)
