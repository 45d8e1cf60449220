"""Suite-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """Each test starts with structlog's defaults: a test that runs a CLI (which configures logging, maybe
    at a higher level) must not hide the log events a later test captures."""
    yield
    structlog.reset_defaults()
