"""What the OCPP server reports to `Services.metrics` (the domain's `MetricsSink`), kept out of server.py
so that the server only holds one-line hooks.

- `CallMeter`: per station session, the answer to each CALL (action and CALLRESULT or the CALLERROR code
  actually sent) with its handling time, and the CSMS's own CALLs that timed out.
- `count_handshakes`: wraps the server's `process_request` and counts admitted and refused handshakes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Container, Mapping
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from csms.domain.observability import MetricsSink
from csms.ocpp.errors import ErrorKind
from csms.ocpp.framing import OcppConnection
from csms.ocpp.router import Reply, Route

CALLRESULT = "CALLRESULT"
# Actions the version has no route for are counted under one label: a station can send any string.
OTHER_ACTION = "other"

ProcessRequest = Callable[[ServerConnection, Request], Awaitable[Response | None]]

# The handshake refusals of `OcppServer._process_request`, named by their HTTP status.
REFUSAL_REASONS: Mapping[int, str] = {
    HTTPStatus.BAD_REQUEST: "bad_charge_point_id",
    HTTPStatus.UNAUTHORIZED: "unauthorized",
    HTTPStatus.NOT_FOUND: "unknown_charge_point",
    HTTPStatus.TOO_MANY_REQUESTS: "too_many_requests",
    HTTPStatus.SERVICE_UNAVAILABLE: "unavailable",
}
NO_SUBPROTOCOL = "no_supported_subprotocol"


class CallMeter:
    """Reports one session's CALLs: `call(action, reply, started)`, `started` from `time.perf_counter()`."""

    __slots__ = ("sink", "_routes", "_conn")

    def __init__(self, sink: MetricsSink, routes: Mapping[str, Route], conn: OcppConnection) -> None:
        self.sink = sink
        self._routes = routes
        self._conn = conn

    def call(self, action: str, reply: Reply, started: float) -> None:
        """A station's CALL was answered with `reply`."""
        seconds = time.perf_counter() - started
        result = CALLRESULT if reply.error is None else self._conn.error_code(reply.error)
        self.sink.call_handled(action if action in self._routes else OTHER_ACTION, result, seconds)

    def refused(self, action: str, kind: ErrorKind) -> None:
        """A station's CALL was refused before it was handled (rate limit, database unreachable)."""
        label = action if action in self._routes else OTHER_ACTION
        self.sink.call_refused(label, self._conn.error_code(kind))

    def timed_out(self, action: str) -> None:
        """A CALL the CSMS sent got no answer in time."""
        self.sink.command_timed_out(action)


def count_handshakes(
    process_request: ProcessRequest, admitted: Container[ServerConnection], sink: MetricsSink
) -> ProcessRequest:
    """`process_request` reporting each handshake: refused when it answers an HTTP error (the reason named
    by its status), admitted when it let the connection through and recorded it in `admitted`, refused
    as `no_supported_subprotocol` when it let it through unrecorded (the session closes it with 1002)."""

    async def counted(connection: ServerConnection, request: Request) -> Response | None:
        response = await process_request(connection, request)
        if response is not None:
            status = response.status_code
            sink.handshake_refused(REFUSAL_REASONS.get(status, f"http_{status}"))
        elif connection in admitted:
            sink.handshake_admitted()
        else:
            sink.handshake_refused(NO_SUBPROTOCOL)
        return response

    return counted
