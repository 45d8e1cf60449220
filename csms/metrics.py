"""Prometheus metrics of one running CSMS, served as text at `GET /metrics` (csms/api/metrics.py).

`Metrics` owns its own `CollectorRegistry` (never the process-wide default), so several CSMS instances in
one process — the tests — never clash. The composition root (csms/app.py) creates one, hands it to the
batched writer (`on_flush=metrics.batch_flushed`) and to everything else through `Services.metrics` (the
domain's `MetricsSink` port), and points the gauges read at scrape time at what they read (`watch`,
`watch_outbox`).

Hot path: a station's CALL costs one counter increment and one histogram observation; the labelled
children are looked up in plain dicts keyed by the label strings, so nothing is allocated per CALL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from csms.domain.ports import WriteQueue
from csms.domain.registry import ConnectionRegistry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format every Prometheus reads
OCPP_VERSIONS = ("1.6", "2.0.1")  # always exported, 0 when no station of that version is connected

# A handler answers in well under a millisecond unless it waits for the database (boot, start/stop).
HANDLER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_ITEM_BUCKETS = (1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HELP = {
    "messages": "CALLs from stations answered, by action and result (CALLRESULT or the CALLERROR code)",
    "handler": "Time to handle a station CALL, by action (not counting the wait for its batch to commit)",
    "timeouts": "CALLs the CSMS sent that got no answer within [ocpp] call_timeout, by action",
    "admitted": "Station websocket handshakes admitted",
    "refused": "Station websocket handshakes refused, by reason",
    "pending": "Batched writes queued and not yet committed",
    "batch": "Items per batch written",
    "flush": "Time to write one batch, retries included",
    "outbox": "OCPI pushes queued by this process and not yet sent or failed",
    "attempts": "Delivery attempts of OCPI pushes, by verdict (sent, rejected, retry, unavailable)",
    "settled": "OCPI pushes that left the outbox, by status (sent, failed)",
}


class _ConnectedStations:
    """`csms_connected_stations{ocpp_version}`: counted from the connection registry at scrape time."""

    def __init__(self, registry: ConnectionRegistry) -> None:
        self._registry = registry

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        counts = dict.fromkeys(OCPP_VERSIONS, 0)
        for connection in self._registry:
            counts[connection.ocpp_version] = counts.get(connection.ocpp_version, 0) + 1
        family = self._family()
        for version, count in counts.items():
            family.add_metric([version], count)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "csms_connected_stations", "Stations connected now, by OCPP version", labels=["ocpp_version"]
        )


class _CallSeries:
    """The children of one action: its latency histogram and its message counters by result."""

    __slots__ = ("latency", "results", "_counter", "_action")

    def __init__(self, action: str, counter: Counter, latency: Histogram) -> None:
        self._action = action
        self._counter = counter
        self.latency = latency.labels(action)
        self.results: dict[str, Counter] = {}

    def result(self, result: str) -> Counter:
        child = self.results.get(result)
        if child is None:
            child = self.results[result] = self._counter.labels(self._action, result)
        return child


class Metrics:
    """The metrics of one CSMS and their registry; implements the domain's `MetricsSink`."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        counter, gauge = functools.partial(Counter, registry=r), functools.partial(Gauge, registry=r)
        histogram = functools.partial(Histogram, registry=r)
        # OCPP: the station CALLs (hot path), the CSMS's own CALLs, the handshakes.
        self.messages = counter("csms_ocpp_messages_total", HELP["messages"], ["action", "result"])
        self.handler_seconds = histogram(
            "csms_ocpp_handler_seconds", HELP["handler"], ["action"], buckets=HANDLER_BUCKETS
        )
        self.command_timeouts = counter("csms_ocpp_command_timeouts_total", HELP["timeouts"], ["action"])
        self.handshakes_admitted = counter("csms_ocpp_handshakes_admitted_total", HELP["admitted"])
        self.handshakes_refused = counter("csms_ocpp_handshakes_refused_total", HELP["refused"], ["reason"])
        # The batched writer.
        self.writer_pending = gauge("csms_writer_pending_items", HELP["pending"])
        self.batch_items = histogram("csms_writer_batch_items", HELP["batch"], buckets=BATCH_ITEM_BUCKETS)
        self.flush_seconds = histogram("csms_writer_flush_seconds", HELP["flush"], buckets=FLUSH_BUCKETS)
        # The OCPI push outbox.
        self.outbox_pending = gauge("csms_ocpi_outbox_pending", HELP["outbox"])
        self.push_attempts = counter("csms_ocpi_push_attempts_total", HELP["attempts"], ["verdict"])
        self.push_settled = counter("csms_ocpi_push_settled_total", HELP["settled"], ["status"])
        self._calls: dict[str, _CallSeries] = {}

    # -- what is read at scrape time -----------------------------------------------------------------

    def watch(self, registry: ConnectionRegistry, writer: WriteQueue) -> None:
        """Export the connected stations of `registry` and the queue depth of `writer`; call once."""
        self.registry.register(_ConnectedStations(registry))
        self.writer_pending.set_function(lambda: writer.pending)

    def watch_outbox(self, depth: Callable[[], int]) -> None:
        """Export `depth()` as the OCPI outbox depth."""
        self.outbox_pending.set_function(depth)

    def render(self) -> bytes:
        """Every metric in the Prometheus text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)

    # -- MetricsSink ---------------------------------------------------------------------------------

    def call_handled(self, action: str, result: str, seconds: float) -> None:
        """Count the answer and observe the handling time (the caller bounds the set of actions)."""
        series = self._calls.get(action)
        if series is None:
            series = self._calls[action] = _CallSeries(action, self.messages, self.handler_seconds)
        series.result(result).inc()
        series.latency.observe(seconds)

    def call_refused(self, action: str, result: str) -> None:
        """Count a CALL refused unprocessed (no handling time to observe)."""
        self.messages.labels(action, result).inc()

    def command_timed_out(self, action: str) -> None:
        """Count a CSMS→station CALL left unanswered."""
        self.command_timeouts.labels(action).inc()

    def handshake_admitted(self) -> None:
        """Count an admitted handshake."""
        self.handshakes_admitted.inc()

    def handshake_refused(self, reason: str) -> None:
        """Count a refused handshake."""
        self.handshakes_refused.labels(reason).inc()

    def ocpi_push_attempted(self, verdict: str) -> None:
        """Count a delivery attempt."""
        self.push_attempts.labels(verdict).inc()

    def ocpi_push_settled(self, status: str) -> None:
        """Count an entry leaving the outbox."""
        self.push_settled.labels(status).inc()

    # -- the batched writer's observer ----------------------------------------------------------------

    def batch_flushed(self, items: int, seconds: float) -> None:
        """`BatchedWriter(on_flush=...)`: one batch of `items` written in `seconds`."""
        self.batch_items.observe(items)
        self.flush_seconds.observe(seconds)
