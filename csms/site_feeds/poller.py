"""One JSON document per site, fetched from a URL template on a fixed interval (what the forecast source and
the solar meter share).

The template's `{location_id}` is replaced by the site's OCPI location id (URL-quoted). An answer 404 means
the site has none (skipped quietly); a failed request or an answer `take` refuses (ValueError) is logged as
`<name>_fetch_failed` and the site keeps what it had until the next round. A round that fails as a whole
(listing the sites) is logged as `<name>_poll_failed` and retried at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar
from urllib.parse import quote

import aiohttp
import structlog

log = structlog.get_logger("csms.site_feeds")

S = TypeVar("S")


class SiteFeed(Generic[S]):
    """Polls `url` for every site `sites` lists, every `interval` seconds, handing each answer to `take`.

    Args:
        name: the feed's name in log events (`forecast`, `solar_meter`).
        url: the template (empty: the feed is disabled and nothing runs).
        interval: seconds between two rounds (read at each round, so configuration may change it).
        timeout: of one request.
        sites: lists the sites to fetch (read at each round).
        location_of: the site's OCPI location id (what `{location_id}` becomes).
        take: handles one site's parsed JSON answer; raises ValueError when the answer is not acceptable.
    """

    def __init__(
        self,
        *,
        name: str,
        url: str,
        interval: Callable[[], float],
        timeout: aiohttp.ClientTimeout,
        sites: Callable[[], Awaitable[list[S]]],
        location_of: Callable[[S], str],
        take: Callable[[S, object], Awaitable[None]],
    ) -> None:
        self._name = name
        self._url = url
        self._interval = interval
        self._timeout = timeout
        self._sites = sites
        self._location_of = location_of
        self._take = take
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def enabled(self) -> bool:
        """Whether a URL is configured."""
        return bool(self._url)

    async def start(self) -> None:
        """Begin polling (a first round at once), when a URL is configured."""
        if self.enabled and self._task is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
            self._task = asyncio.create_task(self._loop(), name=f"{self._name}-feed")

    async def fetch_all(self) -> int:
        """One round: fetch every site once; returns how many were fetched and taken.

        Raises:
            RuntimeError: not started.
        """
        if self._http is None:
            raise RuntimeError(f"the {self._name} feed is not started")
        fetched = 0
        for site in await self._sites():
            fetched += await self._fetch(self._http, site)
        return fetched

    async def _fetch(self, http: aiohttp.ClientSession, site: S) -> int:
        location_id = self._location_of(site)
        url = self._url.replace("{location_id}", quote(location_id, safe=""))
        try:
            async with http.get(url) as response:
                if response.status == 404:
                    return 0  # no such feed at that site
                response.raise_for_status()
                body = await response.json(content_type=None)
            await self._take(site, body)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning(f"{self._name}_fetch_failed", location_id=location_id, url=url, error=str(exc))
            return 0
        return 1

    async def _loop(self) -> None:
        while True:
            try:
                await self.fetch_all()
            except Exception:
                log.exception(f"{self._name}_poll_failed")
            await asyncio.sleep(self._interval())

    async def stop(self) -> None:
        """Stop polling and close the HTTP client."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()
            self._http = None
