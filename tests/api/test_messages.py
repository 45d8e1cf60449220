"""`/api/v1/charge-points/{id}/messages`: the OCPP frame log, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.domain.models import ChargePoint, Direction, FrameRecord
from csms.store.writer import BatchedWriter
from tests.api.conftest import ApiClient, error_of
from tests.fakes.memory_store import MemoryStore

T0 = datetime(2025, 1, 1, 8, 0, 0, tzinfo=UTC)


def _frames(charge_point_id: str, count: int) -> list[FrameRecord]:
    """`count` alternating Heartbeat calls (in) and their results (out), one second apart."""
    frames = []
    for n in range(count):
        at = T0 + timedelta(seconds=n)
        if n % 2 == 0:
            text = f'[2,"m{n}","Heartbeat",{{}}]'
            frames.append(FrameRecord(charge_point_id, Direction.IN, 2, f"m{n}", "Heartbeat", text, at))
        else:
            text = f'[3,"m{n - 1}",{{"currentTime":"2025-01-01T08:00:00Z"}}]'
            frames.append(FrameRecord(charge_point_id, Direction.OUT, 3, f"m{n - 1}", None, text, at))
    return frames


async def test_frames_newest_first_across_pages(
    client: ApiClient, auth: dict[str, str], store: MemoryStore, writer: BatchedWriter
) -> None:
    """Frames still queued in the writer are listed newest first, raw text intact, paged by Link."""
    await store.add_charge_point(ChargePoint("CP-1", created_at=T0))
    await store.add_charge_point(ChargePoint("CP-2", created_at=T0))
    for frame in _frames("CP-1", 5) + _frames("CP-2", 1):
        writer.put(frame)

    response = await client.get("/api/v1/charge-points/CP-1/messages?limit=3", headers=auth)
    assert response.status == 200
    first = await response.json()
    assert first["items"][0] == {
        "direction": "in",
        "message_type": 2,
        "message_id": "m4",
        "action": "Heartbeat",
        "frame": '[2,"m4","Heartbeat",{}]',
        "at": "2025-01-01T08:00:04.000Z",
    }
    assert first["items"][1]["direction"] == "out"
    assert first["items"][1]["action"] is None
    link = response.headers["Link"]
    second = await (await client.get(link[1 : link.index(">")], headers=auth)).json()
    at = [f["at"] for f in first["items"] + second["items"]]
    assert len(at) == 5
    assert at == sorted(at, reverse=True)
    assert second["next_cursor"] is None


async def test_unknown_charge_point_is_not_found(client: ApiClient, auth: dict[str, str]) -> None:
    """The log of an unknown charge point is a 404 `not_found`, not an empty list."""
    error = await error_of(await client.get("/api/v1/charge-points/NOPE/messages", headers=auth), 404)
    assert error["code"] == "not_found"


async def test_bad_limit(client: ApiClient, auth: dict[str, str], store: MemoryStore) -> None:
    """A bad limit on the message log is a 400 naming `limit`."""
    await store.add_charge_point(ChargePoint("CP-1", created_at=T0))
    error = await error_of(await client.get("/api/v1/charge-points/CP-1/messages?limit=x", headers=auth), 400)
    assert error["details"][0]["field"] == "limit"
