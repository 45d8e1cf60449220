"""Suite-wide fixtures."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """Each test starts with structlog's defaults: a test that runs a CLI (which configures logging, maybe
    at a higher level) must not hide the log events a later test captures."""
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True, scope="module")
def _freeze_heap() -> None:
    """Collect, then freeze what survives, at the start of each test module — as the CSMS does after
    start-up. A full collection over the heap a long suite builds up can pause the loop for a second, which
    the blocking-call checks (tests/simulators/conftest.py) would take for a blocked event loop."""
    gc.collect()
    gc.freeze()
