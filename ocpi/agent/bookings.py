"""Bookings: a reservation of one EVSE for a window, made with OCPI RESERVE_NOW and followed to the session.

What moves a booking (ADR 0024; statuses in `ocpi.agent.models.BookingStatus`):

- `create`: checked against the CPO's cached data, stored REQUESTED; RESERVE_NOW is sent at once when the
  window has begun, else by the ticker when it begins (`expiry_date` = the window's end, `reservation_id`
  = the booking id). The CPO's answer: ACCEPTED → PENDING; REJECTED, NOT_SUPPORTED → REJECTED; unreachable
  → FAILED.
- The CommandResult (`on_result`): ACCEPTED → CONFIRMED; REJECTED → REJECTED; any other (FAILED,
  EVSE_OCCUPIED, EVSE_INOPERATIVE, TIMEOUT, UNKNOWN_RESERVATION, NOT_SUPPORTED) → FAILED, with the result
  and the CPO's message as `reason`. CANCELED_RESERVATION later (the CPO ended the reservation: it lapsed,
  or its operator cancelled it) → NO_SHOW once the window is over, else FAILED.
- The CPO's Session pushes (`on_session`): an ACTIVE session of the booking's token at its location and
  EVSE → ACTIVE (a session in status RESERVATION is the reservation itself, not the driver; from PENDING or
  CONFIRMED: a driver may arrive before the confirmation is in); that session
  COMPLETED → COMPLETED. The CDR (`on_cdr`) makes the price final (also moving an ACTIVE booking to
  COMPLETED, should the CDR overtake the session's last push).
- The ticker (`tick`, every `[agent] tick_seconds`): a window that ended with the booking still REQUESTED
  or PENDING → EXPIRED; CONFIRMED → NO_SHOW.
- `cancel`: REQUESTED and PENDING → CANCELLED free of charge (a PENDING one also gets CANCEL_RESERVATION);
  CONFIRMED → CANCEL_RESERVATION, CANCELLED, priced at the CPO's cancellation fee plus the client's fee.

Every move is a compare-and-set on the stored status (`SqlAgentStore.move_booking`), so an event arriving
twice, or two events racing, move a booking once; each move is then told to `notify` (the client's
webhook). Sending RESERVE_NOW is claimed the same way first (`SqlAgentStore.claim_reservation`), so a
create and a tick, or the tickers of several processes, send it once; a booking cancelled while its
RESERVE_NOW was under way gets CANCEL_RESERVATION once the CPO accepted it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog

from csms.config import AgentConfig
from csms.domain.clock import Clock
from ocpi.agent.models import CLAIM_PREFIX, FINAL, FREE_CANCELLATION, AgentClient, Booking, BookingStatus
from ocpi.agent.pricing import cdr_cost, client_price, tariff_cost
from ocpi.agent.search import connector_power_kw
from ocpi.agent.store import SqlAgentStore
from ocpi.emsp.network import (
    CANCEL_RESERVATION,
    RESERVE_NOW,
    CdrReceived,
    CommandResponse,
    CommandResult,
    Cpo,
    CpoNetwork,
    CpoUnavailable,
    NetworkListener,
    SessionUpdate,
)
from ocpi.transport import ocpi_datetime

log = structlog.get_logger("ocpi.agent")

S = BookingStatus
WAITING = (S.REQUESTED, S.PENDING)
HELD = (S.REQUESTED, S.PENDING, S.CONFIRMED)
# How long a claim to send a booking's RESERVE_NOW holds (`SqlAgentStore.claim_reservation`): far above one
# command's HTTP round trip, so only a sender that died mid-way loses it and the ticker sends again.
CLAIM_LEASE = timedelta(minutes=2)


class BookingError(Exception):
    """A booking cannot be made or changed; `status` is the HTTP status, `code` the stable error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BookingService:
    """Makes and follows bookings (see the module docstring)."""

    def __init__(
        self,
        store: SqlAgentStore,
        network: CpoNetwork,
        config: AgentConfig,
        clock: Clock,
        notify: Callable[[Booking], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._network = network
        self._config = config
        self._clock = clock
        self._notify = notify
        self._task: asyncio.Task[None] | None = None
        network.subscribe(
            NetworkListener(command_result=self.on_result, session=self.on_session, cdr=self.on_cdr)
        )

    # -- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Run the ticker (RESERVE_NOW when a window begins, EXPIRED / NO_SHOW when it ends)."""
        if self._task is None:
            self._task = asyncio.create_task(self._tick_loop(), name="agent-bookings")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _tick_loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the next tick tries again
                log.exception("agent_tick_failed")
            await asyncio.sleep(self._config.tick_seconds)

    async def tick(self) -> None:
        """Send the RESERVE_NOWs whose window began; end the bookings whose window ended unused."""
        now = self._clock()
        for booking in await self._store.list_bookings(statuses=HELD, limit=10_000):
            if booking.end <= now:
                final = S.NO_SHOW if booking.status is S.CONFIRMED else S.EXPIRED
                await self._move(booking, (booking.status,), final, reason="the booked window ended unused")
            elif booking.status is S.REQUESTED and booking.start <= now:
                await self._reserve(booking)

    # -- making one --------------------------------------------------------------------------------------

    async def create(
        self,
        client: AgentClient,
        *,
        cpo_party_id: str,
        location_id: str,
        evse_uid: str,
        start: datetime,
        duration_minutes: int,
        driver_token: str,
    ) -> Booking:
        """Check and store a booking; RESERVE_NOW goes out now when `start` is not in the future.

        Raises:
            BookingError: 404 `unknown_cpo` / `unknown_location` / `unknown_evse` / `unknown_token`,
                422 `not_reservable`, `duration_too_long`, `window_over`.
        """
        cpo = await self._cpo(cpo_party_id)
        limit = int(cpo.max_reservation.total_seconds() // 60)
        if duration_minutes > limit:
            raise BookingError(
                422, "duration_too_long", f"{cpo.name} takes reservations of {limit} minutes at most"
            )
        end = start + timedelta(minutes=duration_minutes)
        if end <= self._clock():
            raise BookingError(422, "window_over", "the booked window is already over")
        location, evse, tariffs = await self._evse(cpo, location_id, evse_uid)
        if await self._network.token(driver_token) is None:
            raise BookingError(404, "unknown_token", f"no driver token {driver_token!r}")
        booking = Booking(
            id=str(uuid.uuid4()),
            client_id=client.id,
            cpo_id=cpo.id,
            cpo_party_id=cpo.party_id,
            location_id=location_id,
            evse_uid=evse_uid,
            driver_token=driver_token,
            start=start,
            end=end,
            price=self._estimate(client, location, evse, tariffs, start, end),
        )
        booking = await self._store.add_booking(booking)
        log.info("agent_booking_requested", booking_id=booking.id, client_id=client.id, cpo=cpo.party_id,
                 location_id=location_id, evse_uid=evse_uid)  # fmt: skip
        await self._told(booking)
        if start <= self._clock():
            booking = await self._reserve(booking)
        return booking

    async def _cpo(self, party_id: str) -> Cpo:
        for cpo in await self._network.cpos():
            if cpo.party_id.upper() == party_id.upper():
                if not cpo.supports_reservation:
                    raise BookingError(422, "not_reservable", f"{cpo.name} takes no reservations")
                return cpo
        raise BookingError(404, "unknown_cpo", f"no connected CPO {party_id!r}")

    async def _evse(
        self, cpo: Cpo, location_id: str, evse_uid: str
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
        max_age = timedelta(seconds=self._config.search_max_age_seconds)
        try:
            cached = await self._network.locations(cpo.id, max_age=max_age)
        except CpoUnavailable as exc:
            raise BookingError(502, "cpo_unavailable", exc.message) from None
        location = next((loc for loc in cached.locations if loc.get("id") == location_id), None)
        if location is None:
            raise BookingError(404, "unknown_location", f"{cpo.name} has no location {location_id!r}")
        evse = next((e for e in location.get("evses") or [] if e.get("uid") == evse_uid), None)
        if evse is None:
            raise BookingError(404, "unknown_evse", f"location {location_id!r} has no EVSE {evse_uid!r}")
        if "RESERVABLE" not in (evse.get("capabilities") or []):
            raise BookingError(422, "not_reservable", f"EVSE {evse_uid!r} cannot be reserved")
        return location, evse, dict(cached.tariffs)

    def _estimate(
        self,
        client: AgentClient,
        location: dict[str, Any],
        evse: dict[str, Any],
        tariffs: dict[str, dict[str, Any]],
        start: datetime,
        end: datetime,
    ) -> dict[str, Any]:
        """The client price of the window: charging at the EVSE's first connector's power, at most
        `[agent] estimate_kwh`, under its first tariff."""
        connector = (evse.get("connectors") or [{}])[0]
        hours = Decimal(int((end - start).total_seconds())) / 3600
        energy_wh = int(
            min(connector_power_kw(connector) * hours, Decimal(str(self._config.estimate_kwh))) * 1000
        )
        tariff_ids = connector.get("tariff_ids") or []
        tariff = tariffs.get(tariff_ids[0]) if tariff_ids else None
        cost, reason = tariff_cost(
            tariff,
            start=start,
            end=end,
            energy_wh=energy_wh,
            time_zone=str(location.get("time_zone") or "UTC"),
        )
        if tariff_ids and tariff is None:
            cost, reason = None, "the CPO did not share the connector's tariff"
        if cost is None:
            return {"currency": "EUR", "total": None, "reason": reason, "final": False}
        price = client_price(cost, client.reservation_fee, client.commission_percent).json()
        return price | {"assumes": {"energy_kwh": str(Decimal(energy_wh) / 1000)}}

    async def _reserve(self, booking: Booking) -> Booking:
        """Send RESERVE_NOW; PENDING, REJECTED or FAILED by the CPO's answer. Nothing is sent while another
        sender (a tick, a create, another process) holds the booking's claim."""
        claim = f"{CLAIM_PREFIX}{uuid.uuid4().hex[:24]}"
        stale_before = self._clock() - CLAIM_LEASE
        if not await self._store.claim_reservation(booking.id, claim, stale_before):
            return booking
        booking.command_id = claim
        token = await self._network.token(booking.driver_token)
        if token is None:
            await self._move(booking, (S.REQUESTED,), S.FAILED, reason="the driver token no longer exists")
            return booking
        body = {
            "token": token,
            "expiry_date": ocpi_datetime(booking.end),
            "reservation_id": booking.id,
            "location_id": booking.location_id,
            "evse_uid": booking.evse_uid,
        }
        try:
            sent = await self._network.send_command(booking.cpo_id, RESERVE_NOW, body)
        except CpoUnavailable as exc:
            await self._move(booking, (S.REQUESTED,), S.FAILED, reason=exc.message)
            return booking
        if sent.response is CommandResponse.ACCEPTED:
            if not await self._move(booking, (S.REQUESTED,), S.PENDING, command_id=sent.command_id):
                await self._withdraw(booking)
        elif sent.response is CommandResponse.UNREACHABLE:
            await self._move(
                booking, (S.REQUESTED,), S.FAILED, reason=sent.message or "the CPO did not answer"
            )
        else:
            reason = f"{sent.response}: {sent.message}" if sent.message else str(sent.response)
            await self._move(booking, (S.REQUESTED,), S.REJECTED, reason=reason, command_id=sent.command_id)
        return booking

    async def _withdraw(self, booking: Booking) -> None:
        """The CPO accepted a RESERVE_NOW for a booking that moved meanwhile (the client cancelled it while
        the command was under way): cancel the reservation again, or the EVSE would stay held for nobody."""
        current = await self._store.get_booking(booking.id)
        if current is None or current.status is not S.CANCELLED:
            return
        log.info("agent_reservation_withdrawn", booking_id=booking.id)
        try:
            body = {"reservation_id": booking.id}
            await self._network.send_command(booking.cpo_id, CANCEL_RESERVATION, body)
        except CpoUnavailable as exc:  # the reservation lapses at its expiry anyway
            log.warning("agent_cancel_not_sent", booking_id=booking.id, error=exc.message)

    # -- what the CPO tells ------------------------------------------------------------------------------

    async def on_result(self, result: CommandResult) -> None:
        """A RESERVE_NOW's result (see the module docstring); other commands' results change nothing."""
        if result.command != RESERVE_NOW:
            return
        booking = await self._store.booking_of_command(result.command_id)
        if booking is None:
            return
        reason = f"{result.result}: {result.message}" if result.message else result.result
        if result.result == "ACCEPTED":
            await self._move(booking, (S.PENDING,), S.CONFIRMED)
        elif result.result == "CANCELED_RESERVATION":
            over = self._clock() >= booking.end - timedelta(seconds=self._config.tick_seconds * 2)
            await self._move(booking, HELD, S.NO_SHOW if over else S.FAILED, reason=reason)
        elif result.result == "REJECTED":
            await self._move(booking, (S.PENDING,), S.REJECTED, reason=reason)
        else:
            await self._move(booking, (S.PENDING,), S.FAILED, reason=reason)

    async def on_session(self, update: SessionUpdate) -> None:
        """The driver's session at the booked EVSE: ACTIVE, then COMPLETED."""
        session = update.session
        uid = (session.get("cdr_token") or {}).get("uid")
        location_id, evse_uid = session.get("location_id"), session.get("evse_uid")
        if not (uid and location_id and evse_uid and session.get("id")):
            return
        session_id, status = str(session["id"]), session.get("status")
        booking = await self._store.booking_of_session(update.cpo_id, session_id)
        if booking is None:
            if status not in ("ACTIVE", "COMPLETED"):
                return  # RESERVATION (the CPO's session of the reservation) or PENDING: no charging yet
            booking = await self._store.find_booking(
                update.cpo_id, str(uid), str(location_id), str(evse_uid), (S.PENDING, S.CONFIRMED)
            )
            if booking is None:
                return
            await self._move(booking, (S.PENDING, S.CONFIRMED), S.ACTIVE, session_id=session_id)
        if status in ("COMPLETED", "INVALID"):
            await self._move(booking, (S.ACTIVE,), S.COMPLETED)

    async def on_cdr(self, received: CdrReceived) -> None:
        """The session's CDR: the final price (the CDR's cost plus the client's fee and commission)."""
        session_id = received.cdr.get("session_id")
        booking = (
            None
            if session_id is None
            else await self._store.booking_of_session(received.cpo_id, str(session_id))
        )
        if booking is None:
            return
        client = await self._store.get_client(booking.client_id)
        cost = cdr_cost(received.cdr)
        if client is None or cost is None:
            return
        price = client_price(cost, client.reservation_fee, client.commission_percent, final=True).json()
        price["cdr_id"] = received.cdr.get("id")
        await self._move(booking, (S.ACTIVE, S.COMPLETED), S.COMPLETED, price=price)

    # -- cancelling --------------------------------------------------------------------------------------

    async def cancel(self, booking: Booking) -> Booking:
        """The client cancels (see the module docstring).

        Raises:
            BookingError: 409 `not_cancellable` when the booking is ACTIVE or over.
        """
        if booking.status in FINAL or booking.status is S.ACTIVE:
            raise BookingError(
                409, "not_cancellable", f"a booking that is {booking.status} cannot be cancelled"
            )
        was = booking.status
        client = await self._store.get_client(booking.client_id)
        if was in FREE_CANCELLATION:
            price = {**booking.price, **client_price(Decimal(0), Decimal(0), Decimal(0), final=True).json()}
        else:
            fee = await self._cancellation_fee(booking.cpo_id)
            fees = (
                (client.reservation_fee, client.commission_percent)
                if client is not None
                else (Decimal(0),) * 2
            )
            price = {**booking.price, **client_price(fee, *fees, final=True).json()}
        if not await self._move(booking, (was,), S.CANCELLED, price=price, reason="cancelled by the client"):
            current = await self._store.get_booking(booking.id)
            return await self.cancel(current) if current is not None else booking
        if was is not S.REQUESTED:
            try:
                await self._network.send_command(
                    booking.cpo_id, CANCEL_RESERVATION, {"reservation_id": booking.id}
                )
            except CpoUnavailable as exc:  # the reservation lapses at its expiry anyway
                log.warning("agent_cancel_not_sent", booking_id=booking.id, error=exc.message)
        return booking

    async def _cancellation_fee(self, cpo_id: int) -> Decimal:
        for cpo in await self._network.cpos():
            if cpo.id == cpo_id:
                return Decimal(cpo.cancellation_fee)
        return Decimal(0)

    # -- moving ------------------------------------------------------------------------------------------

    async def _move(
        self, booking: Booking, expected: Collection[BookingStatus], status: BookingStatus, **fields: Any
    ) -> bool:
        """Compare-and-set the booking into `status` with `fields`; `booking` is updated when it moved."""
        if booking.status not in expected:
            return False
        moved = dataclasses.replace(booking, status=status, **fields)
        if not await self._store.move_booking(moved, expected):
            return False
        for f in dataclasses.fields(Booking):
            setattr(booking, f.name, getattr(moved, f.name))
        log.info("agent_booking_moved", booking_id=booking.id, status=str(status), reason=booking.reason)
        await self._told(booking)
        return True

    async def _told(self, booking: Booking) -> None:
        if self._notify is not None:
            try:
                await self._notify(booking)
            except Exception:  # a webhook's trouble never undoes a move
                log.exception("agent_notify_failed", booking_id=booking.id)
