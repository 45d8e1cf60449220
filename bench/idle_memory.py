"""Server memory per idle connection: CSMS resident memory before and after booting 10k known stations.

``python -m bench.idle_memory`` (``--help`` for the options):

1. the real CSMS (``bench.ocpp_roundtrip server``: SQLite, message log on, as ``make run``) on a database
   with ``--stations`` charge points registered (so every BootNotification is Accepted; ``bench.boot_storm``),
   pinned to the first allowed core; its ``VmRSS`` (``/proc/<pid>/status``) once it is ready and idle;
2. a load subprocess pinned to the second core connects and boots every station (at most ``--in-flight``
   handshakes at a time, as the boot storm does), prints ``BOOTED {json}`` and keeps the connections open
   and idle until it is sent SIGTERM (or ``--hold`` s passed);
3. once the server's batched writer has committed the boots and ``--settle`` s more have passed, the
   server's ``VmRSS`` again: (after - before) / booted connections is the figure, target <= 30 KB.

Prints the figures with their targets as a table and a ``RESULT {json}`` line. Loopback only; bounded in
time; the load and the server are terminated in a ``finally``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import report
from bench.boot_storm import abort_fleet, boot_fleet, start_known_csms
from bench.ocpp_roundtrip import (
    HOST,
    SETUP_BUDGET,
    BenchError,
    _cpus,
    loop_name,
)

NAME = "idle memory"
TARGET_KB = 30.0
BOOTED_PREFIX = "BOOTED "


@dataclass(slots=True)
class IdleResult:
    """Server memory before and after the stations booted."""

    stations: int
    booted: int
    boot_s: float
    rss_before_kib: int
    rss_after_kib: int
    loop: str

    @property
    def kb_per_connection(self) -> float | None:
        """(after - before) / booted, in KB (1000 bytes); None when nothing booted."""
        if not self.booted:
            return None
        return (self.rss_after_kib - self.rss_before_kib) * 1024 / 1000 / self.booted


async def hold_fleet(url: str, stations: int, in_flight: int, hold: float) -> None:
    """Boot `stations` stations, print BOOTED, keep them open until SIGTERM/SIGINT or `hold` s."""
    if not url.startswith(f"ws://{HOST}:"):
        raise BenchError(f"the load generator only targets {HOST}: {url}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    storm, sockets, boot_s = await boot_fleet(url, stations, in_flight, SETUP_BUDGET)
    try:
        booted = {"booted": len(sockets), "boot_s": boot_s, "loop": loop_name(), "errors": storm.errors[:3]}
        print(BOOTED_PREFIX + orjson.dumps(booted).decode(), flush=True)
        try:
            await asyncio.wait_for(stop.wait(), hold)
        except TimeoutError:
            pass
    finally:
        abort_fleet(storm)


def _wait_booted(proc: subprocess.Popen[bytes], stdout: Path, timeout: float) -> dict[str, object]:
    """The load's BOOTED line as JSON, once it printed it.

    Raises:
        BenchError: the load exited or printed nothing in `timeout` seconds.
    """
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        for line in stdout.read_text().splitlines():
            if line.startswith(BOOTED_PREFIX):
                booted: dict[str, object] = orjson.loads(line[len(BOOTED_PREFIX) :])
                return booted
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise BenchError(f"the load did not boot its stations (exit {proc.poll()})")


def run(args: argparse.Namespace) -> IdleResult:
    """Server on one core, load on the other; both are always stopped."""
    server_cpu, load_cpu = _cpus(args.server_cpu, args.load_cpu)
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        workdir = Path(tmp)
        server = start_known_csms(workdir, args.stations, server_cpu)
        load: subprocess.Popen[bytes] | None = None
        try:
            port = server.wait_ready()
            now = time.monotonic()
            server.wait_drained(now, now)
            time.sleep(args.settle)
            before = report.vm_rss_kib(server.proc.pid)
            command = [
                sys.executable, "-m", "bench.idle_memory", "load", "--url", f"ws://{HOST}:{port}/ocpp",
                "--stations", str(args.stations), "--in-flight", str(args.in_flight),
            ]  # fmt: skip
            if load_cpu is not None:
                command += ["--cpu", str(load_cpu)]
            stdout = workdir / "load.out"
            with stdout.open("wb") as out, (workdir / "load.err").open("wb") as err:
                load = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
            booted = _wait_booted(load, stdout, SETUP_BUDGET + 30)
            now = time.monotonic()
            server.wait_drained(now, now)
            time.sleep(args.settle)
            after = report.vm_rss_kib(server.proc.pid)
            return IdleResult(
                stations=args.stations,
                booted=int(str(booted["booted"])),
                boot_s=float(str(booted["boot_s"])),
                rss_before_kib=before,
                rss_after_kib=after,
                loop=str(booted["loop"]),
            )
        finally:
            if load is not None:
                load.terminate()
                try:
                    load.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    load.kill()
                    load.wait()
            server.terminate()


def figures(result: IdleResult) -> list[report.Figure]:
    """The figures with their targets."""
    n = NAME
    return [
        report.info(n, "connections booted (known stations)", result.booted, f"of {result.stations}"),
        report.info(n, "CSMS resident memory before", result.rss_before_kib / 1024, "MiB", 1),
        report.info(n, "CSMS resident memory with them idle", result.rss_after_kib / 1024, "MiB", 1),
        report.at_most(n, "memory per idle connection", result.kb_per_connection, "KB", TARGET_KB, 1),
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.idle_memory", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=("all", "load"), default="all")
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=1000, help="handshakes in flight while booting")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before each measurement")
    parser.add_argument("--hold", type=float, default=600.0, help="load: longest time to keep them open")
    report.add_cpu_options(parser)
    return parser


def _title(result: IdleResult) -> str:
    return f"idle memory: {result.booted} booted idle known stations, OCPP 1.6, SQLite, message log on"


def main(argv: list[str] | None = None) -> int:
    def load(a: argparse.Namespace) -> Coroutine[Any, Any, None]:
        return hold_fleet(a.url, a.stations, a.in_flight, a.hold)

    return report.main(build_parser().parse_args(argv), run, _title, figures, load)


if __name__ == "__main__":
    sys.exit(main())
