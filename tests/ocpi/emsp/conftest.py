"""What the eMSP role's tests over real sockets share: `running` (one CSMS with our CPO side and the eMSP
role enabled, and an admin API client), `role_of` and `eventually`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import pytest

from csms.app import Csms
from ocpi.emsp.role import EmspRole
from tests.e2e.conftest import Api, e2e_config, make_api

T = TypeVar("T")
WAIT = 10.0


async def eventually(check: Callable[[], Awaitable[T | None]]) -> T:
    """Poll `check` until it returns something (what is checked happens in the background: pulls, pushes
    from an outbox)."""
    async with asyncio.timeout(WAIT):
        while True:
            found = await check()
            if found is not None:
                return found
            await asyncio.sleep(0.02)


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Csms, Api]]:
    """One CSMS with the eMSP role enabled (no pull loop: pulls are on demand) and an admin API client."""
    config = e2e_config(tmp_path)
    config = replace(config, emsp=replace(config.emsp, enabled=True, pull_interval_seconds=0))
    csms = await Csms.start(config)
    api, session = await make_api(csms)
    try:
        yield csms, api
    finally:
        await session.close()
        await csms.stop()


def role_of(csms: Csms) -> EmspRole:
    """The running CSMS's eMSP role."""
    assert csms.emsp is not None
    return csms.emsp
