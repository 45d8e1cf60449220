"""Push to roaming partners through a durable outbox (OCPI 2.2.1: EVSE status PATCH to every partner with
the receiver endpoint; Session PUT/PATCH and CDR POST to the session's owner only, `session_owners`).

Two halves, so that a slow or dead partner never slows the OCPP side:

- `PushFeeder` subscribes to the domain's events. Its handlers are synchronous or only queue (the hot path
  never waits on OCPI); one background task turns what they noted into OCPI objects — EVSE status changes
  every ~1 s, coalesced meter updates at most once per session every ~2 s, transaction starts and stops at
  once — and stores each push as an `OutboxEntry` with `Outbox.enqueue`. Reservation sessions (RESERVE_NOW)
  are pushed by the command runner, which knows when they begin and end (`push_reservation_session`).
- `Outbox` stores entries (the database is the queue: nothing is lost on a restart) and a background
  worker delivers due entries through `ctx.client`, one task per partner (partners never block each
  other), in order per (partner, object_key): `OcpiStore.claim_outbox` takes only the oldest pending
  entry of each key, so a partner that was down receives every push of an object in order once back.

Several processes or nodes on one database each run a worker; each entry is delivered by one of them.
A worker claims the entries it takes (`claim_outbox`: claimed_by = its `node_id`, for
`[ocpi] push_claim_seconds`) in the transaction that selects them, and settling an entry ends the claim.

Delivery is at least once: an entry in flight when its process dies is sent again, by another process
once the claim ran out, or by the same after its restart (a new node id, so it too waits for the claim).
PUT and PATCH are idempotent for the receiver; a CDR POST may arrive twice and the eMSP knows it by id.

The OCPI spec itself expects no queueing ("peers re-sync via GET"); the issue asks for it, and it does not
hurt a receiver: every push carries `last_updated`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import socket
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import structlog
from structlog.typing import FilteringBoundLogger

from csms.domain.events import (
    ConnectorStatusChanged,
    Order,
    StationConnectionChanged,
    TransactionMeterAdvanced,
    TransactionStarted,
    TransactionStopped,
)
from csms.domain.models import Reservation, Transaction
from ocpi import cdrs, locations, partners, sessions
from ocpi.client import PartnerResponse, PartnerUnreachable, sending_party
from ocpi.context import OcpiContext
from ocpi.models import OutboxEntry, OutboxStatus, Partner, PartnerStatus, PartyScope, SessionLink
from ocpi.transport import ocpi_datetime

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


async def _wait(event: asyncio.Event, seconds: float) -> None:
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
        self.feeder: PushFeeder | None = None  # set by `install`; started and stopped with the outbox
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
            await _wait(self._wake, self._poll_interval)

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


async def push_to_receivers(
    ctx: OcpiContext,
    module: str,
    object_key: str,
    method: str,
    suffix: str,
    body: Any,
    *,
    only: list[Partner] | None = None,
    outbox: Outbox | None = None,
    org_id: str | None = None,
) -> int:
    """Enqueue one push for every registered partner with a RECEIVER endpoint of `module`.

    Args:
        suffix: appended to the partner's endpoint URL, e.g. "/NL/CSM/42" ("" for a CDR POST).
        only: restrict to these partners (by id), e.g. the owner of a session's token.
        outbox: where to queue; default `ctx.outbox`.
        org_id: restrict to the partners of this organization, the object's (ADR 0012); None: any.

    Returns:
        How many partners it was queued for.
    """
    wanted = None if only is None else {p.id for p in only}
    queue = outbox if outbox is not None else ctx.outbox
    if queue is None:
        return 0
    count = 0
    for partner, url in await partners.receivers(ctx, module):
        if wanted is not None and partner.id not in wanted:
            continue
        if org_id is not None and partner.org_id != org_id:
            continue  # another organization's partner never hears of this organization's objects
        await queue.enqueue(partner, module, object_key, method, url.rstrip("/") + suffix, body)
        count += 1
    return count


async def token_owners(ctx: OcpiContext, cdr_token: dict[str, Any] | None) -> list[Partner]:
    """The registered partners whose party (`PartyScope`) issued the token of a session: [] for a token of
    no partner's party, e.g. a CSMS-local one (OCPI 2.2.1 Sessions: the CPO sends a Session to the eMSP
    of its token, and no other)."""
    link = SessionLink(session_id="", partner_id=None, cdr_token=cdr_token)
    return [p for p in await ctx.store.list_partners() if owns(p, link)]


async def session_owners(ctx: OcpiContext, session: dict[str, Any]) -> list[Partner]:
    """The registered partners a Session and its CDR are pushed to: those that own its SessionLink
    (`PartyScope.owns`: its token's party, or the partner that started it) — the same as may pull it.
    [] for a session of a CSMS-local token, or without a link: it goes to nobody."""
    link = await ctx.store.get_session_link(str(session["id"]))
    return [] if link is None else [p for p in await ctx.store.list_partners() if owns(p, link)]


def owns(partner: Partner, link: SessionLink) -> bool:
    """Whether a registered `partner` owns the session of `link` (`PartyScope.owns`)."""
    return partner.status is PartnerStatus.REGISTERED and PartyScope.of(partner).owns(link)


async def push_reservation_session(ctx: OcpiContext, reservation: Reservation, partner_id: int) -> int:
    """Push the Session of a reservation made through RESERVE_NOW (`sessions.reservation_session_object`,
    id `R<reservation id>`) to the partner that made it (OCPI 2.2.1 Sessions: RESERVATION, then COMPLETED
    once it ended unused, or used: the charging is the transaction's own session).

    An active reservation is PUT whole (status RESERVATION; again when replaced); an ended one is PATCHed to
    COMPLETED with its end, and, when its time is billed (`cdrs.create_reservation_cdr`), with the CDR's
    `total_cost` and `charging_periods`, the CDR POSTed after it (once: by the call that made it). Same
    object key as every push of that session, so they arrive in order. Nothing happens without an outbox,
    a session (not made through OCPI, unpublished location) or a RECEIVER endpoint of the partner.
    Returns how many pushes were queued (0 to 2).
    """
    billed_before = await ctx.store.get_cdr(f"R{reservation.id}") is not None
    cdr = await cdrs.create_reservation_cdr(ctx, reservation)  # made (and pullable) even if not pushed
    if ctx.outbox is None:
        return 0
    partner = await ctx.store.get_partner(partner_id)
    if partner is None:
        return 0
    session = await sessions.reservation_session_object(ctx, reservation)
    if session is None:
        return 0
    if session["status"] == "RESERVATION":
        method, body = "PUT", session
    else:
        method = "PATCH"
        fields = ("status", "end_date_time", "charging_periods", "total_cost", "last_updated")
        body = {key: session[key] for key in fields if key in session}
    key, suffix = _session_key(session), _session_suffix(session)
    count = await push_to_receivers(ctx, "sessions", key, method, suffix, body, only=[partner])
    if cdr is not None and not billed_before and method == "PATCH":  # POSTed once, by its maker
        count += await push_to_receivers(ctx, "cdrs", key, "POST", "", cdr.data, only=[partner])
    return count


@dataclass(slots=True)
class _SessionPushed:
    """What receivers already have of one session: how many (closed) charging periods."""

    periods: int = 0


def closed_periods(session: dict[str, Any]) -> list[Any]:
    """Charging periods that will not change any more: all but the last while the session runs.

    A Session PATCH appends its `charging_periods` (OCPI 2.2.1 Sessions), so a period is pushed once, when
    it is complete; the running period's energy is in `kwh` meanwhile.
    """
    periods = list(session.get("charging_periods") or [])
    if session.get("status") in ("ACTIVE", "PENDING", "RESERVATION") and periods:
        return periods[:-1]
    return periods


class PushFeeder:
    """Turns domain events into outbox entries; subscribed to the domain's events by `install`.

    The handlers (`on_status_changed`, `on_connection_changed`, `on_meter_advanced`,
    `on_transaction_started`, `on_transaction_stopped`)
    only note what happened; the feeder's task builds the OCPI objects and enqueues the pushes in the
    order the events happened. `flush()` does one round at once (tests; `stop()`).
    """

    def __init__(
        self,
        ctx: OcpiContext,
        outbox: Outbox,
        *,
        status_interval: float = 1.0,
        meter_interval: float = 2.0,
    ) -> None:
        self._ctx = ctx
        self._outbox = outbox
        self._status_interval = status_interval
        self._meter_interval = meter_interval
        self._status_pending: set[tuple[str, int]] = set()
        self._dirty: dict[int, Transaction] = {}
        self._events: deque[tuple[str, Transaction]] = deque()
        self._pushed: dict[str, _SessionPushed] = {}  # session id -> what receivers have
        self._evse_status: dict[str, str] = {}  # EVSE uid -> the status last pushed
        self._kick = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    # -- event handlers (hot path: note and return) -----------------------------------------------------

    def on_status_changed(self, event: ConnectorStatusChanged) -> None:
        """Note a connector status change; its EVSE's OCPI status is pushed within ~1 s if it changed."""
        self._status_pending.add((event.change.charge_point_id, event.change.evse_id))

    def on_connection_changed(self, event: StationConnectionChanged) -> None:
        """Note that every EVSE of a station may have changed (connected or disconnected: offline is
        UNKNOWN)."""
        self._status_pending.add((event.charge_point_id, 0))

    def on_meter_advanced(self, event: TransactionMeterAdvanced) -> None:
        """Note that a running transaction's energy advanced; coalesced into one Session PATCH per
        session every ~2 s."""
        self._dirty[event.transaction.id] = event.transaction

    async def on_transaction_started(self, event: TransactionStarted) -> None:
        """Queue the Session PUT (done by the feeder's task, never on the station's time)."""
        self._events.append(("started", event.transaction))
        self._kick.set()

    async def on_transaction_stopped(self, event: TransactionStopped) -> None:
        """Queue the Session PATCH (COMPLETED) and the CDR POST."""
        tx = event.transaction
        self._dirty.pop(tx.id, None)
        self._events.append(("stopped", tx))
        self._kick.set()

    # -- running -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the background task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ocpi-push-feeder")

    async def stop(self) -> None:
        """Stop the task (after the round it is in: never cancelled halfway through an event), then store
        everything still noted (nothing noted is lost on a clean stop)."""
        task, self._task = self._task, None
        if task is not None:
            self._closing = True
            self._kick.set()
            await task
            self._closing = False
        await self.flush()

    async def flush(self, *, statuses: bool = True, meters: bool = True) -> None:
        """Enqueue now: transaction events in order, then (optionally) EVSE statuses and meter updates."""
        async with self._lock:
            if (statuses and self._status_pending) or (meters and self._dirty):
                # Statuses and samples are batched: read them only once committed (read-your-writes).
                await self._ctx.domain.writes.sync()
            while self._events:
                kind, tx = self._events.popleft()
                await self._guarded(self._on_started if kind == "started" else self._on_stopped, tx)
            if statuses:
                pending, self._status_pending = self._status_pending, set()
                for charge_point_id, evse_id in sorted(pending):
                    await self._guarded(self._push_status, charge_point_id, evse_id)
            if meters:
                dirty, self._dirty = self._dirty, {}
                for tx in dirty.values():
                    await self._guarded(self._push_meter, tx)

    async def _guarded(self, fn: Any, *args: Any) -> None:
        try:
            await fn(*args)
        except Exception:
            log.exception("ocpi_push_feed_failed", step=getattr(fn, "__name__", str(fn)))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_status = loop.time() + self._status_interval
        next_meter = loop.time() + self._meter_interval
        while not self._closing:
            timeout = max(0.0, min(next_status, next_meter) - loop.time())
            await _wait(self._kick, timeout)
            self._kick.clear()
            if self._closing:
                return
            now = loop.time()
            do_status, do_meter = now >= next_status, now >= next_meter
            await self.flush(statuses=do_status, meters=do_meter)
            if do_status:
                next_status = now + self._status_interval
            if do_meter:
                next_meter = now + self._meter_interval

    # -- EVSE status (OCPI 2.2.1 Locations, receiver: PATCH {url}/{cc}/{pid}/{location_id}/{evse_uid}) --

    async def _push_status(self, charge_point_id: str, evse_id: int) -> None:
        location = await self._ctx.store.location_of(charge_point_id)
        if location is None or not location.publish:
            return
        evses = await locations.evse_objects(self._ctx, charge_point_id)
        if evse_id != 0:  # a status on EVSE 0 applies to every EVSE of the station
            ref = await locations.evse_ref(self._ctx, charge_point_id, evse_id)
            if ref is None:
                return
            evses = [evse for evse in evses if evse.get("uid") == ref[1]]
        for evse in evses:
            uid, status = str(evse["uid"]), str(evse["status"])
            if self._evse_status.get(uid) == status:
                continue
            self._evse_status[uid] = status
            body = {"status": status, "last_updated": ocpi_datetime(self._ctx.clock())}
            suffix = f"/{location.country_code}/{location.party_id}/{location.id}/{uid}"
            key, org_id = f"evse:{uid}", location.org_id  # its organization's partners only (ADR 0012)
            await push_to_receivers(
                self._ctx, "locations", key, "PATCH", suffix, body, outbox=self._outbox, org_id=org_id
            )

    # -- sessions and CDRs (OCPI 2.2.1 Sessions and CDRs, receiver) --------------------------------

    async def _session_put(self, session: dict[str, Any], owners: list[Partner]) -> None:
        closed = closed_periods(session)
        body = dict(session)
        body["charging_periods"] = closed
        self._pushed[str(session["id"])] = _SessionPushed(periods=len(closed))
        await self._push_session("PUT", session, body, owners)

    async def _push_session(
        self, method: str, session: dict[str, Any], body: dict[str, Any], owners: list[Partner]
    ) -> None:
        """PUT or PATCH `body` to the Session's URL at its owners (`session_owners`)."""
        await push_to_receivers(
            self._ctx,
            "sessions",
            _session_key(session),
            method,
            _session_suffix(session),
            body,
            only=owners,
            outbox=self._outbox,
        )

    async def _owners(self, tx: Transaction, session: dict[str, Any]) -> list[Partner]:
        """`session_owners` of the session, of the transaction's organization only (ADR 0012)."""
        return [p for p in await session_owners(self._ctx, session) if p.org_id == tx.org_id]

    async def _on_started(self, tx: Transaction) -> None:
        session = await sessions.session_object(self._ctx, tx)
        if session is None:
            return
        owners = await self._owners(tx, session)
        await self._session_put(session, owners)

    async def _push_meter(self, tx: Transaction) -> None:
        session = await sessions.session_object(self._ctx, tx)
        if session is None:
            return
        owners = await self._owners(tx, session)
        pushed = self._pushed.get(str(session["id"]))
        if pushed is None:  # no PUT from this process (restarted mid-session): the full object replaces
            await self._session_put(session, owners)
            return
        await self._session_patch(session, pushed, owners, ("kwh", "total_cost"))

    async def _session_patch(
        self,
        session: dict[str, Any],
        pushed: _SessionPushed,
        owners: list[Partner],
        fields: tuple[str, ...],
    ) -> None:
        body: dict[str, Any] = {name: session[name] for name in fields if session.get(name) is not None}
        closed = closed_periods(session)
        if len(closed) > pushed.periods:
            body["charging_periods"] = closed[pushed.periods :]  # PATCH appends (OCPI 2.2.1 Sessions)
            pushed.periods = len(closed)
        body["last_updated"] = session.get("last_updated") or ocpi_datetime(self._ctx.clock())
        await self._push_session("PATCH", session, body, owners)

    async def _on_stopped(self, tx: Transaction) -> None:
        # The CDR first (the CdrWriter is making it: wait for that, never price twice); the COMPLETED
        # session then shows the CDR's periods and cost.
        cdr = await cdrs.ensure_cdr(self._ctx, tx)
        session = await sessions.session_object(self._ctx, tx)
        if session is None:
            return
        owners = await self._owners(tx, session)
        session_id = str(session["id"])
        pushed = self._pushed.pop(session_id, None)
        if pushed is None:
            await self._session_put(session, owners)
            self._pushed.pop(session_id, None)
        else:
            await self._session_patch(
                session, pushed, owners, ("status", "end_date_time", "kwh", "total_cost")
            )
        if cdr is None:
            return
        # Same object key as the session: the CDR follows the COMPLETED PATCH to each partner.
        await push_to_receivers(
            self._ctx, "cdrs", _session_key(session), "POST", "", cdr.data, only=owners, outbox=self._outbox
        )


def _session_key(session: dict[str, Any]) -> str:
    return f"session:{session['id']}"


def _session_suffix(session: dict[str, Any]) -> str:
    return f"/{session['country_code']}/{session['party_id']}/{session['id']}"


def install(ctx: OcpiContext, **feeder_options: Any) -> Outbox:
    """Create the outbox and its feeder, set `ctx.outbox`, and subscribe the feeder to the domain's events
    (at `Order.PUBLISH`: after the session links and the tariff pin it reads).

    Call `await outbox.start()` once `ctx.client` is set (the app's cleanup_ctx) and `await
    outbox.stop()` on shutdown, before the database closes. Until started, events are only noted.

    Calling it again returns the installed outbox (subscribed once).

    Args:
        feeder_options: `status_interval` / `meter_interval` of `PushFeeder`.
    """
    if isinstance(ctx.outbox, Outbox) and ctx.outbox.feeder is not None:
        return ctx.outbox
    outbox = Outbox(ctx)
    feeder = PushFeeder(ctx, outbox, **feeder_options)
    outbox.feeder = feeder
    ctx.outbox = outbox
    events = ctx.domain.events
    events.subscribe_hot(ConnectorStatusChanged, feeder.on_status_changed, order=Order.PUBLISH)
    events.subscribe_hot(StationConnectionChanged, feeder.on_connection_changed, order=Order.PUBLISH)
    events.subscribe_hot(TransactionMeterAdvanced, feeder.on_meter_advanced, order=Order.PUBLISH)
    events.subscribe(TransactionStarted, feeder.on_transaction_started, order=Order.PUBLISH)
    events.subscribe(TransactionStopped, feeder.on_transaction_stopped, order=Order.PUBLISH)
    return outbox
