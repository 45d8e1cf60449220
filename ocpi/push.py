"""Push to roaming partners through a durable outbox (OCPI 2.2.1: EVSE status PATCH to every partner with
the receiver endpoint; Session PUT/PATCH and CDR POST to the session's owner only, `session_owners`).

Two halves, so that a slow or dead partner never slows the OCPP side:

- `PushFeeder` subscribes to the domain's events. Its handlers are synchronous or only queue (the hot path
  never waits on OCPI); one background task turns what they noted into OCPI objects — EVSE status changes
  every ~1 s, coalesced meter updates at most once per session every ~2 s, transaction starts and stops at
  once — and stores each push as an `OutboxEntry` with `Outbox.enqueue`. Reservation sessions (RESERVE_NOW)
  are pushed by the command runner, which knows when they begin and end (`push_reservation_session`).
- `Outbox` (`ocpi.outbox`) stores the entries durably and delivers them, in order per object, one task
  per partner, claimed so that several processes share the work.

The OCPI spec itself expects no queueing ("peers re-sync via GET"); the issue asks for it, and it does not
hurt a receiver: every push carries `last_updated`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

import structlog

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
from ocpi.context import OcpiContext
from ocpi.models import Partner, PartnerStatus, PartyScope, SessionLink
from ocpi.outbox import Outbox, wait
from ocpi.transport import ocpi_datetime

log = structlog.get_logger("ocpi.push")

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
            await wait(self._kick, timeout)
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
