"""The estimates' vehicle model (`ocpi.chargeprice.vehicles`): the catalogue and what a car charges where."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ocpi.chargeprice.vehicles import CatalogueError, load_vehicles, vehicle_plan

WHOLE = (Decimal(0), Decimal(100))


def test_the_shipped_catalogue_names_its_source() -> None:
    """The data file says where its figures come from, and every vehicle in it reads."""
    data = json.loads(Path("ocpi/chargeprice/vehicles.json").read_text(encoding="utf-8"))
    assert "ev-database.org" in data["source"]
    assert set(load_vehicles()) == {v["id"] for v in data["vehicles"]}


def test_an_operator_file_adds_and_replaces(tmp_path: Path) -> None:
    """Vehicles of the operator's file are added; one with a shipped id replaces the shipped one."""
    path = tmp_path / "extra.json"
    leaf = {"id": "nissan-leaf-40", "name": "Leaf (tuned)", "usable_battery_kwh": 40, "max_ac_kw": "3.7"}
    new = {"id": "new", "name": "New", "usable_battery_kwh": "10", "max_ac_kw": 11, "ac_phases": 3}
    path.write_text(json.dumps({"source": "ours", "vehicles": [leaf, new]}), encoding="utf-8")
    vehicles = load_vehicles(str(path))
    assert vehicles["nissan-leaf-40"].max_ac_kw == Decimal("3.7") and vehicles["new"].max_dc_kw == 0
    path.write_text(json.dumps({"vehicles": [{**new, "ac_phases": 2}]}), encoding="utf-8")
    with pytest.raises(CatalogueError, match="ac_phases"):
        load_vehicles(str(path))
    path.write_text(json.dumps({"vehicles": [{"id": "x"}]}), encoding="utf-8")
    with pytest.raises(CatalogueError, match="'x'"):
        load_vehicles(str(path))


def test_dc_along_the_curve_capped_by_the_point() -> None:
    """A flat 50 kW curve: 40 kWh in 48 min; at a 25 kW point in 96 min. A curve falling from 50 to 10 kW
    between 0 and 100 %: ∫ 0.4 kWh / (50 − 0.4·s) kW ds = ln(5) h = 96.57 min (midpoint rule per 1 %)."""
    ioniq = load_vehicles()["hyundai-ioniq5-77"]
    flat = replace(
        ioniq, usable_battery_kwh=Decimal(40), max_dc_kw=Decimal(50), dc_curve=((Decimal(0), Decimal(50)),)
    )
    plan = vehicle_plan(flat, WHOLE, "ccs", Decimal(150))
    assert plan is not None and (plan.energy_wh, plan.duration) == (40000, timedelta(minutes=48))
    assert plan.readings[0] == (timedelta(seconds=29), 400)  # 0.4 kWh at 50 kW: 28.8 s
    slow = vehicle_plan(flat, WHOLE, "chademo", Decimal(25))
    assert slow is not None and slow.duration == timedelta(minutes=96)
    falling = replace(flat, dc_curve=((Decimal(0), Decimal(50)), (Decimal(100), Decimal(10))))
    plan = vehicle_plan(falling, WHOLE, "ccs", Decimal(150))
    assert plan is not None and abs(plan.duration.total_seconds() / 60 - 96.57) < 0.05
    assert vehicle_plan(replace(flat, max_dc_kw=Decimal(0)), WHOLE, "ccs", Decimal(50)) is None


def test_ac_phases_and_unbalanced_load() -> None:
    """AC: the least of the point, the car's AC limit and its phases; single-phase at most 4.5 kW unless
    unbalanced load is allowed (then one phase of a three-phase point: a third of its power)."""
    zoe = load_vehicles()["renault-zoe-r135-ze50"]  # 22 kW AC, 3 phases, 52 kWh
    half = (Decimal(0), Decimal(50))  # 26 kWh

    def seconds(plug: str, kw: int, phases: int = 3, unbalanced: bool = False) -> int:
        plan = vehicle_plan(zoe, half, plug, Decimal(kw), phases=phases, allow_unbalanced=unbalanced)
        assert plan is not None and plan.energy_wh == 26000
        return int(plan.duration.total_seconds())

    assert seconds("type2", 11) == 8509  # 26/11 h = 8509.09 s
    assert seconds("type2", 43) == 4255  # the car's 22 kW: 4254.55 s
    assert seconds("type2", 22, phases=1) == 20800  # 4.5 kW
    assert seconds("type2", 22, phases=1, unbalanced=True) == 12764  # 22/3 kW: 12763.64 s
    assert seconds("schuko", 3) == 31200  # a single-phase point: 3 kW (under 4.5)
    assert seconds("schuko", 7, unbalanced=True) == 13371  # 7 kW: 13371.43 s
