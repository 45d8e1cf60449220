"""The `csms-emsp` command: a simulated OCPI 2.2.1 eMSP that registers with a CPO and receives its pushes.

    csms-emsp --cpo-versions http://127.0.0.1:8080/ocpi/versions --token-a=TOKEN_A --pull --duration 60

It starts its own OCPI server (127.0.0.1, `--port`, 0 = any free port), registers with the CPO using the
token A an operator issued (`csms ocpi partner add ...`), optionally pulls every module the CPO sends and
prints what it got, then serves pushes until `--duration` ends or Ctrl-C / SIGTERM, and prints a summary.
Write `--token-a=TOKEN`: a token may begin with "-", which argparse would otherwise take for an option.
The exit status is 0 on success, 1 when registration or the pull failed, 130 on a second Ctrl-C.

`csms-emsp agent COMMAND ...` is the Agent API client instead (`simulators.agent_cli`): the eMSP simulator
standing in for a client application of our eMSP role (search, book, follow and cancel bookings).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from functools import partial

from simulators.command import (
    add_log_options,
    new_parser,
    parse_and_configure_logging,
    positive_float,
    run_until_signalled,
)
from simulators.emsp import EmspConfig, EmspSimulator, OcpiCallError

__all__ = ["build_parser", "main", "run"]

# Options whose value is the EmspConfig field of the same name (their dest); `--token-a` is not one of them:
# it is the CPO's token A we register with, not `EmspConfig.token_a` (a token A we would accept).
_CONFIG_OPTIONS = ("country_code", "party_id", "business_name", "host", "port", "public_url", "timeout")


def _party(length: int) -> Callable[[str], str]:
    def check(text: str) -> str:
        if len(text) != length or not text.isalnum():
            raise argparse.ArgumentTypeError(f"{text!r} must be {length} letters or digits")
        return text.upper()

    return check


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `csms-emsp`."""
    parser = new_parser(
        "csms-emsp", "Run a simulated OCPI 2.2.1 eMSP against a CPO (the CSMS's OCPI bridge)."
    )
    parser.add_argument("--cpo-versions", required=True, help="the CPO's OCPI versions URL")
    parser.add_argument("--token-a", required=True, help="the registration token the CPO's operator issued")
    parser.add_argument("--host", default="127.0.0.1", help="address our OCPI server listens on")
    parser.add_argument("--port", type=int, default=0, help="port of our OCPI server (0: any free port)")
    parser.add_argument("--public-url", default=None, help="our base URL as the CPO reaches it")
    parser.add_argument("--country-code", type=_party(2), default="NL", help="our country code")
    parser.add_argument("--party-id", type=_party(3), default="EMS", help="our party id")
    parser.add_argument(
        "--name", dest="business_name", metavar="NAME", default="Simulated eMSP", help="our business name"
    )
    parser.add_argument("--pull", action="store_true", help="pull every module after registering")
    parser.add_argument("--limit", type=int, default=None, help="page size to ask for when pulling")
    parser.add_argument("--duration", type=positive_float, default=None, help="stop after SECONDS")
    parser.add_argument("--timeout", type=positive_float, default=10.0, help="seconds per call to the CPO")
    add_log_options(parser)
    return parser


async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """Register, optionally pull, serve pushes until `--duration` or `stop` (SIGINT/SIGTERM set it), and
    print the summary.

    Returns:
        The exit status: 0, or 1 when registration or the pull failed.
    """
    stop = stop or asyncio.Event()
    config = EmspConfig(**{name: getattr(args, name) for name in _CONFIG_OPTIONS})
    async with EmspSimulator(config) as emsp:
        print(f"eMSP listening at {emsp.versions_url}", flush=True)
        pulled = None
        try:
            await emsp.register(args.cpo_versions, args.token_a)
            print(f"registered with {args.cpo_versions}", flush=True)
            if args.pull:
                pulled = await emsp.pull_all(limit=args.limit)
        except OcpiCallError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            print(emsp.summary(pulled), flush=True)
            return 1
        if pulled is not None:
            print(emsp.summary(pulled), flush=True)
        try:
            async with asyncio.timeout(args.duration):
                await stop.wait()
        except TimeoutError:
            pass
        print(emsp.summary(pulled), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `csms-emsp`: parse `argv` and run until the duration ends or a signal arrives.

    Returns:
        0 on success, 1 when registration or the pull failed, 130 when aborted by a second Ctrl-C.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["agent"]:
        from simulators import agent_cli  # the Agent API client: a command of its own

        return agent_cli.main(arguments[1:])
    args = parse_and_configure_logging(build_parser(), argv)
    try:
        return asyncio.run(run_until_signalled(partial(run, args)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
