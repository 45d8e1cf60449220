"""Rate limits: requests per principal per minute, and an optional monthly quota per organization.

- Per principal (`principal_of`: an API key, later a user), a fixed window of one minute, UTC-aligned:
  `[rate_limit] requests_per_minute` requests, counting every authenticated request, errors included.
- Per organization (`org_of`), `[rate_limit] monthly_quota` requests per calendar month (UTC; 0: none).

Every authenticated `/api/v1` answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` (after this
request) and `X-RateLimit-Reset` (seconds until the window resets, as the ev.energy API states it). Over
the limit: 429 `rate_limited`; over the quota: 429 `quota_exceeded` until the next month; both with
`Retry-After` (seconds).

The counters are `Services.request_counters`: in this process's memory, or in Redis when the CSMS runs as
a cluster (`[cluster] redis_url`; `csms.cluster.counters`), so that all processes and nodes count together
and a client gets the limit once, not once per process. In memory, a restart starts the counts anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from aiohttp.typedefs import Handler

from csms.api.auth import Role, caller_of, principal_of, required_role
from csms.api.errors import ApiError
from csms.api.headers import add_response_header
from csms.api.params import get_services
from csms.config import RateLimitConfig
from csms.domain.counters import RequestCounters

WINDOW_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Decision:
    """What the limiter decided for one request."""

    limit: int
    remaining: int
    reset_seconds: int
    error: ApiError | None  # the 429 to answer, or None to serve the request


def next_month_start(now: datetime) -> datetime:
    """Midnight UTC of the first day of the month after `now`'s."""
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


async def decide(
    counters: RequestCounters, principal: str, organization: str | None, config: RateLimitConfig, now: float
) -> Decision:
    """Count one request of `principal` (of `organization`; None: no quota to count against) at `now`
    (unix seconds) in `counters` and decide whether it may be served."""
    window = int(now // WINDOW_SECONDS)
    window_end = (window + 1) * WINDOW_SECONDS
    keys = [(f"minute:{principal}:{window}", float(window_end))]
    quota = config.monthly_quota if organization is not None else 0
    at = datetime.fromtimestamp(now, UTC)
    month_end = next_month_start(at)
    if quota > 0:
        keys.append((f"month:{organization}:{at.year:04d}-{at.month:02d}", month_end.timestamp()))
    used, *month = await counters.hit(keys, now)
    limit = config.requests_per_minute
    reset = max(int(window_end - now + 0.999), 1)
    remaining = max(limit - used, 0)
    if used > limit:
        error = ApiError(
            429,
            "rate_limited",
            f"more than {limit} requests per minute; retry in {reset} s",
            {"limit": limit, "retry_after": reset},
            headers={"Retry-After": str(reset)},
        )
        return Decision(limit, remaining, reset, error)
    if month and month[0] > quota:
        retry = max(int((month_end - at).total_seconds() + 0.999), 1)
        error = ApiError(
            429,
            "quota_exceeded",
            f"the organization's monthly quota of {quota} requests is used up until the next month (UTC)",
            {"quota": quota, "retry_after": retry},
            headers={"Retry-After": str(retry)},
        )
        return Decision(limit, remaining, reset, error)
    return Decision(limit, remaining, reset, None)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count an authenticated request, note the X-RateLimit-* headers for its answer, and refuse it with
    429 when over the limit or quota (install inside `auth_middleware`: it needs the principal).

    Raises:
        ApiError: 429 `rate_limited` or `quota_exceeded`, with `Retry-After`.
    """
    services = get_services(request)
    config = services.config.rate_limit
    if required_role(request) is Role.PUBLIC or not config.enabled:
        return await handler(request)
    now = services.clock().timestamp()
    # A signed-in user of no organization yet (who may only create one) counts against no quota.
    principal, org_id = principal_of(request), caller_of(request).org_id
    decision = await decide(services.request_counters, principal, org_id, config, now)
    add_response_header(request, "X-RateLimit-Limit", str(decision.limit))
    add_response_header(request, "X-RateLimit-Remaining", str(decision.remaining))
    add_response_header(request, "X-RateLimit-Reset", str(decision.reset_seconds))
    if decision.error is not None:
        raise decision.error
    return await handler(request)
