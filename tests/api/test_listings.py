"""Listing conventions of sessions and reservations: time window, location, status and `sort=`, `expand=`
of charge point, location, tariff and id token, and the streamed CSV export of sessions."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.api.expand import RELATED, Related
from csms.api.params import SESSION_COST, CostSoFar
from csms.domain.core import Domain
from csms.domain.models import (
    ChargePoint,
    IdToken,
    NewTransaction,
    Reservation,
    ReservationStatus,
    Transaction,
    TransactionStatus,
)
from ocpi import admin_api
from tests.api.conftest import ApiClient, error_of
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.memory_store import MemoryStore

T0 = datetime(2025, 1, 1, 8, 0, 0, tzinfo=UTC)
LOCATIONS = {"LOC-A": ["CP-A1", "CP-A2"], "LOC-B": ["CP-B"]}


async def location_of(charge_point_id: str) -> dict[str, Any] | None:
    for location_id, ids in LOCATIONS.items():
        if charge_point_id in ids:
            return {"id": location_id, "charge_point_ids": ids}
    return None


async def charge_points_at(location_id: str, org_id: str) -> list[str] | None:
    return LOCATIONS.get(location_id)


async def tariff_of_session(session_id: int) -> dict[str, Any] | None:
    return {"id": f"T-{session_id}", "currency": "EUR"} if session_id % 2 else None


async def cost_of(tx: Transaction) -> CostSoFar:
    return CostSoFar(Decimal("1.50"), Decimal("1.785"), "EUR", tx.status is TransactionStatus.COMPLETED)


@pytest.fixture
async def related_client(domain: Domain) -> AsyncIterator[ApiClient]:
    """A client of an app whose locations, tariffs and costs come from the fakes above."""
    app = create_app(domain, extra_routes=admin_api.ROUTES)
    app[RELATED] = Related(location_of, charge_points_at, tariff_of_session)
    app[SESSION_COST] = cost_of
    failures: list[str] = []
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    async with TestClient(TestServer(app)) as client:
        yield client
    assert not failures, "\n".join(failures)


async def start(store: MemoryStore, cp: str, minutes: int, **fields: Any) -> Transaction:
    if await store.get_charge_point(cp) is None:
        await store.add_charge_point(ChargePoint(cp, created_at=T0, updated_at=T0))
    new = NewTransaction(cp, 1, 1, started_at=T0 + timedelta(minutes=minutes), id_token="TAG-1", **fields)
    return await store.add_transaction(new)


@pytest.fixture
async def sessions(store: MemoryStore) -> list[Transaction]:
    """Four sessions, ids 1..4, started at minutes 30, 10, 20, 40 at CP-A1, CP-B, CP-A2, CP-X; 2 completed."""
    await store.add_id_token(IdToken("TAG-1"))
    made = [
        await start(store, cp, minutes, meter_start_wh=1000)
        for cp, minutes in (("CP-A1", 30), ("CP-B", 10), ("CP-A2", 20), ("CP-X", 40))
    ]
    done = made[1]
    done.status, done.stopped_at = TransactionStatus.COMPLETED, T0 + timedelta(hours=1)
    done.meter_stop_wh = 4321
    await store.save_transaction(done)
    return made


async def ids(client: ApiClient, auth: dict[str, str], path: str, **query: str) -> list[int]:
    resp = await client.get(path, params=query, headers=auth)
    assert resp.status == 200, await resp.text()
    return [item["id"] for item in (await resp.json())["items"]]


async def test_sessions_filter_by_window_status_and_location_and_sort(
    related_client: ApiClient, auth: dict[str, str], sessions: list[Transaction]
) -> None:
    """`from`/`to` bound started_at, `location_id` picks its charge points, `sort` orders by start."""
    c = related_client
    assert await ids(c, auth, "/api/v1/sessions") == [4, 3, 2, 1]
    assert await ids(c, auth, "/api/v1/sessions", sort="started_at") == [2, 3, 1, 4]
    assert await ids(c, auth, "/api/v1/sessions", sort="-started_at") == [4, 1, 3, 2]
    window = {"from": "2025-01-01T08:10:00Z", "to": "2025-01-01T08:30:00Z"}
    assert await ids(c, auth, "/api/v1/sessions", sort="started_at", **window) == [2, 3]
    assert await ids(c, auth, "/api/v1/sessions", location_id="LOC-A") == [3, 1]
    assert await ids(c, auth, "/api/v1/sessions", status="completed") == [2]
    # The sort holds across pages.
    resp = await c.get("/api/v1/sessions", params={"sort": "started_at", "limit": "2"}, headers=auth)
    first = await resp.json()
    assert [i["id"] for i in first["items"]] == [2, 3]
    rest = {"sort": "started_at", "limit": "2", "cursor": first["next_cursor"]}
    assert await ids(c, auth, "/api/v1/sessions", **rest) == [1, 4]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "energy"}, "sort"),
        ({"from": "yesterday"}, "from"),
        ({"expand": "charge_point,owner"}, "expand"),
    ],
)
async def test_bad_listing_parameters_are_400_naming_them(
    related_client: ApiClient, auth: dict[str, str], query: dict[str, str], field: str
) -> None:
    """An unknown sort, a bad time or an unknown expand value is 400 naming the parameter."""
    error = await error_of(await related_client.get("/api/v1/sessions", params=query, headers=auth), 400)
    assert error["details"][0]["field"] == field
    if field == "expand":
        assert "owner" in error["details"][0]["reason"]


async def test_an_unknown_location_is_404(related_client: ApiClient, auth: dict[str, str]) -> None:
    """`location_id` naming no location is 404, for sessions and reservations."""
    for path in ("/api/v1/sessions", "/api/v1/reservations"):
        await error_of(await related_client.get(path, params={"location_id": "nowhere"}, headers=auth), 404)


async def test_expand_nests_charge_point_location_tariff_and_id_token(
    related_client: ApiClient, auth: dict[str, str], sessions: list[Transaction]
) -> None:
    """`expand=` nests exactly the objects asked for in the item (null when none): the id token object in
    place of its text, the charge point, location and tariff beside the charge point id; without it the
    body names them by id only."""
    plain = await (await related_client.get("/api/v1/sessions/1", headers=auth)).json()
    assert plain["id_token"] == "TAG-1" and not {"charge_point", "location", "tariff"} & set(plain)
    resp = await related_client.get(
        "/api/v1/sessions/1", params={"expand": "charge_point,location,tariff,id_token"}, headers=auth
    )
    body = await resp.json()
    assert body["charge_point_id"] == "CP-A1"
    assert body["charge_point"]["charge_point_id"] == "CP-A1"
    assert body["location"]["id"] == "LOC-A"
    assert body["tariff"] == {"id": "T-1", "currency": "EUR"}
    assert body["id_token"]["id_token"] == "TAG-1"
    listed = await related_client.get(
        "/api/v1/sessions", params=[("expand", "location"), ("expand", "tariff")], headers=auth
    )
    items = (await listed.json())["items"]
    assert [{"location", "tariff"} <= set(i) and "charge_point" not in i for i in items] == [True] * 4
    assert [isinstance(i["id_token"], str) for i in items] == [True] * 4
    assert [i["location"] and i["location"]["id"] for i in items] == [None, "LOC-A", "LOC-B", "LOC-A"]
    assert [i["tariff"] is None for i in items] == [True, False, True, False]  # even: none


async def test_an_id_token_the_csms_does_not_know_stays_text_when_expanded(
    related_client: ApiClient, auth: dict[str, str], sessions: list[Transaction], store: MemoryStore
) -> None:
    """A session's token the CSMS does not know (a roaming partner's) has no object to nest: `id_token`
    stays its text, so the client never loses it."""
    await store.delete_id_token("TAG-1")
    resp = await related_client.get("/api/v1/sessions/1", params={"expand": "id_token"}, headers=auth)
    assert (await resp.json())["id_token"] == "TAG-1"


async def test_reservations_filter_sort_and_expand(
    related_client: ApiClient, auth: dict[str, str], store: MemoryStore
) -> None:
    """Reservations take the same conventions: location, sort by expiry, expand (no tariff)."""
    for cp in ("CP-A1", "CP-B"):
        await store.add_charge_point(ChargePoint(cp, created_at=T0, updated_at=T0))
    for cp, hours in (("CP-A1", 3), ("CP-B", 1), ("CP-A1", 2)):
        await store.add_reservation(
            Reservation(0, cp, 1, "TAG-1", T0 + timedelta(hours=hours), ReservationStatus.ACTIVE)
        )
    c = related_client
    assert await ids(c, auth, "/api/v1/reservations", sort="expiry_date") == [2, 3, 1]
    assert await ids(c, auth, "/api/v1/reservations", location_id="LOC-A") == [3, 1]
    resp = await c.get("/api/v1/reservations/2", params={"expand": "location,charge_point"}, headers=auth)
    body = await resp.json()
    assert body["location"]["id"] == "LOC-B" and body["charge_point"]["charge_point_id"] == "CP-B"
    resp = await c.get("/api/v1/reservations", params={"expand": "tariff"}, headers=auth)
    assert (await error_of(resp, 400))["details"][0]["field"] == "expand"


async def test_sessions_export_csv(
    related_client: ApiClient, auth: dict[str, str], sessions: list[Transaction]
) -> None:
    """`export.csv` streams a header row and one row per session started in [from, to), oldest first, with
    UTC ISO 8601 times, integer Wh and exact decimal costs."""
    resp = await related_client.get(
        "/api/v1/sessions/export.csv",
        params={"from": "2025-01-01T08:10:00Z", "to": "2025-01-01T08:40:00Z"},
        headers=auth,
    )
    assert resp.status == 200
    assert resp.content_type == "text/csv"
    assert resp.headers["X-RateLimit-Limit"] == "600"
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["id"] for r in rows] == ["2", "3", "1"]
    done = rows[0]
    assert done["started_at"] == "2025-01-01T08:10:00.000Z"
    assert done["stopped_at"] == "2025-01-01T09:00:00.000Z"
    assert done["energy_wh"] == "3321" and done["status"] == "completed"
    assert (done["cost_excl_vat"], done["cost_incl_vat"], done["currency"]) == ("1.50", "1.785", "EUR")
    assert rows[1]["stopped_at"] == "" and rows[1]["energy_wh"] == ""


async def test_sessions_export_csv_pages_through_many_sessions(
    related_client: ApiClient, auth: dict[str, str], store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export reads the store page by page and still writes every session once, in order."""
    monkeypatch.setattr("csms.api.sessions.CSV_PAGE", 2)
    for minutes in range(5):
        await start(store, "CP-A1", 50 - minutes)
    resp = await related_client.get("/api/v1/sessions/export.csv", headers=auth)
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert [r["id"] for r in rows] == ["5", "4", "3", "2", "1"]
