"""2.0.1 ReservationStatusUpdate: the station says a reservation ended without being used."""

from __future__ import annotations

from csms.ocpp.router import Payload, StationContext


async def handle_reservation_status_update(ctx: StationContext, payload: Payload) -> Payload:
    """Hand the end of a reservation to the reservation service, then acknowledge it.

    `reservationUpdateStatus` is Expired (unused at expiryDateTime) or Removed (gone for another reason);
    both end the reservation (OCPP 2.0.1 H04, "Reservation ended, not used"). The status word is passed
    on as the station said it.
    """
    reservation_id = payload["reservationId"]
    status = payload["reservationUpdateStatus"]
    ctx.log.info("reservation_status_update", reservation_id=reservation_id, status=status)
    await ctx.domain.reservations.station_update(ctx.charge_point_id, reservation_id, status)
    return {}
