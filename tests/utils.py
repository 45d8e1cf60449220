"""Shared test helpers: a time unit scaled for slow machines (as websockets' tests/utils.py does)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

# One "millisecond" of test time; CSMS_TEST_TIMEOUT_FACTOR=4 gives a slow machine four times longer.
MS = 0.001 * float(os.environ.get("CSMS_TEST_TIMEOUT_FACTOR", "1"))


async def until(predicate: Callable[[], bool], timeout: float = 5000 * MS) -> None:  # noqa: ASYNC109
    """Wait until `predicate()` holds, polling: for conditions that no event announces (a flag of the code
    under test). Raises TimeoutError after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(MS)
