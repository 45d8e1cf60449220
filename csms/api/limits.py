"""Rate limits: requests per principal per minute, and an optional monthly quota per organization.

- Per principal (`principal_of`: an API key, later a user), a fixed window of one minute, UTC-aligned:
  `[rate_limit] requests_per_minute` requests, counting every authenticated request, errors included.
- Per organization (`org_of`), `[rate_limit] monthly_quota` requests per calendar month (UTC; 0: none).

Every authenticated `/api/v1` answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` (after this
request) and `X-RateLimit-Reset` (seconds until the window resets, as the ev.energy API states it). Over
the limit: 429 `rate_limited`; over the quota: 429 `quota_exceeded` until the next month; both with
`Retry-After` (seconds).

The counters live in this process: with several processes or nodes each counts on its own, so a client
may make up to N times the limit across N nodes (ADR 0011 names Redis as the way to share them).
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


class RateLimiter:
    """Fixed one-minute windows per principal and monthly counters per organization, in memory."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, int]] = {}  # principal -> (window number, requests in it)
        self._months: dict[str, tuple[tuple[int, int], int]] = {}  # org -> ((year, month), requests)
        self._window = -1

    def check(
        self, principal: str, organization: str | None, config: RateLimitConfig, now: float
    ) -> Decision:
        """Count one request of `principal` (of `organization`) at `now` (unix seconds) and decide whether
        it may be served."""
        window = int(now // WINDOW_SECONDS)
        if window != self._window:  # a new minute: every older window is over, forget them
            self._windows.clear()
            self._window = window
        _, used = self._windows.get(principal, (window, 0))
        used += 1
        self._windows[principal] = (window, used)
        limit = config.requests_per_minute
        reset = max(int((window + 1) * WINDOW_SECONDS - now + 0.999), 1)
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
        if organization is None:  # no organization yet: no monthly quota to count against
            return Decision(limit, remaining, reset, None)
        quota_error = self._count_month(organization, now, config.monthly_quota)
        return Decision(limit, remaining, reset, quota_error)

    def _count_month(self, organization: str, now: float, quota: int) -> ApiError | None:
        if quota <= 0:
            return None
        at = datetime.fromtimestamp(now, UTC)
        month = (at.year, at.month)
        seen, used = self._months.get(organization, (month, 0))
        used = used + 1 if seen == month else 1
        self._months[organization] = (month, used)
        if used <= quota:
            return None
        retry = max(int((next_month_start(at) - at).total_seconds() + 0.999), 1)
        return ApiError(
            429,
            "quota_exceeded",
            f"the organization's monthly quota of {quota} requests is used up until the next month (UTC)",
            {"quota": quota, "retry_after": retry},
            headers={"Retry-After": str(retry)},
        )


RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)


@web.middleware
async def rate_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count an authenticated request, note the X-RateLimit-* headers for its answer, and refuse it with
    429 when over the limit or quota (install inside `auth_middleware`: it needs the principal).

    Raises:
        ApiError: 429 `rate_limited` or `quota_exceeded`, with `Retry-After`.
    """
    services = get_services(request)
    config = services.config.rate_limit
    limiter = request.app.get(RATE_LIMITER)
    if required_role(request) is Role.PUBLIC or not config.enabled or limiter is None:
        return await handler(request)
    now = services.clock().timestamp()
    # A signed-in user of no organization yet (who may only create one) counts against no quota.
    decision = limiter.check(principal_of(request), caller_of(request).org_id, config, now)
    add_response_header(request, "X-RateLimit-Limit", str(decision.limit))
    add_response_header(request, "X-RateLimit-Remaining", str(decision.remaining))
    add_response_header(request, "X-RateLimit-Reset", str(decision.reset_seconds))
    if decision.error is not None:
        raise decision.error
    return await handler(request)
