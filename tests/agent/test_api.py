"""The Agent API over HTTP (aiohttp's test client, the fake CPO network, SQLite): keys, rate-limit headers,
the monthly quota, search across CPOs (one failing, one slow), bookings seen only by their client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.config import AgentConfig, DatabaseConfig
from csms.domain.counters import MemoryCounters
from csms.domain.secrets import SecretVerifier
from csms.store.migrate import migrate
from csms.store.sql.engine import make_engine
from ocpi.agent.accounts import add_client, rotate_key
from ocpi.agent.app import Agent, create_app
from ocpi.agent.bookings import BookingService
from ocpi.agent.store import SqlAgentStore
from ocpi.agent.webhooks import WebhookNotifier
from tests.agent.conftest import T0, Clock, FakeNetwork, two_cpos

Client = TestClient[web.Request, web.Application]


class Api:
    def __init__(self, agent: Agent, network: FakeNetwork, http: Client, clock: Clock) -> None:
        self.agent, self.network, self.http, self.clock = agent, network, http, clock

    async def key(self, **fields: Any) -> tuple[int, str]:
        client, key = await add_client(self.agent.store, name="App", bcrypt_rounds=4, **fields)
        return client.id, key

    async def get(self, path: str, key: str, **params: str) -> tuple[int, Any, Any]:
        async with self.http.get(path, params=params, headers={"Authorization": f"Bearer {key}"}) as r:
            return r.status, await r.json(), r.headers

    async def post(self, path: str, key: str, body: Any) -> tuple[int, Any, Any]:
        async with self.http.post(path, json=body, headers={"Authorization": f"Bearer {key}"}) as r:
            return r.status, await r.json(), r.headers

    async def delete(self, path: str, key: str) -> tuple[int, Any, Any]:
        async with self.http.delete(path, headers={"Authorization": f"Bearer {key}"}) as r:
            return r.status, await r.json(), r.headers


@pytest.fixture
async def api(tmp_path: Path, clock: Clock) -> AsyncIterator[Api]:
    engine = make_engine(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'agent.db'}"))
    await migrate(engine)
    store = SqlAgentStore(engine, clock=clock)
    network = two_cpos()
    config = replace(AgentConfig(), requests_per_minute=5, cpo_timeout_seconds=0.5)
    webhooks = WebhookNotifier(store, config, clock)
    bookings = BookingService(store, network, config, clock, webhooks.notify)
    agent = Agent(store, network, bookings, config, MemoryCounters(), clock, SecretVerifier(), webhooks)
    async with TestClient(TestServer(create_app(agent))) as http:
        yield Api(agent, network, http, clock)
    await webhooks.stop()
    await engine.dispose()


async def test_a_key_works_until_rotated_and_is_never_shown_again(api: Api) -> None:
    client_id, key = await api.key()
    status, _, _ = await api.get("/bookings", key)
    assert status == 200
    stored = await api.agent.store.get_client(client_id)
    assert stored is not None and key not in repr(stored) and stored.key_hash.startswith("$2")
    new_key = await rotate_key(api.agent.store, client_id, bcrypt_rounds=4)
    assert new_key is not None and new_key != key
    status, body, headers = await api.get("/bookings", key)
    assert status == 401 and body["error"]["code"] == "unauthorized" and "WWW-Authenticate" in headers
    assert (await api.get("/bookings", new_key))[0] == 200
    assert (await api.get("/bookings", "agk_00000000_guess"))[0] == 401
    assert (await api.get("/bookings", ""))[0] == 401


async def test_rate_limit_headers_count_this_request_and_429_beyond(api: Api) -> None:
    _, key = await api.key()
    remaining = []
    for _ in range(5):
        status, _, headers = await api.get("/bookings", key)
        assert status == 200 and headers["X-RateLimit-Limit"] == "5"
        assert 1 <= int(headers["X-RateLimit-Reset"]) <= 60
        remaining.append(int(headers["X-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    status, body, headers = await api.get("/bookings", key)
    assert status == 429 and body["error"]["code"] == "rate_limited" and "Retry-After" in headers
    assert headers["X-RateLimit-Remaining"] == "0"


async def test_the_monthly_quota_refuses_every_request_until_next_month(api: Api) -> None:
    api.agent.config = replace(api.agent.config, requests_per_minute=1000)
    _, key = await api.key(monthly_quota=2)
    assert [(await api.get("/bookings", key))[0] for _ in range(2)] == [200, 200]
    for _ in range(2):
        status, body, headers = await api.get("/bookings", key)
        assert status == 429 and body["error"]["code"] == "quota_exceeded"
        assert int(headers["Retry-After"]) == 27 * 86400 + 12 * 3600  # until 2027-01-01T00:00Z
    api.clock.now = T0.replace(year=2027, month=1, day=1, hour=0)
    assert (await api.get("/bookings", key))[0] == 200


async def test_search_sorts_by_distance_and_survives_a_failing_and_a_slow_cpo(api: Api) -> None:
    api.agent.config = replace(api.agent.config, requests_per_minute=1000)
    _, key = await api.key(reservation_fee="1.00", commission_percent="10")
    status, found, _ = await api.get("/search", key, lat="52.0", lon="5.0", radius_km="10")
    assert status == 200
    assert [(loc["location_id"], loc["cpo_party_id"]) for loc in found["locations"]] == [
        ("A1", "CPA"),
        ("B1", "CPB"),
    ]
    first = found["locations"][0]
    assert first["cpo_name"] == "Alpha Charging" and 1.0 < first["distance_km"] < 1.2
    assert first["supports_reservation"] is True and first["evses"][0]["status"] == "AVAILABLE"
    assert first["evses"][0]["connectors"][0] | {"tariff_ids": []} == {
        "id": "1", "plug": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE",
        "max_power_kw": "22.0", "tariff_ids": [],
    }  # fmt: skip
    assert first["evses"][0]["client_price"]["total"] == "9.51"
    assert [(r["cpo_party_id"], r["status"], r["locations"]) for r in found["cpo_results"]] == [
        ("CPA", "ok", 1),
        ("CPB", "ok", 1),
    ]
    status, found, _ = await api.get("/search", key, lat="52.0", lon="5.0", radius_km="10", plug="CHADEMO")
    assert found["locations"] == []
    api.network.cpos_by_id[2].stale = "HTTP 502"  # a refresh failed: the last copy, marked stale
    status, found, _ = await api.get("/search", key, lat="52.0", lon="5.0", radius_km="10")
    assert [loc["location_id"] for loc in found["locations"]] == ["A1", "B1"]
    assert [(r["status"], r["error"]) for r in found["cpo_results"]] == [("ok", None), ("stale", "HTTP 502")]
    api.network.cpos_by_id[1].fail = "HTTP 503"
    api.network.cpos_by_id[2].slow = asyncio.Event()  # never set: the CPO does not answer
    status, found, _ = await api.get("/search", key, lat="52.0", lon="5.0", radius_km="10")
    assert status == 200 and found["locations"] == []
    assert [(r["cpo_party_id"], r["status"], r["error"]) for r in found["cpo_results"]] == [
        ("CPA", "error", "HTTP 503"),
        ("CPB", "timeout", "no answer within 0.5 s"),
    ]
    for params, name in (
        ({"lat": "91", "lon": "5"}, "lat"),
        ({"lon": "5"}, "lat"),
        ({"lat": "1", "lon": "x"}, "lon"),
    ):
        status, body, _ = await api.get("/search", key, **params)
        assert status == 400 and body["error"]["details"][0]["field"] == name


async def test_bookings_are_made_followed_and_cancelled_by_their_client_only(api: Api) -> None:
    api.agent.config = replace(api.agent.config, requests_per_minute=1000)
    _, key = await api.key()
    _, other = await api.key()
    body = {"location_id": "A1", "evse_uid": "A1-1", "cpo_party_id": "CPA", "start": "2026-12-04T12:00:00Z",
            "duration_minutes": 30, "driver_token": "DRIVER1"}  # fmt: skip
    status, booking, _ = await api.post("/bookings", key, body)
    assert status == 201 and booking["status"] == "PENDING" and booking["end"] == "2026-12-04T12:30:00Z"
    assert (await api.get(f"/bookings/{booking['id']}", other))[0] == 404
    status, listed, _ = await api.get("/bookings", key, status="PENDING,CONFIRMED")
    assert [b["id"] for b in listed["bookings"]] == [booking["id"]]
    status, too_long, _ = await api.post("/bookings", key, body | {"duration_minutes": 300})
    assert status == 422 and too_long["error"]["code"] == "duration_too_long"
    status, bad, _ = await api.post("/bookings", key, body | {"duration_minutes": "x"})
    assert status == 400 and bad["error"]["details"][0]["field"] == "duration_minutes"
    status, cancelled, _ = await api.delete(f"/bookings/{booking['id']}", key)
    assert (
        status == 200 and cancelled["status"] == "CANCELLED" and cancelled["client_price"]["total"] == "0.00"
    )
    status, again, _ = await api.delete(f"/bookings/{booking['id']}", key)
    assert status == 409 and again["error"]["code"] == "not_cancellable"
