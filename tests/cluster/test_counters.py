"""Rate-limit counters in Redis (`csms.cluster.counters`): shared by every process, expiring with their
window. Against the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from csms.api.limits import decide
from csms.cluster.counters import RedisCounters
from csms.config import RateLimitConfig
from tests.utils import REDIS_URL, require_redis

NOW = datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC).timestamp()


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    await require_redis()
    prefix = f"csms-test-{secrets.token_hex(4)}"
    client = Redis.from_url(REDIS_URL)
    yield client, prefix
    keys = [key async for key in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_processes_count_against_one_limit(redis: tuple[Redis, str]) -> None:
    """Two CSMS processes (two `RedisCounters` on their own connections) share a principal's minute and an
    organization's month: the limit holds across both, not per process."""
    client, prefix = redis
    other = Redis.from_url(REDIS_URL)
    try:
        a, b = RedisCounters(client, prefix), RedisCounters(other, prefix)
        config = RateLimitConfig(requests_per_minute=3, monthly_quota=5)
        answers = [await decide(c, "key:1", "org-a", config, NOW) for c in (a, b, a)]
        assert [d.remaining for d in answers] == [2, 1, 0] and all(d.error is None for d in answers)
        over = await decide(b, "key:1", "org-a", config, NOW)
        assert over.error is not None and over.error.code == "rate_limited"
        # The month's count went on meanwhile (4 requests); the next key of the organization is the 5th.
        assert (await decide(a, "key:2", "org-a", config, NOW)).error is None
        quota = await decide(b, "key:3", "org-a", config, NOW)
        assert quota.error is not None and quota.error.code == "quota_exceeded"
    finally:
        await other.aclose()


async def test_counters_expire_with_their_window(redis: tuple[Redis, str]) -> None:
    """A minute's counter expires at the end of its minute (by the caller's clock), a month's at midnight
    UTC of the 1st; Redis forgets them then."""
    client, prefix = redis
    counters = RedisCounters(client, prefix)
    assert await counters.hit([("minute:k", NOW + 30), ("month:o", NOW + 30 + 86400)], NOW) == [1, 1]
    assert await counters.hit([("minute:k", NOW + 30)], NOW + 1) == [2]
    ttl_minute = await client.pttl(f"{prefix}:rl:minute:k")
    ttl_month = await client.pttl(f"{prefix}:rl:month:o")
    assert 0 < ttl_minute <= 30_000  # set by the first hit, not pushed back by the second
    assert 30_000 < ttl_month <= (30 + 86400) * 1000
