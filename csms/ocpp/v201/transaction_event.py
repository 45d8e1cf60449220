"""2.0.1 TransactionEvent (Started / Updated / Ended) → TransactionService."""

from __future__ import annotations

from csms.domain.clock import parse_datetime
from csms.domain.models import (
    AuthorizationResult,
    AuthorizationStatus,
    MeterReading,
    NewTransaction,
    TransactionStop,
)
from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v201.convert import id_token_info, samples


async def handle_transaction_event(ctx: StationContext, payload: Payload) -> Payload:
    """Apply one event of a transaction; a repeated seqNo changes nothing and gets the same kind of answer.

    Events can arrive late and out of order after an offline period (`offline=true`): an Updated or Ended
    event for a transaction we have not seen creates it, because the station's record is the truth.
    The answer carries idTokenInfo whenever the request carried an idToken (OCPP 2.0.1 E05/E07).
    """
    event_type = payload["eventType"]
    info = payload["transactionInfo"]
    timestamp = parse_datetime(payload["timestamp"])
    token = payload.get("idToken")
    data = samples(payload.get("meterValue", []))
    offline = payload.get("offline", False)
    transactions = ctx.domain.transactions

    auth: AuthorizationResult | None = None
    if token is not None:
        if token["type"] == "NoAuthorization":
            auth = AuthorizationResult(AuthorizationStatus.ACCEPTED)
        else:
            auth = await ctx.domain.authorization.authorize(token["idToken"])

    tx = await transactions.find(ctx.charge_point_id, info["transactionId"])
    if tx is None:
        if event_type != "Started":
            ctx.log.warning(
                "transaction_event_before_start",
                transaction_id=info["transactionId"],
                event_type=event_type,
                seq_no=payload["seqNo"],
            )
        evse = payload.get("evse", {})
        outcome = await transactions.start(
            NewTransaction(
                charge_point_id=ctx.charge_point_id,
                evse_id=evse.get("id", 0),
                connector_id=evse.get("connectorId", 1 if "id" in evse else 0),
                started_at=timestamp,
                ocpp_transaction_id=info["transactionId"],
                id_token=token["idToken"] if token else None,
                id_token_type=token["type"] if token else None,
                reservation_id=payload.get("reservationId"),
                remote_start_id=info.get("remoteStartId"),
                charging_state=info.get("chargingState"),
                seq_no=payload["seqNo"],
                offline=offline,
            ),
            data,
        )
        tx = outcome.transaction
        fresh = not outcome.duplicate
        data = []  # already recorded with the start
    else:
        fresh = await transactions.record_event(
            tx, payload["seqNo"], event_type, payload["triggerReason"], timestamp
        )
        if fresh:
            await transactions.update(
                tx,
                id_token=token["idToken"] if token else None,
                id_token_type=token["type"] if token else None,
                charging_state=info.get("chargingState"),
                offline=offline,
            )
            if data and event_type != "Ended":
                transactions.meter_values(MeterReading(ctx.charge_point_id, tx.evse_id, data), tx)
        else:
            ctx.log.info(
                "transaction_event_repeated", transaction_id=tx.ocpp_transaction_id, seq_no=payload["seqNo"]
            )

    if fresh and event_type == "Ended":
        await transactions.stop(
            tx,
            TransactionStop(
                stopped_at=timestamp,
                reason=info.get("stoppedReason", "Local"),  # absent means Local (OCPP 2.0.1 E06)
                id_token=token["idToken"] if token else None,
            ),
            data,
        )
    return {"idTokenInfo": id_token_info(auth)} if auth is not None else {}
