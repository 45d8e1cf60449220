"""The HTTP source of the sites' forecasts (`[energy] forecast_url`): fetched for each site at start and every
`refresh_minutes`, handed to the planner, which plans a site's sessions again when its forecast changed.

`forecast_url` is a template: `{location_id}` is replaced by the site's OCPI location id (URL-quoted). The
answer is the JSON of `csms.domain.energy.forecasts` (`currency`, `prices`, `carbon_intensity`). A site whose
source fails keeps the forecast it had (logged as `forecast_fetch_failed`, retried at the next refresh).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import structlog

from csms.domain.energy.forecasts import parse_source_json
from csms.domain.energy.planner import EnergyPlanner
from csms.site_feeds.poller import SiteFeed

log = structlog.get_logger("csms.energy")

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


class ForecastSource:
    """Fetches each site's forecast from `[energy] forecast_url` and installs it in the planner."""

    def __init__(self, planner: EnergyPlanner, sites: Callable[[], Awaitable[list[str]]]) -> None:
        """`sites` lists the location ids to fetch (the OCPI locations); nothing runs until `start`."""
        self._planner = planner
        self._sites = sites
        self._feed: SiteFeed[str] = SiteFeed(
            name="forecast",
            url=planner.config.forecast_url,
            interval=lambda: planner.config.refresh_minutes * 60,
            timeout=FETCH_TIMEOUT,
            sites=self._all_sites,
            location_of=lambda location_id: location_id,
            take=self._take,
        )

    @property
    def enabled(self) -> bool:
        """Whether a source is configured."""
        return self._feed.enabled

    async def start(self) -> None:
        """Begin the refresh loop (a first fetch at once), when a source is configured."""
        await self._feed.start()

    async def refresh(self) -> int:
        """Fetch every site's forecast once; returns how many sites were fetched successfully."""
        return await self._feed.fetch_all()

    async def stop(self) -> None:
        """Stop the loop and close the HTTP client."""
        await self._feed.stop()

    async def _all_sites(self) -> list[str]:
        # Also the sites the planner has a forecast of, so a site that left the list is refreshed too.
        return sorted(set(await self._sites()) | set(self._planner.known_sites()))

    async def _take(self, location_id: str, body: object) -> None:
        forecast = parse_source_json(location_id, body)  # ForecastError is a ValueError
        replanned = await self._planner.set_forecast(forecast)
        log.info(
            "forecast_fetched",
            location_id=location_id,
            prices=len(forecast.prices),
            carbon=len(forecast.carbon),
            sessions_replanned=replanned,
        )
