"""Reading a `GET /metrics` answer in tests: families and sample values from the Prometheus text format."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

# Every family `csms.metrics.Metrics` exports, as the text format names them (counters without `_total`).
FAMILIES = {
    "csms_connected_stations": "gauge",
    "csms_ocpp_messages": "counter",
    "csms_ocpp_handler_seconds": "histogram",
    "csms_ocpp_command_timeouts": "counter",
    "csms_ocpp_handshakes_admitted": "counter",
    "csms_ocpp_handshakes_refused": "counter",
    "csms_writer_pending_items": "gauge",
    "csms_writer_batch_items": "histogram",
    "csms_writer_flush_seconds": "histogram",
    "csms_ocpi_outbox_pending": "gauge",
    "csms_ocpi_push_attempts": "counter",
    "csms_ocpi_push_settled": "counter",
}


class Scrape:
    """One exposition, parsed: `families` (name → type) and `value(sample_name, **labels)`."""

    def __init__(self, text: str) -> None:
        self.families: dict[str, str] = {}
        self._samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            self.families[family.name] = family.type
            for sample in family.samples:
                self._samples[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels: str) -> float | None:
        """The value of the sample `name` with exactly these labels, None when it is not exported."""
        return self._samples.get((name, frozenset(labels.items())))
