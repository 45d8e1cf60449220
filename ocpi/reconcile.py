"""Start-up reconciliation: what partners were promised, compared with what is committed (issue 10, "nothing
lost across restarts").

The push feeder (`ocpi.push.PushFeeder`) notes domain events and turns them into outbox entries a moment
later (EVSE statuses every ~1 s, meter updates every ~2 s); the outbox is durable, the noted events are not.
A process that dies in between (SIGKILL, OOM, power cut) leaves committed state — a status, the energy of a
running session, a stop, a CDR not yet made — that no partner will ever be told about. At start, before the
outbox and the feeder run, `reconcile` compares, per partner and object, the committed state with what the
outbox holds for it (SENT or still PENDING: the partner has it or will get it, in order) and queues what is
missing:

- **Sessions** of transactions changed within the window: the Session as it is now is PUT (whole: OCPI 2.2.1
  PUT replaces the object) to each owning partner whose last known state (the PUT and PATCH bodies folded in
  order) differs in status, kWh, cost or end; a completed session without a CDR gets it made
  (`cdrs.ensure_cdr`) and POSTed to its owners that have no POST of it.
- **EVSE statuses** of connectors reported within the window: PATCHed where the last pushed status differs
  from the current one (UNKNOWN while the station has not reconnected, as a clean shutdown would have
  pushed).

Objects are keyed as the feeder keys them, so what reconciliation queues is delivered after what was queued
before the crash and before what the feeder queues next. Unchanged objects queue nothing: reconciling twice
queues nothing the second time. Several nodes starting at once may both queue the same missing push (an
idempotent PUT or PATCH; a CDR POST the eMSP knows by id).

The window (`[ocpi] reconcile_window_seconds`, 0 = off) bounds the start-up work to what may have been lost
recently: a process that was down longer than the window is not expected to remember.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from csms.domain.models import Transaction, TransactionStatus
from csms.domain.ports import Pagination
from ocpi import cdrs, locations, partners, sessions
from ocpi.context import OcpiContext
from ocpi.models import Cdr, OutboxEntry, OutboxStatus, Partner
from ocpi.outbox import Outbox
from ocpi.push import closed_periods, owns
from ocpi.transport import ocpi_datetime

log = structlog.get_logger("ocpi.reconcile")

_PAGE = 500  # transactions read per query
_SESSION_FIELDS = ("status", "kwh", "total_cost", "end_date_time")  # what a partner must end up with


@dataclass(slots=True)
class Known:
    """What one partner was sent, or will be, of one object: the outbox entries folded in order."""

    session: dict[str, Any] | None = None
    cdr_posted: bool = False
    evse_status: str | None = None


@dataclass(slots=True)
class Reconciled:
    """How many pushes reconciliation queued, by kind."""

    sessions: int = 0
    cdrs: int = 0
    evses: int = 0


def fold(entries: list[OutboxEntry]) -> dict[tuple[int, str], Known]:
    """Per (partner, object key), what the partner has or will get: PUT replaces, PATCH merges, a CDR
    POST marks the CDR as sent. FAILED entries never reached the partner and are left out.

    Args:
        entries: oldest first per object key (`OcpiStore.outbox_of_objects`).
    """
    known: dict[tuple[int, str], Known] = {}
    for entry in entries:
        if entry.status is OutboxStatus.FAILED or not isinstance(entry.body, dict):
            continue
        k = known.setdefault((entry.partner_id, entry.object_key), Known())
        body = entry.body
        if entry.module == "cdrs":
            k.cdr_posted = True
        elif entry.module == "sessions":
            k.session = dict(body) if entry.method == "PUT" else {**(k.session or {}), **body}
        elif entry.module == "locations" and "status" in body:
            k.evse_status = str(body["status"])
    return known


async def reconcile(ctx: OcpiContext, outbox: Outbox, since: datetime) -> Reconciled:
    """Queue what partners are missing of sessions, CDRs and EVSE statuses changed at or after `since`
    (see the module docstring); returns what was queued. Call before the outbox and the feeder start."""
    done = Reconciled()
    await _reconcile_sessions(ctx, outbox, since, done)
    await _reconcile_evses(ctx, outbox, since, done)
    log.info("ocpi_reconciled", since=ocpi_datetime(since), sessions=done.sessions, cdrs=done.cdrs,
             evses=done.evses)  # fmt: skip
    return done


# -- sessions and CDRs -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Current:
    session: dict[str, Any]
    cdr: Cdr | None
    owners: list[Partner]

    @property
    def key(self) -> str:
        return f"session:{self.session['id']}"


async def _transactions_since(ctx: OcpiContext, since: datetime) -> list[Transaction]:
    found: list[Transaction] = []
    offset = 0
    while True:
        page, total = await ctx.domain.store.list_transactions_updated(
            Pagination(date_from=since, offset=offset, limit=_PAGE)
        )
        found += page
        offset += len(page)
        if not page or offset >= total:
            return found


async def _current(ctx: OcpiContext, tx: Transaction, partners: list[Partner]) -> _Current | None:
    # Ownership first, from the link alone: a session of a local token (most of them, often) is neither
    # priced nor given a CDR here.
    link = await sessions.transaction_link(ctx, tx)
    owners = [] if link is None else [p for p in partners if owns(p, link)]
    if not owners:
        return None
    cdr = await cdrs.ensure_cdr(ctx, tx) if tx.status is TransactionStatus.COMPLETED else None
    session = await sessions.session_object(ctx, tx)
    return None if session is None else _Current(session, cdr, owners)


async def _reconcile_sessions(ctx: OcpiContext, outbox: Outbox, since: datetime, done: Reconciled) -> None:
    partners = await ctx.store.list_partners()
    transactions = await _transactions_since(ctx, since)
    current = [c for tx in transactions if (c := await _current(ctx, tx, partners))]
    known = fold(await ctx.store.outbox_of_objects({c.key for c in current}))
    urls = {module: await _receiver_urls(ctx, module) for module in ("sessions", "cdrs")}
    for c in current:
        suffix = f"/{c.session['country_code']}/{c.session['party_id']}/{c.session['id']}"
        for partner in c.owners:
            k = known.get((partner.id, c.key), Known())
            if _differs(k.session, c.session):
                body = {**c.session, "charging_periods": closed_periods(c.session)}
                await _enqueue(outbox, urls, partner, "sessions", c.key, "PUT", suffix, body)
                done.sessions += 1
            if c.cdr is not None and not k.cdr_posted:
                await _enqueue(outbox, urls, partner, "cdrs", c.key, "POST", "", c.cdr.data)
                done.cdrs += 1


def _differs(known: dict[str, Any] | None, session: dict[str, Any]) -> bool:
    if known is None:
        return True
    return any(known.get(name) != session.get(name) for name in _SESSION_FIELDS)


async def _receiver_urls(ctx: OcpiContext, module: str) -> dict[int, str]:
    """Partner id -> its receiver URL of `module` (read once per reconciliation, not once per push)."""
    return {partner.id: url for partner, url in await partners.receivers(ctx, module)}


async def _enqueue(
    outbox: Outbox, urls: dict[str, dict[int, str]], partner: Partner, module: str, key: str, method: str,
    suffix: str, body: dict[str, Any],
) -> None:  # fmt: skip
    url = urls[module].get(partner.id)
    if url is not None:  # a partner without that receiver endpoint is not pushed to
        await outbox.enqueue(partner, module, key, method, url.rstrip("/") + suffix, body)
        log.info("ocpi_reconcile_queued", partner_id=partner.id, module=module, object_key=key,
                 method=method)  # fmt: skip


# -- EVSE statuses ---------------------------------------------------------------------------------------


async def _reconcile_evses(ctx: OcpiContext, outbox: Outbox, since: datetime, done: Reconciled) -> None:
    receivers = await partners.receivers(ctx, "locations")
    if not receivers:
        return  # no partner takes EVSE pushes: none can be missing (and nothing need be read)
    reported = await ctx.domain.store.list_connectors_reported_since(since)
    current: dict[str, tuple[str, str]] = {}  # EVSE uid -> (URL suffix, OCPI status)
    # Read in bulk: a restart after a crash meets every station that reported within the window (tens
    # of thousands), so one station at a time would hold the start-up for minutes.
    stations = {c.charge_point_id for c in reported}
    for location, _, evses in await locations.published_evse_objects(ctx, stations):
        for evse in evses:
            uid = str(evse["uid"])
            suffix = f"/{location.country_code}/{location.party_id}/{location.id}/{uid}"
            current[uid] = (suffix, str(evse["status"]))
    if not current:
        return
    known = fold(await ctx.store.outbox_of_objects({f"evse:{uid}" for uid in current}))
    for uid, (suffix, status) in sorted(current.items()):
        key = f"evse:{uid}"
        for partner, url in receivers:
            last = known.get((partner.id, key))
            if last is None or last.evse_status in (None, status):
                continue  # never pushed a status (the partner has what it pulled), or it has this one
            body = {"status": status, "last_updated": ocpi_datetime(ctx.clock())}
            await outbox.enqueue(partner, "locations", key, "PATCH", url.rstrip("/") + suffix, body)
            done.evses += 1
