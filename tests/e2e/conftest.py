"""End-to-end fixtures: the real CSMS on free ports (SQLite in a temp dir), an API client, a key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from csms.app import Csms
from csms.config import (
    CertificatesConfig,
    Config,
    DatabaseConfig,
    FilesConfig,
    HttpConfig,
    OcppConfig,
    SecurityConfig,
)
from csms.domain.secrets import hash_secret, new_api_key

StartCsms = Callable[..., Awaitable[Csms]]


def e2e_config(tmp_path: Path, **ocpp: Any) -> Config:
    """A config for one test: free ports, its own SQLite file, fast batches, cheap bcrypt, and no local
    list sync unless `local_list_sync=True` is passed (many tests drive raw stations that answer no CSMS
    call: its GetLocalListVersion, a second after boot, would arrive where they await their own answer
    on a slow machine)."""
    defaults = OcppConfig(port=0, heartbeat_interval=300, boot_retry_interval=30, local_list_sync=False)
    return Config(
        ocpp=replace(defaults, **ocpp),
        http=HttpConfig(port=0),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path}/csms.db", batch_interval_ms=20),
        security=SecurityConfig(bcrypt_rounds=4),
        files=FilesConfig(dir=str(tmp_path / "files")),
        certificates=CertificatesConfig(
            ca_cert_file=str(tmp_path / "ca" / "ca.pem"), ca_key_file=str(tmp_path / "ca" / "ca.key")
        ),
    )


@pytest.fixture
async def start_csms(tmp_path: Path) -> AsyncIterator[StartCsms]:
    """Start a CSMS with `[ocpp]` overrides; every one started is stopped after the test."""
    started: list[Csms] = []

    async def start(**ocpp: Any) -> Csms:
        csms = await Csms.start(e2e_config(tmp_path, **ocpp))
        started.append(csms)
        return csms

    yield start
    for csms in started:
        await csms.stop()


@pytest.fixture
async def csms(start_csms: StartCsms) -> Csms:
    """A CSMS with the default policy (unknown charge points accepted)."""
    return await start_csms()


class Api:
    """A tiny REST client bound to one CSMS and one admin key."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        async with self.session.get(self.base + path, params=params) as resp:
            return resp.status, await resp.json()

    async def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.session.post(self.base + path, json=body) as resp:
            return resp.status, await resp.json()


async def make_api(csms: Csms) -> tuple[Api, aiohttp.ClientSession]:
    key, prefix = new_api_key()
    await csms.services.store.add_api_key("e2e", prefix, hash_secret(key, rounds=4), "admin")
    session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"})
    return Api(session, f"http://127.0.0.1:{csms.http_port}"), session


@pytest.fixture
async def api(csms: Csms) -> AsyncIterator[Api]:
    """An admin REST client for the `csms` fixture."""
    client, session = await make_api(csms)
    yield client
    await session.close()


def ocpp_url(csms: Csms) -> str:
    """The OCPP endpoint base; the charge point id is appended."""
    return f"ws://127.0.0.1:{csms.ocpp_port}/ocpp"


def location_body(location_id: str, *charge_point_ids: str, **fields: Any) -> dict[str, Any]:
    """A valid, published `POST /api/v1/locations` body (Utrecht) for these charge points; `fields`
    override."""
    return {
        "id": location_id,
        "name": f"Site {location_id}",
        "address": "Stationsplein 1",
        "city": "Utrecht",
        "postal_code": "3511 ED",
        "country": "NLD",
        "coordinates": {"latitude": "52.08950", "longitude": "5.11020"},
        "time_zone": "Europe/Amsterdam",
        "publish": True,
        "charge_point_ids": list(charge_point_ids),
        **fields,
    }
