"""Request counters that expire: what rate limits count with (`csms.api.limits`).

`MemoryCounters` counts in this process. In a cluster the composition root puts Redis counters in their
place (`csms.cluster.counters`), so that every process and node counts against the same limit.
"""

from __future__ import annotations

from typing import Protocol

PURGE_EVERY_SECONDS = 60.0


class RequestCounters(Protocol):
    """Counters by key, each forgotten at its own expiry time."""

    async def hit(self, keys: list[tuple[str, float]], now: float) -> list[int]:
        """Add one to each counter of `keys` ((key, unix time at which it expires)) at `now` (unix seconds,
        by the caller's clock) and return their new values, in order. Keys name their window (a minute, a
        month), so a new window is a new key; an expired counter is forgotten."""
        ...


class MemoryCounters:
    """`RequestCounters` in this process's memory; expired counters are dropped once a minute."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[float, int]] = {}  # key -> (expires at, count)
        self._next_purge = 0.0

    async def hit(self, keys: list[tuple[str, float]], now: float) -> list[int]:
        if now >= self._next_purge:
            self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            self._next_purge = now + PURGE_EVERY_SECONDS
        counts = []
        for key, expires_at in keys:
            count = self._counts[key][1] + 1 if key in self._counts else 1
            self._counts[key] = (expires_at, count)
            counts.append(count)
        return counts

    def __len__(self) -> int:
        """How many counters are held (expired ones until the next purge)."""
        return len(self._counts)
