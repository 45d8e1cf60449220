"""Figures with their targets: one row per figure, printed as a table and as JSON (issue 9, `make bench`).

A target is never a pass/fail test: `met` is only reported ("met", "not met", or blank for a figure that has
no target), and the benchmarks exit 0 whatever the figures are.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any

import orjson

RESULT_PREFIX = "RESULT "


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure: `value` in `unit` (None when it could not be measured) and its target, if any."""

    bench: str
    name: str
    value: float | None
    unit: str
    target: str = ""  # e.g. "<= 10 ms"; empty: reported for context, no target
    met: bool | None = None  # None: no target, or nothing measured
    decimals: int = 0

    def shown(self) -> str:
        """The value with its unit, for the table."""
        if self.value is None:
            return "n/a"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.value:,.{self.decimals}f}{unit}"

    def verdict(self) -> str:
        """ "met", "not met" or "" (no target or no value)."""
        return "" if self.met is None else ("met" if self.met else "not met")


def at_most(bench: str, name: str, value: float | None, unit: str, limit: float, decimals: int = 0) -> Figure:
    """A figure whose target is `value <= limit`."""
    target = f"<= {limit:g}" + (f" {unit}" if unit else "")
    met = None if value is None else value <= limit
    return Figure(bench, name, value, unit, target, met, decimals)


def at_least(
    bench: str, name: str, value: float | None, unit: str, floor: float, decimals: int = 0
) -> Figure:
    """A figure whose target is `value >= floor`."""
    target = f">= {floor:g}" + (f" {unit}" if unit else "")
    met = None if value is None else value >= floor
    return Figure(bench, name, value, unit, target, met, decimals)


def info(bench: str, name: str, value: float | None, unit: str, decimals: int = 0) -> Figure:
    """A figure reported for context, without a target."""
    return Figure(bench, name, value, unit, "", None, decimals)


def print_table(title: str, figures: list[Figure]) -> None:
    """The figures as a Markdown table: benchmark, figure, measured, target, met."""
    print(f"\n{title}")
    print("| benchmark | figure | measured | target | met |")
    print("|---|---|---:|---|---|")
    for f in figures:
        print(f"| {f.bench} | {f.name} | {f.shown()} | {f.target or '–'} | {f.verdict() or '–'} |")
    print(flush=True)


def machine() -> dict[str, Any]:
    """What the figures were measured on: cores, CPU model, Python, kernel."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def document(figures: list[Figure], **meta: Any) -> dict[str, Any]:
    """The JSON document: `meta` (title, durations...), the machine, and every figure."""
    return {**meta, "machine": machine(), "figures": [asdict(f) for f in figures]}


def print_json(figures: list[Figure], **meta: Any) -> None:
    """The JSON document on one line, prefixed `RESULT ` (what the suite and scripts parse)."""
    print(RESULT_PREFIX + orjson.dumps(document(figures, **meta)).decode(), flush=True)


def vm_rss_kib(pid: int) -> int:
    """Resident memory of process `pid` in KiB (`VmRSS` of `/proc/<pid>/status`)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise OSError(f"no VmRSS for pid {pid}")


def run_module(module: str, args: list[str], timeout: float) -> dict[str, Any]:
    """Run `python -m <module> <args>` and return the JSON of its `RESULT ` line (its stderr passes through).

    Raises:
        BenchError: it overstayed `timeout` seconds or printed no RESULT line.
    """
    from bench.ocpp_roundtrip import BenchError

    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"{module} {args[:1]} overstayed {timeout:.0f} s") from exc
    sys.stderr.write(done.stderr[-4000:])
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result: dict[str, Any] = orjson.loads(line[len(RESULT_PREFIX) :])
            return result
    raise BenchError(f"{module} failed (exit {done.returncode}):\n{done.stdout[-2000:]}")


def add_cpu_options(parser: argparse.ArgumentParser, *, load: bool = True) -> None:
    """--server-cpu and --load-cpu (default: the first and second allowed core); with `load`, also the
    load subprocess's --url and --cpu."""
    parser.add_argument("--server-cpu", type=int, default=None, help="default: the first allowed core")
    parser.add_argument("--load-cpu", type=int, default=None, help="default: the second allowed core")
    if load:
        parser.add_argument("--url", default=None, help="load: ws://127.0.0.1:PORT/ocpp")
        parser.add_argument("--cpu", type=int, default=None, help="load: pin to this core")


def finish(title: str, figures: list[Figure], raw: Any) -> int:
    """A benchmark's end: its table, its RESULT line (with `raw`, a dataclass, under "raw"); returns 0."""
    print_table(title, figures)
    print_json(figures, title=title, raw=asdict(raw))
    return 0


def main(
    args: argparse.Namespace,
    run: Callable[[argparse.Namespace], Any],
    title: Callable[[Any], str],
    figures: Callable[[Any], list[Figure]],
    load: Callable[[argparse.Namespace], Coroutine[Any, Any, Any]] | None = None,
) -> int:
    """A benchmark's command line: `load` subcommand (pinned to `--cpu`, on uvloop; prints the RESULT line
    of what it returns, unless None) or `run(args)`, then its table and RESULT line; 1 on a BenchError."""
    from bench.ocpp_roundtrip import BenchError, pin_to_cpu, run_loop

    try:
        if load is not None and args.command == "load":
            pin_to_cpu(args.cpu)
            loaded = run_loop(load(args), use_uvloop=True)
            if loaded is not None:
                print(RESULT_PREFIX + orjson.dumps(asdict(loaded)).decode(), flush=True)
            return 0
        result = run(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return finish(title(result), figures(result), result)
