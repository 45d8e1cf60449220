"""OCPI Locations: a page reads what its charge points need together (a few store calls per page), not a few
per charge point and one per EVSE (bench.ocpi_pages, issue 9)."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from csms.domain.models import ConnectorStatus
from ocpi.transport import ocpi_datetime
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.senders import Harness, harness
from tests.store.conftest import T0, FakeClock

# The store reads of one charge point (or EVSE) that a page must not make per charge point.
PER_STATION = (
    "list_connectors",
    "list_connector_specs",
    "list_active_transactions",
    "list_device_variables",
    "evse_uid",
)
BATCHED = (
    "list_connectors_of",
    "list_connector_specs_of",
    "list_active_transactions_of",
    "list_device_variables_keyed",
    "evse_uids_for",
)


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    async with harness(memory_ocpi_store, clock) as built:
        yield built


def _count_calls(h: Harness, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the calls of the per-station and batched reads of both stores from now on."""
    calls: Counter[str] = Counter()

    def counted(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return await method(*args, **kwargs)

        return call

    for store in (h.store, h.ocpi):
        for name in (*PER_STATION, *BATCHED):
            if hasattr(store, name):
                monkeypatch.setattr(store, name, counted(name, getattr(store, name)))
    return calls


async def _sites(h: Harness, locations: int) -> None:
    """`locations` published locations of two charge points with two EVSEs each (one charging)."""
    for i in range(locations):
        cps = (f"CP{i}A", f"CP{i}B")
        for cp in cps:
            await h.add_station(cp)
            await h.status(cp, 1, ConnectorStatus.AVAILABLE, "Available")
            await h.spec(cp, 2)
        await h.start(cps[0], 1)
        await h.add_location(f"LOC{i}", *cps)
        h.advance(1)


@pytest.mark.parametrize("locations", [1, 3])
async def test_a_page_reads_its_charge_points_together(
    h: Harness, monkeypatch: pytest.MonkeyPatch, locations: int
) -> None:
    """Whatever the number of locations, charge points and EVSEs on a page (new EVSE uids included), each
    batched read is made once per page and no per-station read is made."""
    await _sites(h, locations)
    calls = _count_calls(h, monkeypatch)
    status, body, _ = await h.get("locations")
    assert status == 200 and len(body["data"]) == locations
    assert all(len(loc["evses"]) == 4 for loc in body["data"])
    assert {name: calls[name] for name in (*PER_STATION, *BATCHED)} == {
        **dict.fromkeys(PER_STATION, 0),
        **dict.fromkeys(BATCHED, 1),
    }


async def test_a_windowed_page_reads_its_charge_points_together(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A date window scans every published location with one connector and one spec read per scanned store
    page, then builds its page like the plain list."""
    await _sites(h, 3)
    calls = _count_calls(h, monkeypatch)
    status, body, _ = await h.get("locations", date_from=ocpi_datetime(T0))
    assert status == 200 and len(body["data"]) == 3
    assert calls["list_connectors_of"] == 2 and calls["list_connector_specs_of"] == 2
    assert sum(calls[name] for name in PER_STATION) == 0
