"""OCPP round-trip benchmark: closed-loop MeterValues or Heartbeat to the CSMS, as a fraction of a bare echo.

Subcommands (``python -m bench.ocpp_roundtrip <subcommand> --help`` for every option):

``server``
    The real CSMS (``csms.app.Csms``) in this process, SQLite file ``--db``, on 127.0.0.1 only. Prints
    ``READY ocpp=<port> http=<port> ...`` once listening and runs until SIGTERM or SIGINT, then stops it
    cleanly (the batched writer commits everything) and prints ``STOPPED ...``.
``echo``
    A bare ``websockets`` server that answers every CALL with a fixed CALLRESULT for its action (message id
    copied by slicing, no JSON parsing): the ceiling E for this machine, this load generator and this loop.
``load``
    The load generator: ``--connections`` websocket connections (raw ``websockets`` client, orjson, no
    validation), each sends BootNotification (and for 1.6 MeterValues one StartTransaction, for its
    ``transactionId``), then for ``--duration`` seconds runs a closed loop: one CALL outstanding per
    connection, the next sent as soon as the answer arrived. Frames are serialized once; only the message id
    changes. Prints round trips/s, p50/p99/max latency and errors.
``all`` (the default)
    Echo server + load, then CSMS (SQLite in a temp dir, message log on) + load, then CSMS (message log
    off) + load: the servers are subprocesses pinned to one core (``os.sched_setaffinity``), each load run a
    subprocess pinned to another. Runs are interleaved (``--rounds``), each starts once the machine is quiet
    and, for the CSMS, the next waits until its batched writer has committed the previous run's backlog.
    Prints a table: round trips/s and the fraction of E, and the server's CPU time per round trip (from
    ``/proc``) with and without the writer's catch-up, which is the figure that does not depend on the
    load generator or on other work on the machine.

Everything is bounded: each closed loop stops by itself after warm-up + duration, a load run that overstays
is abandoned, and every server subprocess is terminated (SIGTERM, then SIGKILL) in a ``finally``.

uvloop is used when it is importable (it is not a project dependency) unless ``--no-uvloop`` is given.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

HOST = "127.0.0.1"
SUBPROTOCOLS = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}
MESSAGES = ("meter", "heartbeat")
MAX_FRAME = 65536
# Handshakes in flight at once while connecting: keeps a 1000-connection start from being a storm.
CONNECT_CONCURRENCY = 100
# Extra time a load run may take beyond warm-up + duration (connecting, booting, closing) before it is
# abandoned; also the subprocess timeout of a load run under `all`.
SETUP_BUDGET = 180.0
READY_TIMEOUT = 60.0
STATS_INTERVAL = 0.25  # seconds between a CSMS server's writer-backlog lines
QUIET_CORES = 0.3  # `all` waits for the machine to use less than this before each load run...
QUIET_MAX_WAIT = 60.0  # ...but not longer than this (seconds)
DRAIN_TIMEOUT = 600.0  # longest `all` waits for a CSMS server's writer to catch up after a load run
STOP_TIMEOUT = 120.0
RESULT_PREFIX = "RESULT "
ECHO = "echo (E)"


class BenchError(Exception):
    """A benchmark step failed (server did not start, a boot was refused, a load run failed)."""


# -- event loop --------------------------------------------------------------------------------------


def _uvloop_factory(enabled: bool) -> Any:
    """`uvloop.new_event_loop` when enabled and importable, else None (the default asyncio loop)."""
    if not enabled:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_loop(main: Coroutine[Any, Any, Any], use_uvloop: bool) -> Any:
    """Run `main` to completion on uvloop (if wanted and installed) or on the default asyncio loop."""
    with asyncio.Runner(loop_factory=_uvloop_factory(use_uvloop)) as runner:
        return runner.run(main)


def loop_name() -> str:
    """`uvloop` or `asyncio`: the loop running the current coroutine."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"


def raise_open_file_limit(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE to at least `needed` (at most the hard limit); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def pin_to_cpu(cpu: int | None) -> None:
    """Pin this process to one core (`os.sched_setaffinity`); None leaves the affinity alone."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


# -- messages ----------------------------------------------------------------------------------------


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# (measurand, unit, value, location): the five sampled values of one MeterValues.
_SAMPLES: tuple[tuple[str, str, str, str], ...] = (
    ("Energy.Active.Import.Register", "Wh", "12345.6", "Outlet"),
    ("Power.Active.Import", "W", "7360.0", "Outlet"),
    ("Current.Import", "A", "32.0", "Outlet"),
    ("Voltage", "V", "230.0", "Outlet"),
    ("SoC", "Percent", "57", "EV"),
)


def boot_payload(version: str) -> dict[str, Any]:
    """A BootNotification request for `version`."""
    if version == "1.6":
        return {"chargePointVendor": "Bench", "chargePointModel": "RoundTrip"}
    return {"reason": "PowerUp", "chargingStation": {"vendorName": "Bench", "model": "RoundTrip"}}


def start_transaction_payload() -> dict[str, Any]:
    """A 1.6 StartTransaction on connector 1 (the CSMS allocates the transactionId)."""
    return {"connectorId": 1, "idTag": "BENCH", "meterStart": 0, "timestamp": _now_iso()}


def meter_values_payload(version: str, transaction_id: int | None) -> dict[str, Any]:
    """A MeterValues request with one MeterValue of 5 sampled values.

    1.6: connector 1, `transactionId` when given, values as strings (the 1.6 schema's type). 2.0.1: EVSE 1,
    numeric values with `unitOfMeasure`.
    """
    stamp = _now_iso()
    if version == "1.6":
        sampled: list[dict[str, Any]] = [
            {"value": value, "context": "Sample.Periodic", "measurand": m, "location": loc, "unit": unit}
            for m, unit, value, loc in _SAMPLES
        ]
        payload: dict[str, Any] = {
            "connectorId": 1,
            "meterValue": [{"timestamp": stamp, "sampledValue": sampled}],
        }
        if transaction_id is not None:
            payload["transactionId"] = transaction_id
        return payload
    sampled = [
        {
            "value": float(value),
            "context": "Sample.Periodic",
            "measurand": m,
            "location": loc,
            "unitOfMeasure": {"unit": unit},
        }
        for m, unit, value, loc in _SAMPLES
    ]
    return {"evseId": 1, "meterValue": [{"timestamp": stamp, "sampledValue": sampled}]}


def frame_parts(action: str, payload: dict[str, Any]) -> tuple[str, str]:
    """(prefix, suffix) of a CALL frame serialized once: a frame is `prefix + message_id + suffix`."""
    return '[2,"', '","' + action + '",' + orjson.dumps(payload).decode() + "]"


# -- echo server (the ceiling E) ---------------------------------------------------------------------

# The fixed CALLRESULT payload per action; anything else gets `{}` (what MeterValues answers anyway).
_ECHO_PAYLOADS: dict[str, str] = {
    "BootNotification": orjson.dumps(
        {"currentTime": "2025-01-01T00:00:00.000Z", "interval": 300, "status": "Accepted"}
    ).decode(),
    "StartTransaction": orjson.dumps({"transactionId": 1, "idTagInfo": {"status": "Accepted"}}).decode(),
    "Heartbeat": orjson.dumps({"currentTime": "2025-01-01T00:00:00.000Z"}).decode(),
}


async def _echo_handler(ws: ServerConnection) -> None:
    """Answer each CALL `[2,"id","Action",...]` with `[3,"id",<fixed payload>]`; id and action sliced out."""
    payloads = _ECHO_PAYLOADS
    try:
        async for message in ws:
            if not isinstance(message, str) or not message.startswith('[2,"'):
                continue
            end = message.find('"', 4)
            start = end + 3
            action = message[start : message.find('"', start)]
            await ws.send('[3,"' + message[4:end] + '",' + payloads.get(action, "{}") + "]")
    except ConnectionClosed:
        pass


async def serve_echo(port: int) -> None:
    """Run the echo server on 127.0.0.1:`port` until SIGTERM or SIGINT."""
    raise_open_file_limit(65536)
    async with serve(
        _echo_handler,
        HOST,
        port,
        subprotocols=[Subprotocol(p) for p in SUBPROTOCOLS.values()],
        compression=None,
        max_size=MAX_FRAME,
        ping_interval=None,
        backlog=4096,
        server_header=None,
    ) as server:
        bound = int(next(iter(server.sockets)).getsockname()[1])
        gc.collect()
        gc.freeze()
        print(f"READY ocpp={bound} http=0 loop={loop_name()} server=echo", flush=True)
        await _wait_for_signal()
    print("STOPPED", flush=True)


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


# -- CSMS server -------------------------------------------------------------------------------------


async def serve_csms(
    port: int,
    http_port: int,
    db: Path,
    *,
    message_log: bool,
    rate_limit: float | None,
    log_level: str,
    profile: Path | None,
) -> None:
    """Run the CSMS on 127.0.0.1 with SQLite file `db` until SIGTERM or SIGINT, then stop it cleanly.

    Like `csms run` (`csms.app.serve_until_signal`), start-up objects are frozen out of the GC. With
    `profile`, cProfile records from READY (or from the last SIGUSR1: send it once the load generator's
    set-up is done, to profile the closed loop alone) to the stop signal, and its stats are dumped there.
    """
    from dataclasses import replace

    from csms.app import Csms, tune_gc
    from csms.config import Config, DatabaseConfig, HttpConfig, LogConfig, OcppConfig
    from csms.logging import configure_logging

    raise_open_file_limit(65536)
    ocpp = OcppConfig(host=HOST, port=port, message_log=message_log)
    if rate_limit is not None:
        ocpp = replace(ocpp, rate_limit_per_second=rate_limit, rate_limit_burst=max(100, int(rate_limit)))
    config = Config(
        ocpp=ocpp,
        http=HttpConfig(host=HOST, port=http_port),
        database=DatabaseConfig(url=f"sqlite+aiosqlite:///{db}"),
        log=LogConfig(level=log_level, format="json"),
    )
    configure_logging(config.log)
    csms = await Csms.start(config)
    profilers = [cProfile.Profile()] if profile is not None else []

    def restart_profile() -> None:  # SIGUSR1: forget what was recorded so far
        profilers[-1].disable()
        profilers.append(cProfile.Profile())
        profilers[-1].enable()

    if profilers:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, restart_profile)
    try:
        tune_gc()  # as `csms run` does
        print(
            f"READY ocpp={csms.ocpp_port} http={csms.http_port} loop={loop_name()} server=csms"
            f" message_log={'on' if message_log else 'off'}",
            flush=True,
        )
        if profilers:
            profilers[-1].enable()
        gc_timer = GcTimer()
        gc.callbacks.append(gc_timer)
        stats = asyncio.create_task(_print_stats(csms.services.writer, gc_timer, STATS_INTERVAL))
        await _wait_for_signal()
        stats.cancel()
        gc.callbacks.remove(gc_timer)
    finally:
        if profilers:
            profilers[-1].disable()
            assert profile is not None
            profilers[-1].dump_stats(str(profile))
        pending = csms.services.writer.pending
        started = time.perf_counter()
        await csms.stop()
        print(
            f"STOPPED writer_pending_at_stop={pending} stop_s={time.perf_counter() - started:.2f}", flush=True
        )


class GcTimer:
    """A `gc.callbacks` hook: total time in garbage collection, full passes, and the longest pause.

    `longest` is the longest single collection since it was last reset to 0 (`_print_stats` does that).
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self.longest = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._started
            self.seconds += pause
            self.longest = max(self.longest, pause)
            if info.get("generation") == 2:
                self.full += 1


async def _print_stats(writer: Any, gc_timer: GcTimer, interval: float) -> None:
    """Print `STATS t=<time.monotonic()> pending=<items> gc_s=<s> gc_full=<n> gc_max=<s>` every `interval` s.

    `pending` is the batched writer's backlog, `gc_s` and `gc_full` the garbage collector's time and full
    passes so far, `gc_max` its longest pause since the previous line. `time.monotonic` is system-wide on
    Linux, so `all` lines these up with the load generator's window.
    """
    while True:
        print(
            f"STATS t={time.monotonic():.3f} pending={writer.pending} gc_s={gc_timer.seconds:.4f}"
            f" gc_full={gc_timer.full} gc_max={gc_timer.longest:.4f}",
            flush=True,
        )
        gc_timer.longest = 0.0
        await asyncio.sleep(interval)


# -- load generator ----------------------------------------------------------------------------------


@dataclass(slots=True)
class LoadResult:
    """What one load run measured; `rate` counts successful round trips started inside the window."""

    connections: int
    requested: int
    version: str
    message: str
    duration: float
    round_trips: int
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    setup_errors: int
    loop: str
    setup_s: float
    # Share of one core used during the measured window (user + system time from /proc); -1 if unknown.
    server_busy: float = -1.0
    load_busy: float = -1.0
    # Cores busy with anything else during the window: kernel network work, and other processes competing
    # for the pinned cores (a sign of a disturbed run); -1 if unknown.
    other_busy: float = -1.0
    # The measured window in time.monotonic() seconds (comparable across processes on Linux).
    window_start: float = 0.0
    window_end: float = 0.0
    # Filled in by `all` for CSMS servers: the batched writer's backlog (items) at the end of the window and
    # the seconds it took after that to commit it all; -1 when not measured.
    backlog_at_end: int = -1
    drain_s: float = -1.0
    # Server CPU seconds at the window start (from the load generator) and from then until the writer had
    # committed everything (filled in by `all`): the full cost of the window's round trips.
    server_cpu_at_start: float = -1.0
    server_cpu_total_s: float = -1.0
    # Garbage collection in the CSMS over the same span (window + drain): seconds and full passes.
    server_gc_s: float = -1.0
    server_gc_full: int = -1
    server_gc_max_ms: float = -1.0

    @property
    def server_us_total(self) -> float:
        """Server CPU µs per round trip including the writer's catch-up after the window; -1 if unknown."""
        if self.server_cpu_total_s < 0 or not self.round_trips:
            return -1.0
        return self.server_cpu_total_s * 1e6 / self.round_trips

    @property
    def sustained_rate(self) -> float:
        """Round trips/s counting the time the writer needed to catch up: round trips / (duration + drain)."""
        if self.drain_s < 0:
            return -1.0
        return self.round_trips / (self.duration + self.drain_s)

    @property
    def server_us_per_round_trip(self) -> float:
        """Server CPU time per successful round trip in µs (-1 if unknown): independent of the client."""
        if self.server_busy < 0 or not self.round_trips:
            return -1.0
        return self.server_busy * 1e6 / self.rate

    @property
    def load_us_per_round_trip(self) -> float:
        """Load generator CPU time per successful round trip in µs (-1 if unknown)."""
        if self.load_busy < 0 or not self.round_trips:
            return -1.0
        return self.load_busy * 1e6 / self.rate


class _Station:
    """One benchmark connection: its socket, next message id, and the closed loop."""

    __slots__ = ("ws", "seq", "latencies", "errors")

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.seq = 0
        self.latencies: list[float] = []  # seconds, one per successful round trip in the window
        self.errors = 0

    async def _next_answer(self) -> str:
        """The next frame that is not a CALL from the server; such CALLs are answered NotSupported."""
        while True:
            reply = await self.ws.recv()
            if not isinstance(reply, str):
                raise BenchError("binary frame from the server")
            if not reply.startswith("[2,"):
                return reply
            call = orjson.loads(reply)
            await self.ws.send(orjson.dumps([4, call[1], "NotSupported", "", {}]).decode())

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One CALL during set-up; returns the CALLRESULT payload.

        Raises:
            BenchError: a CALLERROR or an answer to another message id.
        """
        self.seq += 1
        message_id = f"setup-{self.seq}"
        await self.ws.send(orjson.dumps([2, message_id, action, payload]).decode())
        reply = orjson.loads(await self._next_answer())
        if reply[0] != 3 or reply[1] != message_id:
            raise BenchError(f"{action}: unexpected answer {reply!r:.200}")
        result: dict[str, Any] = reply[2]
        return result

    async def closed_loop(self, prefix: str, suffix: str, measure_from: float, deadline: float) -> None:
        """Send, await the answer, repeat until `deadline`; count those sent after `measure_from`.

        A CALLERROR or an answer with another message id is an error; a closed connection ends the loop
        with one error.
        """
        perf = time.perf_counter
        send = self.ws.send
        recv = self.ws.recv
        latencies = self.latencies
        seq = self.seq
        try:
            while True:
                t0 = perf()
                if t0 >= deadline:
                    break
                seq += 1
                message_id = str(seq)
                await send(prefix + message_id + suffix)
                reply = await recv()
                if isinstance(reply, str) and reply.startswith("[2,"):
                    reply = await self._next_answer()  # rare: the server sent us a CALL
                t1 = perf()
                if t0 < measure_from:
                    continue
                if isinstance(reply, str) and reply.startswith('[3,"' + message_id + '"'):
                    latencies.append(t1 - t0)
                else:
                    self.errors += 1
        except ConnectionClosed:
            self.errors += 1
        finally:
            self.seq = seq


async def _open_station(
    url: str, charge_point_id: str, version: str, message: str, limit: asyncio.Semaphore
) -> tuple[_Station, str, str]:
    """Connect, boot and (1.6 MeterValues) start a transaction; returns the station and its frame parts."""
    async with limit:
        ws = await connect(
            f"{url}/{charge_point_id}",
            subprotocols=[Subprotocol(SUBPROTOCOLS[version])],
            compression=None,
            ping_interval=None,
            open_timeout=60,
            close_timeout=5,
            max_size=2**20,
        )
    station = _Station(ws)
    try:
        if ws.subprotocol != SUBPROTOCOLS[version]:
            raise BenchError(f"subprotocol {ws.subprotocol!r} negotiated, wanted {SUBPROTOCOLS[version]}")
        boot = await station.call("BootNotification", boot_payload(version))
        if boot.get("status") != "Accepted":
            raise BenchError(f"BootNotification answered {boot!r:.200}")
        if message == "heartbeat":
            prefix, suffix = frame_parts("Heartbeat", {})
        else:
            transaction_id: int | None = None
            if version == "1.6":
                started = await station.call("StartTransaction", start_transaction_payload())
                transaction_id = int(started["transactionId"])
            prefix, suffix = frame_parts("MeterValues", meter_values_payload(version, transaction_id))
    except BaseException:
        await ws.close()
        raise
    return station, prefix, suffix


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process `pid` has used so far (Linux `/proc/<pid>/stat`)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    fields = data[data.rindex(b")") + 2 :].split()  # fields from the 3rd (state) on; utime is the 14th
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """Non-idle CPU seconds of the whole machine, all cores, since boot (Linux `/proc/stat`).

    Includes kernel time not charged to any process, such as the softirq work of loopback TCP.
    """
    with open("/proc/stat", "rb") as fh:
        first = fh.readline().split()[1:]
    ticks = [int(x) for x in first[:8]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


async def _cpu_busy(sample: Callable[[], float] | None, start: float, end: float) -> tuple[float, float]:
    """CPU use between perf_counter times `start` and `end`, read with `sample()` (CPU seconds so far).

    Returns (cores used on average, CPU seconds at `start`); (-1, -1) if unknown.
    """
    if sample is None:
        return -1.0, -1.0
    try:
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        t0, before = time.perf_counter(), sample()
        await asyncio.sleep(max(0.0, end - time.perf_counter()))
        t1, after = time.perf_counter(), sample()
    except OSError:
        return -1.0, -1.0
    return (after - before) / (t1 - t0), before


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence, in ms (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0


async def run_load(
    url: str,
    connections: int,
    duration: float,
    message: str,
    version: str,
    warmup: float,
    server_pid: int | None = None,
) -> LoadResult:
    """Open, boot, run the closed loop on every connection for `warmup` + `duration` s, close; measure.

    Only 127.0.0.1 URLs are accepted. The whole run is bounded by `warmup + duration + SETUP_BUDGET`.
    With `server_pid`, the server's CPU use during the measured window is recorded too.
    """
    if not url.startswith((f"ws://{HOST}:", f"ws://{HOST}/")):
        raise BenchError(f"the load generator only targets {HOST}: {url}")
    raise_open_file_limit(connections + 1024)
    run_id = uuid.uuid4().hex[:8]
    tag = {"1.6": "16", "2.0.1": "201"}[version] + message[0]
    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
    stations: list[_Station] = []
    setup_errors = 0
    first_error = ""
    async with asyncio.timeout(warmup + duration + SETUP_BUDGET):
        setup_started = time.perf_counter()
        opened = await asyncio.gather(
            *(
                _open_station(url.rstrip("/"), f"bench-{run_id}-{tag}-{i:05d}", version, message, limit)
                for i in range(connections)
            ),
            return_exceptions=True,
        )
        parts: list[tuple[str, str]] = []
        for item in opened:
            if isinstance(item, BaseException):
                setup_errors += 1
                first_error = first_error or f"{type(item).__name__}: {item}"
            else:
                stations.append(item[0])
                parts.append((item[1], item[2]))
        setup_s = time.perf_counter() - setup_started
        if first_error:
            print(f"set-up errors: {setup_errors}, first: {first_error}", file=sys.stderr)
        gc.collect()
        gc.freeze()
        try:
            measure_from = time.perf_counter() + warmup
            deadline = measure_from + duration
            window_start = time.monotonic() + (measure_from - time.perf_counter())
            server_sample = None if server_pid is None else partial(process_cpu_seconds, server_pid)
            server_cpu = asyncio.create_task(_cpu_busy(server_sample, measure_from, deadline))
            load_cpu = asyncio.create_task(
                _cpu_busy(partial(process_cpu_seconds, os.getpid()), measure_from, deadline)
            )
            machine_cpu = asyncio.create_task(_cpu_busy(machine_cpu_seconds, measure_from, deadline))
            await asyncio.gather(
                *(
                    st.closed_loop(p, s, measure_from, deadline)
                    for st, (p, s) in zip(stations, parts, strict=True)
                )
            )
            (server_busy, server_cpu_at_start), (load_busy, _) = await server_cpu, await load_cpu
            machine_busy, _ = await machine_cpu
        finally:
            await asyncio.gather(*(st.ws.close() for st in stations), return_exceptions=True)
    latencies = sorted(x for st in stations for x in st.latencies)
    ok = len(latencies)
    return LoadResult(
        connections=len(stations),
        requested=connections,
        version=version,
        message=message,
        duration=duration,
        round_trips=ok,
        rate=ok / duration,
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        max_ms=latencies[-1] * 1000.0 if latencies else 0.0,
        errors=sum(st.errors for st in stations),
        setup_errors=setup_errors,
        loop=loop_name(),
        setup_s=setup_s,
        server_busy=server_busy,
        load_busy=load_busy,
        window_start=window_start,
        window_end=window_start + duration,
        server_cpu_at_start=server_cpu_at_start,
        # Clamped: tick-granular accounting can make the difference slightly negative.
        other_busy=max(0.0, machine_busy - load_busy - max(server_busy, 0.0)) if machine_busy >= 0 else -1.0,
    )


def print_load_result(result: LoadResult) -> None:
    """The human-readable summary of one load run."""
    print(
        f"{result.version} {result.message}: connections {result.connections}/{result.requested}"
        f" (set-up {result.setup_s:.1f} s, {result.setup_errors} failed), loop {result.loop}\n"
        f"  round trips/s {result.rate:,.0f} ({result.round_trips:,} in {result.duration:g} s)\n"
        f"  latency ms p50 {result.p50_ms:.2f}  p99 {result.p99_ms:.2f}  max {result.max_ms:.2f}\n"
        f"  errors {result.errors}",
        flush=True,
    )
    if result.drain_s >= 0:
        print(
            f"  writer backlog at the end {result.backlog_at_end:,} items, committed {result.drain_s:.1f} s"
            f" later; sustained {result.sustained_rate:,.0f} round trips/s",
            flush=True,
        )
    if result.server_busy >= 0:
        print(
            f"  server core busy {result.server_busy:.0%}, {result.server_us_per_round_trip:.0f} µs CPU"
            " per round trip in the window",
            flush=True,
        )
    if result.server_us_total >= 0:
        print(
            f"  server CPU per round trip including the writer catch-up {result.server_us_total:.0f} µs;"
            f" garbage collection {result.server_gc_s:.2f} s of {result.server_cpu_total_s:.2f} s CPU"
            f" ({result.server_gc_full} full passes, longest pause {result.server_gc_max_ms:.0f} ms)",
            flush=True,
        )
    print(
        f"  load generator core busy {result.load_busy:.0%}, {result.load_us_per_round_trip:.0f} µs CPU"
        f" per round trip; everything else (kernel, other processes) {result.other_busy:.2f} cores",
        flush=True,
    )


# -- all: orchestrate servers and load runs as pinned subprocesses ------------------------------------


@dataclass(frozen=True, slots=True)
class Drain:
    """How a CSMS server caught up after a load run (from its STATS lines)."""

    backlog: int  # writer items queued at the end of the window
    seconds: float  # from the end of the window until the backlog was 0
    gc_s: float  # garbage collection from the window start until then
    gc_full: int  # full (generation 2) collections in that span
    gc_max: float  # the longest single collection in that span


@dataclass(slots=True)
class ServerProcess:
    """A server subprocess started by `all`, with its output files and bound port."""

    name: str
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    port: int = 0

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> int:
        """Wait for the READY line; returns the OCPP port.

        Raises:
            BenchError: the process exited or printed nothing in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.stdout.read_text().splitlines():
                if line.startswith("READY "):
                    fields = dict(f.split("=", 1) for f in line.split()[1:])
                    self.port = int(fields["ocpp"])
                    return self.port
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise BenchError(f"{self.name} server did not become ready:\n{self._tail()}")

    def _stats(self) -> list[dict[str, float]]:
        """The server's STATS lines so far, as numbers."""
        return [
            {k: float(v) for k, v in (f.split("=", 1) for f in line.split()[1:])}
            for line in self.stdout.read_text().splitlines()
            if line.startswith("STATS ")
        ]

    def wait_drained(self, start: float, end: float, timeout: float = DRAIN_TIMEOUT) -> Drain | None:
        """Wait until the writer backlog is 0 after monotonic time `end`; None for a server without STATS.

        Raises:
            BenchError: the backlog did not reach 0 within `timeout` seconds.
        """
        give_up = time.monotonic() + timeout
        while True:
            stats = self._stats()
            if not stats:
                return None
            before = [x for x in stats if x["t"] <= start] or stats[:1]
            after = [x for x in stats if x["t"] >= end]
            for x in after:
                if x["pending"] == 0:
                    first = before[-1]
                    span = [y for y in stats if first["t"] < y["t"] <= x["t"]]
                    return Drain(
                        backlog=int(after[0]["pending"]),
                        seconds=x["t"] - end,
                        gc_s=x["gc_s"] - first["gc_s"],
                        gc_full=int(x["gc_full"] - first["gc_full"]),
                        gc_max=max((y["gc_max"] for y in span), default=0.0),
                    )
            if time.monotonic() > give_up or self.proc.poll() is not None:
                raise BenchError(f"{self.name}: the writer backlog did not drain in {timeout:.0f} s")
            time.sleep(STATS_INTERVAL)

    def terminate(self) -> str:
        """SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL; returns its STOPPED line (or a note)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "killed after SIGTERM timeout"
        lines = [x for x in self.stdout.read_text().splitlines() if x.startswith("STOPPED")]
        return lines[-1] if lines else f"exit code {self.proc.returncode}"

    def _tail(self) -> str:
        return "\n".join(self.stderr.read_text(errors="replace").splitlines()[-20:])


def _module_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.ocpp_roundtrip", *args]


def start_server(name: str, stem: str, args: list[str], workdir: Path) -> ServerProcess:
    """Start `python -m bench.ocpp_roundtrip <args>` with stdout/stderr to `workdir/<stem>.out|.err`."""
    stdout = workdir / f"{stem}.out"
    stderr = workdir / f"{stem}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(_module_command(*args), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    return ServerProcess(name, proc, stdout, stderr)


def run_load_subprocess(args: list[str], timeout: float) -> LoadResult:
    """Run a `load --json` subprocess and parse its RESULT line.

    Raises:
        BenchError: it failed, overstayed `timeout`, or printed no result.
    """
    try:
        done = subprocess.run(
            _module_command("load", "--json", *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"load run overstayed {timeout:.0f} s") from exc
    sys.stderr.write(done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return LoadResult(**orjson.loads(line[len(RESULT_PREFIX) :]))
    raise BenchError(
        f"load run failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    )


@dataclass(slots=True)
class Row:
    """One line of the `all` table: every round's result for one server and one (version, message)."""

    server: str
    version: str
    message: str
    results: list[LoadResult]

    def median(self) -> LoadResult:
        """The round with the median rate (the lower middle one for an even count)."""
        ordered = sorted(self.results, key=lambda r: r.rate)
        return ordered[(len(ordered) - 1) // 2]


def _cpus(server_cpu: int | None, load_cpu: int | None) -> tuple[int | None, int | None]:
    """The cores to pin servers and load generator to; (None, None) when fewer than 2 are available."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        print("fewer than 2 cores available: servers and load generator are not pinned", file=sys.stderr)
        return None, None
    return (
        available[0] if server_cpu is None else server_cpu,
        available[1] if load_cpu is None else load_cpu,
    )


def wait_for_quiet(threshold: float = QUIET_CORES, max_wait: float = QUIET_MAX_WAIT) -> None:
    """Wait (at most `max_wait` s) until the machine uses under `threshold` cores over one second.

    Other work on the machine (a test suite, a build) competes for the pinned cores and distorts a run.
    """
    waited_from = time.monotonic()
    while True:
        before = machine_cpu_seconds()
        time.sleep(1.0)
        busy = machine_cpu_seconds() - before
        if busy < threshold:
            return
        if time.monotonic() - waited_from > max_wait:
            print(f"   machine still busy ({busy:.2f} cores), running anyway", flush=True)
            return
        print(f"   machine busy ({busy:.2f} cores), waiting", flush=True)


def run_all(args: argparse.Namespace, server_cpu: int | None, load_cpu: int | None) -> list[Row]:
    """Echo, CSMS with message log on, CSMS with it off; every (version, message) load against each.

    The three servers run side by side on the server core (an idle one costs nothing measurable) and the
    load runs are interleaved round by round, so slow drift of the machine hits every variant alike.
    """
    versions = ["1.6", "2.0.1"] if args.version == "both" else [args.version]
    messages = list(MESSAGES) if args.message == "both" else [args.message]
    pin = ["--cpu", str(server_cpu)] if server_cpu is not None else []
    load_pin = ["--cpu", str(load_cpu)] if load_cpu is not None else []
    loop_flag = [] if args.uvloop else ["--no-uvloop"]
    timeout = args.warmup + args.duration + SETUP_BUDGET + 30
    rows: dict[tuple[str, str, str], Row] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ocpp-") as tmp:
        workdir = Path(tmp)
        variants: list[tuple[str, list[str]]] = [
            (ECHO, ["echo"]),
            ("csms, message log on", ["server", "--db", str(workdir / "log-on.db")]),
            ("csms, message log off", ["server", "--db", str(workdir / "log-off.db"), "--no-message-log"]),
        ]
        servers: list[ServerProcess] = []
        try:
            for index, (name, server_args) in enumerate(variants):
                servers.append(
                    start_server(
                        name, f"server{index}", [*server_args, "--port", "0", *pin, *loop_flag], workdir
                    )
                )
            for server in servers:
                server.wait_ready()
                print(f"== {server.name}: pid {server.proc.pid}, port {server.port}", flush=True)
            for round_no in range(1, args.rounds + 1):
                for version in versions:
                    for message in messages:
                        for server in servers:
                            print(f"-- round {round_no}, {server.name}", flush=True)
                            wait_for_quiet()
                            result = run_load_subprocess(
                                [
                                    "--url", f"ws://{HOST}:{server.port}/ocpp",
                                    "--connections", str(args.connections),
                                    "--duration", str(args.duration),
                                    "--warmup", str(args.warmup),
                                    "--message", message,
                                    "--version", version,
                                    "--server-pid", str(server.proc.pid),
                                    *load_pin,
                                    *loop_flag,
                                ],
                                timeout,
                            )  # fmt: skip
                            drain = server.wait_drained(result.window_start, result.window_end)
                            if drain is not None:
                                result.backlog_at_end, result.drain_s = drain.backlog, drain.seconds
                                result.server_gc_s, result.server_gc_full = drain.gc_s, drain.gc_full
                                result.server_gc_max_ms = drain.gc_max * 1000.0
                                if result.server_cpu_at_start >= 0:
                                    used = process_cpu_seconds(server.proc.pid) - result.server_cpu_at_start
                                    result.server_cpu_total_s = used
                            print_load_result(result)
                            key = (server.name, version, message)
                            rows.setdefault(key, Row(server.name, version, message, [])).results.append(
                                result
                            )
        finally:
            for server in servers:
                print(f"   {server.name}: {server.terminate()}", flush=True)
    return list(rows.values())


def print_table(rows: list[Row], title: str) -> None:
    """The `all` summary as a Markdown table (median round per row when there were several rounds).

    Columns: "round trips/s" answered in the window and its "fraction of E" (echo rate, same run); "server
    µs/rt" the server's CPU per round trip in the window, then including the time its batched writer needed
    afterwards to commit the window's backlog ("backlog", "drain s"); "sustained/s" round trips over window
    plus drain; "CPU fraction of E" the echo server's CPU per round trip over this server's full one, which
    stays meaningful when the load generator rather than the server limits the echo rate; "GC share" the
    CSMS's garbage-collection time over its CPU time in window plus drain, and its longest single pause;
    "other cores busy" kernel network work plus anything else running on the machine during the window (a
    value well above the echo rows' means other work disturbed that run).
    """
    echo = {(r.version, r.message): r.median() for r in rows if r.server == ECHO}
    print(f"\n{title}")
    print(
        "| server | OCPP | message | round trips/s | fraction of E | server µs/rt (window / with drain)"
        " | backlog at end | drain s | sustained/s | CPU fraction of E | GC share (longest pause) | p50 ms"
        " | p99 ms | errors | other cores busy |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")

    def num(value: float, fmt: str) -> str:
        return "–" if value < 0 else format(value, fmt)

    for row in rows:
        r = row.median()
        e = echo.get((row.version, row.message))
        rate = f"{r.rate:,.0f}"
        if len(row.results) > 1:
            rates = [x.rate for x in row.results]
            rate += f" ({min(rates):,.0f}–{max(rates):,.0f})"
        fraction = f"{r.rate / e.rate:.2f}" if e is not None and e.rate else "n/a"
        full_us = r.server_us_total if r.server_us_total >= 0 else r.server_us_per_round_trip
        e_us = e.server_us_per_round_trip if e is not None else -1.0
        cpu_fraction = f"{e_us / full_us:.2f}" if full_us > 0 and e_us > 0 else "n/a"
        errors = sum(x.errors + x.setup_errors for x in row.results)
        gc_share = (
            f"{r.server_gc_s / r.server_cpu_total_s:.0%} ({r.server_gc_max_ms:.0f} ms)"
            if r.server_gc_s >= 0 and r.server_cpu_total_s > 0
            else "–"
        )
        print(
            f"| {row.server} | {row.version} | {row.message} | {rate} | {fraction}"
            f" | {num(r.server_us_per_round_trip, '.0f')} / {num(r.server_us_total, '.0f')}"
            f" | {num(r.backlog_at_end, ',')} | {num(r.drain_s, '.1f')} | {num(r.sustained_rate, ',.0f')}"
            f" | {cpu_fraction} | {gc_share} | {r.p50_ms:.1f} | {r.p99_ms:.1f} | {errors}"
            f" | {num(r.other_busy, '.2f')} |"
        )


# -- command line ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ocpp_roundtrip", description=__doc__.split("\n", 1)[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cpu", type=int, default=None, help="pin this process to this core")
        p.add_argument(
            "--no-uvloop",
            dest="uvloop",
            action="store_false",
            help="use the asyncio loop even if uvloop is installed",
        )

    def load_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--connections", type=int, default=1000)
        p.add_argument("--duration", type=float, default=20.0, help="measured seconds per run")
        p.add_argument("--warmup", type=float, default=2.0, help="seconds of closed loop before measuring")

    server = sub.add_parser("server", help="the CSMS, until SIGTERM/SIGINT")
    server.add_argument("--port", type=int, default=9000, help="OCPP port (0: any free port)")
    server.add_argument("--http-port", type=int, default=0, help="REST API port (0: any free port)")
    server.add_argument("--db", type=Path, required=True, help="SQLite file (created and migrated)")
    server.add_argument("--no-message-log", dest="message_log", action="store_false")
    server.add_argument(
        "--rate-limit",
        type=float,
        default=1e6,
        help="frames/s per connection before CALLERRORs (default 1e6: measure capacity, not the policy;"
        " the production default is 50)",
    )
    server.add_argument("--log-level", default="warning")
    server.add_argument("--profile", type=Path, default=None, help="write cProfile stats here at stop")
    common(server)

    echo = sub.add_parser("echo", help="bare websockets server answering each CALL with a fixed CALLRESULT")
    echo.add_argument("--port", type=int, default=9000)
    common(echo)

    load = sub.add_parser("load", help="the closed-loop load generator")
    load.add_argument("--url", required=True, help=f"ws://{HOST}:PORT/ocpp (the charge point id is appended)")
    load.add_argument("--message", choices=MESSAGES, default="meter")
    load.add_argument("--version", choices=tuple(SUBPROTOCOLS), default="1.6")
    load.add_argument("--json", action="store_true", help="also print a machine-readable RESULT line")
    load.add_argument("--server-pid", type=int, default=None, help="also measure this process's CPU use")
    load_options(load)
    common(load)

    everything = sub.add_parser("all", help="echo, CSMS with and without message log; a table (the default)")
    everything.add_argument("--message", choices=(*MESSAGES, "both"), default="meter")
    everything.add_argument("--version", choices=(*SUBPROTOCOLS, "both"), default="1.6")
    everything.add_argument("--server-cpu", type=int, default=None, help="default: the first allowed core")
    everything.add_argument("--load-cpu", type=int, default=None, help="default: the second allowed core")
    everything.add_argument(
        "--rounds", type=int, default=1, help="interleaved rounds; the table shows medians"
    )
    load_options(everything)
    common(everything)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("server", "echo", "load", "all", "-h", "--help"):
        argv.insert(0, "all")
    args = parser.parse_args(argv)
    pin_to_cpu(args.cpu)
    try:
        if args.command == "server":
            run_loop(
                serve_csms(
                    args.port,
                    args.http_port,
                    args.db.resolve(),
                    message_log=args.message_log,
                    rate_limit=args.rate_limit,
                    log_level=args.log_level,
                    profile=args.profile,
                ),
                args.uvloop,
            )
        elif args.command == "echo":
            run_loop(serve_echo(args.port), args.uvloop)
        elif args.command == "load":
            result = run_loop(
                run_load(
                    args.url,
                    args.connections,
                    args.duration,
                    args.message,
                    args.version,
                    args.warmup,
                    args.server_pid,
                ),
                args.uvloop,
            )
            print_load_result(result)
            if args.json:
                print(RESULT_PREFIX + orjson.dumps(asdict(result)).decode(), flush=True)
        else:
            server_cpu, load_cpu = _cpus(args.server_cpu, args.load_cpu)
            rows = run_all(args, server_cpu, load_cpu)
            pinning = (
                f"servers on core {server_cpu}, load generator on core {load_cpu}"
                if server_cpu is not None
                else "unpinned"
            )
            rounds = f", median of {args.rounds} rounds (min–max)" if args.rounds > 1 else ""
            print_table(
                rows,
                f"closed loop, {args.connections} connections, {args.duration:g} s per run{rounds};"
                f" {pinning}; {os.cpu_count()} cores; loop {rows[0].results[0].loop if rows else '?'}",
            )
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
