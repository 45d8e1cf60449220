"""OCPI 2.2.1 CDRs, sender interface (we are the CPO): a charge detail record for every finished session.

Route: `GET /ocpi/2.2.1/cdrs?date_from&date_to&offset&limit` (paginated, oldest first; OCPI 2.2.1 CDRs):
the calling partner's CDRs only — those of the sessions it owns (`ocpi.models.PartyScope`: its tokens'
sessions and those it started, never a CSMS-local token's), selected in the store query
(`OcpiStore.list_cdrs(scope=...)`), so X-Total-Count and the pages count only them (OCPI 2.2.1 transport:
"the CPO server might return less CDR objects to an eMSP than the total number of CDRs available").

`create_cdr(ctx, tx)` builds the CDR of a completed transaction whose charge point is in a published
location and stores it once (CDRs are immutable; a second call returns the stored one):

- id = str(transaction id); session_id = the Session's id (`ocpi.sessions.session_id_of`: str(transaction
  id), or `R<reservation id>` when the transaction used a RESERVE_NOW reservation); start/end; `cdr_token`,
  `auth_method`, `authorization_reference` exactly as the Session shows them (`ocpi.sessions`).
- `cdr_location`: the location, EVSE and connector as they are when the CDR is made (the session just
  ended; OCPI asks for the data as of the session start, and we keep no history of location records).
- priced by the session's tariff (`ocpi.sessions.price_transaction`: the tariff the connector had when the
  session started, pinned in its SessionLink): `tariffs` (the Tariff object used), `charging_periods`,
  `total_cost` (zero without a tariff), `total_energy` (kWh), `total_time` (h, parking included), and the
  per-dimension totals `total_fixed_cost`, `total_energy_cost`, `total_time_cost`,
  `total_parking_time`/`total_parking_cost` where they are not zero.
- `signed_data` when the station sent signed meter values (`signed_data_of`: the transaction's signed
  samples, `TransactionStore.list_signed_samples`); absent otherwise.

`install(ctx)` registers the `CdrWriter` transaction listener. At a transaction start it pins the session's
tariff (`ocpi.sessions.pin_tariff`: a few small reads and one write, no pricing). At a stop it only schedules
the CDR's creation in a background task it tracks, so the station's StopTransaction / TransactionEvent
(Ended) is answered without waiting for the pricing; the push feeder POSTs the CDR to partners (waiting for
that task through `ensure_cdr` rather than pricing the session a second time). `settle(ctx)` waits for the
tasks still running (tests; the outbox's `stop`, before the database closes).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import structlog
from aiohttp import web

from csms.domain.events import Order, TransactionStarted, TransactionStopped
from csms.domain.models import MeterSample, SignedMeterValue, Transaction, TransactionStatus
from csms.domain.ports import AlreadyExists
from csms.domain.pricing import SessionCost, decimal_number
from ocpi.context import OcpiContext, context_of, list_response
from ocpi.locations import address_fields, emi3_evse_id, find_connector_spec
from ocpi.models import Cdr, PartyScope
from ocpi.sessions import (
    Place,
    cdr_token_of,
    periods_json,
    pin_tariff,
    place_of,
    price_transaction,
    session_id_of,
    transaction_link,
    used_tariffs,
)
from ocpi.store import Pagination
from ocpi.transport import VERSION, ocpi_datetime, partner_of

log = structlog.get_logger("ocpi.cdrs")

IDENTIFIER = "cdrs"
ROLE = "SENDER"

# OCPI 2.2.1 SignedData.encoding_method CiString(36), .public_key string(512), SignedValue.plain_data
# string(512). (signed_data, string(5000), is bounded where the samples are received.)
ENCODING_METHOD_MAX = 36
PUBLIC_KEY_MAX = 512
PLAIN_DATA_MAX = 512
# encoding_method is required; a 1.6 station names none unless its data does (OCMF).
UNSTATED_ENCODING = "Unknown"
TRANSACTION_END = "Transaction.End"

def cdr_object(cdr: Cdr) -> dict[str, Any]:
    """The OCPI CDR object of a stored CDR."""
    return dict(cdr.data)


async def _cdr_location(ctx: OcpiContext, tx: Transaction, place: Place) -> dict[str, Any]:
    """The CdrLocation: the location's address and the EVSE and connector the transaction used."""
    location = place.location
    evse_id = tx.evse_id if tx.evse_id > 0 else 1
    spec = await find_connector_spec(ctx, tx.charge_point_id, evse_id, tx.connector_id)
    return {
        "id": location.id,
        **address_fields(location),
        "evse_uid": place.evse_uid,
        "evse_id": emi3_evse_id(location.country_code, location.party_id, tx.charge_point_id, evse_id),
        "connector_id": place.connector_id,
        "connector_standard": spec.standard,
        "connector_format": spec.format,
        "connector_power_type": spec.power_type,
    }


def _natures(samples: list[MeterSample]) -> list[str]:
    """OCPI 2.2.1 SignedValue.nature of each signed sample (time order): Start the first, End the last,
    Intermediate those between; a lone one is End if it was taken at Transaction.End, else Start."""
    if len(samples) == 1:
        return ["End" if samples[0].context == TRANSACTION_END else "Start"]
    return ["Start", *["Intermediate"] * (len(samples) - 2), "End"]


def _plain_data(sample: MeterSample) -> str:
    """The reading the signature covers, un-encoded: its value (multiplier applied) and unit, "1234.5 Wh"."""
    return f"{sample.value.scaleb(sample.multiplier):f} {sample.unit}"[:PLAIN_DATA_MAX]


def signed_data_of(samples: list[MeterSample], cdr_id: str) -> dict[str, Any] | None:
    """The OCPI 2.2.1 CDR `signed_data` (SignedData) of a transaction's signed samples, in time order.

    One SignedValue per signed sample (`_natures`), `signed_data` the station's base64 signed meter data.
    SignedData names one encoding and one public key for all of them: those the first sample states (a
    public key longer than OCPI's 512 characters is left out and logged: the eMSP must get it elsewhere).
    None when no sample is signed: the CDR then has no `signed_data`.
    """
    signed = [(s, s.signed_data) for s in samples if s.signed_data is not None]
    if not signed:
        return None
    first: SignedMeterValue = signed[0][1]
    encoding = first.encoding_method or UNSTATED_ENCODING
    data: dict[str, Any] = {"encoding_method": encoding[:ENCODING_METHOD_MAX]}
    if len(first.public_key) > PUBLIC_KEY_MAX:
        log.warning("cdr_public_key_left_out", cdr_id=cdr_id, length=len(first.public_key))
    elif first.public_key:
        data["public_key"] = first.public_key
    natures = _natures([s for s, _ in signed])
    data["signed_values"] = [
        {"nature": nature, "plain_data": _plain_data(s), "signed_data": value.signed_meter_data}
        for nature, (s, value) in zip(natures, signed, strict=True)
    ]
    return data


def _time_totals(cost: SessionCost) -> dict[str, Any]:
    """total_time (always), its cost, and parking time and cost when there were any."""
    totals: dict[str, Any] = {"total_time": decimal_number(cost.total_time_hours)}
    if not cost.time.is_zero():
        totals["total_time_cost"] = cost.time.to_ocpi()
    if cost.total_parking_hours > 0:
        totals["total_parking_time"] = decimal_number(cost.total_parking_hours)
    if not cost.parking.is_zero():
        totals["total_parking_cost"] = cost.parking.to_ocpi()
    return totals


async def create_cdr(ctx: OcpiContext, tx: Transaction) -> Cdr | None:
    """The CDR of a completed transaction, created and stored on first call (idempotent: later calls return
    the stored one). None when the transaction still runs or its charge point is in no published location.

    The push feeder POSTs `cdr.data` to the partners next.
    """
    cdr_id = str(tx.id)
    existing = await ctx.store.get_cdr(cdr_id)
    if existing is not None:
        return existing
    if tx.status is not TransactionStatus.COMPLETED:
        return None
    place = await place_of(ctx, tx.charge_point_id, tx.evse_id, tx.connector_id)
    if place is None:
        return None
    location = place.location
    link = await transaction_link(ctx, tx)
    priced = await price_transaction(ctx, tx, location, link)
    cost = priced.cost
    cdr_location = await _cdr_location(ctx, tx, place)
    now = ctx.clock()
    end = tx.stopped_at or now
    data: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": cdr_id,
        "start_date_time": ocpi_datetime(tx.started_at),
        "end_date_time": ocpi_datetime(end),
        "session_id": session_id_of(tx, link),  # a used reservation's Session id (OCPI 2.2.1 Sessions)
        "cdr_token": await cdr_token_of(ctx, tx.id_token, link),
        "auth_method": link.auth_method if link is not None else "WHITELIST",
    }
    if link is not None and link.authorization_reference:
        data["authorization_reference"] = link.authorization_reference
    data["cdr_location"] = cdr_location
    data["currency"] = priced.currency
    tariffs = used_tariffs(ctx, priced)
    if tariffs:
        data["tariffs"] = tariffs
    data["charging_periods"] = periods_json(cost)
    data["total_cost"] = cost.total.to_ocpi()
    if not cost.fixed.is_zero():
        data["total_fixed_cost"] = cost.fixed.to_ocpi()
    data["total_energy"] = decimal_number(cost.total_energy_kwh)
    if not cost.energy.is_zero():
        data["total_energy_cost"] = cost.energy.to_ocpi()
    data.update(_time_totals(cost))
    # The stop synced the write queue before it published: the final samples are stored.
    signed_data = signed_data_of(await ctx.domain.store.list_signed_samples(tx.id), cdr_id)
    if signed_data is not None:
        data["signed_data"] = signed_data
    data["last_updated"] = ocpi_datetime(now)
    cdr = Cdr(
        id=cdr_id,
        transaction_pk=tx.id,
        data=data,
        total_cost_excl_vat=cost.total.excl_vat,
        last_updated=now,
        org_id=tx.org_id,
    )
    try:
        await ctx.store.save_cdr(cdr)
    except AlreadyExists:  # made meanwhile by another caller: theirs is the record
        stored = await ctx.store.get_cdr(cdr_id)
        if stored is not None:
            return stored
        raise
    log.info(
        "cdr_created",
        cdr_id=cdr_id,
        charge_point_id=tx.charge_point_id,
        total_excl_vat=str(cost.total.excl_vat),
        currency=priced.currency,
    )
    return cdr


class CdrWriter:
    """Subscribed to transaction starts and stops: pins each session's tariff when it starts and creates
    the CDR of every transaction that stops, in a background task (see the module docstring)."""

    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx
        self._tasks: dict[int, asyncio.Task[Cdr | None]] = {}  # transaction pk -> its CDR being made

    async def on_transaction_started(self, event: TransactionStarted) -> None:
        """Pin the tariff the session is priced with (OCPI: frozen as of session start)."""
        await pin_tariff(self._ctx, event.transaction)

    async def on_transaction_stopped(self, event: TransactionStopped) -> None:
        """Schedule the CDR of the transaction and return at once: the station's stop is never held up by
        pricing."""
        tx = event.transaction
        if tx.id in self._tasks:
            return  # a repeated stop: its CDR is being made
        task = asyncio.create_task(self._create(tx), name=f"ocpi-cdr-{tx.id}")
        self._tasks[tx.id] = task
        task.add_done_callback(functools.partial(self._done, tx.id))

    async def _create(self, tx: Transaction) -> Cdr | None:
        try:
            return await create_cdr(self._ctx, tx)
        except Exception:
            log.exception("cdr_creation_failed", transaction_pk=tx.id, charge_point_id=tx.charge_point_id)
            return None

    def _done(self, transaction_pk: int, task: asyncio.Task[Cdr | None]) -> None:
        if self._tasks.get(transaction_pk) is task:
            del self._tasks[transaction_pk]

    @property
    def pending(self) -> int:
        """How many CDRs are being made."""
        return len(self._tasks)

    async def wait_for(self, transaction_pk: int) -> None:
        """Wait until the CDR of that transaction, if it is being made, is stored (or failed, logged)."""
        task = self._tasks.get(transaction_pk)
        if task is not None:
            await asyncio.wait([task])  # never cancels the task, never raises its outcome

    async def settle(self) -> None:
        """Wait until every CDR being made is stored (or failed)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks.values()))  # a cancelled waiter leaves them running


def writer_of(ctx: OcpiContext) -> CdrWriter | None:
    """The installed `CdrWriter` of a context, if any."""
    writer = ctx.cdr_writer
    return writer if isinstance(writer, CdrWriter) else None


async def ensure_cdr(ctx: OcpiContext, tx: Transaction) -> Cdr | None:
    """`create_cdr`, after the `CdrWriter`'s task for `tx` (if one runs) is done: then the stored CDR is
    returned and the session is not priced twice."""
    writer = writer_of(ctx)
    if writer is not None:
        await writer.wait_for(tx.id)
    return await create_cdr(ctx, tx)


async def settle(ctx: OcpiContext) -> None:
    """Wait for the CDRs the installed writer is still making (nothing when none is installed)."""
    writer = writer_of(ctx)
    if writer is not None:
        await writer.settle()


def install(ctx: OcpiContext) -> CdrWriter:
    """Subscribe the `CdrWriter` to transaction starts and stops (once per context; calling it again returns
    the installed writer). It runs at `Order.RECORD`, after the SessionLink makers (authority, commands),
    so the tariff pin updates their links."""
    existing = writer_of(ctx)
    if existing is not None:
        return existing
    writer = CdrWriter(ctx)
    ctx.cdr_writer = writer
    ctx.domain.events.subscribe(TransactionStarted, writer.on_transaction_started, order=Order.RECORD)
    ctx.domain.events.subscribe(TransactionStopped, writer.on_transaction_stopped, order=Order.RECORD)
    return writer


async def handle_list(request: web.Request) -> web.Response:
    """GET {url}: the calling partner's CDRs, paginated (OCPI 2.2.1 CDRs sender)."""
    store = context_of(request).store
    partner = partner_of(request)
    scope = PartyScope.of(partner)

    async def list_page(pagination: Pagination) -> tuple[list[Cdr], int]:
        # Its organization's CDRs only (ADR 0012), of those the ones its scope owns.
        return await store.list_cdrs(pagination, scope=scope, org_id=partner.org_id)

    return await list_response(request, list_page, cdr_object)


def register(app: web.Application) -> None:
    """Add the CDRs sender route `/2.2.1/cdrs` to the OCPI sub-application."""
    app.router.add_get(f"/{VERSION}/{IDENTIFIER}", handle_list, allow_head=False)
