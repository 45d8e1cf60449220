"""Remote start and stop of charging sessions, in domain words, for the REST API and the OCPI bridge."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from csms.domain.commands import Command, CommandResult, CommandService, Outcome, StartSession, StopSession
from csms.domain.models import Transaction, TransactionStatus
from csms.domain.ports import NotFound
from csms.domain.remote_start import RemoteStartCorrelator
from csms.domain.transactions import TransactionService


@dataclass(slots=True)
class RemoteStart:
    """The station's answer to a remote start, the id that ties the coming transaction to it, and the
    transaction if the station already reported it (2.0.1 returns a transactionId when one was running)."""

    result: CommandResult
    remote_start_id: int
    transaction: Transaction | None = None


class SessionControl:
    """Starts and stops sessions on stations through the command service."""

    def __init__(
        self, commands: CommandService, transactions: TransactionService, remote_starts: RemoteStartCorrelator
    ) -> None:
        self._commands = commands
        self._transactions = transactions
        self._remote_starts = remote_starts

    async def start(
        self,
        charge_point_id: str,
        id_token: str,
        *,
        evse_id: int | None = None,
        id_token_type: str = "Central",
        group_id_token: str | None = None,
        remote_start_id: int | None = None,
    ) -> RemoteStart:
        """Ask the station to start charging for `id_token`.

        The transaction follows later (Accepted means the station will try, not that it started): find it
        by `remote_start_id` (the transaction carries it once the station reports the start). A caller that
        must recognise the transaction as it starts (OCPI START_SESSION) allocates the id first with
        `RemoteStartCorrelator.new_id` and passes it here.
        """
        if remote_start_id is None:
            remote_start_id = self._remote_starts.new_id()
        command = StartSession(
            id_token=id_token,
            remote_start_id=remote_start_id,
            evse_id=evse_id,
            id_token_type=id_token_type,
            group_id_token=group_id_token,
        )
        # Registered before sending: the station may start the transaction before its answer arrives.
        self._remote_starts.expect(charge_point_id, remote_start_id, id_token, evse_id)
        result = await self._commands.send(charge_point_id, command)
        if _definite_no(result):
            self._remote_starts.forget(charge_point_id, remote_start_id)
        tx = None
        ocpp_tx_id = result.data.get("ocpp_transaction_id")
        if ocpp_tx_id:
            tx = await self._transactions.find(charge_point_id, str(ocpp_tx_id))
        return RemoteStart(result, remote_start_id, tx)

    async def forwarded(
        self,
        charge_point_id: str,
        command: Command,
        deliver: Callable[[str, Command], Awaitable[CommandResult]],
    ) -> CommandResult:
        """Deliver a command another node routed here for a station connected to this one (csms.cluster).

        A remote start is expected here as well as on the node that asked: this node is the one the
        station reports its transaction to, and an OCPP 1.6 StartTransaction carries no remote start id
        to match it by."""
        if not isinstance(command, StartSession):
            return await deliver(charge_point_id, command)
        rid = command.remote_start_id
        self._remote_starts.expect(charge_point_id, rid, command.id_token, command.evse_id)
        result = await deliver(charge_point_id, command)
        if _definite_no(result):
            self._remote_starts.forget(charge_point_id, rid)
        return result

    async def close(self, transaction_pk: int, reason: str, *, force: bool = False) -> Transaction:
        """End a session its station will not report the end of (e.g. a station that closed its socket
        right after starting it and never came back): stopped now with `reason`, its energy up to the last
        meter value, and `TransactionStopped` published like a station-reported stop (OCPI: COMPLETED and a
        CDR); see `TransactionService.close`.

        Refused while the station is connected (anywhere in the cluster), because it may still be charging
        and will report the stop itself (use a remote stop); `force` closes it anyway, for a station that
        is connected but lost track of the transaction. A connected station that later reports the stop of
        a closed session is answered as for a repeated stop; its data changes nothing.

        Raises:
            NotFound: no such transaction.
            TransactionCompleted: it has ended already.
            StationConnected: the station is connected and `force` is false.
        """
        tx = await self._transactions.get(transaction_pk)
        if tx is None:
            raise NotFound(f"transaction {transaction_pk}")
        if not force and self._commands.ocpp_version(tx.charge_point_id) is not None:
            raise StationConnected(tx.charge_point_id)
        return await self._transactions.close(transaction_pk, reason)

    async def stop(self, tx: Transaction) -> CommandResult:
        """Ask the station to stop `tx`; the session becomes completed when the station reports the stop."""
        if tx.status is TransactionStatus.COMPLETED:
            raise ValueError("transaction already completed")
        return await self._commands.send(tx.charge_point_id, StopSession(tx.ocpp_transaction_id))


class StationConnected(Exception):
    """The station of the session is connected: it can still report the session's end itself."""


def _definite_no(result: CommandResult) -> bool:
    """A remote start that nothing will follow (after a timeout or a lost socket the station may still
    start it)."""
    return not result.accepted and result.outcome not in (Outcome.TIMEOUT, Outcome.DISCONNECTED)
