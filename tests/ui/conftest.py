"""Browser fixtures: Playwright driving Debian's headless Chromium (never Playwright's own download).

Chromium comes from the distribution (`make test` installs the `chromium` package when it is missing).
Without it the browser tests skip, except under CI (`CI` set), where they fail with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import start_csms  # noqa: F401  (the real CSMS on free ports, for these tests)

CHROMIUM = os.environ.get("CSMS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
# Screenshots of every page the browser tests visit (the "test output" of issue 15).
SCREENSHOTS = Path(
    os.environ.get("CSMS_UI_SCREENSHOTS", Path(__file__).parents[2] / "var" / "ui-screenshots")
)


def require_chromium() -> None:
    """Skip (or, under CI, fail) when Chromium or Playwright is missing."""
    problem = None
    if not os.access(CHROMIUM, os.X_OK):
        problem = f"{CHROMIUM} not found: install Debian's chromium package (make test does)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            problem = "playwright is not installed: pip install -e '.[dev]'"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(problem)
    pytest.skip(problem)


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    """A headless Chromium, closed after the test."""
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()
