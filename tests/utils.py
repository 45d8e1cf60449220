"""Shared test helpers: a time unit scaled for slow machines (as websockets' tests/utils.py does)."""

from __future__ import annotations

import os

# One "millisecond" of test time; CSMS_TEST_TIMEOUT_FACTOR=4 gives a slow machine four times longer.
MS = 0.001 * float(os.environ.get("CSMS_TEST_TIMEOUT_FACTOR", "1"))
