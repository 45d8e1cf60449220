"""`/api/v1/sessions`: charging sessions newest first, filters, and one session with its meter samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from csms.domain.models import (
    ChargePoint,
    MeterReading,
    MeterSample,
    NewTransaction,
    Transaction,
    TransactionStatus,
)
from csms.domain.ports import TransactionMeterChanged
from csms.store.writer import BatchedWriter
from tests.api.conftest import ApiClient, error_of
from tests.fakes.memory_store import MemoryStore

T0 = datetime(2025, 1, 1, 8, 0, 0, tzinfo=UTC)


async def _start(store: MemoryStore, charge_point_id: str, minutes: int, **kwargs: object) -> Transaction:
    if await store.get_charge_point(charge_point_id) is None:
        await store.add_charge_point(ChargePoint(charge_point_id, created_at=T0))
    new = NewTransaction(
        charge_point_id=charge_point_id,
        evse_id=1,
        connector_id=1,
        started_at=T0 + timedelta(minutes=minutes),
        **kwargs,  # type: ignore[arg-type]
    )
    return await store.add_transaction(new)


async def _stop(store: MemoryStore, tx: Transaction, meter_stop_wh: int) -> None:
    tx.status = TransactionStatus.COMPLETED
    tx.stopped_at = tx.started_at + timedelta(hours=1)
    tx.meter_stop_wh = meter_stop_wh
    tx.stop_reason = "Local"
    await store.save_transaction(tx)


async def test_get_session_with_meter_samples(
    client: ApiClient, auth: dict[str, str], store: MemoryStore, writer: BatchedWriter
) -> None:
    """A session shows every field, energy in Wh, and samples still queued in the writer with exact values."""
    tx = await _start(
        store,
        "CP-1",
        0,
        ocpp_transaction_id="tx-abc",
        id_token="TAG1",
        id_token_type="ISO14443",
        meter_start_wh=1000,
        remote_start_id=7,
        charging_state="Charging",
    )
    samples = [
        MeterSample(timestamp=T0 + timedelta(minutes=1), value=Decimal("1500")),
        MeterSample(
            timestamp=T0 + timedelta(minutes=1),
            value=Decimal("229.95"),
            measurand="Voltage",
            unit="V",
            phase="L1",
            context="Sample.Periodic",
            location="Outlet",
        ),
        MeterSample(timestamp=T0 + timedelta(minutes=2), value=Decimal("1.7E+3"), multiplier=0),
    ]
    writer.put(MeterReading("CP-1", 1, samples, transaction_pk=tx.id))
    writer.put(TransactionMeterChanged(tx.id, 1700, "Charging", T0 + timedelta(minutes=2)))

    response = await client.get(f"/api/v1/sessions/{tx.id}", headers=auth)
    assert response.status == 200
    body = await response.json()
    assert body == {
        "id": tx.id,
        "charge_point_id": "CP-1",
        "evse_id": 1,
        "connector_id": 1,
        "transaction_id": "tx-abc",
        "status": "active",
        "id_token": "TAG1",
        "id_token_type": "ISO14443",
        "started_at": "2025-01-01T08:00:00.000Z",
        "stopped_at": None,
        "meter_start_wh": 1000,
        "meter_stop_wh": None,
        "energy_wh": 700,
        "stop_reason": None,
        "reservation_id": None,
        "remote_start_id": 7,
        "charging_state": "Charging",
        "offline": False,
        "cost": None,  # no OCPI bridge, so nothing prices sessions here (tests/api/test_session_costs.py)
        "meter_samples": [
            {
                "timestamp": "2025-01-01T08:01:00.000Z",
                "measurand": "Energy.Active.Import.Register",
                "phase": None,
                "unit": "Wh",
                "multiplier": 0,
                "context": None,
                "location": None,
                "value": "1500",
            },
            {
                "timestamp": "2025-01-01T08:01:00.000Z",
                "measurand": "Voltage",
                "phase": "L1",
                "unit": "V",
                "multiplier": 0,
                "context": "Sample.Periodic",
                "location": "Outlet",
                "value": "229.95",
            },
            {
                "timestamp": "2025-01-01T08:02:00.000Z",
                "measurand": "Energy.Active.Import.Register",
                "phase": None,
                "unit": "Wh",
                "multiplier": 0,
                "context": None,
                "location": None,
                "value": "1700",
            },
        ],
    }


async def test_completed_session_energy(client: ApiClient, auth: dict[str, str], store: MemoryStore) -> None:
    """A stopped session reports its stop meter, reason and energy from start to stop."""
    tx = await _start(store, "CP-1", 0, meter_start_wh=100)
    await _stop(store, tx, 2600)
    body = await (await client.get(f"/api/v1/sessions/{tx.id}", headers=auth)).json()
    assert body["status"] == "completed"
    assert body["transaction_id"] == str(tx.id)
    assert body["stopped_at"] == "2025-01-01T09:00:00.000Z"
    assert body["meter_stop_wh"] == 2600
    assert body["energy_wh"] == 2500
    assert body["stop_reason"] == "Local"
    assert body["meter_samples"] == []


async def test_list_newest_first_with_filters_and_pages(
    client: ApiClient, auth: dict[str, str], store: MemoryStore
) -> None:
    """Sessions list newest first, filter by charge point and status, and page with a Link header."""
    a1 = await _start(store, "CP-A", 0)
    b1 = await _start(store, "CP-B", 1)
    a2 = await _start(store, "CP-A", 2)
    a3 = await _start(store, "CP-A", 3)
    await _stop(store, a1, 10)

    body = await (await client.get("/api/v1/sessions", headers=auth)).json()
    assert [s["id"] for s in body["items"]] == [a3.id, a2.id, b1.id, a1.id]
    assert body["next_cursor"] is None

    body = await (
        await client.get("/api/v1/sessions?charge_point_id=CP-A&status=active", headers=auth)
    ).json()
    assert [s["id"] for s in body["items"]] == [a3.id, a2.id]
    body = await (await client.get("/api/v1/sessions?status=completed", headers=auth)).json()
    assert [s["id"] for s in body["items"]] == [a1.id]
    body = await (await client.get("/api/v1/sessions?charge_point_id=NOPE", headers=auth)).json()
    assert body["items"] == []

    response = await client.get("/api/v1/sessions?charge_point_id=CP-A&limit=2", headers=auth)
    first = await response.json()
    assert [s["id"] for s in first["items"]] == [a3.id, a2.id]
    link = response.headers["Link"]
    assert "charge_point_id=CP-A" in link
    second = await (await client.get(link[1 : link.index(">")], headers=auth)).json()
    assert [s["id"] for s in second["items"]] == [a1.id]
    assert second["next_cursor"] is None


async def test_bad_filters_and_ids(client: ApiClient, auth: dict[str, str]) -> None:
    """A status other than active|completed, a bad limit or a non-integer id is a 400 `invalid_request`."""
    for url, field in [
        ("/api/v1/sessions?status=running", "status"),
        ("/api/v1/sessions?limit=-1", "limit"),
        ("/api/v1/sessions/abc", "session_id"),
        ("/api/v1/sessions/1.5", "session_id"),
        ("/api/v1/sessions/-3", "session_id"),
    ]:
        error = await error_of(await client.get(url, headers=auth), 400)
        assert error["code"] == "invalid_request", url
        assert error["details"][0]["field"] == field, url


async def test_unknown_session_is_not_found(client: ApiClient, auth: dict[str, str]) -> None:
    """An integer id no session has, however large, is a 404 `not_found`."""
    for session_id in ["12345", str(2**70)]:
        error = await error_of(await client.get(f"/api/v1/sessions/{session_id}", headers=auth), 404)
        assert error["code"] == "not_found"


async def test_foreign_cursor_is_bad_request(client: ApiClient, auth: dict[str, str]) -> None:
    """A cursor the store did not hand out is a 400 naming `cursor`, not a server error."""
    error = await error_of(await client.get("/api/v1/sessions?cursor=not-an-id", headers=auth), 400)
    assert error["details"] == [{"field": "cursor", "reason": "is not a cursor returned by this API"}]
