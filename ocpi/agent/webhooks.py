"""Each client's webhook: every booking move is POSTed (the booking as `GET /bookings/{id}` showed it at that
move) to the client's `webhook_url`, through the outbox table `agent_webhook_deliveries` (ADR 0024).

- Each move's delivery is stored by the move itself (`SqlAgentStore.add_booking` and `move_booking` add the
  pending row in the move's transaction when the client has a webhook URL); `notify` (the
  `BookingService`'s) only wakes the worker. A delivery not yet sent when the process stops is sent by the
  next worker to start (of this process or another one on the database).
- `WebhookNotifier`'s worker claims due deliveries (a lease in the row: several processes each take
  different ones), POSTs them and marks them sent, or retries with exponential back-off
  (`[agent] webhook_backoff_seconds`, doubled each time) and marks them failed after
  `webhook_max_attempts`. One booking's deliveries go in order: the next move waits until the one before
  is sent or failed.
- Signed as the operator webhooks are (`csms.webhooks.signing`: `X-Webhook-Id`, `X-Webhook-Timestamp`,
  `X-Webhook-Signature`) with the client's `webhook_secret`. A client without a secret gets unsigned POSTs
  (`X-Webhook-Id` and `X-Webhook-Timestamp` only): it cannot tell them from forged ones.
- Only public addresses are reached (`csms.webhooks.addresses`) unless `[agent]
  allow_private_webhook_addresses`: a literal non-public IP fails the delivery at once, a name is resolved
  to its public addresses only (none: the attempt fails and is retried). Redirects are not followed.

Delivery is at least once (a lease that runs out mid-POST lets another worker send it again): clients drop
repeats by `X-Webhook-Id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta

import aiohttp
import structlog

from csms.config import AgentConfig
from csms.domain.clock import Clock
from csms.webhooks.addresses import AddressRefused, connector_options, refuse_literal
from csms.webhooks.outbox import default_node_id
from csms.webhooks.signing import signature
from ocpi.agent.models import AgentClient, Booking, DeliveryStatus, WebhookDelivery
from ocpi.agent.store import SqlAgentStore

log = structlog.get_logger("ocpi.agent")

CLAIM_LIMIT = 50  # deliveries claimed per round
CLAIM_MARGIN = 30.0  # seconds a lease outlives the POST's timeout
MAX_BACKOFF = 3600.0  # seconds; the back-off never grows beyond this
MAX_ERROR_TEXT = 500


def backoff_seconds(config: AgentConfig, attempts: int) -> float:
    """The wait after the `attempts`-th failed attempt: base * 2^(attempts - 1), at most an hour."""
    exponent = min(max(attempts - 1, 0), 32)
    return float(min(config.webhook_backoff_seconds * 2**exponent, MAX_BACKOFF))


class WebhookNotifier:
    """`notify` for `BookingService`, and the worker that delivers (see the module docstring).

    Usage: `await notifier.start()` ... `await notifier.stop()`; `await notifier.deliver_due()` runs one
    round of the worker (tests).
    """

    def __init__(
        self, store: SqlAgentStore, config: AgentConfig, clock: Clock, *, node_id: str | None = None
    ) -> None:
        self._store = store
        self._config = config
        self._clock = clock
        self.node_id = node_id or default_node_id()
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def notify(self, booking: Booking) -> None:
        """The booking moved: wake the worker. The move's delivery was stored with the move itself
        (`SqlAgentStore.add_booking` / `move_booking`, one transaction), so a crash loses none."""
        self._wake.set()

    async def start(self) -> None:
        """Start the worker; its first round sends what earlier runs left pending."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="agent-webhooks")

    async def stop(self) -> None:
        """Stop the worker (a POST in flight is abandoned: its lease runs out and it is sent again) and
        close the HTTP client. Pending deliveries stay stored."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                attempted = await self.deliver_due()
            except Exception:  # the database may be back by the next round
                log.exception("agent_webhook_round_failed")
                attempted = 0
            if not attempted:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._config.webhook_poll_seconds)

    async def deliver_due(self) -> int:
        """Claim the due deliveries and attempt each once; returns how many were attempted."""
        now = self._clock()
        until = now + timedelta(seconds=self._config.webhook_timeout_seconds + CLAIM_MARGIN)
        claimed = await self._store.claim_webhook_deliveries(
            now, CLAIM_LIMIT, node_id=self.node_id, until=until
        )
        # One per booking at most (the claim takes only a booking's oldest pending one): safe side by side.
        await asyncio.gather(*(self._attempt(d) for d in claimed))
        return len(claimed)

    async def _attempt(self, delivery: WebhookDelivery) -> None:
        client = await self._store.get_client(delivery.client_id)
        error: str | None
        if client is None or not client.webhook_url:
            error, final = "the client has no webhook URL any more", True
        else:
            error, final = await self._post(client, delivery)
        attempts = delivery.attempts + 1
        bound = log.bind(booking_id=delivery.booking_id, delivery_id=delivery.id, attempts=attempts)
        if error is None:
            settled = dataclasses.replace(
                delivery, status=DeliveryStatus.SENT, attempts=attempts, last_error=None
            )
            bound.debug("agent_webhook_sent")
        elif final or attempts >= self._config.webhook_max_attempts:
            settled = dataclasses.replace(
                delivery, status=DeliveryStatus.FAILED, attempts=attempts, last_error=error
            )
            bound.warning("agent_webhook_gave_up", error=error)
        else:
            wait = backoff_seconds(self._config, attempts)
            retry_at = self._clock() + timedelta(seconds=wait)
            settled = dataclasses.replace(
                delivery, attempts=attempts, last_error=error, next_attempt_at=retry_at
            )
            bound.info("agent_webhook_retry", error=error, retry_in=wait)
        if not await self._store.settle_webhook_delivery(settled, node_id=self.node_id):
            bound.warning("agent_webhook_lease_lost")  # another worker took it over meanwhile

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            allow_private = self._config.allow_private_webhook_addresses
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._config.webhook_timeout_seconds),
                connector=aiohttp.TCPConnector(**connector_options(allow_private)),
            )
        return self._http

    async def _post(self, client: AgentClient, delivery: WebhookDelivery) -> tuple[str | None, bool]:
        """POST the delivery; (None when a 2xx answered it, else what went wrong; whether that is final)."""
        assert client.webhook_url is not None
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "csms-agent-webhooks/1",
            "X-Webhook-Id": delivery.event_id,
            "X-Webhook-Timestamp": str(timestamp),
        }
        if client.webhook_secret:
            headers["X-Webhook-Signature"] = signature(client.webhook_secret, timestamp, delivery.body)
        try:
            if not self._config.allow_private_webhook_addresses:
                refuse_literal(client.webhook_url)
        except AddressRefused as exc:  # a literal address does not change: no retry
            return str(exc)[:MAX_ERROR_TEXT], True
        try:
            async with self._session().post(
                client.webhook_url, data=delivery.body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None, False
                return f"HTTP {response.status}", False
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return (repr(exc) or type(exc).__name__)[:MAX_ERROR_TEXT], False
