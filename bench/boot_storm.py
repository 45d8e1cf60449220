"""Boot storm benchmark: 10k stations reconnect at once and boot; how long until all are Accepted.

``python -m bench.boot_storm`` (``--help`` for the options):

1. a SQLite database in a temp dir with ``--stations`` charge points registered (``--new``: none, so every
   station is recorded at its first connection under the default ``accept`` policy);
2. the real CSMS (``python -m bench.ocpp_roundtrip server``, defaults as ``make run``: message log on)
   in a subprocess pinned to the first allowed core;
3. a load subprocess pinned to the second core opens ``--stations`` websocket connections (OCPP 1.6), at
   most ``--in-flight`` handshakes at a time, and each station sends BootNotification; a Pending answer is
   followed by another BootNotification after the ``interval`` it carried, a failed handshake by another
   attempt after 1 s, as real stations do;
4. prints, with the target beside each figure, the time until every station was Accepted, the failed
   handshakes, the Pending answers and the handshake p50/p99, as a table and a ``RESULT {json}`` line.

Loopback only; bounded in time: the load gives up after ``--deadline`` seconds and every subprocess is
terminated in a ``finally``. ``--server-src DIR`` runs the server from another checkout (e.g. a worktree
of an older commit, for a before/after comparison).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.ocpp_roundtrip import (
    HOST,
    BenchError,
    ServerProcess,
    _cpus,
    boot_payload,
    loop_name,
    pin_to_cpu,
    raise_open_file_limit,
    run_loop,
)

TARGET_SECONDS = 10.0
TARGET_FAILED = 0
RESULT_PREFIX = "RESULT "
RETRY_AFTER_FAILURE = 1.0


@dataclass(slots=True)
class StormResult:
    """What one boot storm measured."""

    stations: int
    in_flight: int
    new: bool
    loop: str
    all_accepted_s: float | None  # None: not every station was Accepted before the deadline
    accepted: int
    failed_handshakes: int
    pending_answers: int
    handshake_p50_ms: float
    handshake_p99_ms: float
    boot_p99_ms: float
    errors: list[str] = field(default_factory=list)


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


class _Storm:
    """The load side: counters shared by every station task."""

    def __init__(self, url: str, in_flight: int, deadline: float) -> None:
        self.url = url
        self.limit = asyncio.Semaphore(in_flight)
        self.deadline = deadline
        self.handshakes: list[float] = []
        self.boots: list[float] = []
        self.failed = 0
        self.pending = 0
        self.accepted = 0
        self.errors: list[str] = []
        self.sockets: list[ClientConnection] = []

    async def _connect(self, charge_point_id: str) -> ClientConnection | None:
        """One handshake (at most `in_flight` at once); None when it failed."""
        async with self.limit:
            started = time.perf_counter()
            try:
                ws = await connect(
                    f"{self.url}/{charge_point_id}",
                    subprotocols=[Subprotocol("ocpp1.6")],
                    compression=None,
                    ping_interval=None,
                    open_timeout=30,
                    close_timeout=1,
                )
            except Exception as exc:
                self.failed += 1
                if len(self.errors) < 5:
                    self.errors.append(f"{charge_point_id}: {type(exc).__name__}: {exc}"[:200])
                return None
            self.handshakes.append(time.perf_counter() - started)
            return ws

    async def _boot(self, ws: ClientConnection, seq: int) -> tuple[str, int]:
        """Send BootNotification; returns (status, interval)."""
        message_id = f"boot-{seq}"
        started = time.perf_counter()
        await ws.send(orjson.dumps([2, message_id, "BootNotification", boot_payload("1.6")]).decode())
        while True:
            reply = orjson.loads(await ws.recv())
            if reply[0] == 2:  # a CALL from the CSMS: not supported here
                await ws.send(orjson.dumps([4, reply[1], "NotSupported", "", {}]).decode())
            elif reply[1] == message_id:
                break
        if reply[0] != 3:
            raise BenchError(f"BootNotification answered {reply!r:.200}")
        self.boots.append(time.perf_counter() - started)
        return str(reply[2]["status"]), int(reply[2]["interval"])

    async def station(self, charge_point_id: str) -> ClientConnection | None:
        """Connect (again after a failure) and boot (again after Pending) until Accepted or the deadline;
        returns the Accepted station's open connection (None if it was not Accepted in time)."""
        ws: ClientConnection | None = None
        seq = 0
        while time.monotonic() < self.deadline:
            if ws is None:
                ws = await self._connect(charge_point_id)
                if ws is None:
                    await asyncio.sleep(RETRY_AFTER_FAILURE * (0.5 + random.random()))
                    continue
                self.sockets.append(ws)
            seq += 1
            try:
                status, interval = await self._boot(ws, seq)
            except Exception as exc:
                if len(self.errors) < 5:
                    self.errors.append(f"{charge_point_id} boot: {type(exc).__name__}: {exc}"[:200])
                ws = None
                continue
            if status == "Accepted":
                self.accepted += 1
                return ws
            self.pending += 1
            await asyncio.sleep(min(interval, max(0.0, self.deadline - time.monotonic())))
        return None


def station_id(index: int) -> str:
    """The charge point id of storm station `index` (what `register_stations` registers)."""
    return f"STORM{index:06d}"


async def boot_fleet(
    url: str, stations: int, in_flight: int, deadline_s: float
) -> tuple[_Storm, list[ClientConnection], float]:
    """Connect and boot stations 0..`stations`-1 (at most `in_flight` handshakes at a time) until all are
    Accepted or `deadline_s` passed; returns the storm's counters, the Accepted stations' open connections
    and the seconds it took. The caller closes them: `abort_fleet(storm)`."""
    raise_open_file_limit(stations + 1000)
    storm = _Storm(url, in_flight, time.monotonic() + deadline_s)
    started = time.perf_counter()
    tasks = [asyncio.create_task(storm.station(station_id(i))) for i in range(stations)]
    await asyncio.wait(tasks, timeout=deadline_s + 5)
    elapsed = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    accepted = [t.result() for t in tasks if t.done() and not t.cancelled() and t.exception() is None]
    return storm, [ws for ws in accepted if ws is not None], elapsed


def abort_fleet(storm: _Storm) -> None:
    """Drop every connection the storm opened (no closing handshake: 10k of them would take long)."""
    for ws in storm.sockets:
        ws.transport.abort()


async def run_storm(url: str, stations: int, in_flight: int, deadline_s: float, new: bool) -> StormResult:
    """Open `stations` connections, each booting, at most `in_flight` handshakes at a time."""
    storm, _, elapsed = await boot_fleet(url, stations, in_flight, deadline_s)
    abort_fleet(storm)
    handshakes, boots = sorted(storm.handshakes), sorted(storm.boots)
    return StormResult(
        stations=stations,
        in_flight=in_flight,
        new=new,
        loop=loop_name(),
        all_accepted_s=elapsed if storm.accepted == stations else None,
        accepted=storm.accepted,
        failed_handshakes=storm.failed,
        pending_answers=storm.pending,
        handshake_p50_ms=_percentile(handshakes, 0.5) * 1000,
        handshake_p99_ms=_percentile(handshakes, 0.99) * 1000,
        boot_p99_ms=_percentile(boots, 0.99) * 1000,
        errors=storm.errors,
    )


async def register_stations(db: Path, count: int) -> None:
    """Create and migrate SQLite file `db` with `count` charge points `station_id(0...)` (no password)."""
    from csms.config import DatabaseConfig
    from csms.domain.clock import utcnow
    from csms.store.sql import open_store
    from csms.store.sql.base import CHARGE_POINTS

    store = await open_store(DatabaseConfig(url=f"sqlite+aiosqlite:///{db}"))
    now = utcnow()
    rows = [
        {"charge_point_id": station_id(i), "registration_status": "Accepted", "created_at": now,
         "updated_at": now}
        for i in range(count)
    ]
    try:
        async with store.engine.begin() as conn:  # type: ignore[attr-defined]
            await conn.execute(CHARGE_POINTS.insert(), rows)
    finally:
        await store.close()


def start_known_csms(workdir: Path, stations: int, cpu: int | None) -> ServerProcess:
    """The CSMS (`bench.ocpp_roundtrip server`, message log on) on a new SQLite database in `workdir`
    where `stations` charge points are registered, pinned to core `cpu`; the caller waits until it is ready
    (`wait_ready`) and terminates it."""
    db = workdir / "csms.sqlite3"
    run_loop(register_stations(db, stations), use_uvloop=False)
    return _start_server(workdir, db, cpu, Path.cwd())


def _start_server(workdir: Path, db: Path, cpu: int | None, source: Path) -> ServerProcess:
    args = [sys.executable, "-m", "bench.ocpp_roundtrip", "server", "--port", "0", "--db", str(db)]
    if cpu is not None:
        args += ["--cpu", str(cpu)]
    stdout, stderr = workdir / "server.out", workdir / "server.err"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")]))
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=source, env=env)
    return ServerProcess("csms", proc, stdout, stderr)


def _run_load(args: argparse.Namespace, port: int, cpu: int | None) -> StormResult:
    command = [
        sys.executable, "-m", "bench.boot_storm", "load", "--url", f"ws://{HOST}:{port}/ocpp",
        "--stations", str(args.stations), "--in-flight", str(args.in_flight),
        "--deadline", str(args.deadline),
    ]
    if args.new:
        command.append("--new")
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=args.deadline + 60, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"load overstayed {args.deadline + 60:.0f} s") from exc
    sys.stderr.write(done.stderr[-4000:])
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return StormResult(**orjson.loads(line[len(RESULT_PREFIX) :]))
    raise BenchError(f"load failed (exit {done.returncode}):\n{done.stdout[-2000:]}")


def run_all(args: argparse.Namespace) -> StormResult:
    """Database, server on one core, load on another; the server is always terminated."""
    server_cpu, load_cpu = _cpus(args.server_cpu, args.load_cpu)
    with tempfile.TemporaryDirectory(prefix="boot-storm-") as tmp:
        workdir = Path(tmp)
        db = workdir / "csms.sqlite3"
        if not args.new:
            run_loop(register_stations(db, args.stations), use_uvloop=False)
        server = _start_server(workdir, db, server_cpu, args.server_src.resolve())
        try:
            port = server.wait_ready()
            return _run_load(args, port, load_cpu)
        finally:
            server.terminate()


def print_result(result: StormResult, title: str) -> None:
    """The figures with their targets, as a table, then the RESULT line."""
    done = "not all" if result.all_accepted_s is None else f"{result.all_accepted_s:.1f} s"
    rows = [
        ("all Accepted after", done, f"<= {TARGET_SECONDS:g} s"),
        ("Accepted", f"{result.accepted} / {result.stations}", f"{result.stations}"),
        ("failed handshakes", str(result.failed_handshakes), f"{TARGET_FAILED}"),
        ("Pending answers", str(result.pending_answers), "(spreads the storm)"),
        ("handshake p50", f"{result.handshake_p50_ms:.0f} ms", ""),
        ("handshake p99", f"{result.handshake_p99_ms:.0f} ms", ""),
        ("BootNotification p99", f"{result.boot_p99_ms:.0f} ms", ""),
    ]
    print(title)
    print(f"{'figure':<22} {'measured':>16}  target")
    for name, value, target in rows:
        print(f"{name:<22} {value:>16}  {target}")
    for error in result.errors:
        print(f"  e.g. {error}")
    print(RESULT_PREFIX + orjson.dumps(asdict(result)).decode(), flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.boot_storm", description=__doc__.split("\n")[0])
    parser.add_argument("command", nargs="?", choices=("all", "load"), default="all")
    parser.add_argument("--stations", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=1000, help="handshakes in flight at most")
    parser.add_argument("--new", action="store_true", help="stations the CSMS does not know yet")
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds before the load gives up")
    parser.add_argument("--server-src", type=Path, default=Path.cwd(), help="checkout to run the CSMS from")
    parser.add_argument("--server-cpu", type=int, default=None)
    parser.add_argument("--load-cpu", type=int, default=None)
    parser.add_argument("--url", default=None, help="load: ws://HOST:PORT/ocpp")
    parser.add_argument("--cpu", type=int, default=None, help="load: pin to this core")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "load":
            pin_to_cpu(args.cpu)
            result = run_loop(
                run_storm(args.url, args.stations, args.in_flight, args.deadline, args.new), use_uvloop=True
            )
            print(RESULT_PREFIX + orjson.dumps(asdict(result)).decode(), flush=True)
            return 0
        result = run_all(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    kind = "new" if args.new else "known"
    print_result(
        result,
        f"boot storm: {args.stations} {kind} stations, {args.in_flight} handshakes in flight, OCPP 1.6,"
        f" SQLite, message log on; load loop {result.loop}",
    )
    return 0 if result.all_accepted_s is not None else 1


if __name__ == "__main__":
    sys.exit(main())
