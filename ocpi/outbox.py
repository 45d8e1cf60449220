"""The durable OCPI push outbox and its delivery worker (`Outbox`); what feeds it is `ocpi.push`.

`Outbox` stores entries (the database is the queue: nothing is lost on a restart) and a background worker
delivers due entries through `ctx.client`, one task per partner (partners never block each other), in
order per (partner, object_key): `OcpiStore.claim_outbox` takes only the oldest pending entry of each key,
so a partner that was down receives every push of an object in order once back.

Several processes or nodes on one database each run a worker; each entry is delivered by one of them.
A worker claims the entries it takes (`claim_outbox`: claimed_by = its `node_id`, for
`[ocpi] push_claim_seconds`) in the transaction that selects them, and settling an entry ends the claim.

Delivery is at least once: an entry in flight when its process dies is sent again, by another process
once the claim ran out, or by the same after its restart (a new node id, so it too waits for the claim).
PUT and PATCH are idempotent for the receiver; a CDR POST may arrive twice and the eMSP knows it by id.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

import structlog
from structlog.typing import FilteringBoundLogger

from ocpi import cdrs
from ocpi.client import PartnerResponse, PartnerUnreachable, sending_party
from ocpi.context import OcpiContext
from ocpi.models import OutboxEntry, OutboxStatus, Partner, PartnerStatus

log = structlog.get_logger("ocpi.push")

MAX_BACKOFF_SECONDS = 3600.0  # back-off between attempts of one entry is capped at one hour
SUCCESS = 1000

# HTTP answers that say the partner as a whole cannot take pushes right now (down, overloaded, our token
# not (yet) accepted after a credentials update): the other due entries of that partner wait as well.
_PARTNER_UNAVAILABLE_HTTP = frozenset({401, 403, 429, 502, 503, 504})


def _log_of(entry: OutboxEntry) -> FilteringBoundLogger:
    """The logger bound to what an outbox entry is: every line about a push names these."""
    bound: FilteringBoundLogger = log.bind(
        outbox_id=entry.id,
        partner_id=entry.partner_id,
        module=entry.module,
        object_key=entry.object_key,
        method=entry.method,
    )
    return bound


class Verdict(StrEnum):
    """What one delivery attempt means for its entry."""

    SENT = "sent"  # accepted by the partner: SENT
    REJECTED = "rejected"  # the partner refused this push (client error): FAILED at once, never retried
    RETRY = "retry"  # try this entry again after its back-off
    UNAVAILABLE = "unavailable"  # the partner is down: retry this entry, hold back its other entries


async def wait(event: asyncio.Event, seconds: float) -> None:
    """Wait until `event` is set or `seconds` passed. (Not `asyncio.wait_for`: on Python 3.11 it can
    swallow a cancellation that arrives as the event is set, and a worker would then never stop.)"""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        pass


def default_node_id() -> str:
    """A claimer id for this process: <hostname>-<pid>-<random>, new at every start (so a restarted
    process never mistakes the claims of its previous life for its own)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def classify(entry: OutboxEntry, response: PartnerResponse) -> tuple[Verdict, str | None]:
    """Judge a partner's answer to a push.

    - HTTP 2xx with OCPI status 1000 is delivered; so is a 2xx without an OCPI envelope to a CDR POST (the
      eMSP's answer that matters there is its `Location` header, OCPI 2.2.1 CDRs).
    - An OCPI 2xxx (client error) or an HTTP 4xx other than 401/403/408/429 is REJECTED: the same body
      would be refused again, so retrying only delays the entries queued behind it. It is marked FAILED at
      once and logged, visible to the operator in the outbox (the partner can still pull the object).
    - HTTP 5xx, 3xxx/4xxx OCPI codes (server and hub errors), 408 and anything unexpected are retried;
      401, 403, 429, 502, 503 and 504 say the whole partner is unavailable.

    Returns:
        The verdict and, unless SENT, a short description for `OutboxEntry.last_error`.
    """
    http = response.http_status
    code = response.status_code
    what = f"HTTP {http}" + (f", OCPI {code}" if code is not None else "")
    if 200 <= http < 300:
        if code == SUCCESS:
            return Verdict.SENT, None
        if code is None and entry.module == "cdrs" and entry.method == "POST":
            return Verdict.SENT, None
        if code is not None and 2000 <= code < 3000:
            return Verdict.REJECTED, what
        return Verdict.RETRY, what
    if http in _PARTNER_UNAVAILABLE_HTTP:
        return Verdict.UNAVAILABLE, what
    if 400 <= http < 500 and http != 408 and not (code is not None and code >= 3000):
        return Verdict.REJECTED, what
    return Verdict.RETRY, what


def backoff_seconds(retry_seconds: float, attempts: int) -> float:
    """Wait before the next attempt after `attempts` failed ones: retry_seconds·2^(attempts−1), ≤ 1 h."""
    exponent = max(attempts - 1, 0)
    if exponent >= 32:  # 2**32 seconds is far beyond the cap anyway
        return MAX_BACKOFF_SECONDS
    return float(min(retry_seconds * (2**exponent), MAX_BACKOFF_SECONDS))


class Feeder(Protocol):
    """What is started and stopped with the outbox (`ocpi.push.PushFeeder`)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Outbox:
    """The durable push queue and its delivery worker.

    Call `enqueue` to push; `start()` runs the worker (and the attached `PushFeeder`, see `install`);
    `stop()` lets in-flight deliveries finish and leaves the rest pending (and unclaimed) in the store,
    where a new Outbox on the same store picks them up. Tests drive delivery without the worker through
    `deliver_due()`.

    Outboxes of several processes on one database share the work: each due entry is claimed by one of them
    (see the module docstring) and delivered by that one only.

    Args:
        node_id: who claims entries; default `[cluster] node_id` of the domain's config, or when that is
            empty a fresh `default_node_id()`. Two outboxes must never share one while both run.
    """

    def __init__(
        self,
        ctx: OcpiContext,
        *,
        poll_interval: float = 1.0,
        batch_size: int = 100,
        node_id: str | None = None,
    ) -> None:
        self._ctx = ctx
        self.node_id = node_id or ctx.domain.config.cluster.node_id or default_node_id()
        self._poll_interval = poll_interval
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._partner_tasks: dict[int, asyncio.Task[int]] = {}
        self._stopping = False
        self.feeder: Feeder | None = None  # set by `install`; started and stopped with the outbox
        self._metrics = ctx.domain.services.metrics
        self._queued: set[int] = set()  # ids of entries this process enqueued and has not settled

    @property
    def depth(self) -> int:
        """Entries enqueued by this process and not yet SENT or FAILED (entries left pending by an earlier
        process are not counted: the store has no cheap count)."""
        return len(self._queued)

    @property
    def running(self) -> bool:
        """True between `start()` and `stop()`."""
        return self._worker is not None

    async def start(self) -> None:
        """Start the delivery worker (and the feeder): entries already pending are delivered first."""
        if self._worker is not None:
            return
        self._stopping = False
        if self.feeder is not None:
            await self.feeder.start()
        self._worker = asyncio.create_task(self._run(), name="ocpi-outbox")
        log.info("ocpi_outbox_started")

    async def stop(self) -> None:
        """Stop: the CDRs being made are stored (`ocpi.cdrs.settle`), the feeder stores what it still held,
        deliveries in flight finish (bounded by the client's timeout), every other entry stays pending in
        the store for the next start."""
        await cdrs.settle(self._ctx)  # CDRs being made: stored while the database is still open
        if self.feeder is not None:
            await self.feeder.stop()
        self._stopping = True
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass
        tasks = list(self._partner_tasks.values())
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        log.info("ocpi_outbox_stopped")

    async def enqueue(
        self, partner: Partner, module: str, object_key: str, method: str, url: str, body: Any
    ) -> None:
        """Store one push for one partner and wake the worker; it is delivered after every earlier push
        with the same (partner, object_key) and survives a restart until delivered or FAILED.

        Args:
            partner: the receiving partner (its token B is read again at delivery time).
            module: OCPI module identifier ("locations", "sessions", "cdrs", ...), for operators and
                for judging the answer (see `classify`).
            object_key: orders pushes, e.g. "session:42" or "evse:<uid>".
            method: PUT, PATCH or POST.
            url: the full URL on the partner's receiver endpoint.
            body: the JSON body.
        """
        entry = OutboxEntry(
            id=0, partner_id=partner.id, module=module, object_key=object_key, method=method, url=url,
            body=body, created_at=self._ctx.clock(),
        )
        stored = await self._ctx.store.add_outbox(entry)
        self._queued.add(stored.id)
        _log_of(stored).debug("ocpi_push_queued")
        self._wake.set()

    async def deliver_due(self) -> int:
        """Claim and attempt every due entry once (one task per partner, skipping partners already being
        served) and wait for those attempts. Entries another process has claimed are left to it.

        Returns:
            How many entries were settled (SENT or FAILED); 0 means nothing more can happen until time
            passes, so a test calls this until it returns 0.
        """
        tasks = await self._dispatch()
        results = await asyncio.gather(*tasks)
        return sum(results)

    # -- the worker ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._dispatch()
            except Exception:
                log.exception("ocpi_outbox_pass_failed")
            await wait(self._wake, self._poll_interval)

    async def _dispatch(self) -> list[asyncio.Task[int]]:
        # Partners being served are not claimed for (their task's entries are claimed already, and the next
        # ones of those objects are not due until it settles them).
        busy = set(self._partner_tasks)
        now = self._ctx.clock()
        due = await self._ctx.store.claim_outbox(
            now,
            self._batch_size,
            node_id=self.node_id,
            until=now + timedelta(seconds=self._ctx.config.push_claim_seconds),
            skip_partners=busy,
        )
        by_partner: dict[int, list[OutboxEntry]] = {}
        for entry in due:
            by_partner.setdefault(entry.partner_id, []).append(entry)
        started: list[asyncio.Task[int]] = []
        unserved: list[OutboxEntry] = []
        for partner_id, entries in by_partner.items():
            if partner_id in self._partner_tasks or self._stopping:
                # A concurrent pass started a task for it meanwhile (one delivery stream per partner), or
                # we are stopping: give the claims back rather than make everyone wait for them to run out.
                unserved += entries
                continue
            task = asyncio.create_task(
                self._serve_partner(partner_id, entries), name=f"ocpi-push-{partner_id}"
            )
            self._partner_tasks[partner_id] = task
            task.add_done_callback(functools.partial(self._partner_done, partner_id))
            started.append(task)
        await self._release(unserved)
        return started

    async def _release(self, entries: list[OutboxEntry]) -> None:
        """Give back the claims of entries taken but not attempted (due again at once, for any process) and
        wake the worker for them."""
        if not entries:
            return
        await self._ctx.store.release_outbox([entry.id for entry in entries], self.node_id)
        self._wake.set()

    def _partner_done(self, partner_id: int, task: asyncio.Task[int]) -> None:
        if self._partner_tasks.get(partner_id) is task:
            del self._partner_tasks[partner_id]
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("ocpi_push_partner_task_failed", partner_id=partner_id, error=repr(exc))
        elif task.result():
            self._wake.set()  # settled entries may have unblocked the next entry of their objects

    async def _serve_partner(self, partner_id: int, entries: list[OutboxEntry]) -> int:
        """Deliver one partner's claimed entries in order; those left unattempted (stopping, the claim
        running out, an error) are released for the next pass of any process."""
        left = list(entries)  # claimed by us and neither attempted nor saved yet
        try:
            return await self._deliver(partner_id, left)
        finally:
            try:
                await self._release(left)
            except Exception:  # their claims run out on their own
                log.exception("ocpi_push_release_failed", partner_id=partner_id)

    async def _deliver(self, partner_id: int, left: list[OutboxEntry]) -> int:
        """Attempt the entries of `left` in order, removing each from it once attempted or saved."""
        partner = await self._ctx.store.get_partner(partner_id)
        if partner is None or partner.status is PartnerStatus.UNREGISTERED:
            settled = 0
            while left:
                await self._settle(left.pop(0), OutboxStatus.FAILED, "partner unregistered")
                settled += 1
            return settled
        settled = 0
        while left and not self._stopping and not self._claim_running_out(left[0]):
            entry = left.pop(0)
            verdict = await self._attempt(partner, entry)
            if verdict in (Verdict.SENT, Verdict.REJECTED) or entry.status is OutboxStatus.FAILED:
                settled += 1
            if verdict is Verdict.UNAVAILABLE:
                # One probe per back-off interval, not one per object: the others wait as long.
                held = left[:]
                left.clear()
                await self._hold_back(held, entry)
        return settled

    def _claim_running_out(self, entry: OutboxEntry) -> bool:
        """True once less than half of the entry's claim is left: an attempt started then could outlast it
        and meet another process's attempt of the same entry, so it is released and claimed anew."""
        if entry.claimed_until is None:
            return False
        half = timedelta(seconds=self._ctx.config.push_claim_seconds / 2)
        return self._ctx.clock() >= entry.claimed_until - half

    async def _attempt(self, partner: Partner, entry: OutboxEntry) -> Verdict:
        entry.attempts += 1
        bound = _log_of(entry).bind(attempts=entry.attempts)
        error: str | None
        try:
            sender = sending_party(partner, entry.module, entry.url, entry.body)  # one of our parties
            client = self._ctx.partner_client()
            response = await client.request(partner, entry.method, entry.url, entry.body, sender=sender)
        except PartnerUnreachable as exc:
            verdict, error = Verdict.UNAVAILABLE, f"unreachable: {exc}" if str(exc) else "unreachable"
        except Exception as exc:  # a bug or a malformed URL: retried, and visible to operators
            bound.exception("ocpi_push_error")
            verdict, error = Verdict.RETRY, f"error: {exc!r}"
        else:
            verdict, error = classify(entry, response)
        self._metrics.ocpi_push_attempted(verdict.value)
        if verdict is Verdict.SENT:
            entry.sent_at = self._ctx.clock()
            await self._settle(entry, OutboxStatus.SENT, None)
            bound.debug("ocpi_push_sent")
        elif verdict is Verdict.REJECTED:
            await self._settle(entry, OutboxStatus.FAILED, error)
            bound.warning("ocpi_push_rejected", error=error)
        elif entry.attempts >= self._ctx.config.push_max_attempts:
            await self._settle(entry, OutboxStatus.FAILED, error)
            bound.error("ocpi_push_failed", error=error)
        else:
            delay = backoff_seconds(self._ctx.config.push_retry_seconds, entry.attempts)
            entry.next_attempt_at = self._ctx.clock() + timedelta(seconds=delay)
            entry.last_error = error
            await self._ctx.store.save_outbox(entry)
            bound.info("ocpi_push_retry", error=error, retry_in=delay)
        return verdict

    async def _settle(self, entry: OutboxEntry, status: OutboxStatus, error: str | None) -> None:
        entry.status = status
        if error is not None:
            entry.last_error = error
        await self._ctx.store.save_outbox(entry)
        self._queued.discard(entry.id)
        self._metrics.ocpi_push_settled(status.value)

    async def _hold_back(self, entries: list[OutboxEntry], probe: OutboxEntry) -> None:
        """Postpone a down partner's other due entries (not attempted, attempts unchanged) until the
        probe's next attempt, so the store stops returning them and other partners are not starved."""
        if not entries:
            return
        until = probe.next_attempt_at
        if until is None or probe.status is OutboxStatus.FAILED:
            until = self._ctx.clock() + timedelta(
                seconds=backoff_seconds(self._ctx.config.push_retry_seconds, probe.attempts)
            )
        for entry in entries:
            entry.next_attempt_at = until
            entry.last_error = f"partner unavailable ({probe.last_error})"
            await self._ctx.store.save_outbox(entry)
        log.info("ocpi_push_partner_unavailable", partner_id=probe.partner_id, held_back=len(entries))


# -- what gets pushed ---------------------------------------------------------------------------------
