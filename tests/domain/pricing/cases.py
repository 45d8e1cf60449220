"""The table of tariff cases: each a tariff (OCPI JSON), a session timeline and the result worked out by hand.

Every case's comment shows the hand computation; `test_cases.py` runs them through `price_session`. Times
are local wall-clock times in the case's zone (`at`), energy in Wh; volumes in the expected periods are OCPI
units (kWh, hours) rounded to 4 decimals, money is in the currency's minor unit (cents for EUR): each
dimension rounded half up, the total the sum of the rounded dimensions, then clamped to min/max price.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

EXAMPLES = Path("/work/shared/ocpi-examples")
E, T, P, R = "ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME"


def example(name: str) -> dict[str, Any]:
    """An official OCPI 2.2.1 tariff example, by file name."""
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def tariff(*elements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A minimal OCPI tariff with these elements, in EUR unless `extra` names another currency."""
    return {"id": "case", "currency": "EUR", "elements": list(elements), **extra}


def element(*components: tuple[str, str, float | None, int], **restrictions: Any) -> dict[str, Any]:
    """An element from (type, price, vat, step_size) tuples and its restrictions."""
    data: dict[str, Any] = {
        "price_components": [
            {"type": kind, "price": price, "step_size": step} | ({} if vat is None else {"vat": vat})
            for kind, price, vat, step in components
        ]
    }
    if restrictions:
        data["restrictions"] = restrictions
    return data


@dataclass(frozen=True)
class Case:
    """One row: the tariff, the session (local times in `zone`) and what it costs."""

    name: str
    tariff: dict[str, Any]
    start: str  # "YYYY-MM-DD HH:MM[:SS]" local
    end: str
    energy_wh: int
    total: tuple[str, str]  # excl., incl. VAT
    periods: list[tuple[str, dict[str, str]]]  # (local start, {dimension: volume})
    zone: str = "Europe/Amsterdam"
    readings: list[tuple[str, int]] = field(default_factory=list)  # (local time, Wh since start)
    charging_end: str | None = None
    parts: dict[str, tuple[str, str]] = field(default_factory=dict)  # fixed/energy/time/parking/reservation
    reserved_from: str | None = None
    reservation_expired: bool = False
    reservation_only: bool = False  # ended unused without expiring (cancelled)
    currents: list[tuple[str, str]] = field(default_factory=list)  # (local time, amperes over all phases)

    def at(self, text: str) -> datetime:
        """A local wall-clock time of this case as an aware datetime."""
        return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(self.zone))


CASES = [
    # Digest check (tariff_9): FLAT 0.50 @20% + 0.25/kWh @10%, 20 kWh.
    # excl 0.50 + 20 × 0.25 = 5.50; incl 0.60 + 5.00 × 1.1 = 6.10.
    Case(
        "spec: digest check, flat + energy",
        example("tariff_9_025kwh_start.json"),
        "2024-05-06 10:00",
        "2024-05-06 12:00",
        20_000,
        ("5.5", "6.1"),
        [("2024-05-06 10:00", {E: "20", T: "2"})],
        parts={"fixed": ("0.5", "0.6"), "energy": ("5", "5.5")},
    ),
    # tariff_1: 2.00/h @10%, step 60 s. 1 h 30 min 20 s → billed 91 min:
    # excl 2 × 91/60 = 3.03333 → 3.03; incl 3.03333 × 1.1 = 3.33667 → 3.34.
    Case(
        "spec: tariff_1 time rounded up to 60 s",
        example("tariff_1_simple_2hour.json"),
        "2024-05-06 10:00",
        "2024-05-06 11:30:20",
        7_000,
        ("3.03", "3.34"),
        [("2024-05-06 10:00", {E: "7", T: "1.5056"})],
    ),
    # tariff_13: TIME 3/h @10% step 60, PARKING 5/h @20% step 300. Charge 1 h, park 20 min 10 s.
    # d2: only the last time-based dimension (parking) is rounded: 1210 s → 1500 s = 25 min.
    # time 3 × 1 = 3.00 / 3.30; parking 5 × 25/60 = 2.08333 → 2.08 / 2.50; total 5.08 / 5.80.
    Case(
        "spec: tariff_13 charging then parking, only parking rounded",
        example("tariff_13_simple_3hour_5parking.json"),
        "2024-05-06 10:00",
        "2024-05-06 11:20:10",
        11_000,
        ("5.08", "5.8"),
        [("2024-05-06 10:00", {E: "11", T: "1"}), ("2024-05-06 11:00", {P: "0.3361"})],
        charging_end="2024-05-06 11:00",
        parts={"time": ("3", "3.3"), "parking": ("2.08", "2.5")},
    ),
    # tariff_14 (no VAT): TIME 1.20/h step 1800 until 17:00, TIME 2.40/h step 900 17:00-20:00.
    # 16:30-17:20 charging: 30 min @1.20 = 0.60; 20 min @2.40, the session's TIME total 50 min rounded
    # to the LAST component's step (900 s) → 60 min, the extra 10 min on the last period: 30 min @2.40 = 1.20.
    # total 1.80 (step 1800 at the first element would not matter: never round at element switches).
    Case(
        "step_size on time: last component's step, once per session",
        example("tariff_14_step_size.json"),
        "2024-05-06 16:30",
        "2024-05-06 17:20",
        5_000,
        ("1.8", "1.8"),
        [("2024-05-06 16:30", {E: "3", T: "0.5"}), ("2024-05-06 17:00", {E: "2", T: "0.3333"})],
    ),
    # tariff_14 with parking: charge 16:00-16:40 (TIME 40 min @1.20 = 0.80, not rounded: parking is the
    # last time-based dimension), park 16:40-17:07 under two elements (1.00/h each, step 900):
    # 27 min → 30 min in total, extra 3 min on the last period: 20 min + 10 min @1.00 = 0.50. total 1.30.
    Case(
        "step_size on parking time across an element switch",
        example("tariff_14_step_size.json"),
        "2024-05-06 16:00",
        "2024-05-06 17:07",
        4_000,
        ("1.3", "1.3"),
        [
            ("2024-05-06 16:00", {E: "4", T: "0.6667"}),
            ("2024-05-06 16:40", {P: "0.3333"}),
            ("2024-05-06 17:00", {P: "0.1167"}),
        ],
        charging_end="2024-05-06 16:40",
        parts={"time": ("0.8", "0.8"), "parking": ("0.5", "0.5")},
    ),
    # tariff_4 on a Saturday: FLAT 2.50 @15%; TIME 1.00/h @20% step 900 (max_current: not measured, so it
    # holds); PARKING 6.00/h @10% step 300 on Saturday 10:00-17:00. Charge 12:00-13:10, park 13:10-13:42.
    # flat 2.50 / 2.875 → 2.88; time 70 min (not rounded) = 1.16667 → 1.17 / 1.40; parking 32 → 35 min
    # = 3.50 / 3.85. total (sum of the rounded parts): 2.50 + 1.17 + 3.50 = 7.17; 2.88 + 1.40 + 3.85 = 8.13.
    Case(
        "spec: tariff_4 complex, Saturday parking window",
        example("tariff_4_complex.json"),
        "2024-05-11 12:00",
        "2024-05-11 13:42",
        14_000,
        ("7.17", "8.13"),
        [("2024-05-11 12:00", {E: "14", T: "1.1667"}), ("2024-05-11 13:10", {P: "0.5333"})],
        charging_end="2024-05-11 13:10",
        parts={"fixed": ("2.5", "2.88"), "time": ("1.17", "1.4"), "parking": ("3.5", "3.85")},
    ),
    # Night rate 22:00-06:00 (wraps midnight) in Tokyo (UTC+9, no DST): 0.20/kWh, else 0.30, both @10%.
    # 21:00-07:00 local, 100 kWh evenly (10 kWh/h): 10 @0.30 + 80 @0.20 + 10 @0.30 = 3 + 16 + 3 = 22.00;
    # incl 24.20. Midnight cuts the night piece but the same component prices both halves: one period.
    Case(
        "time of day across midnight, non-UTC zone",
        tariff(
            element((E, 0.20, 10, 1), start_time="22:00", end_time="06:00"),
            element((E, 0.30, 10, 1)),
        ),
        "2024-05-06 21:00",
        "2024-05-07 07:00",
        100_000,
        ("22", "24.2"),
        [
            ("2024-05-06 21:00", {E: "10", T: "1"}),
            ("2024-05-06 22:00", {E: "80", T: "8"}),
            ("2024-05-07 06:00", {E: "10", T: "1"}),
        ],
        zone="Asia/Tokyo",
    ),
    # The spring DST change in Amsterdam (02:00 CET → 03:00 CEST on 2024-03-31): night rate 0.20/kWh until
    # 03:00, day 0.30 (no VAT). 01:00-04:00 local lasts 2 real hours, 20 kWh evenly: 01:00-02:00 CET (then the
    # clock jumps to 03:00) 10 kWh @0.20, 03:00-04:00 CEST 10 kWh @0.30 = 2.00 + 3.00 = 5.00.
    Case(
        "time of day over a DST change",
        tariff(element((E, 0.20, None, 1), end_time="03:00"), element((E, 0.30, None, 1))),
        "2024-03-31 01:00",
        "2024-03-31 04:00",
        20_000,
        ("5", "5"),
        [("2024-03-31 01:00", {E: "10", T: "1"}), ("2024-03-31 03:00", {E: "10", T: "1"})],
    ),
    # Sunday rate 0.10/kWh, else 0.30 (no VAT), New York (UTC-4 in May): Saturday 23:00 - Sunday 01:00
    # local, 20 kWh evenly: 10 @0.30 + 10 @0.10 = 4.00 (read in UTC both hours would be Sunday: 2.00).
    Case(
        "day of week in the local calendar",
        tariff(element((E, 0.10, None, 1), day_of_week=["SUNDAY"]), element((E, 0.30, None, 1))),
        "2024-05-11 23:00",
        "2024-05-12 01:00",
        20_000,
        ("4", "4"),
        [("2024-05-11 23:00", {E: "10", T: "1"}), ("2024-05-12 00:00", {E: "10", T: "1"})],
        zone="America/New_York",
    ),
    # kWh bands: 0.40 below 10 kWh, 0.30 for 10-30 kWh, 0.25 above (@19%). Readings: 20 kWh at 1 h, 30 at
    # 2 h, 40 at the end (3 h): 10 kWh is crossed at 0:30, 30 kWh at 2:00.
    # 10 × 0.40 + 20 × 0.30 + 10 × 0.25 = 4 + 6 + 2.5 = 12.50; incl × 1.19 = 14.875 → 14.88.
    Case(
        "min/max kWh bands follow the measured curve",
        tariff(
            element((E, 0.40, 19, 1), max_kwh=10),
            element((E, 0.30, 19, 1), min_kwh=10, max_kwh=30),
            element((E, 0.25, 19, 1)),
        ),
        "2024-05-06 10:00",
        "2024-05-06 13:00",
        40_000,
        ("12.5", "14.88"),
        [
            ("2024-05-06 10:00", {E: "10", T: "0.5"}),
            ("2024-05-06 10:30", {E: "20", T: "1.5"}),
            ("2024-05-06 12:00", {E: "10", T: "1"}),
        ],
        readings=[("2024-05-06 11:00", 20_000), ("2024-05-06 12:00", 30_000)],
    ),
    # Power bands (official max_power example): 0.20 below 16 kW, 0.35 below 32 kW, else 0.50 (@20%).
    # 0:00-0:30 20 kWh (40 kW) @0.50 = 10; 0:30-1:00 10 kWh (20 kW) @0.35 = 3.5; 1:00-2:00 8 kWh (8 kW)
    # @0.20 = 1.6. excl 15.10, incl 18.12.
    Case(
        "min/max power bands from the average power between readings",
        example("tariffrestriction_example_max_power.json"),
        "2024-05-06 10:00",
        "2024-05-06 12:00",
        38_000,
        ("15.1", "18.12"),
        [
            ("2024-05-06 10:00", {E: "20", T: "0.5"}),
            ("2024-05-06 10:30", {E: "10", T: "0.5"}),
            ("2024-05-06 11:00", {E: "8", T: "1"}),
        ],
        readings=[("2024-05-06 10:30", 20_000), ("2024-05-06 11:00", 30_000)],
    ),
    # d2 step_size example: 4.3 kWh under 0.20 (until 11:00, step 500), then 1.1 kWh under 0.30 (step 500):
    # total 5.4 → 5.5 kWh, the extra 0.1 on the last period: 4.3 × 0.20 + 1.2 × 0.30 = 0.86 + 0.36 = 1.22.
    Case(
        "spec: step_size on energy, once per session",
        tariff(element((E, 0.20, None, 500), end_time="11:00"), element((E, 0.30, None, 500))),
        "2024-05-06 10:00",
        "2024-05-06 12:00",
        5_400,
        ("1.22", "1.22"),
        [("2024-05-06 10:00", {E: "4.3", T: "1"}), ("2024-05-06 11:00", {E: "1.1", T: "1"})],
        readings=[("2024-05-06 11:00", 4_300)],
    ),
    # tariff_12: 0.25/kWh @10%, min_price 0.50 / 0.55. 1 kWh = 0.25 / 0.275 (→ 0.28), clamped to 0.50 / 0.55.
    Case(
        "spec: min_price raises a small session",
        example("tariff_12_025kwh_min_price.json"),
        "2024-05-06 10:00",
        "2024-05-06 10:10",
        1_000,
        ("0.5", "0.55"),
        [("2024-05-06 10:00", {E: "1", T: "0.1667"})],
        parts={"energy": ("0.25", "0.28")},
    ),
    # tariff_6: FLAT 0.50 @20% + 0.25/kWh @10%, max_price 10.00 / 11.00. 60 kWh: 15.50 / 17.10 → 10 / 11.
    Case(
        "spec: max_price caps a large session",
        example("tariff_6_025kwh_start_max_price.json"),
        "2019-05-06 10:00",
        "2019-05-06 13:00",
        60_000,
        ("10", "11"),
        [("2019-05-06 10:00", {E: "60", T: "3"})],
        parts={"fixed": ("0.5", "0.6"), "energy": ("15", "16.5")},
    ),
    # Same components, max_price 10.00 / 12.00, 40 kWh: excl 0.50 + 10 = 10.50 → 10 (clamped);
    # incl 0.60 + 11.00 = 11.60 (under 12: not clamped). Clamped independently.
    Case(
        "max_price clamps excl. and incl. VAT independently",
        tariff(
            element(("FLAT", 0.50, 20, 1), (E, 0.25, 10, 1)),
            max_price={"excl_vat": 10.0, "incl_vat": 12.0},
        ),
        "2024-05-06 10:00",
        "2024-05-06 12:00",
        40_000,
        ("10", "11.6"),
        [("2024-05-06 10:00", {E: "40", T: "2"})],
    ),
    # VAT on some components only: FLAT 1.00 without vat (no VAT applicable), ENERGY 0.30 @21%, TIME 1.20/h
    # @0%. 10 kWh, 30 min: 1.00 + 3.00 + 0.60 = 4.60; incl 1.00 + 3.63 + 0.60 = 5.23.
    Case(
        "VAT on some components only",
        tariff(element(("FLAT", 1.00, None, 0), (E, 0.30, 21, 1), (T, 1.20, 0, 1))),
        "2024-05-06 10:00",
        "2024-05-06 10:30",
        10_000,
        ("4.6", "5.23"),
        [("2024-05-06 10:00", {E: "10", T: "0.5"})],
        parts={"fixed": ("1", "1"), "energy": ("3", "3.63"), "time": ("0.6", "0.6")},
    ),
    # Flat fee: 1.00 between 08:00 and 20:00, else 2.00 (@20%). The session starts 07:30: the first FLAT that
    # applies in time order (2.00) is charged, once: 2.00 / 2.40, however long the session.
    Case(
        "a flat fee, charged once: the first that applies",
        tariff(
            element(("FLAT", 1.00, 20, 0), start_time="08:00", end_time="20:00"),
            element(("FLAT", 2, 20, 0)),
        ),
        "2024-05-06 07:30",
        "2024-05-06 09:30",
        12_000,
        ("2", "2.4"),
        [("2024-05-06 07:30", {E: "12", T: "2"})],
    ),
    # tariff_15: a reservation element (5/h) first, then FLAT 0.50 @20% + 0.25/kWh @10%. The charging
    # session is priced by the second element only: 0.50 + 10 × 0.25 = 3.00; incl 0.60 + 2.75 = 3.35.
    Case(
        "spec: reservation elements do not price the charging",
        example("tariff_15_reservation_5_euro_per_hour.json"),
        "2024-05-06 10:00",
        "2024-05-06 11:00",
        10_000,
        ("3", "3.35"),
        [("2024-05-06 10:00", {E: "10", T: "1"})],
    ),
    # tariff_5: FLAT 0 (free of charge): nothing to pay, the period is still measured.
    Case(
        "spec: free tariff",
        example("tariff_5_free_of_charge.json"),
        "2024-05-06 10:00",
        "2024-05-06 11:00",
        10_000,
        ("0", "0"),
        [("2024-05-06 10:00", {E: "10", T: "1"})],
    ),
    # max_duration: the first 30 min cost 0.20/kWh, later 0.40 (no VAT); 10 kWh evenly over 1 h:
    # 5 × 0.20 + 5 × 0.40 = 3.00.
    Case(
        "min/max duration split at the session age",
        tariff(element((E, 0.20, None, 1), max_duration=1800), element((E, 0.40, None, 1))),
        "2024-05-06 10:00",
        "2024-05-06 11:00",
        10_000,
        ("3", "3"),
        [("2024-05-06 10:00", {E: "5", T: "0.5"}), ("2024-05-06 10:30", {E: "5", T: "0.5"})],
    ),
    # Line items to the cent, the total their sum: FLAT 1.005 and TIME 1.005/h (no VAT), 1 h:
    # 1.005 → 1.01 twice = 2.02 (rounding the exact 2.01 instead would make the receipt's lines not add up).
    Case(
        "money in cents: each dimension rounded, the total their sum",
        tariff(element(("FLAT", 1.005, None, 0), (T, 1.005, None, 1))),
        "2024-05-06 10:00",
        "2024-05-06 11:00",
        3_000,
        ("2.02", "2.02"),
        [("2024-05-06 10:00", {E: "3", T: "1"})],
        parts={"fixed": ("1.01", "1.01"), "time": ("1.01", "1.01")},
    ),
    # JPY has no minor unit: 35.5 JPY/kWh @10%, 10.3 kWh = 365.65 → 366; incl 402.215 → 402.
    Case(
        "money in the currency's minor unit: whole yen",
        tariff(element((E, 35.5, 10, 1)), currency="JPY"),
        "2024-05-06 10:00",
        "2024-05-06 11:00",
        10_300,
        ("366", "402"),
        [("2024-05-06 10:00", {E: "10.3", T: "1"})],
        zone="Asia/Tokyo",
    ),
    # tariff_16: reservation fee 2.00 @20% + 5.00/h @20% in 300 s steps; charging FLAT 0.50 @20% +
    # 0.25/kWh @10%. Reserved 09:47, charging 10:00-11:00, 10 kWh. Reservation 13 min → 15 min:
    # 2.00 + 5 × 0.25 = 3.25 / 2.40 + 1.50 = 3.90; charging 0.50 + 2.50 = 3.00 / 0.60 + 2.75 = 3.35.
    # total 6.25 / 7.25.
    Case(
        "spec: a reservation fee and reservation time before the session",
        example("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json"),
        "2024-05-06 10:00",
        "2024-05-06 11:00",
        10_000,
        ("6.25", "7.25"),
        [("2024-05-06 09:47", {R: "0.2167"}), ("2024-05-06 10:00", {E: "10", T: "1"})],
        reserved_from="2024-05-06 09:47",
        parts={"reservation": ("3.25", "3.9"), "fixed": ("0.5", "0.6"), "energy": ("2.5", "2.75")},
    ),
    # tariff_17, reservation expired unused after 25 min: the RESERVATION_EXPIRES fee 4.00 @20% and the
    # reservation time 2.00/h @20% in 600 s steps (25 → 30 min = 1.00). 5.00 / 6.00; no charging start fee.
    Case(
        "spec: an expired reservation pays the expiry fee and its time",
        example("tariff_17_reservation_with_expire_fee.json"),
        "2024-05-06 10:25",
        "2024-05-06 10:25",
        0,
        ("5", "6"),
        [("2024-05-06 10:00", {R: "0.4167"})],
        reserved_from="2024-05-06 10:00",
        reservation_expired=True,
        parts={"reservation": ("5", "6"), "fixed": ("0", "0")},
    ),
    # tariff_17, reservation cancelled unused after 25 min: no RESERVATION_EXPIRES fee (it did not expire)
    # and no charging start fee (no charging); the reservation time 2.00/h @20% in 600 s steps (25 → 30 min)
    # = 1.00 / 1.20.
    Case(
        "a cancelled reservation pays its time only",
        example("tariff_17_reservation_with_expire_fee.json"),
        "2024-05-06 10:25",
        "2024-05-06 10:25",
        0,
        ("1", "1.2"),
        [("2024-05-06 10:00", {R: "0.4167"})],
        reserved_from="2024-05-06 10:00",
        reservation_only=True,
        parts={"reservation": ("1", "1.2"), "fixed": ("0", "0")},
    ),
    # tariff_18: an expired reservation's time at the RESERVATION_EXPIRES rate (listed first), 6.00/h in
    # 600 s steps: 25 → 30 min = 3.00 / 3.60 (the RESERVATION rate of 3.00/h would give 1.50).
    Case(
        "spec: an expired reservation's time at the expiry rate",
        example("tariff_18_reservation_with_expire_time.json"),
        "2024-05-06 10:25",
        "2024-05-06 10:25",
        0,
        ("3", "3.6"),
        [("2024-05-06 10:00", {R: "0.4167"})],
        reserved_from="2024-05-06 10:00",
        reservation_expired=True,
    ),
    # tariff_18 used: reserved 10:00, charging 10:25-11:25 with 4 kWh: reservation 30 min at 3.00/h = 1.50 /
    # 1.80; charging 0.50 + 1.00 = 1.50 / 0.60 + 1.10 = 1.70. total 3.00 / 3.50.
    Case(
        "spec: a used reservation's time at the reservation rate",
        example("tariff_18_reservation_with_expire_time.json"),
        "2024-05-06 10:25",
        "2024-05-06 11:25",
        4_000,
        ("3", "3.5"),
        [("2024-05-06 10:00", {R: "0.4167"}), ("2024-05-06 10:25", {E: "4", T: "1"})],
        reserved_from="2024-05-06 10:00",
        parts={"reservation": ("1.5", "1.8")},
    ),
    # min_current: 0.50/kWh @20% while the current is at least 32 A (sum of phases), else 0.30/kWh @20%.
    # 10:00-12:00, 20 kWh (12 kWh by 11:00); 48 A from 10:00, 24 A from 11:00: the session splits at 11:00.
    # 12 × 0.50 = 6.00 + 8 × 0.30 = 2.40 → 8.40; incl. 7.20 + 2.88 = 10.08.
    Case(
        "min_current band: split where the current drops below it",
        tariff(
            element(("ENERGY", "0.50", 20, 1), min_current=32),
            element(("ENERGY", "0.30", 20, 1)),
        ),
        "2024-05-06 10:00",
        "2024-05-06 12:00",
        20_000,
        ("8.4", "10.08"),
        [("2024-05-06 10:00", {E: "12", T: "1"}), ("2024-05-06 11:00", {E: "8", T: "1"})],
        readings=[("2024-05-06 11:00", 12_000)],
        currents=[("2024-05-06 10:00", "48"), ("2024-05-06 11:00", "24")],
        parts={"energy": ("8.4", "10.08")},
    ),
    # The same tariff, the current measured only from 11:00 (24 A): before that it is unknown and the
    # min_current element is not excluded for it (0.50/kWh), after it 0.30/kWh. Same amounts: 8.40 / 10.08.
    Case(
        "min_current before the first current sample: treated as satisfied",
        tariff(
            element(("ENERGY", "0.50", 20, 1), min_current=32),
            element(("ENERGY", "0.30", 20, 1)),
        ),
        "2024-05-06 10:00",
        "2024-05-06 12:00",
        20_000,
        ("8.4", "10.08"),
        [("2024-05-06 10:00", {E: "12", T: "1"}), ("2024-05-06 11:00", {E: "8", T: "1"})],
        readings=[("2024-05-06 11:00", 12_000)],
        currents=[("2024-05-06 11:00", "24")],
    ),
    # max_current (exclusive): 1.20/h TIME (no VAT) while below 16 A; energy 0.25/kWh @10% throughout.
    # 10:00-11:30, 9 kWh, no readings (3 kWh per half hour); 32 A from 10:00, 10 A from 10:30, 16 A from
    # 11:00 (16 is not below 16). TIME only 10:30-11:00: 0.5 h × 1.20 = 0.60 / 0.60; energy 9 × 0.25 =
    # 2.25 / 2.475 → 2.48 (half up). Total 2.85 / 3.08; three periods (TIME on, then off again).
    Case(
        "max_current band: time billed only while the current is below it",
        tariff(
            element(("TIME", "1.20", None, 1), max_current=16),
            element(("ENERGY", "0.25", 10, 1)),
        ),
        "2024-05-06 10:00",
        "2024-05-06 11:30",
        9_000,
        ("2.85", "3.08"),
        [
            ("2024-05-06 10:00", {E: "3", T: "0.5"}),
            ("2024-05-06 10:30", {E: "3", T: "0.5"}),
            ("2024-05-06 11:00", {E: "3", T: "0.5"}),
        ],
        currents=[("2024-05-06 10:00", "32"), ("2024-05-06 10:30", "10"), ("2024-05-06 11:00", "16")],
        parts={"time": ("0.6", "0.6"), "energy": ("2.25", "2.48")},
    ),
]
