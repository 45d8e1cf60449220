"""The HTTP meter of the sites' PV production and own consumption (`[solar] meter_url`): read for each site
every `poll_seconds`, stored as the site's latest measurement, and the site re-balanced when its surplus
changed (ADR 0022).

`meter_url` is a template: `{location_id}` is replaced by the site's OCPI location id (URL-quoted). The
answer is JSON `{"production_w": W, "consumption_w": W}` (non-negative integers). A site whose meter answers
404 has none; one that fails keeps its last measurement (logged, read again at the next poll).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp
import structlog

from csms.domain.clock import Clock
from csms.domain.solar import SiteMeasurement, SolarStore

log = structlog.get_logger("csms.solar")

READ_TIMEOUT = aiohttp.ClientTimeout(total=5)


def parse_meter_json(body: object, clock: Clock) -> SiteMeasurement:
    """The meter's answer as a measurement taken now.

    Raises:
        ValueError: not an object with non-negative integer `production_w` and `consumption_w`.
    """
    if not isinstance(body, dict):
        raise ValueError("the meter's answer is not a JSON object")
    values = []
    for name in ("production_w", "consumption_w"):
        value = body.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
        values.append(value)
    return SiteMeasurement(values[0], values[1], clock())


class SolarMeter:
    """Reads each site's meter from `meter_url` every `poll_seconds` into the `SolarStore`.

    Args:
        meter_url: the template (empty: nothing runs).
        poll_seconds: the interval between two reads of every site.
        store: where measurements go.
        sites: lists the (organization, location id) pairs to read (the OCPI locations).
        reported: told each location id with a new measurement (the load balancer's `site_changed`).
        clock: the time a reading is stamped with.
    """

    def __init__(
        self,
        meter_url: str,
        poll_seconds: float,
        store: SolarStore,
        sites: Callable[[], Awaitable[list[tuple[str, str]]]],
        reported: Callable[[str], None],
        clock: Clock,
    ) -> None:
        self._url = meter_url
        self._poll_seconds = poll_seconds
        self._store = store
        self._sites = sites
        self._reported = reported
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def enabled(self) -> bool:
        """Whether a meter is configured."""
        return bool(self._url)

    async def start(self) -> None:
        """Begin polling (a first read at once), when a meter is configured."""
        if self.enabled:
            self._http = aiohttp.ClientSession(timeout=READ_TIMEOUT)
            self._task = asyncio.create_task(self._loop(), name="solar-meter")

    async def poll(self) -> int:
        """Read every site's meter once; returns how many sites were read successfully.

        Raises:
            RuntimeError: not started.
        """
        if self._http is None:
            raise RuntimeError("the meter is not started")
        read = 0
        for org_id, location_id in await self._sites():
            read += await self._read(self._http, org_id, location_id)
        return read

    async def _read(self, http: aiohttp.ClientSession, org_id: str, location_id: str) -> int:
        url = self._url.replace("{location_id}", quote(location_id, safe=""))
        try:
            async with http.get(url) as response:
                if response.status == 404:
                    return 0  # no meter at that site
                response.raise_for_status()
                measurement = parse_meter_json(await response.json(content_type=None), self._clock)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("solar_meter_read_failed", location_id=location_id, url=url, error=str(exc))
            return 0
        previous = await self._store.get_measurement(org_id, location_id)
        await self._store.put_measurement(org_id, location_id, measurement)
        if previous is None or previous.surplus_w != measurement.surplus_w:
            self._reported(location_id)  # an unchanged surplus needs no re-balance
        log.debug("solar_meter_read", location_id=location_id, production_w=measurement.production_w,
                  consumption_w=measurement.consumption_w)  # fmt: skip
        return 1

    async def _loop(self) -> None:
        while True:
            try:
                await self.poll()
            except Exception:
                log.exception("solar_meter_poll_failed")
            await asyncio.sleep(self._poll_seconds)

    async def stop(self) -> None:
        """Stop polling and close the HTTP client."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._http is not None:
            await self._http.close()
