"""`make bench`: every figure of issue 9 with its target beside it, as one table and one JSON document.

``python -m bench.suite`` runs, one after the other (each server pinned to the first allowed core, each load
generator to the second, loopback only, every subprocess terminated in a ``finally``):

1. ``bench.ocpp_roundtrip all --message both``: the echo ceiling E, then closed-loop MeterValues and
   Heartbeat (1000 stations, 20 s measured) against the CSMS with the message log on (the defaults a user
   gets) and off;
2. ``bench.boot_storm``: 10k known stations, 1000 handshakes in flight;
3. ``bench.latency``: open-loop Heartbeat with 10k booted connections at half the closed-loop Heartbeat rate
   of step 1 (message log on) for 60 s;
4. ``bench.idle_memory``: server memory per idle connection, 10k known stations;
5. ``bench.ocpi_pages``: OCPI locations page time at the first and last offset over 50k EVSEs.

Then it prints the summary table (benchmark, figure, measured, target, met) and the JSON document (also
written to ``--json FILE`` when given). A step that fails is reported as such and the others still run.
About 10 minutes on 2 cores with the defaults; ``--quick`` runs every step with small sizes (1000
stations, 5 s runs, 5k EVSEs) in about 3. Options the suite does not know go to ``ocpp_roundtrip all``
(e.g. ``--duration 10 --rounds 1``), so ``make bench BENCH_ARGS=...`` keeps working. Targets are reported,
never enforced: the exit code is 0 unless a step failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from bench import boot_storm, idle_memory, latency, ocpi_pages, ocpp_roundtrip, report
from bench.ocpp_roundtrip import ECHO, BenchError, Row

NAME = "closed loop"
SUITE_TARGET_S = 15 * 60
LOG_ON = "csms, message log on"
LOG_OFF = "csms, message log off"
# Targets of issue 9 for the closed loop (defaults: SQLite, message log on), as fractions of E.
TARGET_FRACTION = {"meter": 0.30, "heartbeat": 0.40}
STEPS = ("roundtrip", "boot_storm", "latency", "idle_memory", "ocpi_pages")


def roundtrip_figures(rows: list[Row]) -> list[report.Figure]:
    """E, and per message the CSMS's fraction of E (in the window and sustained) and its errors."""
    out: list[report.Figure] = []
    for message, label in (("meter", "MeterValues"), ("heartbeat", "Heartbeat")):
        mine = {row.server: row for row in rows if row.message == message}
        if ECHO not in mine or not mine[ECHO].median().rate:
            continue
        e = mine[ECHO].median().rate
        out.append(report.info(NAME, f"echo ceiling E ({label})", e, "rt/s"))
        floor = TARGET_FRACTION[message]
        for server, log in ((LOG_ON, "log on"), (LOG_OFF, "log off")):
            if server not in mine:
                continue
            r = mine[server].median()
            name = f"{label}, {log}:"
            fraction = r.rate / e
            sustained = r.sustained_rate / e if r.sustained_rate >= 0 else None
            errors = sum(x.errors + x.setup_errors for x in mine[server].results)
            if server == LOG_ON:
                out += [
                    report.info(NAME, f"{name} round trips/s", r.rate, "rt/s"),
                    report.at_least(NAME, f"{name} fraction of E (window)", fraction, "E", floor, 2),
                    report.at_least(NAME, f"{name} fraction of E sustained", sustained, "E", floor, 2),
                    report.at_most(NAME, f"{name} calls refused or failed", errors, "", 0),
                    report.info(NAME, f"{name} p99", r.p99_ms, "ms", 1),
                ]
            else:
                out += [
                    report.info(NAME, f"{name} fraction of E (window)", fraction, "E", 2),
                    report.info(NAME, f"{name} fraction of E sustained", sustained, "E", 2),
                    report.info(NAME, f"{name} calls refused or failed", errors, ""),
                ]
    return out


def storm_figures(result: boot_storm.StormResult) -> list[report.Figure]:
    """The boot storm's figures with their targets."""
    n = "boot storm"
    return [
        report.at_most(n, "all Accepted after", result.all_accepted_s, "s", boot_storm.TARGET_SECONDS, 1),
        report.info(n, "Accepted", result.accepted, f"of {result.stations}"),
        report.at_most(n, "failed handshakes", result.failed_handshakes, "", boot_storm.TARGET_FAILED),
        report.info(n, "Pending answers", result.pending_answers, ""),
        report.info(n, "handshake p99", result.handshake_p99_ms, "ms"),
        report.info(n, "BootNotification p99", result.boot_p99_ms, "ms"),
    ]


def heartbeat_rate(rows: list[Row]) -> float | None:
    """The closed-loop Heartbeat rate of the CSMS with the message log on (None if not measured)."""
    for row in rows:
        if row.server == LOG_ON and row.message == "heartbeat":
            return row.median().rate
    return None


class Suite:
    """Runs the steps, collecting figures, raw results and failures."""

    def __init__(self, args: argparse.Namespace, roundtrip_args: list[str]) -> None:
        self.args = args
        self.roundtrip_args = roundtrip_args
        self.figures: list[report.Figure] = []
        self.raw: dict[str, Any] = {}
        self.failed: dict[str, str] = {}
        self.seconds: dict[str, float] = {}
        self.rows: list[Row] = []

    def step(self, name: str, body: Callable[[], tuple[str, list[report.Figure], Any]]) -> None:
        """Run one step; print its table; keep its figures, raw result and time (or its failure)."""
        if name not in self.args.steps:
            return
        print(f"\n===== {name}", flush=True)
        started = time.monotonic()
        try:
            title, figures, raw = body()
        except (BenchError, OSError) as exc:
            self.failed[name] = f"{type(exc).__name__}: {exc}"
            print(f"error: {name}: {exc}", file=sys.stderr, flush=True)
            self.figures.append(report.Figure(name, "step failed", None, "", "runs", False))
        else:
            report.print_table(title, figures)
            self.figures += figures
            self.raw[name] = raw
        finally:
            self.seconds[name] = time.monotonic() - started

    def _roundtrip(self) -> tuple[str, list[report.Figure], Any]:
        parser = ocpp_roundtrip.build_parser()
        args = parser.parse_args(["all", "--message", "both", *self.quick(["--duration", "5"]),
                                  *self.roundtrip_args])  # fmt: skip
        server_cpu, load_cpu = ocpp_roundtrip._cpus(args.server_cpu, args.load_cpu)
        self.rows = ocpp_roundtrip.run_all(args, server_cpu, load_cpu)
        title = (
            f"closed loop, {args.connections} connections, {args.duration:g} s per run, OCPP {args.version}"
        )
        ocpp_roundtrip.print_table(self.rows, title)
        raw = [{"server": r.server, "message": r.message, "results": [asdict(x) for x in r.results]}
               for r in self.rows]  # fmt: skip
        return title, roundtrip_figures(self.rows), raw

    def _storm(self) -> tuple[str, list[report.Figure], Any]:
        args = boot_storm.build_parser().parse_args(["--stations", str(self.args.stations)])
        result = boot_storm.run_all(args)
        title = f"boot storm: {args.stations} known stations, {args.in_flight} handshakes in flight"
        return title, storm_figures(result), asdict(result)

    def _latency(self) -> tuple[str, list[report.Figure], Any]:
        rate = heartbeat_rate(self.rows)
        argv = ["--stations", str(self.args.stations), "--duration", str(self.args.latency_duration)]
        if rate:
            argv += ["--rate", f"{rate / 2:.1f}"]
        result = latency.run(latency.build_parser().parse_args(argv))
        if rate:
            result.closed_loop_rate = rate
        title = (
            f"open-loop Heartbeat, {result.booted} connections, {result.rate:,.0f}/s, {result.duration:g} s"
        )
        return title, latency.figures(result), asdict(result)

    def _idle(self) -> tuple[str, list[report.Figure], Any]:
        result = idle_memory.run(
            idle_memory.build_parser().parse_args(["--stations", str(self.args.stations)])
        )
        title = f"idle memory, {result.booted} known stations"
        return title, idle_memory.figures(result), asdict(result)

    def _ocpi(self) -> tuple[str, list[report.Figure], Any]:
        argv = ["--evses", str(self.args.evses), "--requests", str(self.args.ocpi_requests)]
        result = ocpi_pages.run(ocpi_pages.build_parser().parse_args(argv))
        title = f"OCPI locations pages, {result.evses:,} EVSEs in {result.locations:,} locations"
        return title, ocpi_pages.figures(result), asdict(result)

    def quick(self, argv: list[str]) -> list[str]:
        return argv if self.args.quick else []

    def run(self) -> None:
        started = time.monotonic()
        self.step("roundtrip", self._roundtrip)
        self.step("boot_storm", self._storm)
        self.step("latency", self._latency)
        self.step("idle_memory", self._idle)
        self.step("ocpi_pages", self._ocpi)
        total = time.monotonic() - started
        self.figures.append(report.at_most("suite", "wall time", total / 60, "min", SUITE_TARGET_S / 60, 1))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite",
        description=__doc__.split("\n")[0] if __doc__ else None,
        allow_abbrev=False,
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a check that everything runs")
    parser.add_argument("--stations", type=int, default=None, help="boot storm, latency, idle (10000)")
    parser.add_argument("--latency-duration", type=float, default=None, help="seconds (60)")
    parser.add_argument("--evses", type=int, default=None, help="OCPI EVSEs (50000)")
    parser.add_argument("--ocpi-requests", type=int, default=None, help="timed requests per offset (30)")
    parser.add_argument("--only", nargs="+", choices=STEPS, default=None, help="run only these steps")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON document here")
    return parser


def _defaults(args: argparse.Namespace) -> None:
    """Fill in the sizes: the issue's, or small ones with --quick."""
    quick = args.quick
    for name, full, small in (
        ("stations", 10_000, 1000),
        ("latency_duration", 60.0, 5.0),
        ("evses", 50_000, 5000),
        ("ocpi_requests", 30, 5),
    ):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    args.steps = args.only or list(STEPS)


def main(argv: list[str] | None = None) -> int:
    args, roundtrip_args = build_parser().parse_known_args(argv)
    _defaults(args)
    suite = Suite(args, roundtrip_args)
    try:
        suite.run()
    except KeyboardInterrupt:
        return 130
    title = (
        f"issue 9 suite: {report.machine()['cores']} cores, loopback, servers on one core and load on"
        " another; SQLite, message log on unless said"
    )
    report.print_table(title, suite.figures)
    doc = report.document(
        suite.figures, title=title, step_seconds=suite.seconds, failed=suite.failed, raw=suite.raw
    )
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    print(text, flush=True)
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 1 if suite.failed else 0


if __name__ == "__main__":
    sys.exit(main())
