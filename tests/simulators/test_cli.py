"""The csms-sim command: argument mapping, a short run against a fake CSMS, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys

from simulators.cli import build_parser, config_from_args, run
from simulators.fleet import FleetConfig
from tests.simulators.fake_csms import FakeCsms
from tests.utils import MS


def test_options_map_to_fleet_config() -> None:
    """Every command-line option lands in the matching FleetConfig field."""
    args = build_parser().parse_args([
        "--url", "ws://h:1/ocpp", "--ocpp", "2.0.1", "--count", "10", "--id-prefix", "SIM", "--password", "P",
        "--connectors", "2", "--meter-interval", "5", "--power", "22000", "--tx-duration", "60",
        "--tx-interval", "30", "--id-token", "T1", "--id-token", "T2", "--duration", "120", "--no-strict",
        "--seed", "7",
    ])  # fmt: skip
    assert config_from_args(args) == FleetConfig(
        url="ws://h:1/ocpp", ocpp_version="2.0.1", count=10, id_prefix="SIM", password="P", connectors=2,
        meter_interval=5.0, power_w=22000, tx_duration=60.0, tx_interval=30.0, id_tokens=["T1", "T2"],
        duration=120.0, strict=False, seed=7,
    )  # fmt: skip


def test_tls_options_map_to_fleet_config() -> None:
    """`--ca-file`, `--client-cert` and `--client-key` reach every simulator's configuration (wss://)."""
    args = build_parser().parse_args(
        ["--url", "wss://h:1/ocpp", "--ca-file", "ca.pem", "--client-cert", "c.pem", "--client-key", "c.key"]
    )
    sim = config_from_args(args).simulator_config("SIM001")
    assert (sim.ca_file, sim.client_cert_file, sim.client_key_file) == ("ca.pem", "c.pem", "c.key")


def test_defaults() -> None:
    """Without options one 1.6 charge point charges with token SIMTOKEN until stopped."""
    config = config_from_args(build_parser().parse_args([]))
    assert config == FleetConfig()


async def test_run_returns_the_summary(csms: FakeCsms) -> None:
    """`run` drives the fleet for --duration and returns its summary."""
    args = build_parser().parse_args(
        ["--url", csms.url, "--count", "2", "--duration", str(300 * MS), "--tx-interval", "0.05",
         "--tx-duration", "0.1", "--meter-interval", "0.05"]
    )  # fmt: skip
    summary = await run(config_from_args(args))
    assert summary.booted == 2 and summary.errors == 0


async def test_sigterm_stops_the_command_cleanly(csms: FakeCsms) -> None:
    """SIGTERM makes csms-sim stop its transactions, close, print the summary and exit 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.cli", "--url", csms.url, "--count", "1", "--tx-interval", "0",
        "--tx-duration", "60", "--log-format", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        await csms.wait_calls("StartTransaction", timeout=10_000 * MS)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(process.communicate(), 10_000 * MS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert "transactions_started=1 transactions_stopped=1" in stdout.decode()
    assert len(csms.calls("StopTransaction")) == 1
