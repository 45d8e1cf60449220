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
- when the session charged on a reservation and its tariff prices reservations: `start_date_time` is the
  reservation's start (OCPI 2.2.1 CDR), the first charging period is its RESERVATION_TIME and
  `total_reservation_cost` its cost (included in `total_cost`).
- `signed_data` when the station sent signed meter values (`signed_data_of`: the transaction's signed
  samples, `TransactionStore.list_signed_samples`); absent otherwise.

`build_cdr` is the pricing and assembly step of `create_cdr`, without storing: a correction
(`ocpi.corrections`) builds its replacement CDR with it, priced again the same way (optionally with another
tariff or a corrected energy). A CDR is never edited: a correction stores a credit CDR and a replacement next
to it, and the list above includes them (they are of the same transaction, hence the same owner).

`create_reservation_cdr(ctx, reservation)` bills a RESERVE_NOW reservation that expired or was cancelled
unused, when its tariff has reservation elements: CDR id `R<reservation id>` (the Session's id), the
reservation cost alone; the push of its COMPLETED Session POSTs it (`ocpi.push.push_reservation_session`).

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

from csms.domain.clock import to_utc
from csms.domain.events import Order, TransactionStarted, TransactionStopped
from csms.domain.models import (
    MeterSample,
    Reservation,
    ReservationStatus,
    SignedMeterValue,
    Transaction,
    TransactionStatus,
)
from csms.domain.ports import AlreadyExists
from csms.domain.pricing import PricingTariff, SessionCost, decimal_number, price_session, prices_reservations
from ocpi.context import OcpiContext, context_of, list_response
from ocpi.locations import address_fields, emi3_evse_id, find_connector_spec
from ocpi.models import Cdr, PartyScope, Tariff
from ocpi.sessions import (
    Place,
    Priced,
    cdr_token_of,
    connector_tariff,
    periods_json,
    pin_tariff,
    place_of,
    price_transaction,
    reservation_began,
    reservation_ended,
    session_id_of,
    transaction_link,
    used_tariffs,
    zone_of,
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
REMARK_MAX = 255  # OCPI 2.2.1 CDR.remark string(255)
# encoding_method is required; a 1.6 station names none unless its data does (OCMF).
UNSTATED_ENCODING = "Unknown"
TRANSACTION_END = "Transaction.End"
# Reservation.reason of a reservation the partner's own RESERVE_NOW replaced (csms.domain.reservations)
REPLACED = "replaced"


def cdr_object(cdr: Cdr) -> dict[str, Any]:
    """The OCPI CDR object of a stored CDR."""
    return dict(cdr.data)


async def _cdr_location(
    ctx: OcpiContext, charge_point_id: str, evse_id: int, connector_id: int, place: Place
) -> dict[str, Any]:
    """The CdrLocation: the location's address and the EVSE and connector the session used."""
    location = place.location
    evse_id = evse_id if evse_id > 0 else 1
    spec = await find_connector_spec(ctx, charge_point_id, evse_id, connector_id)
    return {
        "id": location.id,
        **address_fields(location),
        "evse_uid": place.evse_uid,
        "evse_id": emi3_evse_id(location.country_code, location.party_id, charge_point_id, evse_id),
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


def _priced_fields(ctx: OcpiContext, priced: Priced) -> dict[str, Any]:
    """tariffs, charging_periods and every total of a priced session (the per-dimension costs and the
    parking time only where they are not zero)."""
    cost = priced.cost
    data: dict[str, Any] = {}
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
    if not cost.reservation.is_zero():
        data["total_reservation_cost"] = cost.reservation.to_ocpi()
    return data


async def _save(ctx: OcpiContext, cdr: Cdr) -> Cdr:
    """Store a new CDR; when another caller stored one for it meanwhile, theirs is the record."""
    try:
        await ctx.store.save_cdr(cdr)
    except AlreadyExists:
        stored = await ctx.store.get_cdr(cdr.id)
        if stored is not None:
            return stored
        raise
    return cdr


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
    cdr = await build_cdr(ctx, tx, cdr_id)
    if cdr is None:
        return None
    saved = await _save(ctx, cdr)
    if saved is not cdr:  # made meanwhile by another caller: theirs is the record
        return saved
    log.info(
        "cdr_created",
        cdr_id=cdr_id,
        charge_point_id=tx.charge_point_id,
        total_excl_vat=str(cdr.total_cost_excl_vat),
        currency=cdr.data["currency"],
    )
    return cdr


async def build_cdr(
    ctx: OcpiContext,
    tx: Transaction,
    cdr_id: str,
    *,
    tariff: tuple[Tariff, PricingTariff] | None = None,
    energy_wh: int | None = None,
    remark: str | None = None,
) -> Cdr | None:
    """The CDR `cdr_id` of a finished transaction, priced now (`price_transaction`), not stored: the
    caller saves it. None when its charge point is in no published location.

    Args:
        tariff, energy_wh: a correction's tariff (stored, parsed) and energy (Wh) instead of the session's
            (`price_transaction`). With a corrected energy the station's `signed_data` is left out: its
            signed readings no longer add up to the CDR's `total_energy`.
        remark: the CDR's `remark` (OCPI string(255), cut to that).
    """
    place = await place_of(ctx, tx.charge_point_id, tx.evse_id, tx.connector_id)
    if place is None:
        return None
    location = place.location
    link = await transaction_link(ctx, tx)
    priced = await price_transaction(ctx, tx, location, link, tariff=tariff, energy_wh=energy_wh)
    cost = priced.cost
    cdr_location = await _cdr_location(ctx, tx.charge_point_id, tx.evse_id, tx.connector_id, place)
    now = ctx.clock()
    end = tx.stopped_at or now
    data: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": cdr_id,
        # OCPI 2.2.1 CDR.start_date_time: with a reservation before the session, the reservation's start
        "start_date_time": ocpi_datetime(priced.reserved_from or tx.started_at),
        "end_date_time": ocpi_datetime(end),
        "session_id": session_id_of(tx, link),  # a used reservation's Session id (OCPI 2.2.1 Sessions)
        "cdr_token": await cdr_token_of(ctx, tx.id_token, link),
        "auth_method": link.auth_method if link is not None else "WHITELIST",
    }
    if link is not None and link.authorization_reference:
        data["authorization_reference"] = link.authorization_reference
    data["cdr_location"] = cdr_location
    data["currency"] = priced.currency
    data.update(_priced_fields(ctx, priced))
    # The stop synced the write queue before it published: the final samples are stored.
    signed_data = None
    if energy_wh is None:
        signed_data = signed_data_of(await ctx.domain.store.list_signed_samples(tx.id), cdr_id)
    if signed_data is not None:
        data["signed_data"] = signed_data
    if remark:
        data["remark"] = remark[:REMARK_MAX]
    data["last_updated"] = ocpi_datetime(now)
    return Cdr(
        id=cdr_id,
        transaction_pk=tx.id,
        data=data,
        total_cost_excl_vat=cost.total.excl_vat,
        last_updated=now,
        org_id=tx.org_id,
    )


def reservation_cdr_pk(reservation_id: int) -> int:
    """`Cdr.transaction_pk` of an unused reservation's CDR: minus the reservation id (no transaction has
    one; transaction ids are positive, so it never collides with a transaction's CDR)."""
    return -reservation_id


async def create_reservation_cdr(ctx: OcpiContext, reservation: Reservation) -> Cdr | None:
    """The CDR of a RESERVE_NOW reservation that ended unused (OCPI 2.2.1 Sessions: "RESERVATION →
    COMPLETED … a reservation-cost CDR is allowed"), created and stored on first call (idempotent).

    Only when the reservation expired or was cancelled (not replaced by the partner's own RESERVE_NOW: its
    reservation goes on) and the tariff of its connector valid when it was made has reservation elements
    (`prices_reservations`; without them, no CDR). Priced by `price_session` with only the reservation:
    from when it was made until it ended (`sessions.reservation_ended`), by RESERVATION elements, and by
    RESERVATION_EXPIRES ones too when it expired. id and session_id `R<reservation id>`,
    `total_energy` 0, `total_time` 0 (no charging), `total_reservation_cost`; transaction_pk
    `reservation_cdr_pk`. None when none is due (still active, used, not made through OCPI, unpublished
    location, no such tariff).
    """
    cdr_id = f"R{reservation.id}"
    existing = await ctx.store.get_cdr(cdr_id)
    if existing is not None:
        return existing
    ended = reservation.status in (ReservationStatus.EXPIRED, ReservationStatus.CANCELLED)
    if not ended or reservation.reason == REPLACED:
        return None
    link = await ctx.store.get_session_link(cdr_id)
    if link is None or link.transaction_pk is not None:
        return None
    cp_id = reservation.charge_point_id
    evse_id = reservation.evse_id or 1  # any EVSE of the station: priced and located as its first
    connectors = [
        c.connector_id
        for c in await ctx.domain.store.list_connectors(cp_id)
        if c.evse_id == evse_id and c.connector_id > 0
    ]
    connector_id = min(connectors, default=1)
    place = await place_of(ctx, cp_id, evse_id, connector_id)
    if place is None:
        return None
    now = ctx.clock()
    began = to_utc(reservation_began(reservation, link, now))
    end = max(reservation_ended(reservation, now), began)
    found = await connector_tariff(ctx, cp_id, evse_id, connector_id, began)
    if found is None or not prices_reservations(found[1]):
        return None
    stored, parsed = found
    cost = price_session(
        parsed,
        start=end,
        end=end,
        energy_wh=0,
        time_zone=zone_of(place.location),
        reserved_from=began,
        reservation_expired=reservation.status is ReservationStatus.EXPIRED,
        reservation_only=True,
    )
    if not cost.charging_periods:
        return None  # no reservation time at all: nothing to bill (OCPI: at least one charging period)
    priced = Priced(cost, stored, stored.currency or ctx.config.currency, began)
    location = place.location
    data: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": cdr_id,
        "start_date_time": ocpi_datetime(began),
        "end_date_time": ocpi_datetime(end),
        "session_id": link.session_id,
        "cdr_token": await cdr_token_of(ctx, reservation.id_token, link),
        "auth_method": link.auth_method,
    }
    if link.authorization_reference:
        data["authorization_reference"] = link.authorization_reference
    data["cdr_location"] = await _cdr_location(ctx, cp_id, evse_id, connector_id, place)
    data["currency"] = priced.currency
    data.update(_priced_fields(ctx, priced))
    data["last_updated"] = ocpi_datetime(now)
    cdr = Cdr(
        id=cdr_id,
        transaction_pk=reservation_cdr_pk(reservation.id),
        data=data,
        total_cost_excl_vat=cost.total.excl_vat,
        last_updated=now,
        org_id=reservation.org_id,  # its charge point's organization (ADR 0012)
    )
    saved = await _save(ctx, cdr)
    if saved is cdr:
        log.info(
            "reservation_cdr_created",
            cdr_id=cdr_id,
            charge_point_id=cp_id,
            total_excl_vat=str(cost.total.excl_vat),
            currency=priced.currency,
        )
    return saved


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
