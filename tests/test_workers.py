"""`csms run`'s choice between one process and the supervisor of `[server] workers`, the supervisor's
restart back-off and its giving up on workers that keep dying (csms/workers.py; end to end:
tests/e2e/test_workers.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from csms import cli, workers
from csms.config import Config, ConfigError, HttpConfig, LogConfig, OcppConfig, ServerConfig, load_config

CLUSTER_ENV = {
    "CSMS_SERVER_WORKERS": "2",
    "CSMS_CLUSTER_REDIS_URL": "redis://127.0.0.1:6379/0",
    "CSMS_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What `run_server` did: "run" (one process) or "supervise"; forking or migrating here fails the test."""
    done: list[str] = []

    def forbidden(*args: Any) -> Any:
        raise AssertionError("must not be called")

    monkeypatch.setattr(workers, "run", lambda config: done.append("run"))
    monkeypatch.setattr(workers.Supervisor, "run", lambda self: done.append("supervise") or 7)
    monkeypatch.setattr(os, "fork", forbidden)
    monkeypatch.setattr(workers, "migrate_database", forbidden)
    return done


def test_one_worker_serves_in_the_process_itself(calls: list[str]) -> None:
    assert load_config(None, environ={}).server.workers == 1
    assert workers.run_server(load_config(None, environ={})) == workers.EXIT_OK
    assert calls == ["run"]


def test_several_workers_are_supervised(calls: list[str]) -> None:
    config = load_config(None, environ=CLUSTER_ENV)
    assert config.server.workers == 2
    assert workers.run_server(config) == 7
    assert calls == ["supervise"]


def test_csms_run_goes_through_run_server(
    calls: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "csms.toml"
    config.write_text("[server]\nworkers = 1\n")
    assert cli.main(["--config", str(config), "run"]) == 0
    for key, value in CLUSTER_ENV.items():
        monkeypatch.setenv(key, value)
    assert cli.main(["--config", str(config), "run"]) == 7
    assert calls == ["run", "supervise"]


def test_restart_delay_backs_off_then_gives_up() -> None:
    delays = [workers.restart_delay(n) for n in range(workers.MAX_QUICK_EXITS + 2)]
    assert delays[:2] == [0.0, 0.0]  # after a good run, or a first early death: at once
    growing = delays[2 : workers.MAX_QUICK_EXITS + 1]
    assert all(d is not None and d > 0 for d in growing)
    assert growing == sorted(growing)
    assert delays[-1] is None


def test_bind_listener_picks_a_free_port_with_reuseaddr() -> None:
    sock = workers.bind_listener("127.0.0.1", 0, 16)
    try:
        assert sock.getsockname()[1] > 0
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        with socket.create_connection(sock.getsockname()[:2], timeout=5):
            pass  # the backlog takes it before anyone accepts
    finally:
        sock.close()


def test_workers_dying_at_start_make_the_supervisor_give_up(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Workers that exit at once are forked again with back-off, then the supervisor gives up: exit 1."""

    async def migrated(config: Any) -> None:
        pass

    monkeypatch.setattr(workers, "migrate_database", migrated)
    monkeypatch.setattr(workers, "BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(workers.Supervisor, "_work", lambda self, index: 3)  # in the forked child
    config = Config(
        ocpp=OcppConfig(port=0),
        http=HttpConfig(port=0),
        log=LogConfig(format="json"),
        server=ServerConfig(workers=2),
    )
    assert workers.Supervisor(config).run() == workers.EXIT_FAILED
    events = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    exits = [e for e in events if e["event"] == "worker_exited"]
    assert exits and {e["exit_code"] for e in exits} == {3}
    failing = [e for e in events if e["event"] == "workers_failing"]
    assert len(failing) == 1 and failing[0]["quick_exits"] == workers.MAX_QUICK_EXITS + 1
    assert len([e for e in exits if e["worker"] == failing[0]["worker"]]) == workers.MAX_QUICK_EXITS + 1
    assert events[-1]["event"] == "supervisor_stopped" and events[-1]["failed"] is True


def test_workers_that_do_not_stop_are_killed_after_the_stop_timeout(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Workers that ignore the forwarded SIGTERM are SIGKILLed once `[server] stop_timeout` has passed,
    logged `worker_killed`, and the supervisor exits 1 instead of waiting for them forever."""

    async def migrated(config: Any) -> None:
        pass

    ready_r, ready_w = os.pipe()

    def stubborn(self: workers.Supervisor, index: int) -> int:  # in the forked child
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.write(ready_w, b"x")  # only now may the supervisor be stopped
        while True:
            time.sleep(1)

    def stop_when_ready() -> None:
        got = b""
        while len(got) < 2:
            got += os.read(ready_r, 2 - len(got))
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(workers, "migrate_database", migrated)
    monkeypatch.setattr(workers.Supervisor, "_work", stubborn)
    config = Config(
        ocpp=OcppConfig(port=0),
        http=HttpConfig(port=0),
        log=LogConfig(format="json"),
        server=ServerConfig(workers=2, stop_timeout=0.2),
    )
    stopper = threading.Thread(target=stop_when_ready, daemon=True)
    stopper.start()
    try:
        assert workers.Supervisor(config).run() == workers.EXIT_FAILED
    finally:
        stopper.join(5)
        os.close(ready_r)
        os.close(ready_w)
    events = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    killed = {e["pid"] for e in events if e["event"] == "worker_killed"}
    stopped = {e["pid"]: e["exit_code"] for e in events if e["event"] == "worker_stopped"}
    assert len(killed) == 2 and stopped == dict.fromkeys(killed, -signal.SIGKILL)
    assert events[-1]["event"] == "supervisor_stopped" and events[-1]["failed"] is True


def test_stop_timeout_must_be_positive(tmp_path: Path) -> None:
    """`[server] stop_timeout` of 0 or less is refused when the configuration is loaded."""
    with pytest.raises(ConfigError, match="server.stop_timeout"):
        load_config(None, {"CSMS_SERVER_STOP_TIMEOUT": "0"})
