"""Fixtures for webhook tests: a receiver on a real socket."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.webhooks.receiver import Receiver

SECRET = "whsec_0123456789abcdef"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A started receiver checking signatures with `SECRET`."""
    receiver = Receiver(SECRET)
    await receiver.start()
    yield receiver
    await receiver.stop()
