"""The HTTP meter of the sites' PV production and own consumption (`[solar] meter_url`): read for each site
every `poll_seconds`, stored as the site's latest measurement, and the site re-balanced when its surplus
changed (ADR 0022).

`meter_url` is a template: `{location_id}` is replaced by the site's OCPI location id (URL-quoted). The
answer is JSON `{"production_w": W, "consumption_w": W}` (non-negative integers). A site whose meter answers
404 has none; one that fails keeps its last measurement (logged as `solar_meter_fetch_failed`, read
again at the next poll).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import structlog

from csms.domain.clock import Clock
from csms.domain.solar import SiteMeasurement, SolarStore
from csms.site_feeds.poller import SiteFeed

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
        self._store = store
        self._reported = reported
        self._clock = clock
        self._feed: SiteFeed[tuple[str, str]] = SiteFeed(
            name="solar_meter",
            url=meter_url,
            interval=lambda: poll_seconds,
            timeout=READ_TIMEOUT,
            sites=sites,
            location_of=lambda site: site[1],
            take=self._take,
        )

    @property
    def enabled(self) -> bool:
        """Whether a meter is configured."""
        return self._feed.enabled

    async def start(self) -> None:
        """Begin polling (a first read at once), when a meter is configured."""
        await self._feed.start()

    async def poll(self) -> int:
        """Read every site's meter once; returns how many sites were read successfully.

        Raises:
            RuntimeError: not started.
        """
        return await self._feed.fetch_all()

    async def stop(self) -> None:
        """Stop polling and close the HTTP client."""
        await self._feed.stop()

    async def _take(self, site: tuple[str, str], body: object) -> None:
        org_id, location_id = site
        measurement = parse_meter_json(body, self._clock)
        previous = await self._store.get_measurement(org_id, location_id)
        await self._store.put_measurement(org_id, location_id, measurement)
        if previous is None or previous.surplus_w != measurement.surplus_w:
            self._reported(location_id)  # an unchanged surplus needs no re-balance
        log.debug("solar_meter_read", location_id=location_id, production_w=measurement.production_w,
                  consumption_w=measurement.consumption_w)  # fmt: skip
