"""The `csms-sim` command: run a fleet of simulated charge points against a CSMS.

    csms-sim --url ws://127.0.0.1:9000/ocpp --ocpp 1.6 --count 10 --id-prefix SIM \\
             --id-token TOKEN1 --id-token TOKEN2 --duration 300

Ctrl-C or SIGTERM stops cleanly (transactions stopped, sockets closed, summary printed); a second
Ctrl-C aborts at once. The exit status is 0 when no errors were counted, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import fields

from simulators.command import (
    add_log_options,
    new_parser,
    non_negative_float,
    parse_and_configure_logging,
    positive_float,
    positive_int,
    run_until_signalled,
)
from simulators.fleet import Fleet, FleetConfig, FleetSummary

__all__ = ["build_parser", "config_from_args", "main", "run"]

# FleetConfig fields that no option of the same dest sets: `config_from_args` derives them.
_DERIVED = ("id_tokens", "strict")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `csms-sim`."""
    parser = new_parser("csms-sim", "Run simulated OCPP 1.6J / 2.0.1 charge points against a CSMS.")
    parser.add_argument("--url", default="ws://127.0.0.1:9000/ocpp", help="CSMS endpoint; the id is appended")
    parser.add_argument(
        "--ocpp", dest="ocpp_version", default="1.6", choices=["1.6", "2.0.1"], help="OCPP version"
    )
    parser.add_argument("--count", type=positive_int, default=1, help="number of charge points")
    parser.add_argument("--id-prefix", default="SIM", help="charge point ids are PREFIX001, PREFIX002, ...")
    parser.add_argument("--first-index", type=int, default=1, help="index of the first charge point")
    parser.add_argument("--password", default=None, help="HTTP Basic password (security profiles 1 and 2)")
    parser.add_argument("--ca-file", default=None, help="wss://: CA certificate (PEM) to trust for the CSMS")
    parser.add_argument(
        "--client-cert", dest="client_cert_file", default=None, help="wss://: client certificate (profile 3)"
    )
    parser.add_argument(
        "--client-key", dest="client_key_file", default=None, help="wss://: client certificate's key"
    )
    parser.add_argument(
        "--connectors", type=positive_int, default=1, help="connectors (EVSEs) per charge point"
    )
    parser.add_argument(
        "--meter-interval", type=positive_float, default=10.0, help="seconds between meter values"
    )
    parser.add_argument(
        "--power", dest="power_w", metavar="POWER", type=int, default=11000, help="charging power in W"
    )
    parser.add_argument(
        "--tx-duration", type=non_negative_float, default=60.0, help="seconds a transaction lasts"
    )
    parser.add_argument(
        "--tx-interval", type=non_negative_float, default=30.0, help="seconds between transactions"
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
        "--duration", type=positive_float, default=None, help="stop after SECONDS (default: never)"
    )
    parser.add_argument(
        "--call-timeout", type=positive_float, default=10.0, help="seconds to wait for an answer"
    )
    parser.add_argument(
        "--ramp-up", type=non_negative_float, default=0.0, help="spread connects over SECONDS"
    )
    parser.add_argument(
        "--reconnect-delay", type=non_negative_float, default=5.0, help="seconds before reconnecting"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for the random start offsets")
    parser.add_argument("--no-strict", action="store_true", help="skip JSON-schema validation of payloads")
    add_log_options(parser, "log level (debug shows every frame)")
    return parser


def config_from_args(args: argparse.Namespace) -> FleetConfig:
    """Translate parsed arguments into a FleetConfig: each option's dest is the field it sets, but for the
    fields derived from other options (`--id-token`, `--no-strict`)."""
    same = {f.name: getattr(args, f.name) for f in fields(FleetConfig) if f.name not in _DERIVED}
    return FleetConfig(**same, id_tokens=args.id_tokens or ["SIMTOKEN"], strict=not args.no_strict)


async def run(config: FleetConfig) -> FleetSummary:
    """Run a fleet until its duration ends or SIGINT/SIGTERM arrives, then return the summary.

    The first signal stops the fleet cleanly; a second one cancels the run.
    """
    return await run_until_signalled(Fleet(config).run)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `csms-sim`: parse `argv`, run the fleet, print the summary to stdout.

    Returns:
        0 when the run counted no errors, 1 otherwise, 130 when aborted by a second Ctrl-C.
    """
    args = parse_and_configure_logging(build_parser(), argv)
    try:
        summary = asyncio.run(run(config_from_args(args)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130
    print(summary.render())
    return 0 if summary.errors == 0 else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
