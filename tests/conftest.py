"""Suite-wide fixtures."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import HealthCheck, settings


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


# Hypothesis profiles (ADR 0017). "ci", the default, is derandomized: the same examples on every run, so a
# red `make test` is reproducible and never a matter of luck, and no deadline, since this 2-core machine is
# shared and a slow example is not a bug. "explore" (HYPOTHESIS_PROFILE=explore) draws fresh random
# examples for a developer hunting for new bugs; a bug it finds becomes an @example regression.
settings.register_profile(
    "ci", derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "explore", deadline=None, max_examples=1000, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
