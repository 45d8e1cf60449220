"""What the edges report for monitoring (`GET /metrics`), as a port: the domain names the events, the
composition root plugs in `csms.metrics.Metrics` (Prometheus), which the domain never imports.

`Services.metrics` defaults to `NoMetrics`, so tests and tools that build `Services` without metrics run
unchanged and the hot path never tests for None.
"""

from __future__ import annotations

from typing import Protocol


class MetricsSink(Protocol):
    """Events counted by the OCPP server and the OCPI outbox; every method is cheap and never raises."""

    def call_handled(self, action: str, result: str, seconds: float) -> None:
        """A station's CALL was answered: `result` is "CALLRESULT" or the CALLERROR code sent; `seconds`
        the handling time."""

    def call_refused(self, action: str, result: str) -> None:
        """A station's CALL was refused unprocessed (rate limit, database unreachable) with the CALLERROR
        code `result`: counted with the answered ones, without a handling time."""

    def command_timed_out(self, action: str) -> None:
        """A CALL the CSMS sent (`action`) got no answer within `[ocpp] call_timeout`."""

    def handshake_admitted(self) -> None:
        """A station's websocket handshake was admitted."""

    def handshake_refused(self, reason: str) -> None:
        """A station's websocket handshake was refused (`reason`: a short snake_case word)."""

    def ocpi_push_attempted(self, verdict: str) -> None:
        """One delivery attempt of an OCPI outbox entry ended with `verdict` (`ocpi.push.Verdict`)."""

    def ocpi_push_settled(self, status: str) -> None:
        """An OCPI outbox entry left the queue as `status` ("sent" or "failed")."""


class NoMetrics:
    """A `MetricsSink` that drops everything."""

    __slots__ = ()

    def call_handled(self, action: str, result: str, seconds: float) -> None:
        """Dropped."""

    def call_refused(self, action: str, result: str) -> None:
        """Dropped."""

    def command_timed_out(self, action: str) -> None:
        """Dropped."""

    def handshake_admitted(self) -> None:
        """Dropped."""

    def handshake_refused(self, reason: str) -> None:
        """Dropped."""

    def ocpi_push_attempted(self, verdict: str) -> None:
        """Dropped."""

    def ocpi_push_settled(self, status: str) -> None:
        """Dropped."""
