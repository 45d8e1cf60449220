"""What an EV needs: energy (Wh), departure time and the power it can take, from OCPP 2.0.1
NotifyEVChargingNeeds (K15/K16/K17) or from a driver's OCPI 2.2.1 ChargingPreferences."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from csms.domain.energy.forecasts import parse_time

# Phases per OCPP 2.0.1 EnergyTransferModeEnumType (DC: the power is stated, not derived per phase).
PHASES = {"AC_single_phase": 1, "AC_two_phase": 2, "AC_three_phase": 3}


class ProfileType(enum.StrEnum):
    """OCPI 2.2.1 ProfileType (sessions module, ChargingPreferences)."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class PreferencesResponse(enum.StrEnum):
    """OCPI 2.2.1 ChargingPreferencesResponse."""

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


@dataclass(frozen=True, slots=True)
class EvNeeds:
    """A session's target: `energy_wh` (None: unknown) by `departure` (None: unknown); the EV's power range
    (None: unknown, the site's maximum applies); `profile_type` the driver's choice (OCPI), if any;
    `source` "ocpp" or "ocpi"."""

    energy_wh: int | None
    departure: datetime | None
    min_power_w: int | None = None
    max_power_w: int | None = None
    energy_transfer: str | None = None
    profile_type: ProfileType | None = None
    discharge_allowed: bool = False
    source: str = "ocpp"


def needs_from_ocpp(charging_needs: Mapping[str, Any]) -> EvNeeds:
    """EvNeeds from a schema-valid 2.0.1 ChargingNeedsType.

    AC: energyAmount (Wh); the power range is current × voltage × phases of the requested transfer mode
    (evMaxVoltage is the phase voltage the EV takes). DC: energyAmount, evMaxPower (W), else
    evMaxCurrent × evMaxVoltage. A departureTime in the past is kept as given (the planner treats it as
    "no time left")."""
    mode = str(charging_needs["requestedEnergyTransfer"])
    departure_raw = charging_needs.get("departureTime")
    departure = parse_time(str(departure_raw)) if departure_raw is not None else None
    ac, dc = charging_needs.get("acChargingParameters"), charging_needs.get("dcChargingParameters")
    energy = min_w = max_w = None
    if ac is not None:
        phases = PHASES.get(mode, 1)
        energy = int(ac["energyAmount"])
        min_w = int(ac["evMinCurrent"]) * int(ac["evMaxVoltage"]) * phases
        max_w = int(ac["evMaxCurrent"]) * int(ac["evMaxVoltage"]) * phases
    elif dc is not None:
        energy = int(dc["energyAmount"]) if dc.get("energyAmount") is not None else None
        if dc.get("evMaxPower") is not None:
            max_w = int(dc["evMaxPower"])
        else:
            max_w = int(dc["evMaxCurrent"]) * int(dc["evMaxVoltage"])
    return EvNeeds(energy, departure, min_w, max_w, mode, source="ocpp")


def needs_from_ocpi(body: Mapping[str, Any]) -> tuple[EvNeeds | None, PreferencesResponse]:
    """EvNeeds from an OCPI 2.2.1 ChargingPreferences object and the answer to give.

    CHEAP and GREEN plan against the forecast and so need a departure_time (DEPARTURE_REQUIRED) and an
    energy_need (ENERGY_NEED_REQUIRED); FAST and REGULAR need neither. discharge_allowed true is
    NOT_POSSIBLE (this CSMS plans no V2G). energy_need is in kWh (OCPI number), stored as integer Wh.

    Raises:
        ValueError: not the documented shape (unknown profile_type, bad time or number).
    """
    profile = ProfileType(str(body.get("profile_type")))
    departure = parse_time(str(body["departure_time"])) if body.get("departure_time") is not None else None
    need = body.get("energy_need")
    energy = None
    if need is not None:
        if isinstance(need, bool) or not isinstance(need, int | float | str):
            raise ValueError("energy_need must be a number")
        kwh = Decimal(str(need))
        if not kwh.is_finite() or kwh < 0:
            raise ValueError("energy_need must be a non-negative number")
        energy = int(kwh * 1000)
    discharge = body.get("discharge_allowed", False)
    if not isinstance(discharge, bool):
        raise ValueError("discharge_allowed must be a boolean")
    if discharge:
        return None, PreferencesResponse.NOT_POSSIBLE
    if profile in (ProfileType.CHEAP, ProfileType.GREEN):
        if departure is None:
            return None, PreferencesResponse.DEPARTURE_REQUIRED
        if energy is None:
            return None, PreferencesResponse.ENERGY_NEED_REQUIRED
    needs = EvNeeds(energy, departure, profile_type=profile, discharge_allowed=discharge, source="ocpi")
    return needs, PreferencesResponse.ACCEPTED
