"""In-memory `SiteLimitStore` for tests."""

from __future__ import annotations

from dataclasses import replace

from csms.domain.smart_charging import SiteLimit


class MemorySiteLimitStore:
    """Site limits by (org_id, location_id)."""

    def __init__(self) -> None:
        self.limits: dict[tuple[str, str], SiteLimit] = {}

    async def get_site_limit(self, org_id: str, location_id: str) -> SiteLimit | None:
        return self.limits.get((org_id, location_id))

    async def put_site_limit(self, org_id: str, location_id: str, limit: SiteLimit) -> None:
        ordered = tuple(sorted(limit.schedule, key=lambda p: p.start))  # as the SQL store reads it back
        self.limits[(org_id, location_id)] = replace(limit, schedule=ordered)

    async def site_limit_of(self, location_id: str) -> SiteLimit | None:
        return next((v for (_, loc), v in self.limits.items() if loc == location_id), None)
