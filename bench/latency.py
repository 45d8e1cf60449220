"""Open-loop Heartbeat latency with 10k booted connections at half the closed-loop Heartbeat rate (issue 9).

``python -m bench.latency`` (``--help`` for the options):

1. the real CSMS (``bench.ocpp_roundtrip server``: SQLite, message log on, as ``make run``) on a database
   with ``--stations`` charge points registered (``bench.boot_storm``), pinned to the first allowed core;
2. unless ``--rate`` is given, a closed-loop Heartbeat run (``bench.ocpp_roundtrip load``, 1000
   connections, ``--closed-duration`` s) against that server; the open-loop rate is half its rate;
3. a load subprocess pinned to the second core boots the ``--stations`` stations (at most ``--in-flight``
   handshakes at a time, as the boot storm does) and then sends Heartbeats **open loop**: the sends are
   scheduled by the clock, ``--rate`` per second in all, spread evenly over the connections (connection i
   sends at ``i/rate + k * stations/rate``). Each connection keeps at most one CALL outstanding (OCPP): a
   send whose previous answer has not arrived goes out when it arrives, and its latency still counts from
   its scheduled time, so a stalled server shows in the figures instead of slowing the load;
4. after ``--warmup`` s, ``--duration`` s are measured: latency p50, p99, p99.9 and max from the
   scheduled send to the answer, the answers later than 100 ms, and the stalls: gaps over 100 ms between
   two consecutive answers (at thousands of answers per second the gap is normally under a millisecond);
   also the load generator's own lag (actual minus scheduled send, p99) to show it kept up, and the CSMS's
   longest garbage-collection pause in the window.

Prints the figures with their targets (p99 <= 10 ms, p99.9 <= 50 ms, no stall over 100 ms) as a table and
a ``RESULT {json}`` line. Loopback only; bounded in time (the load gives up after warm-up + duration +
``SETUP_BUDGET``); the server is terminated in a ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bench import report
from bench.boot_storm import abort_fleet, boot_fleet, start_known_csms
from bench.ocpp_roundtrip import (
    HOST,
    SETUP_BUDGET,
    BenchError,
    _cpus,
    _percentile,
    frame_parts,
    loop_name,
    raise_open_file_limit,
    run_load_subprocess,
)

NAME = "latency"
TARGET_P99_MS = 10.0
TARGET_P999_MS = 50.0
STALL_S = 0.1
START_DELAY = 1.0  # seconds between the end of booting and the first scheduled send


@dataclass(slots=True)
class LatencyResult:
    """What one open-loop run measured (latencies from the scheduled send time)."""

    stations: int
    booted: int
    boot_s: float
    rate: float  # scheduled Heartbeats per second, all connections together
    closed_loop_rate: float | None  # the closed-loop Heartbeat rate it was derived from, if measured here
    duration: float
    scheduled: int  # sends scheduled inside the window
    answered: int
    errors: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    over_100ms: int  # answers more than 100 ms after their scheduled send
    stalls: int  # gaps over 100 ms between consecutive answers
    longest_gap_ms: float
    send_lag_p99_ms: float  # how late the load generator itself sent (p99)
    loop: str
    window_start: float = 0.0  # time.monotonic() of the window (comparable with the server's STATS lines)
    window_end: float = 0.0
    server_gc_max_ms: float = -1.0  # the CSMS's longest GC pause in the window (filled in by `run`)


class _Recorder:
    """Measurements shared by every connection's task."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.answers: list[float] = []  # perf_counter time of each answer in the window
        self.lags: list[float] = []
        self.scheduled = 0
        self.errors = 0


async def _answer(ws: ClientConnection) -> str:
    """The next frame that is not a CALL from the server (CALLs are answered NotSupported)."""
    while True:
        reply = await ws.recv()
        if not isinstance(reply, str):
            raise BenchError("binary frame from the server")
        if not reply.startswith("[2,"):
            return reply
        call = orjson.loads(reply)
        await ws.send(orjson.dumps([4, call[1], "NotSupported", "", {}]).decode())


async def _open_loop(
    ws: ClientConnection, first: float, period: float, measure_from: float, deadline: float, rec: _Recorder
) -> None:
    """Send a Heartbeat at `first`, `first + period`, ... until `deadline`, each after the previous answer."""
    perf = time.perf_counter
    prefix, suffix = frame_parts("Heartbeat", {})
    scheduled = first
    seq = 0
    while scheduled < deadline:
        delay = scheduled - perf()
        if delay > 0:
            await asyncio.sleep(delay)
        seq += 1
        message_id = f"hb{seq}"
        sent = perf()
        measured = scheduled >= measure_from
        rec.scheduled += measured
        try:
            await ws.send(prefix + message_id + suffix)
            reply = await _answer(ws)
        except ConnectionClosed:
            rec.errors += 1
            return
        answered = perf()
        if measured:
            if reply.startswith('[3,"' + message_id + '"'):
                rec.latencies.append(answered - scheduled)
                rec.answers.append(answered)
                rec.lags.append(sent - scheduled)
            else:
                rec.errors += 1
        scheduled += period


async def run_open_loop(
    url: str, stations: int, in_flight: int, rate: float, duration: float, warmup: float
) -> LatencyResult:
    """Boot `stations` stations, then send `rate` Heartbeats/s open loop for `warmup` + `duration` s."""
    if not url.startswith(f"ws://{HOST}:"):
        raise BenchError(f"the load generator only targets {HOST}: {url}")
    raise_open_file_limit(stations + 1000)
    storm, sockets, boot_s = await boot_fleet(url, stations, in_flight, SETUP_BUDGET)
    try:
        if not sockets:
            raise BenchError(f"no station was Accepted: {storm.errors[:3]}")
        gc.collect()
        gc.freeze()
        rec = _Recorder()
        period = len(sockets) / rate
        base = time.perf_counter() + START_DELAY
        measure_from = base + warmup
        deadline = measure_from + duration
        window_start = time.monotonic() + (measure_from - time.perf_counter())
        async with asyncio.timeout(START_DELAY + warmup + duration + SETUP_BUDGET):
            await asyncio.gather(
                *(
                    _open_loop(ws, base + i / rate, period, measure_from, deadline, rec)
                    for i, ws in enumerate(sockets)
                )
            )
    finally:
        abort_fleet(storm)
    latencies, answers, lags = sorted(rec.latencies), sorted(rec.answers), sorted(rec.lags)
    gaps = [b - a for a, b in zip(answers, answers[1:], strict=False)]
    return LatencyResult(
        stations=stations,
        booted=len(sockets),
        boot_s=boot_s,
        rate=rate,
        closed_loop_rate=None,
        duration=duration,
        scheduled=rec.scheduled,
        answered=len(latencies),
        errors=rec.errors + (stations - len(sockets)),
        p50_ms=_percentile(latencies, 0.50),
        p99_ms=_percentile(latencies, 0.99),
        p999_ms=_percentile(latencies, 0.999),
        max_ms=latencies[-1] * 1000.0 if latencies else 0.0,
        over_100ms=sum(1 for x in latencies if x > STALL_S),
        stalls=sum(1 for g in gaps if g > STALL_S),
        longest_gap_ms=max(gaps, default=0.0) * 1000.0,
        send_lag_p99_ms=_percentile(lags, 0.99),
        loop=loop_name(),
        window_start=window_start,
        window_end=window_start + duration,
    )


def _closed_loop_rate(port: int, server_pid: int, load_cpu: int | None, seconds: float) -> float:
    """Closed-loop Heartbeat rate of the server (1000 connections, `seconds` s measured)."""
    pin = ["--cpu", str(load_cpu)] if load_cpu is not None else []
    result = run_load_subprocess(
        [
            "--url", f"ws://{HOST}:{port}/ocpp", "--connections", "1000", "--duration", str(seconds),
            "--warmup", "2", "--message", "heartbeat", "--server-pid", str(server_pid), *pin,
        ],
        seconds + SETUP_BUDGET + 30,
    )  # fmt: skip
    print(f"closed-loop Heartbeat: {result.rate:,.0f} round trips/s, {result.errors} errors", flush=True)
    return result.rate


def run(args: argparse.Namespace) -> LatencyResult:
    """Server on one core, (closed loop, then) open-loop load on the other; the server is always stopped."""
    server_cpu, load_cpu = _cpus(args.server_cpu, args.load_cpu)
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        server = start_known_csms(Path(tmp), args.stations, server_cpu)
        try:
            port = server.wait_ready()
            closed: float | None = None
            rate = args.rate
            if rate is None:
                closed = _closed_loop_rate(port, server.proc.pid, load_cpu, args.closed_duration)
                server.wait_drained(time.monotonic(), time.monotonic())
                rate = closed / 2
            command = [
                "load", "--url", f"ws://{HOST}:{port}/ocpp", "--stations", str(args.stations),
                "--in-flight", str(args.in_flight), "--rate", f"{rate:.1f}",
                "--duration", str(args.duration), "--warmup", str(args.warmup),
            ]  # fmt: skip
            if load_cpu is not None:
                command += ["--cpu", str(load_cpu)]
            budget = START_DELAY + args.warmup + args.duration + 2 * SETUP_BUDGET + 30
            result = LatencyResult(**report.run_module("bench.latency", command, budget))
            result.closed_loop_rate = closed
            drain = server.wait_drained(result.window_start, result.window_end)
            if drain is not None:
                result.server_gc_max_ms = drain.gc_max * 1000.0
            return result
        finally:
            server.terminate()


def figures(result: LatencyResult) -> list[report.Figure]:
    """The figures with their targets."""
    n = NAME
    return [
        report.info(n, "open-loop Heartbeat rate (half the closed-loop rate)", result.rate, "/s"),
        report.info(n, "connections booted", result.booted, f"of {result.stations}"),
        report.info(n, "latency p50", result.p50_ms, "ms", 2),
        report.at_most(n, "latency p99", result.p99_ms, "ms", TARGET_P99_MS, 2),
        report.at_most(n, "latency p99.9", result.p999_ms, "ms", TARGET_P999_MS, 2),
        report.info(n, "latency max", result.max_ms, "ms", 1),
        report.at_most(n, "stalls over 100 ms (gaps between answers)", result.stalls, "", 0),
        report.info(n, "longest gap between answers", result.longest_gap_ms, "ms", 1),
        report.info(n, "answers later than 100 ms", result.over_100ms, ""),
        report.at_most(n, "errors (CALLERRORs, closed, not booted)", result.errors, "", 0),
        report.info(
            n,
            "late sends p99 (previous answer pending, or load generator lag)",
            result.send_lag_p99_ms,
            "ms",
            2,
        ),
        report.info(n, "CSMS longest GC pause in the window", result.server_gc_max_ms, "ms", 0),
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=("all", "load"), default="all")
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=1000, help="handshakes in flight while booting")
    parser.add_argument("--rate", type=float, default=None, help="Heartbeats/s (default: closed loop / 2)")
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="open-loop seconds before measuring")
    parser.add_argument("--closed-duration", type=float, default=10.0, help="closed-loop measured seconds")
    report.add_cpu_options(parser)
    return parser


def _title(result: LatencyResult) -> str:
    return (
        f"open-loop Heartbeat latency: {result.booted} connections, {result.rate:,.0f}/s for"
        f" {result.duration:g} s, OCPP 1.6, SQLite, message log on; load loop {result.loop}"
    )


def main(argv: list[str] | None = None) -> int:
    def load(a: argparse.Namespace) -> Coroutine[Any, Any, LatencyResult]:
        return run_open_loop(a.url, a.stations, a.in_flight, a.rate, a.duration, a.warmup)

    return report.main(build_parser().parse_args(argv), run, _title, figures, load)


if __name__ == "__main__":
    sys.exit(main())
