"""The `csms-sim` command: run a fleet of simulated charge points against a CSMS.

    csms-sim --url ws://127.0.0.1:9000/ocpp --ocpp 1.6 --count 10 --id-prefix SIM \\
             --id-token TOKEN1 --id-token TOKEN2 --duration 300

Ctrl-C or SIGTERM stops cleanly (transactions stopped, sockets closed, summary printed); a second
Ctrl-C aborts at once. The exit status is 0 when no errors were counted, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from csms.config import LogConfig
from csms.logging import configure_logging
from simulators.fleet import Fleet, FleetConfig, FleetSummary

__all__ = ["build_parser", "config_from_args", "main", "run"]


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `csms-sim`."""
    parser = argparse.ArgumentParser(
        prog="csms-sim",
        description="Run simulated OCPP 1.6J / 2.0.1 charge points against a CSMS.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp", help="CSMS endpoint; the id is appended")
    parser.add_argument("--ocpp", default="1.6", choices=["1.6", "2.0.1"], help="OCPP version")
    parser.add_argument("--count", type=_positive_int, default=1, help="number of charge points")
    parser.add_argument("--id-prefix", default="SIM", help="charge point ids are PREFIX001, PREFIX002, ...")
    parser.add_argument("--first-index", type=int, default=1, help="index of the first charge point")
    parser.add_argument("--password", default=None, help="HTTP Basic password (security profile 1)")
    parser.add_argument(
        "--connectors", type=_positive_int, default=1, help="connectors (EVSEs) per charge point"
    )
    parser.add_argument(
        "--meter-interval", type=_positive_float, default=10.0, help="seconds between meter values"
    )
    parser.add_argument("--power", type=int, default=11000, help="charging power in W")
    parser.add_argument(
        "--tx-duration", type=_non_negative_float, default=60.0, help="seconds a transaction lasts"
    )
    parser.add_argument(
        "--tx-interval", type=_non_negative_float, default=30.0, help="seconds between transactions"
    )
    parser.add_argument(
        "--id-token",
        dest="id_tokens",
        action="append",
        default=None,
        metavar="TOKEN",
        help="id token to charge with (repeat for several; default SIMTOKEN)",
    )
    parser.add_argument(
        "--duration", type=_positive_float, default=None, help="stop after SECONDS (default: never)"
    )
    parser.add_argument(
        "--call-timeout", type=_positive_float, default=10.0, help="seconds to wait for an answer"
    )
    parser.add_argument(
        "--ramp-up", type=_non_negative_float, default=0.0, help="spread connects over SECONDS"
    )
    parser.add_argument(
        "--reconnect-delay", type=_non_negative_float, default=5.0, help="seconds before reconnecting"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for the random start offsets")
    parser.add_argument("--no-strict", action="store_true", help="skip JSON-schema validation of payloads")
    parser.add_argument(
        "--log-format", default="console", choices=["console", "json"], help="log output format"
    )
    parser.add_argument("--log-level", default="info", help="log level (debug shows every frame)")
    return parser


def config_from_args(args: argparse.Namespace) -> FleetConfig:
    """Translate parsed arguments into a FleetConfig."""
    return FleetConfig(
        url=args.url,
        ocpp_version=args.ocpp,
        count=args.count,
        id_prefix=args.id_prefix,
        first_index=args.first_index,
        password=args.password,
        connectors=args.connectors,
        meter_interval=args.meter_interval,
        power_w=args.power,
        tx_duration=args.tx_duration,
        tx_interval=args.tx_interval,
        id_tokens=args.id_tokens or ["SIMTOKEN"],
        duration=args.duration,
        call_timeout=args.call_timeout,
        ramp_up=args.ramp_up,
        reconnect_delay=args.reconnect_delay,
        strict=not args.no_strict,
        seed=args.seed,
    )


async def run(config: FleetConfig) -> FleetSummary:
    """Run a fleet until its duration ends or SIGINT/SIGTERM arrives, then return the summary.

    The first signal stops the fleet cleanly; a second one cancels the run.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    main_task = asyncio.current_task()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal() -> None:
        if stop.is_set() and main_task is not None:
            main_task.cancel()
        stop.set()

    installed: list[signal.Signals] = []
    for sig in signals:
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signal support
            pass
    try:
        return await Fleet(config).run(stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `csms-sim`: parse `argv`, run the fleet, print the summary to stdout.

    Returns:
        0 when the run counted no errors, 1 otherwise, 130 when aborted by a second Ctrl-C.
    """
    args = build_parser().parse_args(argv)
    configure_logging(LogConfig(level=args.log_level, format=args.log_format))
    try:
        summary = asyncio.run(run(config_from_args(args)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130
    print(summary.render())
    return 0 if summary.errors == 0 else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
