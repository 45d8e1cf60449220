"""`[server] workers = N`: a small pre-fork supervisor, so N processes serve one host's OCPP and HTTP ports.

With N > 1, `csms run` is this supervisor (ADR 0008):

- it migrates the database once (workers then find the schema at head), binds the OCPP and HTTP listening
  sockets itself (SO_REUSEADDR, `[ocpp] backlog`) and logs `ocpp_listening` and `http_listening` with their
  ports, as a single process does;
- it forks N workers, before it has an event loop of its own; they inherit the sockets and each runs the
  normal CSMS (`Csms.start`) on them. Every line a worker logs carries `worker` (its index) and `pid`. The
  kernel gives each new connection to whichever worker accepts it first;
- SIGTERM or SIGINT is forwarded to every worker; each stops as a single process does (`Csms.stop` commits
  everything it was answered for), then the supervisor exits 0;
- a worker that exits on its own is logged (`worker_exited`) and forked again. One that keeps exiting soon
  after its start (`STABLE_SECONDS`) is forked again after a growing back-off (`restart_delay`); after
  `MAX_QUICK_EXITS` such exits in a row the supervisor stops the others and exits 1;
- a worker still running `[server] stop_timeout` seconds after the stop signal was forwarded is killed
  (SIGKILL, logged `worker_killed`) and the supervisor exits 1: a shutdown that hangs cannot keep it alive;
- a worker whose supervisor is gone (SIGKILL, OOM) stops as on SIGTERM.

With N = 1 nothing here runs: `run_server` calls `csms.app.run`, which serves in the process itself. POSIX
only (fork).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import select
import signal
import socket
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from structlog.typing import EventDict

from csms.app import event_loop_factory, run, serve_until_signal
from csms.config import Config, DatabaseConfig
from csms.logging import configure_logging
from csms.store.migrate import migrate
from csms.store.sql import make_engine

log = structlog.get_logger("csms.workers")

EXIT_OK = 0
EXIT_FAILED = 1

STABLE_SECONDS = 30.0  # a worker that lived this long had a good run: its exit is forked again at once
MAX_QUICK_EXITS = 5  # exits in a row, each sooner than STABLE_SECONDS after the fork, before giving up
BACKOFF_FIRST = 0.5  # seconds before the second quick exit's fork; doubles with each one after it
BACKOFF_MAX = 10.0
ORPHAN_CHECK_SECONDS = 1.0  # how often a worker checks that its supervisor still lives

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_HANDLED = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}


def run_server(config: Config) -> int:
    """`csms run`: serve in this process (`csms.app.run`) with `[server] workers = 1`, else supervise N
    forked workers; returns the exit code."""
    if config.server.workers <= 1:
        run(config)
        return EXIT_OK
    return Supervisor(with_shared_ui_secret(config)).run()


def with_shared_ui_secret(config: Config) -> Config:
    """`config` with a random `[ui] session_secret` when none is set: the workers inherit it, so a dashboard
    cookie signed by one is accepted by all, whichever worker the kernel gives the next request to."""
    if config.ui.session_secret:
        return config
    return replace(config, ui=replace(config.ui, session_secret=secrets.token_urlsafe(32)))


def restart_delay(quick_exits: int) -> float | None:
    """Seconds to wait before forking a worker again after `quick_exits` exits in a row, each soon after its
    fork (0: it had a good run, or it is the first); None: give up."""
    if quick_exits > MAX_QUICK_EXITS:
        return None
    if quick_exits <= 1:
        return 0.0
    return min(BACKOFF_FIRST * 2.0 ** (quick_exits - 2), BACKOFF_MAX)


def bind_listener(host: str, port: int, backlog: int) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0: a free one) with SO_REUSEADDR, for workers to inherit.

    One socket, on the first address `host` resolves to (a single process listens on every address of a
    name); an empty host is every address, IPv4 and IPv6 where the system has dual-stack sockets.
    """
    if not host and socket.has_dualstack_ipv6():
        sock = socket.create_server(
            ("::", port), family=socket.AF_INET6, backlog=backlog, dualstack_ipv6=True
        )
    else:
        family, _, _, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.create_server(address[:2], family=family, backlog=backlog)
    # create_server sets it on POSIX already; said here because a restarted supervisor relies on it.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


async def migrate_database(config: DatabaseConfig) -> None:
    """Migrate the schema to head on a short-lived engine (the supervisor, once, before forking)."""
    engine = make_engine(config)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@dataclass(slots=True)
class Worker:
    """A forked worker, as the supervisor knows it."""

    index: int
    pid: int
    forked_at: float  # time.monotonic()


@dataclass(slots=True)
class _WorkerFields:
    """structlog processor of a worker: every line says which worker (index) and process wrote it."""

    index: int
    pid: int

    def __call__(self, logger: Any, method: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault("worker", self.index)
        event_dict.setdefault("pid", self.pid)
        return event_dict


async def _stop_without_supervisor(supervisor: int) -> None:
    """Stop this worker (as on SIGTERM) once its supervisor is gone, rather than serve on unsupervised."""
    while os.getppid() == supervisor:  # noqa: ASYNC110 (no event announces a parent's death)
        await asyncio.sleep(ORPHAN_CHECK_SECONDS)
    log.warning("supervisor_gone", supervisor_pid=supervisor)
    os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Supervisor:
    """Binds the ports, forks `[server] workers` workers on them, restarts and stops them (see the module)."""

    config: Config
    workers: dict[int, Worker] = field(default_factory=dict)  # by pid
    _restarts: dict[int, float] = field(default_factory=dict)  # worker index -> monotonic time to fork it
    _quick_exits: dict[int, int] = field(default_factory=dict)  # worker index -> quick exits in a row
    _signals: list[int] = field(default_factory=list)
    _stopping: bool = False
    _kill_at: float | None = None  # monotonic time after which workers still running are SIGKILLed
    _failed: bool = False
    _sockets: tuple[socket.socket, socket.socket] | None = None
    _wakeup: tuple[int, int] | None = None  # self-pipe the signal handlers wake the main loop through

    def run(self) -> int:
        """Migrate, bind, fork the workers and supervise them until a signal stops them; the exit code."""
        configure_logging(self.config.log)
        # The workers inherit this configuration and share stderr: one write per line (a line up to PIPE_BUF
        # is written whole), so lines of different processes never mix (print() writes the newline apart).
        structlog.configure(logger_factory=structlog.WriteLoggerFactory(file=sys.stderr))
        try:
            asyncio.run(migrate_database(self.config.database))  # its event loop is closed before any fork
        except Exception:
            log.exception("database_migration_failed")
            return EXIT_FAILED
        ocpp, http = self.config.ocpp, self.config.http
        try:
            ocpp_sock = bind_listener(ocpp.host, ocpp.port, ocpp.backlog)
        except OSError:
            log.exception("bind_failed", host=ocpp.host, port=ocpp.port)
            return EXIT_FAILED
        try:
            http_sock = bind_listener(http.host, http.port, ocpp.backlog)
        except OSError:
            ocpp_sock.close()
            log.exception("bind_failed", host=http.host, port=http.port)
            return EXIT_FAILED
        self._sockets = (ocpp_sock, http_sock)
        log.info("ocpp_listening", host=ocpp.host, port=ocpp_sock.getsockname()[1], path=ocpp.path)
        log.info("http_listening", host=http.host, port=http_sock.getsockname()[1])
        log.info("supervisor_started", pid=os.getpid(), workers=self.config.server.workers)
        previous = self._install_signal_handlers()
        try:
            for index in range(self.config.server.workers):
                self._fork(index)
            self._loop()
        finally:
            self._restore_signal_handlers(previous)
            ocpp_sock.close()
            http_sock.close()
        log.info("supervisor_stopped", failed=self._failed)
        return EXIT_FAILED if self._failed else EXIT_OK

    # -- signals -------------------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: object) -> None:
        self._signals.append(signum)  # handled in the main loop; the wakeup fd ends its select()

    def _install_signal_handlers(self) -> tuple[int, dict[int, Any]]:
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._wakeup = (r, w)
        previous_fd = signal.set_wakeup_fd(w)
        previous: dict[int, Any] = {sig: signal.signal(sig, self._on_signal) for sig in _HANDLED}
        return previous_fd, previous

    def _restore_signal_handlers(self, previous: tuple[int, dict[int, Any]]) -> None:
        previous_fd, handlers = previous
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        if self._wakeup is not None:
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None

    # -- main loop -----------------------------------------------------------------------------------

    def _loop(self) -> None:
        assert self._wakeup is not None
        while self.workers or self._restarts:
            due = [*self._restarts.values(), *([self._kill_at] if self._kill_at is not None else [])]
            timeout = max(0.0, min(due) - time.monotonic()) if due else None
            select.select([self._wakeup[0]], [], [], timeout)
            with contextlib.suppress(BlockingIOError):
                while os.read(self._wakeup[0], 512):
                    pass
            self._handle_signals()
            self._reap()
            self._kill_overdue()
            self._fork_due()

    def _handle_signals(self) -> None:
        while self._signals:
            signum = self._signals.pop(0)
            if signum in _STOP_SIGNALS:
                log.info("supervisor_stopping", signal=signal.Signals(signum).name)
                self._stop()

    def _stop(self) -> None:
        """Stop forking, and ask every worker to stop (again, on a second signal)."""
        self._stopping = True
        self._restarts.clear()
        if self._kill_at is None:  # a second signal asks again, but does not extend the grace period
            self._kill_at = time.monotonic() + self.config.server.stop_timeout
        for worker in self.workers.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)

    def _kill_overdue(self) -> None:
        """SIGKILL the workers still running once the stop's grace period is over (reaped on SIGCHLD)."""
        if self._kill_at is None or time.monotonic() < self._kill_at:
            return
        self._kill_at = None  # once: the killed workers are reaped (and logged) by `_reap` on their SIGCHLD
        for worker in self.workers.values():
            log.error("worker_killed", worker=worker.index, pid=worker.pid,
                      stop_timeout=self.config.server.stop_timeout)
            self._failed = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is not None:
                self._exited(worker, os.waitstatus_to_exitcode(status))

    def _exited(self, worker: Worker, exit_code: int) -> None:
        uptime = time.monotonic() - worker.forked_at
        if self._stopping:
            # A worker that had not yet set up its own handler dies of the forwarded SIGTERM: nothing lost.
            clean = exit_code in (0, -signal.SIGTERM)
            (log.info if clean else log.error)(
                "worker_stopped", worker=worker.index, pid=worker.pid, exit_code=exit_code
            )
            self._failed = self._failed or not clean
            return
        log.warning(
            "worker_exited",
            worker=worker.index,
            pid=worker.pid,
            exit_code=exit_code,
            uptime=round(uptime, 3),
        )
        quick = self._quick_exits.get(worker.index, 0) + 1 if uptime < STABLE_SECONDS else 0
        self._quick_exits[worker.index] = quick
        delay = restart_delay(quick)
        if delay is None:
            log.error("workers_failing", worker=worker.index, quick_exits=quick)
            self._failed = True
            self._stop()
            return
        if delay:
            log.info("worker_restart_delayed", worker=worker.index, delay=delay)
        self._restarts[worker.index] = time.monotonic() + delay

    def _fork_due(self) -> None:
        now = time.monotonic()
        for index, at in sorted(self._restarts.items()):
            if at <= now:
                del self._restarts[index]
                self._fork(index)

    # -- the worker ----------------------------------------------------------------------------------

    def _fork(self, index: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        # Blocked across the fork: a signal for the supervisor must not run its handler in the child.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
        pid = os.fork()
        if pid == 0:
            code = EXIT_FAILED
            try:
                self._reset_child_signals()
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
                code = self._work(index)
            except BaseException:
                with contextlib.suppress(BaseException):
                    log.exception("worker_failed")
            finally:
                with contextlib.suppress(BaseException):
                    sys.stderr.flush()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        self.workers[pid] = Worker(index, pid, time.monotonic())

    def _reset_child_signals(self) -> None:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        if self._wakeup is not None:
            for fd in self._wakeup:
                os.close(fd)
            self._wakeup = None

    def _work(self, index: int) -> int:
        """The forked worker: the normal CSMS on the inherited sockets until SIGTERM/SIGINT."""
        pid = os.getpid()
        processors = structlog.get_config()["processors"]
        structlog.configure(processors=[_WorkerFields(index, pid), *processors])
        log.info("worker_started")
        assert self._sockets is not None
        ocpp_sock, http_sock = self._sockets
        supervisor = os.getppid()

        async def serve() -> None:
            watch = asyncio.create_task(_stop_without_supervisor(supervisor))
            try:
                await serve_until_signal(self.config, ocpp_sock=ocpp_sock, http_sock=http_sock)
            finally:
                watch.cancel()

        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve())
        return EXIT_OK
