"""`csms-emsp agent ...`: the Agent API client (`simulators.emsp.AgentClient`) from the command line.

    csms-emsp agent search --url http://127.0.0.1:8080 --key KEY --lat 52.09 --lon 5.11 --radius-km 5
    csms-emsp agent book --url URL --key KEY --location-id L --evse-uid E --cpo-party-id CPA \\
        --start 2026-12-04T18:00:00Z --duration-minutes 30 --driver-token DRIVER1
    csms-emsp agent booking|cancel --url URL --key KEY ID
    csms-emsp agent bookings --url URL --key KEY [--status CONFIRMED]
    csms-emsp agent wait --url URL --key KEY ID --status CONFIRMED [--status FAILED] [--timeout 60]

(also `python -m simulators.agent_cli ...`). `--key` may be left out when CSMS_AGENT_KEY holds the key.
Each prints the answer's JSON body on stdout; an error answer prints its body on stderr and exits 1 (2 for
bad arguments, as argparse does); `--rate-limit` also prints the X-RateLimit-* headers on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson

from simulators.command import positive_float, positive_int
from simulators.emsp.agent import BOOKING_STATUSES, AgentApiError, AgentClient, BookingEndedError

__all__ = ["build_parser", "main", "run"]

KEY_ENV = "CSMS_AGENT_KEY"


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


def _status(text: str) -> str:
    if text.upper() not in BOOKING_STATUSES:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a booking status ({', '.join(sorted(BOOKING_STATUSES))})"
        )
    return text.upper()


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", required=True, help="the eMSP's base URL (its HTTP port), e.g. http://127.0.0.1:8080"
    )
    parser.add_argument("--key", default=None, help=f"the client's API key (default: ${KEY_ENV})")
    parser.add_argument("--timeout", type=positive_float, default=30.0, help="seconds per request")
    parser.add_argument("--rate-limit", action="store_true", help="print the X-RateLimit-* headers on stderr")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `csms-emsp agent`."""
    parser = argparse.ArgumentParser(
        prog="csms-emsp agent",
        description="Call the eMSP's Agent API (/agent/v1) as a client application would.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    search = commands.add_parser("search", help="locations of every connected CPO near a point")
    _common(search)
    search.add_argument("--lat", required=True, help="latitude (decimal degrees)")
    search.add_argument("--lon", required=True, help="longitude (decimal degrees)")
    search.add_argument("--radius-km", required=True, help="search radius in km")
    search.add_argument(
        "--plug", default=None, help="only connectors of this OCPI standard (e.g. IEC_62196_T2)"
    )
    search.add_argument("--min-power-kw", default=None, help="only connectors of at least this power")
    search.add_argument(
        "--available-only", type=_bool, default=None, help="only AVAILABLE EVSEs (true/false)"
    )

    book = commands.add_parser("book", help="book an EVSE for a driver")
    _common(book)
    book.add_argument("--location-id", required=True)
    book.add_argument("--evse-uid", required=True)
    book.add_argument("--cpo-party-id", required=True)
    book.add_argument("--start", required=True, help="ISO 8601 time the driver means to arrive")
    book.add_argument("--duration-minutes", type=positive_int, required=True)
    book.add_argument("--driver-token", required=True, help="the driver's token uid (issued by the eMSP)")

    for name, text in (("booking", "show one booking"), ("cancel", "cancel one booking")):
        one = commands.add_parser(name, help=text)
        _common(one)
        one.add_argument("id", help="the booking id")

    listing = commands.add_parser("bookings", help="this client's bookings")
    _common(listing)
    listing.add_argument("--status", type=_status, default=None, help="only bookings in this status")

    wait = commands.add_parser("wait", help="poll a booking until it reaches one of the statuses")
    _common(wait)
    wait.add_argument("id", help="the booking id")
    wait.add_argument("--status", type=_status, action="append", required=True, help="a status to wait for")
    wait.add_argument("--wait-timeout", type=positive_float, default=60.0, help="seconds to wait at most")
    return parser


async def _dispatch(agent: AgentClient, args: argparse.Namespace) -> Any:
    if args.command == "search":
        return await agent.search(
            lat=args.lat, lon=args.lon, radius_km=args.radius_km, plug=args.plug,
            min_power_kw=args.min_power_kw, available_only=args.available_only,
        )  # fmt: skip
    if args.command == "book":
        return await agent.book(
            location_id=args.location_id, evse_uid=args.evse_uid, cpo_party_id=args.cpo_party_id,
            start=args.start, duration_minutes=args.duration_minutes, driver_token=args.driver_token,
        )  # fmt: skip
    if args.command == "booking":
        return await agent.booking(args.id)
    if args.command == "cancel":
        return await agent.cancel(args.id)
    if args.command == "bookings":
        return await agent.bookings(status=args.status)
    return await agent.wait_for_status(args.id, args.status, args.wait_timeout)


def _print_json(body: Any, *, err: bool = False) -> None:
    text = orjson.dumps(body, option=orjson.OPT_INDENT_2).decode()
    print(text, file=sys.stderr if err else sys.stdout, flush=True)


async def run(args: argparse.Namespace) -> int:
    """Send the command's request(s) and print the answer.

    Returns:
        The exit status: 0 on a 2xx answer, 1 on an error answer, an unreachable eMSP, a booking that ended
        otherwise or a wait that timed out.
    """
    key = args.key if args.key is not None else os.environ.get(KEY_ENV)
    if not key:
        print(f"error: give --key or set {KEY_ENV}", file=sys.stderr, flush=True)
        return 2
    async with AgentClient(args.url, key, timeout=args.timeout) as agent:
        status = 0
        try:
            _print_json(await _dispatch(agent, args))
        except AgentApiError as exc:
            _print_json({"status": exc.status, "body": exc.response.body}, err=True)
            status = 1
        except BookingEndedError as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            _print_json(exc.booking)
            status = 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            print(f"error: {exc!r}", file=sys.stderr, flush=True)
            status = 1
        if args.rate_limit and agent.rate_limit is not None:
            limit = agent.rate_limit
            print(f"rate limit: limit={limit.limit} remaining={limit.remaining} reset={limit.reset}",
                  file=sys.stderr, flush=True)  # fmt: skip
        return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `csms-emsp agent` (and `python -m simulators.agent_cli`): parse `argv` and run.

    Returns:
        0 on success, 1 on an error answer (see `run`), 2 on bad arguments.
    """
    args = build_parser().parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
