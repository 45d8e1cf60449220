"""The HTTP source of the sites' forecasts (`[energy] forecast_url`): fetched for each site at start and every
`refresh_minutes`, handed to the planner, which plans a site's sessions again when its forecast changed.

`forecast_url` is a template: `{location_id}` is replaced by the site's OCPI location id (URL-quoted). The
answer is the JSON of `csms.domain.energy.forecasts` (`currency`, `prices`, `carbon_intensity`). A site whose
source fails keeps the forecast it had (logged, retried at the next refresh).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp
import structlog

from csms.domain.energy.forecasts import ForecastError, parse_source_json
from csms.domain.energy.planner import EnergyPlanner

log = structlog.get_logger("csms.energy")

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


class ForecastSource:
    """Fetches each site's forecast from `[energy] forecast_url` and installs it in the planner."""

    def __init__(self, planner: EnergyPlanner, sites: Callable[[], Awaitable[list[str]]]) -> None:
        """`sites` lists the location ids to fetch (the OCPI locations); nothing runs until `start`."""
        self._planner = planner
        self._sites = sites
        self._url = planner.config.forecast_url
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def enabled(self) -> bool:
        """Whether a source is configured."""
        return bool(self._url)

    async def start(self) -> None:
        """Begin the refresh loop (a first fetch at once), when a source is configured."""
        if self.enabled:
            self._http = aiohttp.ClientSession(timeout=FETCH_TIMEOUT)
            self._task = asyncio.create_task(self._loop())

    async def refresh(self) -> int:
        """Fetch every site's forecast once; returns how many sites were fetched successfully."""
        if self._http is None:
            raise RuntimeError("the source is not started")
        sites = sorted(set(await self._sites()) | set(self._planner.known_sites()))
        fetched = 0
        for location_id in sites:
            fetched += await self._fetch(self._http, location_id)
        return fetched

    async def _fetch(self, http: aiohttp.ClientSession, location_id: str) -> int:
        url = self._url.replace("{location_id}", quote(location_id, safe=""))
        try:
            async with http.get(url) as response:
                if response.status == 404:
                    return 0  # no forecast for that site
                response.raise_for_status()
                forecast = parse_source_json(location_id, await response.json(content_type=None))
        except (aiohttp.ClientError, TimeoutError, ValueError, ForecastError) as exc:
            log.warning("forecast_fetch_failed", location_id=location_id, url=url, error=str(exc))
            return 0
        replanned = await self._planner.set_forecast(forecast)
        log.info(
            "forecast_fetched",
            location_id=location_id,
            prices=len(forecast.prices),
            carbon=len(forecast.carbon),
            sessions_replanned=replanned,
        )
        return 1

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("forecast_refresh_failed")
            await asyncio.sleep(self._planner.config.refresh_minutes * 60)

    async def stop(self) -> None:
        """Stop the loop and close the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.close()
