"""`serve_until_signal` (csms/app.py): a SIGTERM that arrives while the CSMS is still starting stops it
cleanly once the start is done, instead of killing the process half-way (a forked worker may already serve
stations while it starts)."""

from __future__ import annotations

import os
import signal
from typing import Any

import pytest

from csms import app
from csms.config import Config


class StartedCsms:
    def __init__(self) -> None:
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


async def test_a_sigterm_during_the_start_stops_the_csms_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    started = StartedCsms()

    async def start(config: Config, **sockets: Any) -> StartedCsms:
        os.kill(os.getpid(), signal.SIGTERM)  # as the supervisor forwards it, mid-start
        return started

    monkeypatch.setattr(app.Csms, "start", start)
    monkeypatch.setattr(app, "tune_gc", lambda: None)
    await app.serve_until_signal(Config())
    assert started.stopped
