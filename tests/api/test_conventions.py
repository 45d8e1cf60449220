"""API conventions: `Api-Version` pinned and echoed, rate-limit headers on every authenticated answer,
429 `rate_limited` with `Retry-After`, and the monthly quota per organization."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from csms.api.limits import decide, next_month_start
from csms.config import Config, RateLimitConfig, SecurityConfig
from csms.domain.counters import MemoryCounters
from tests.api.conftest import NOW, ApiClient, error_of

LIMIT = 3


@pytest.fixture
def config() -> Config:
    """A limit of 3 requests per minute (the clock is fixed at NOW: all requests fall in one minute)."""
    return limited(RateLimitConfig(requests_per_minute=LIMIT))


def limited(rate_limit: RateLimitConfig) -> Config:
    return Config(security=SecurityConfig(bcrypt_rounds=4), rate_limit=rate_limit)


async def test_api_version_is_echoed_and_an_unknown_one_is_400(
    client: ApiClient, auth: dict[str, str]
) -> None:
    """Every /api/v1 answer (errors and the public document included) names the version; the current one
    may be pinned; another is 400 `unsupported_api_version` listing the supported ones."""
    for headers in (auth, {**auth, "Api-Version": "2026-12-01"}):
        resp = await client.get("/api/v1/charge-points", headers=headers)
        assert resp.status == 200
        assert resp.headers["Api-Version"] == "2026-12-01"
    assert (await client.get("/api/v1/openapi.json")).headers["Api-Version"] == "2026-12-01"
    resp = await client.get("/api/v1/charge-points")  # 401
    assert resp.headers["Api-Version"] == "2026-12-01"
    resp = await client.get("/api/v1/charge-points", headers={**auth, "Api-Version": "2020-01-01"})
    error = await error_of(resp, 400)
    assert error["code"] == "unsupported_api_version"
    assert error["details"] == {"requested": "2020-01-01", "supported": ["2026-12-01"]}
    assert resp.headers["Api-Version"] == "2026-12-01"


async def test_rate_limit_headers_count_down_then_429_with_retry_after(
    client: ApiClient, auth: dict[str, str], make_api_key: object
) -> None:
    """X-RateLimit-Remaining counts this request; errors carry the headers too; over the limit the answer
    is 429 `rate_limited` with Retry-After, and another key has its own count."""
    remaining = []
    for path in ("/api/v1/charge-points", "/api/v1/charge-points/nope", "/api/v1/sessions"):
        resp = await client.get(path, headers=auth)
        assert resp.headers["X-RateLimit-Limit"] == str(LIMIT)
        remaining.append(resp.headers["X-RateLimit-Remaining"])
        # NOW is 03:04:05.678: the minute starts again in 54.3 s, rounded up.
        assert resp.headers["X-RateLimit-Reset"] == "55"
    assert remaining == ["2", "1", "0"]
    resp = await client.get("/api/v1/charge-points", headers=auth)
    error = await error_of(resp, 429)
    assert error["code"] == "rate_limited"
    assert resp.headers["Retry-After"] == "55"
    assert resp.headers["X-RateLimit-Remaining"] == "0"
    other = await make_api_key("viewer")  # type: ignore[operator]
    resp = await client.get("/api/v1/charge-points", headers={"Authorization": f"Bearer {other}"})
    assert resp.status == 200 and resp.headers["X-RateLimit-Remaining"] == "2"


async def test_public_and_unauthenticated_answers_carry_no_rate_limit(client: ApiClient) -> None:
    """The OpenAPI document and 401s are not counted (no principal)."""
    assert "X-RateLimit-Limit" not in (await client.get("/api/v1/openapi.json")).headers
    assert "X-RateLimit-Limit" not in (await client.get("/api/v1/charge-points")).headers


async def test_the_minute_window_starts_again() -> None:
    """A principal's count starts again in the next minute."""
    counters = MemoryCounters()
    config = RateLimitConfig(requests_per_minute=1)
    t = NOW.timestamp()
    assert (await decide(counters, "key:1", "default", config, t)).error is None
    assert (await decide(counters, "key:1", "default", config, t + 1)).error is not None
    fresh = await decide(counters, "key:1", "default", config, t + 60)
    assert fresh.error is None and fresh.remaining == 0


async def test_the_monthly_quota_is_per_organization_until_the_next_month() -> None:
    """Over `monthly_quota` an organization's requests are 429 `quota_exceeded`, Retry-After naming the
    seconds to midnight UTC of the 1st; the next month counts from zero."""
    counters = MemoryCounters()
    config = RateLimitConfig(requests_per_minute=1000, monthly_quota=2)
    at = datetime(2026, 12, 31, 23, 0, tzinfo=UTC).timestamp()
    assert (await decide(counters, "key:1", "default", config, at)).error is None
    assert (await decide(counters, "key:2", "default", config, at)).error is None
    over = await decide(counters, "key:1", "default", config, at)
    assert over.error is not None and over.error.code == "quota_exceeded" and over.error.status == 429
    assert over.error.headers["Retry-After"] == "3600"
    assert (await decide(counters, "key:3", "other-org", config, at)).error is None
    assert (await decide(counters, "key:1", "default", config, at + 3600)).error is None  # January
    assert next_month_start(datetime(2026, 2, 10, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


async def test_memory_counters_forget_expired_windows() -> None:
    """Old minutes are dropped from memory (at most once a minute), so counters do not pile up."""
    counters = MemoryCounters()
    config = RateLimitConfig(requests_per_minute=10)
    start = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    for minute in range(5):
        for key in range(3):
            await decide(counters, f"key:{key}", None, config, start + minute * 60)
    assert len(counters) == 3  # only the last minute's


@pytest.mark.parametrize("config", [limited(RateLimitConfig(monthly_quota=1))])
async def test_quota_exceeded_over_http(client: ApiClient, auth: dict[str, str]) -> None:
    """The quota answer is a 429 `quota_exceeded` with Retry-After."""
    assert (await client.get("/api/v1/charge-points", headers=auth)).status == 200
    resp = await client.get("/api/v1/charge-points", headers=auth)
    assert (await error_of(resp, 429))["code"] == "quota_exceeded"
    # From NOW (2025-01-02T03:04:05.678Z) to 2025-02-01T00:00:00Z, rounded up.
    to_february = (datetime(2025, 2, 1, tzinfo=UTC) - NOW).total_seconds()
    assert resp.headers["Retry-After"] == str(int(to_february) + 1)


@pytest.mark.parametrize("config", [limited(RateLimitConfig(enabled=False, requests_per_minute=1))])
async def test_rate_limits_can_be_disabled(client: ApiClient, auth: dict[str, str]) -> None:
    """With `[rate_limit] enabled = false` nothing is counted or limited."""
    for _ in range(3):
        resp = await client.get("/api/v1/charge-points", headers=auth)
        assert resp.status == 200 and "X-RateLimit-Limit" not in resp.headers
