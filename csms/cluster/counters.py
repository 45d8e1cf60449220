"""Rate-limit counters in Redis (`csms.domain.counters.RequestCounters`), shared by every process and node
of a cluster: a client gets `[rate_limit] requests_per_minute` in all, not that many per process."""

from __future__ import annotations

import math

from redis.asyncio import Redis


class RedisCounters:
    """Counters as Redis keys `<prefix>:rl:<key>`: INCR, and an expiry set with the first hit, in one
    MULTI/EXEC per request."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, keys: list[tuple[str, float]], now: float) -> list[int]:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key, expires_at in keys:
                name = f"{self._prefix}:rl:{key}"
                pipe.incr(name)
                # Relative to the caller's clock (Redis's own may differ); NX: the first hit sets it.
                pipe.pexpire(name, max(math.ceil((expires_at - now) * 1000), 1), nx=True)
            results = await pipe.execute()
        return [int(count) for count in results[::2]]
