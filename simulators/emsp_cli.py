"""The `csms-emsp` command: a simulated OCPI 2.2.1 eMSP that registers with a CPO and receives its pushes.

    csms-emsp --cpo-versions http://127.0.0.1:8080/ocpi/versions --token-a=TOKEN_A --pull --duration 60

It starts its own OCPI server (127.0.0.1, `--port`, 0 = any free port), registers with the CPO using the
token A an operator issued (`csms ocpi partner add ...`), optionally pulls every module the CPO sends and
prints what it got, then serves pushes until `--duration` ends or Ctrl-C / SIGTERM, and prints a summary.
Write `--token-a=TOKEN`: a token may begin with "-", which argparse would otherwise take for an option.
The exit status is 0 on success, 1 when registration or the pull failed, 130 on a second Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Sequence

from csms.config import LogConfig
from csms.logging import configure_logging
from simulators.emsp import EmspConfig, EmspSimulator, OcpiCallError

__all__ = ["build_parser", "main", "run"]


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _party(length: int) -> Callable[[str], str]:
    def check(text: str) -> str:
        if len(text) != length or not text.isalnum():
            raise argparse.ArgumentTypeError(f"{text!r} must be {length} letters or digits")
        return text.upper()

    return check


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `csms-emsp`."""
    parser = argparse.ArgumentParser(
        prog="csms-emsp",
        description="Run a simulated OCPI 2.2.1 eMSP against a CPO (the CSMS's OCPI bridge).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--cpo-versions", required=True, help="the CPO's OCPI versions URL")
    parser.add_argument("--token-a", required=True, help="the registration token the CPO's operator issued")
    parser.add_argument("--host", default="127.0.0.1", help="address our OCPI server listens on")
    parser.add_argument("--port", type=int, default=0, help="port of our OCPI server (0: any free port)")
    parser.add_argument("--public-url", default=None, help="our base URL as the CPO reaches it")
    parser.add_argument("--country-code", type=_party(2), default="NL", help="our country code")
    parser.add_argument("--party-id", type=_party(3), default="EMS", help="our party id")
    parser.add_argument("--name", default="Simulated eMSP", help="our business name")
    parser.add_argument("--pull", action="store_true", help="pull every module after registering")
    parser.add_argument("--limit", type=int, default=None, help="page size to ask for when pulling")
    parser.add_argument("--duration", type=_positive_float, default=None, help="stop after SECONDS")
    parser.add_argument("--timeout", type=_positive_float, default=10.0, help="seconds per call to the CPO")
    parser.add_argument(
        "--log-format", default="console", choices=["console", "json"], help="log output format"
    )
    parser.add_argument("--log-level", default="info", help="log level")
    return parser


async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """Register, optionally pull, serve pushes until `--duration` or `stop` (SIGINT/SIGTERM set it), and
    print the summary.

    Returns:
        The exit status: 0, or 1 when registration or the pull failed.
    """
    stop = stop or asyncio.Event()
    config = EmspConfig(
        country_code=args.country_code,
        party_id=args.party_id,
        business_name=args.name,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        timeout=args.timeout,
    )
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
    args = build_parser().parse_args(argv)
    configure_logging(LogConfig(level=args.log_level, format=args.log_format))

    async def with_signals() -> int:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        main_task = asyncio.current_task()

        def on_signal() -> None:
            if stop.is_set() and main_task is not None:
                main_task.cancel()
            stop.set()

        installed: list[signal.Signals] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal)
                installed.append(sig)
            except (NotImplementedError, RuntimeError):  # not the main thread, or no signal support
                pass
        try:
            return await run(args, stop)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    try:
        return asyncio.run(with_signals())
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
