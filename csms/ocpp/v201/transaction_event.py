"""2.0.1 TransactionEvent (Started / Updated / Ended) → TransactionService."""

from __future__ import annotations

from datetime import datetime

from csms.domain.clock import parse_datetime
from csms.domain.models import (
    OCPP_201,
    AuthorizationResult,
    AuthorizationStatus,
    MeterReading,
    NewTransaction,
    Transaction,
    TransactionStatus,
    TransactionStop,
)
from csms.ocpp.commands import json_number
from csms.ocpp.router import Payload, StationContext
from csms.ocpp.v201.convert import id_token_info, samples


async def handle_transaction_event(ctx: StationContext, payload: Payload) -> Payload:
    """Apply one event of a transaction; a repeated seqNo changes nothing and gets the same kind of answer.

    Events can arrive late and out of order after an offline period (`offline=true`): an Updated or Ended
    event for a transaction we have not seen creates it, because the station's record is the truth.
    The seqNo is recorded only after the event's effects are stored, so an event that failed halfway is
    applied again when the station retries it (a repeat is recognised by its seqNo).
    The answer carries idTokenInfo whenever the request carried an idToken (OCPP 2.0.1 E05/E07), and
    totalCost (so far, or final after Ended) when the station shows costs (`csms.domain.costs`).
    """
    event_type = payload["eventType"]
    info = payload["transactionInfo"]
    seq_no = payload["seqNo"]
    timestamp = parse_datetime(payload["timestamp"])
    token = payload.get("idToken")
    data = samples(payload.get("meterValue", []), log=ctx.log)
    offline = payload.get("offline", False)
    transactions = ctx.domain.transactions

    auth: AuthorizationResult | None = None
    if token is not None:
        if token["type"] == "NoAuthorization":
            auth = AuthorizationResult(AuthorizationStatus.ACCEPTED)
        else:
            evse = payload.get("evse")
            auth = await ctx.domain.authorization.authorize(
                token["idToken"],
                charge_point_id=ctx.charge_point_id,
                evse_id=evse["id"] if evse is not None else None,
            )
    answer = {"idTokenInfo": id_token_info(auth)} if auth is not None else {}

    tx = await transactions.find(ctx.charge_point_id, info["transactionId"], OCPP_201)
    if tx is None:
        if event_type != "Started":
            ctx.log.warning(
                "transaction_event_before_start",
                transaction_id=info["transactionId"],
                event_type=event_type,
                seq_no=seq_no,
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
                seq_no=seq_no,  # recorded together with the new transaction, in one write
                offline=offline,
            ),
            data,
            authorization=auth,
        )
        tx = outcome.transaction
        if event_type == "Ended" and not outcome.duplicate:
            await transactions.stop(tx, _stop(info, timestamp, token), [])
        return await _with_cost(ctx, tx, answer)

    if tx.status is TransactionStatus.COMPLETED:
        # A retransmitted Ended (same seqNo) or anything after the end changes nothing: the transaction
        # and its samples are final (OCPP 2.0.1 E06: Ended is sent once; seqNo tells a repeat).
        late = await transactions.record_event_after_end(
            tx, seq_no, event_type, payload["triggerReason"], timestamp
        )
        event = "transaction_event_after_end" if late else "transaction_event_repeated"
        ctx.log.info(event, transaction_id=tx.ocpp_transaction_id, seq_no=seq_no, event_type=event_type)
        return await _with_cost(ctx, tx, answer)
    if transactions.is_repeat(tx, seq_no):
        ctx.log.info("transaction_event_repeated", transaction_id=tx.ocpp_transaction_id, seq_no=seq_no)
        return await _with_cost(ctx, tx, answer)
    await transactions.update(
        tx,
        id_token=token["idToken"] if token else None,
        id_token_type=token["type"] if token else None,
        charging_state=info.get("chargingState"),
        offline=offline,
    )
    if event_type == "Ended":
        await transactions.stop(tx, _stop(info, timestamp, token), data)
    elif data:
        await transactions.meter_values(MeterReading(ctx.charge_point_id, tx.evse_id, data), tx)
    if not await transactions.record_event(tx, seq_no, event_type, payload["triggerReason"], timestamp):
        ctx.log.info("transaction_event_repeated", transaction_id=tx.ocpp_transaction_id, seq_no=seq_no)
    return await _with_cost(ctx, tx, answer)


async def _with_cost(ctx: StationContext, tx: Transaction, answer: Payload) -> Payload:
    """`answer` with `totalCost` once the transaction has ended, when the station shows costs (see
    csms.domain.costs). OCPP 2.0.1 TransactionEventResponse.totalCost "SHALL only be sent when charging has
    ended" (I03, final cost); the running cost goes to the station in CostUpdated (I02)."""
    if tx.status is not TransactionStatus.COMPLETED:
        return answer
    cost = await ctx.domain.costs.total_cost(tx)
    if cost is not None:
        answer["totalCost"] = json_number(cost)
    return answer


def _stop(info: Payload, timestamp: datetime, token: Payload | None) -> TransactionStop:
    return TransactionStop(
        stopped_at=timestamp,
        reason=info.get("stoppedReason", "Local"),  # absent means Local (OCPP 2.0.1 E06)
        id_token=token["idToken"] if token else None,
    )
