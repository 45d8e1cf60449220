"""`csms.metrics.Metrics` and the hooks feeding it: the OCPP server's `CallMeter` and handshake counting,
the batched writer's flush observer. The HTTP endpoint is tested in tests/api/test_metrics.py, the whole
chain with a real server and a simulated station in tests/e2e/test_metrics.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response

from csms.domain.events import EventBus
from csms.domain.observability import NoMetrics
from csms.domain.registry import ConnectionRegistry, LiveConnection
from csms.metrics import Metrics
from csms.ocpp.errors import ErrorKind
from csms.ocpp.framing import OcppConnection
from csms.ocpp.observe import CallMeter, count_handshakes
from csms.ocpp.router import Reply
from csms.ocpp.versions import OcppVersion
from csms.store.writer import BatchedWriter
from tests.prometheus import Scrape
from tests.store.test_writer import RecordingSink, hb

T = datetime(2025, 1, 1, tzinfo=UTC)


class RecordingMetrics(NoMetrics):
    """A `MetricsSink` that remembers every call."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def call_handled(self, action: str, result: str, seconds: float) -> None:
        self.calls.append(("call", action, result, seconds))

    def call_refused(self, action: str, result: str) -> None:
        self.calls.append(("refused_call", action, result))

    def command_timed_out(self, action: str) -> None:
        self.calls.append(("timeout", action))

    def handshake_admitted(self) -> None:
        self.calls.append(("admitted",))

    def handshake_refused(self, reason: str) -> None:
        self.calls.append(("refused", reason))


def scrape(metrics: Metrics) -> Scrape:
    return Scrape(metrics.render().decode())


def test_each_csms_has_its_own_registry() -> None:
    """Two Metrics in one process neither clash (the default registry would refuse the second) nor share
    values."""
    first, second = Metrics(), Metrics()
    first.handshake_admitted()
    assert scrape(first).value("csms_ocpp_handshakes_admitted_total") == 1
    assert scrape(second).value("csms_ocpp_handshakes_admitted_total") == 0


def test_call_handled_counts_by_action_and_result_and_observes_latency() -> None:
    """One count per (action, result) and one latency observation per action."""
    metrics = Metrics()
    metrics.call_handled("Heartbeat", "CALLRESULT", 0.0002)
    metrics.call_handled("Heartbeat", "CALLRESULT", 0.003)
    metrics.call_handled("Heartbeat", "SecurityError", 0.0001)
    metrics.call_handled("BootNotification", "CALLRESULT", 0.02)
    metrics.call_refused("Heartbeat", "InternalError")
    got = scrape(metrics)
    assert got.value("csms_ocpp_messages_total", action="Heartbeat", result="CALLRESULT") == 2
    assert got.value("csms_ocpp_messages_total", action="Heartbeat", result="SecurityError") == 1
    assert got.value("csms_ocpp_messages_total", action="BootNotification", result="CALLRESULT") == 1
    assert got.value("csms_ocpp_messages_total", action="Heartbeat", result="InternalError") == 1
    assert got.value("csms_ocpp_handler_seconds_count", action="Heartbeat") == 3
    assert got.value("csms_ocpp_handler_seconds_bucket", action="Heartbeat", le="0.0005") == 2
    assert got.value("csms_ocpp_handler_seconds_count", action="BootNotification") == 1


def test_connected_stations_are_read_from_the_registry_at_scrape_time() -> None:
    """Both versions are always exported; the counts follow the registry without any hook."""
    registry = ConnectionRegistry(EventBus())
    metrics = Metrics()
    metrics.watch(registry, BatchedWriter(RecordingSink()))
    got = scrape(metrics)
    assert got.value("csms_connected_stations", ocpp_version="1.6") == 0
    assert got.value("csms_connected_stations", ocpp_version="2.0.1") == 0
    a = LiveConnection("A", "1.6", T)
    registry.register(a)
    registry.register(LiveConnection("B", "1.6", T))
    registry.register(LiveConnection("C", "2.0.1", T))
    registry.unregister(a)
    got = scrape(metrics)
    assert got.value("csms_connected_stations", ocpp_version="1.6") == 1
    assert got.value("csms_connected_stations", ocpp_version="2.0.1") == 1


async def test_writer_reports_queue_depth_and_each_flush() -> None:
    """The pending gauge reads `BatchedWriter.pending`; the observer gets (items, seconds) per batch."""
    sink = RecordingSink()
    sink.delay = 0.02
    metrics = Metrics()
    flushes: list[tuple[int, float]] = []

    def on_flush(items: int, seconds: float) -> None:
        flushes.append((items, seconds))
        metrics.batch_flushed(items, seconds)

    writer = BatchedWriter(sink, max_items=3, interval=60.0, on_flush=on_flush)
    metrics.watch(ConnectionRegistry(EventBus()), writer)
    await writer.start()
    for n in range(5):
        writer.put(hb(n))
    await writer.sync()
    writer.put(hb(9))
    assert scrape(metrics).value("csms_writer_pending_items") == 1
    await writer.stop()
    assert [items for items, _ in flushes] == [3, 2, 1]
    assert all(seconds >= 0.02 for _, seconds in flushes)
    got = scrape(metrics)
    assert got.value("csms_writer_pending_items") == 0
    assert got.value("csms_writer_batch_items_count") == 3
    assert got.value("csms_writer_batch_items_sum") == 6
    assert got.value("csms_writer_flush_seconds_count") == 3


def test_call_meter_labels_result_by_wire_code_and_folds_unknown_actions() -> None:
    """CALLRESULT or the version's CALLERROR code; an action without a route is `other` (a station can
    send any string, which must not become a label)."""
    sink = RecordingMetrics()
    routes: Any = {"Heartbeat": object()}
    for version, code in ((OcppVersion.V16, "FormationViolation"), (OcppVersion.V201, "FormatViolation")):
        sink.calls.clear()
        meter = CallMeter(sink, routes, OcppConnection(version, call_timeout=30))
        meter.call("Heartbeat", Reply(payload={}), 0.0)
        meter.call("Heartbeat", Reply(error=ErrorKind.FORMAT), 0.0)
        meter.call("Made-up-Action", Reply(error=ErrorKind.NOT_IMPLEMENTED), 0.0)
        meter.refused("Heartbeat", ErrorKind.INTERNAL)
        meter.timed_out("Reset")
        assert [c[:3] for c in sink.calls] == [
            ("call", "Heartbeat", "CALLRESULT"),
            ("call", "Heartbeat", code),
            ("call", "other", "NotImplemented"),
            ("refused_call", "Heartbeat", "InternalError"),
            ("timeout", "Reset"),
        ]
        assert sink.calls[0][3] > 0  # seconds since `started`


async def test_handshakes_are_counted_admitted_or_refused_by_reason() -> None:
    """Refused by HTTP status (named), admitted when the server recorded the connection, otherwise the
    session will close it for lack of a subprotocol."""
    sink = RecordingMetrics()
    admitted: set[object] = set()
    answers: dict[object, Response | None] = {}

    async def process_request(connection: Any, request: Any) -> Response | None:
        return answers[connection]

    counted = count_handshakes(process_request, admitted, sink)
    cases = [(404, "unknown_charge_point"), (401, "unauthorized"), (400, "bad_charge_point_id"),
             (503, "unavailable"), (418, "http_418")]
    for status, _ in cases:
        connection = object()
        answers[connection] = Response(status, "x", Headers())
        assert await counted(connection, None) is answers[connection]  # type: ignore[arg-type]
    ok, no_subprotocol = object(), object()
    admitted.add(ok)
    answers[ok] = answers[no_subprotocol] = None
    assert await counted(ok, None) is None  # type: ignore[arg-type]
    assert await counted(no_subprotocol, None) is None  # type: ignore[arg-type]
    assert sink.calls == [("refused", reason) for _, reason in cases] + [
        ("admitted",),
        ("refused", "no_supported_subprotocol"),
    ]
