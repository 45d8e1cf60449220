"""2.0.1 NotifyEVChargingNeeds: the EV (ISO 15118) states its energy need and departure time (K15-K17)."""

from __future__ import annotations

from csms.domain.energy.needs import needs_from_ocpp
from csms.ocpp.router import Payload, StationContext


async def handle_notify_ev_charging_needs(ctx: StationContext, payload: Payload) -> Payload:
    """Record the needs on the EVSE's active transaction and answer; the schedule follows.

    Accepted: a schedule will be sent (OCPP 2.0.1 K15.FR.02: SetChargingProfile after the answer, done in
    the background so this answer goes first). Processing: the needs were kept but state no energy amount
    (a DC EV without energyAmount), so no schedule can be computed yet. Rejected: no active transaction on
    that EVSE (the needs of an EV belong to its transaction, K15.FR.01) or a departure time in the past.
    """
    evse_id = payload["evseId"]
    needs = needs_from_ocpp(payload["chargingNeeds"])
    active = await ctx.domain.store.list_active_transactions(ctx.charge_point_id)
    tx = next((t for t in active if t.evse_id == evse_id), None)
    log = ctx.log.bind(evse_id=evse_id, energy_wh=needs.energy_wh, departure=needs.departure)
    if tx is None:
        log.info("ev_charging_needs_rejected", reason="no_transaction")
        return {"status": "Rejected", "statusInfo": {"reasonCode": "NoTransaction"}}
    if needs.departure is not None and needs.departure <= ctx.domain.clock():
        log.info("ev_charging_needs_rejected", reason="departure_passed")
        return {"status": "Rejected", "statusInfo": {"reasonCode": "InvalidValue"}}
    ctx.domain.energy.set_needs_later(tx, needs)
    status = "Processing" if needs.energy_wh is None or needs.departure is None else "Accepted"
    log.info("ev_charging_needs", transaction_id=tx.id, status=status)
    return {"status": status}
