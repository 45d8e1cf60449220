"""The simulated station's charging power: the composite schedule of its installed profiles (OCPP 1.6
§3.13, OCPP 2.0.1 K08), capped by what the EV wants, and the GetCompositeSchedule answer built from it."""

from __future__ import annotations

from decimal import Decimal

from csms.domain.clock import parse_datetime
from csms.domain.commands import ChargingProfile, ChargingSchedulePeriod
from csms.domain.smart_charging import VOLTAGE_V, composite_limit_w, composite_schedule
from simulators.chargepoint.answers import StationAnswers
from simulators.chargepoint.model import JsonDict, _Answer

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
