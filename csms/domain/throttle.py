"""Brute-force protection: wrong credentials from one source address are answered ever more slowly.

Pure bookkeeping with an injected clock; the edges (the OCPP handshake, REST authentication) wait the
returned delay before they send the refusal. OCPP 2.0.1 A00 (security) asks the CSMS to resist password
guessing; each failure past `free_failures` doubles the delay, up to `max_delay`, and a success resets it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _Failures:
    count: int
    last: float


class FailureThrottle:
    """Counts authentication failures per source address and says how long to delay the next refusal."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        free_failures: int = 5,
        base_delay: float = 0.25,
        max_delay: float = 10.0,
        forget_after: float = 900.0,
        max_sources: int = 10_000,
    ) -> None:
        self._clock = clock
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_sources = max_sources
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def failed(self, source: str | None) -> float:
        """Record a failure from `source`; returns the seconds to wait before answering (0 for the first
        `free_failures`, then `base_delay` doubling up to `max_delay`)."""
        if source is None:
            return 0.0
        now = self._clock()
        entry = self._failures.pop(source, None)
        if entry is None or now - entry.last > self.forget_after:
            entry = _Failures(0, now)
        entry.count += 1
        entry.last = now
        self._failures[source] = entry  # most recent last: the oldest source is evicted first
        while len(self._failures) > self.max_sources:
            self._failures.popitem(last=False)
        over = entry.count - self.free_failures
        if over <= 0:
            return 0.0
        return float(min(self.max_delay, self.base_delay * 2.0 ** min(over - 1, 30)))

    def failures(self, source: str) -> int:
        """Failures counted for `source` (0 when none or forgotten)."""
        entry = self._failures.get(source)
        if entry is None or self._clock() - entry.last > self.forget_after:
            return 0
        return entry.count

    def succeeded(self, source: str | None) -> None:
        """A successful authentication from `source` clears its failures."""
        if source is not None:
            self._failures.pop(source, None)
