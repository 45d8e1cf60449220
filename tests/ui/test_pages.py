"""The dashboard's page helpers without a server: the overview's hourly energy and the location map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.domain.models import Transaction, TransactionStatus
from csms.ui.admin_pages import MAP_HEIGHT, MAP_MARGIN, MAP_WIDTH, map_points
from csms.ui.pages import hourly_energy

NOW = datetime(2026, 1, 2, 12, 30, tzinfo=UTC)


def _tx(pk: int, wh: int, stopped_hours_ago: float | None) -> Transaction:
    stopped = None if stopped_hours_ago is None else NOW - timedelta(hours=stopped_hours_ago)
    status = TransactionStatus.ACTIVE if stopped is None else TransactionStatus.COMPLETED
    return Transaction(
        pk, "CP", 1, 1, str(pk), status, NOW - timedelta(hours=30), meter_start_wh=0, last_meter_wh=wh,
        meter_stop_wh=None if stopped is None else wh, stopped_at=stopped,
    )  # fmt: skip


def test_hourly_energy_counts_each_session_in_the_hour_it_ended() -> None:
    """A running session counts in the current (last) hour, a stopped one in the hour it stopped; older
    than 24 h is left out."""
    hours = hourly_energy([_tx(1, 500, None), _tx(2, 300, 0.2), _tx(3, 700, 5.5), _tx(4, 900, 30)], NOW)
    assert len(hours) == 24
    assert hours[23] == 800 and hours[18] == 700 and sum(hours) == 1500


def test_map_places_locations_north_up_inside_the_box() -> None:
    """Locations with coordinates are placed west to east and north to south within the margins; one
    without usable coordinates is left off the map."""
    points = map_points([
        {"id": "N", "name": "North", "coordinates": {"latitude": "53.000000", "longitude": "5.000000"}},
        {"id": "S", "name": "South", "coordinates": {"latitude": "51.000000", "longitude": "6.000000"}},
        {"id": "X", "name": "Nowhere", "coordinates": {"latitude": "?", "longitude": "5"}},
    ])  # fmt: skip
    by_id = {p["id"]: p for p in points}
    assert set(by_id) == {"N", "S"}
    assert by_id["N"]["y"] < by_id["S"]["y"] and by_id["N"]["x"] < by_id["S"]["x"]
    for p in points:
        assert (
            MAP_MARGIN <= p["x"] <= MAP_WIDTH - MAP_MARGIN and MAP_MARGIN <= p["y"] <= MAP_HEIGHT - MAP_MARGIN
        )
