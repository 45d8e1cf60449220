"""The shared objects of one running CSMS, handed to the OCPP server, the REST API and the CLI.

Built once by `csms.app` (or by tests with an in-memory store and a fixed clock); never a module global.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from csms.config import Config
from csms.domain.clock import Clock, utcnow
from csms.domain.counters import MemoryCounters, RequestCounters
from csms.domain.events import EventBus
from csms.domain.observability import MetricsSink, NoMetrics
from csms.domain.ports import Store, WriteQueue
from csms.domain.registry import ConnectionRegistry
from csms.domain.secrets import SecretVerifier


@dataclass(slots=True)
class Services:
    """Everything a request or message handler may need; handlers take the narrowest part."""

    config: Config
    store: Store
    writer: WriteQueue
    verifier: SecretVerifier = field(default_factory=SecretVerifier)
    clock: Clock = utcnow
    events: EventBus = field(default_factory=EventBus)
    metrics: MetricsSink = field(default_factory=NoMetrics)  # `csms.metrics.Metrics` in a running CSMS
    # Rate-limit counters: this process's, or Redis's in a cluster (set by the composition root).
    request_counters: RequestCounters = field(default_factory=MemoryCounters)
    registry: ConnectionRegistry = field(init=False)

    def __post_init__(self) -> None:
        self.registry = ConnectionRegistry(self.events)
