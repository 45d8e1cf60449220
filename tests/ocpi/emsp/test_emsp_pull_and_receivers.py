"""Pulls with Link-header pagination and `date_from` (against a scripted CPO), and the receivers of
sessions, CDRs and tariffs (pushed by our own CPO side's client with the token B we issued)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from csms.app import Csms
from csms.config import EmspConfig
from ocpi.emsp.network import NetworkListener, SessionUpdate
from ocpi.emsp.role import EmspRole
from ocpi.emsp.store import CpoRecord, MemoryEmspStore
from tests.e2e.conftest import e2e_config
from tests.ocpi.emsp.test_emsp_with_our_cpo import register


async def test_pull_follows_links_and_asks_for_changes_since(tmp_path: Path) -> None:
    """The first pull reads every page (Link rel="next"); the next asks with date_from = the last pull."""
    queries: list[dict[str, str]] = []

    async def locations(request: web.Request) -> web.Response:
        queries.append(dict(request.query))
        offset = int(request.query.get("offset", "0"))
        headers = {}
        if offset == 0 and "date_from" not in request.query:
            headers["Link"] = f'<{request.url.with_query(offset="1")}>; rel="next"'
        data = [{"id": f"L{offset}"}]
        return web.json_response({"status_code": 1000, "data": data}, headers=headers)

    app = web.Application()
    app.router.add_get("/locations", locations)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as session:
            config = EmspConfig(enabled=True, pull_interval_seconds=0)
            role = EmspRole(config, MemoryEmspStore(), None, session)  # type: ignore[arg-type]
            endpoints = {"locations:SENDER": f"http://127.0.0.1:{port}/locations"}
            cpo = await role.store.add_cpo(
                CpoRecord(0, "fake", "x", status="REGISTERED", token_c="C", endpoints=endpoints)
            )
            # Two callers at once share one pull.
            first, _ = await asyncio.gather(
                role.locations(cpo.id, max_age=timedelta(0)), role.locations(cpo.id, max_age=timedelta(0))
            )
            assert [loc["id"] for loc in first.locations] == ["L0", "L1"]
            assert len(queries) == 2 and "date_from" not in queries[0] and queries[1]["offset"] == "1"
            await role.pull(cpo.id)
            assert first.pulled_at is not None
            assert queries[2]["date_from"] == first.pulled_at.strftime("%Y-%m-%dT%H:%M:%SZ")
            # A fresh cache is not pulled again.
            await role.locations(cpo.id, max_age=timedelta(hours=1))
            assert len(queries) == 3
    finally:
        await runner.cleanup()


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[Csms]:
    config = e2e_config(tmp_path)
    started = await Csms.start(
        replace(config, emsp=replace(config.emsp, enabled=True, pull_interval_seconds=0))
    )
    try:
        yield started
    finally:
        await started.stop()


async def test_sessions_cdrs_and_tariffs_received(csms: Csms) -> None:
    """Session PUT then PATCH (the listener sees the merged object), CDR POST answered with a Location
    that GETs it back, Tariff PUT and DELETE; an unknown session PATCH is 404."""
    cpo, partner = await register(csms)
    role = csms.emsp
    assert role is not None
    updates: list[SessionUpdate] = []

    async def on_session(update: SessionUpdate) -> None:
        updates.append(update)

    role.subscribe(NetworkListener(session=on_session))
    client = csms.ocpi.ctx.client

    async def call(method: str, module: str, path: str, body: Any = None) -> Any:
        base = partner.endpoints[f"{module}:RECEIVER"]
        response = await client.request(partner, method, f"{base}{path}", body)
        return response

    assert (await call("PUT", "sessions", "/NL/CSM/S1", {"id": "S1", "kwh": 0, "status": "ACTIVE"})).success
    assert (await call("PATCH", "sessions", "/NL/CSM/S1", {"kwh": 3.5})).success
    assert [u.session["kwh"] for u in updates] == [0, 3.5] and updates[1].session["status"] == "ACTIVE"
    missing = await call("PATCH", "sessions", "/NL/CSM/NOPE", {"kwh": 1})
    assert missing.http_status == 404

    posted = await call("POST", "cdrs", "", {"id": "CDR1", "total_energy": 3.5})
    assert posted.success
    read = await client.request(partner, "GET", posted.headers["Location"])
    assert read.success and read.data["id"] == "CDR1"

    assert (await call("PUT", "tariffs", "/NL/CSM/T1", {"id": "T1", "currency": "EUR"})).success
    assert await role.store.tariffs(cpo.id) == {"T1": {"id": "T1", "currency": "EUR"}}
    assert (await call("DELETE", "tariffs", "/NL/CSM/T1")).success
    assert await role.store.tariffs(cpo.id) == {}
