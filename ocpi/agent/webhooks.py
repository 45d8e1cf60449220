"""Each client's webhook: every booking move is POSTed (the booking as `GET /bookings/{id}` shows it) to the
client's `webhook_url`, in the background, tried up to `ATTEMPTS` times with growing pauses.

Not durable: a delivery still being tried when the process stops is lost; clients that must not miss a
move poll `GET /agent/v1/bookings/{id}` too (the FAQ: "Poll GET /bookings/{id} every 5 seconds").
"""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import structlog

from ocpi.agent.models import Booking, booking_json
from ocpi.agent.store import SqlAgentStore

log = structlog.get_logger("ocpi.agent")

ATTEMPTS = 4
FIRST_PAUSE = 1.0  # seconds before the second attempt; each pause is four times the previous one


class WebhookNotifier:
    """`notify` for `BookingService`: POSTs each move to the client's webhook (see the module docstring)."""

    def __init__(self, store: SqlAgentStore, timeout: float) -> None:
        self._store = store
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._http: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def notify(self, booking: Booking) -> None:
        """Queue the delivery of this state of the booking (returns at once)."""
        client = await self._store.get_client(booking.client_id)
        if client is None or not client.webhook_url:
            return
        task = asyncio.create_task(self._deliver(client.webhook_url, booking_json(booking)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: dict[str, object]) -> None:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        pause = FIRST_PAUSE
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self._http.post(url, json=body, allow_redirects=False) as response:
                    if response.status < 300:
                        return
                    error = f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            log.warning("agent_webhook_failed", url=url, booking_id=body["id"], attempt=attempt, error=error)
            if attempt < ATTEMPTS:
                await asyncio.sleep(pause)
                pause *= 4

    async def stop(self) -> None:
        """Cancel the deliveries under way and close the HTTP client."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()
