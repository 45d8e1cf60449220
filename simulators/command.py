"""What the two simulator commands (`csms-sim`, `csms-emsp`) share: argument types, the logging options,
and running until SIGINT / SIGTERM (the first stops cleanly, a second cancels)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from csms.config import LogConfig
from csms.logging import configure_logging

__all__ = [
    "add_log_options",
    "new_parser",
    "non_negative_float",
    "parse_and_configure_logging",
    "positive_float",
    "positive_int",
    "run_until_signalled",
]

T = TypeVar("T")


def positive_float(text: str) -> float:
    """An argparse type: a number above 0."""
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a number of 0 or more."""
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def new_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser whose help shows every option's default; the caller adds its options, then
    `add_log_options`."""
    return argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )


def add_log_options(parser: argparse.ArgumentParser, level_help: str = "log level") -> None:
    """Add `--log-format` (console or json) and `--log-level`, which `parse_and_configure_logging` applies."""
    parser.add_argument(
        "--log-format", default="console", choices=["console", "json"], help="log output format"
    )
    parser.add_argument("--log-level", default="info", help=level_help)


def parse_and_configure_logging(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse `argv` (None: the process's arguments) and configure logging from the log options."""
    args = parser.parse_args(argv)
    configure_logging(LogConfig(level=args.log_level, format=args.log_format))
    return args


async def run_until_signalled(run: Callable[[asyncio.Event], Awaitable[T]]) -> T:
    """Await `run(stop)`: the first SIGINT / SIGTERM sets `stop` (the run ends cleanly), a second one
    cancels the run. The handlers are removed again when it returns.

    Without signal support (not the main thread, or a platform without it) `run` is awaited as it is.
    """
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
        return await run(stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
