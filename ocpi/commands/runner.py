"""The OCPP side of accepted commands, run in the background by the `CommandRunner`, which also vouches for
the tokens of START_SESSIONs still waiting for their transaction and links that transaction to its command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from csms.domain.commands import UnlockConnector
from csms.domain.events import Order, TransactionStarted
from csms.domain.models import (
    AuthorizationResult,
    AuthorizationStatus,
    ReservationStatus,
    Transaction,
)
from csms.domain.remote_start import REMOTE_START_WINDOW
from csms.domain.reservations import ReservationError
from ocpi.commands.results import (
    OCPP16_ID_TAG_LENGTH,
    REPLACED,
    RESERVATION_RESULTS,
    UNKNOWN_AT_STATION,
    ocpp_token_type,
    post_result,
    result_of,
)
from ocpi.commands.watcher import ReservationWatcher, Watched
from ocpi.context import OcpiContext
from ocpi.models import CommandPromise, EvseUid, Location, Partner, PendingStart, SessionLink
from ocpi.tokens import cdr_token

log = structlog.get_logger("ocpi.commands")

Operation = Callable[[], Awaitable[tuple[str, str | None]]]


@dataclass(slots=True)
class _CommandTokens:
    """`TokenAuthority` that vouches for the tokens of pending START_SESSIONs (see the module docstring)."""

    runner: CommandRunner

    async def authorize(
        self,
        id_token: str,
        *,
        charge_point_id: str | None = None,
        evse_id: int | None = None,
        org_id: str | None = None,
    ) -> AuthorizationResult | None:
        # A pending start vouches at its own station only, which is its partner's organization's; so does a
        # reservation a partner made for the token (its driver arriving at the reserved EVSE).
        if charge_point_id is None:
            return None
        if await self.runner.vouches_for(
            id_token, charge_point_id, evse_id
        ) or await self.runner.reserved_for(id_token, charge_point_id, evse_id):
            return AuthorizationResult(AuthorizationStatus.ACCEPTED)
        return None


def _covers(pending: PendingStart, uid: str, charge_point_id: str, evse_id: int | None) -> bool:
    """Whether a pending START_SESSION vouches for `uid` presented at that station and EVSE."""
    if pending.uid != uid or pending.charge_point_id != charge_point_id:
        return False
    return pending.evse_id is None or evse_id is None or pending.evse_id == evse_id


class CommandRunner:
    """Runs accepted commands in the background and keeps what they leave in memory: pending starts
    (until their transaction links up) and RESERVE_NOW response URLs (until the reservation ends).

    Args:
        ctx: the OCPI context.
    """

    def __init__(self, ctx: OcpiContext) -> None:
        self._ctx = ctx
        self._tasks: set[asyncio.Task[None]] = set()
        # Transactions with an OCPI ChargingProfiles request waiting for its station (ocpi.charging_profiles).
        self.profile_requests: set[int] = set()
        # START_SESSIONs sent from this process, by remote_start_id: a copy of what the store holds, so the
        # common case (the station is connected here) needs no read.
        self._starts: dict[int, PendingStart] = {}
        self.watcher = ReservationWatcher(ctx, self.spawn)
        self.token_authority = _CommandTokens(self)

    # -- background tasks ------------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run `coro` in a tracked task (cancelled by `close`)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run(
        self,
        partner: Partner,
        command: str,
        response_url: str,
        operation: Operation,
        *,
        due_in: float,
        correlation_id: str | None = None,
    ) -> None:
        """Store the promise of a CommandResult (due within `due_in` seconds, the CommandResponse's), then
        run `operation` (the OCPP side of an accepted command) in the background and POST its CommandResult
        to `response_url`. An unexpected error in the operation is logged and answered FAILED. Should this
        process die first, the next start posts TIMEOUT once the deadline passed (`recover`)."""
        promise = await self._ctx.store.add_command_promise(
            CommandPromise(
                id=0,
                partner_id=partner.id,
                command=command,
                response_url=response_url,
                deadline=self._ctx.clock() + timedelta(seconds=due_in),
                correlation_id=correlation_id,
            )
        )

        async def go() -> None:
            try:
                result, message = await operation()
            except Exception:
                log.exception("ocpi_command_failed", command=command, partner_id=partner.id)
                result, message = "FAILED", "internal error"
            log.info("ocpi_command_result", command=command, partner_id=partner.id, result=result)
            await self._keep(promise, result, message)

        self.spawn(go(), f"ocpi-{command.lower()}")

    async def _keep(self, promise: CommandPromise, result: str, message: str | None) -> None:
        """Settle the promise and POST the result, unless it was settled already (another process posted
        TIMEOUT after its deadline): a CommandResult is sent once (OCPI 2.2.1 Commands)."""
        if not await self._ctx.store.settle_command_promise(promise.id, result):
            log.warning("ocpi_command_result_already_posted", promise_id=promise.id, result=result)
            return
        await post_result(
            self._ctx,
            promise.partner_id,
            promise.response_url,
            result,
            message,
            correlation_id=promise.correlation_id,
        )

    async def recover(self) -> None:
        """At start: take over what a process that stopped or died left owed (`CommandPromise`s).

        A watched reservation is watched again (CANCELED_RESERVATION when it ends on our side). A command's
        answer can no longer come once its deadline passed (its process died while the OCPP side ran): then
        TIMEOUT is posted, once — a process still running it (another worker or node) settles it first
        and this one posts nothing."""
        for promise in await self._ctx.store.list_command_promises():
            if promise.reservation_id is not None:
                external_id = promise.external_id or ""
                watched = Watched(promise.partner_id, promise.response_url, external_id, promise.id)
                self.watcher.watch(promise.reservation_id, watched)
            else:
                self.spawn(self._expire(promise), "ocpi-command-recovered")

    async def _expire(self, promise: CommandPromise) -> None:
        if promise.deadline is not None:
            await asyncio.sleep(max(0.0, (promise.deadline - self._ctx.clock()).total_seconds()))
        log.info("ocpi_command_result_lost", promise_id=promise.id, command=promise.command)
        await self._keep(promise, "TIMEOUT", "the CSMS restarted before the charge point's answer came")

    async def close(self) -> None:
        """Cancel every background command and the reservation watcher, and wait for them to end."""
        await self.watcher.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait until every background command has posted its result (tests and orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- START_SESSION bookkeeping -----------------------------------------------------------------------

    async def vouches_for(self, uid: str, charge_point_id: str, evse_id: int | None = None) -> bool:
        """Whether a START_SESSION with token `uid` at `charge_point_id` (and `evse_id`, when both the command
        and the asker name one) is waiting for its transaction. The eMSP vouched for the token for that
        command only (OCPI 2.2.1 Commands): the same uid at another station, or another EVSE, is not
        Accepted by virtue of it.

        One sent from this process is known in memory. Otherwise the store is asked only when the domain
        expects a remote start of that token here: a START_SESSION sent through another node of a
        cluster (csms.cluster routes the remote start to this one), without a read for every other
        token."""
        correlator = self._ctx.domain.remote_starts
        for rid, p in list(self._starts.items()):
            if not correlator.is_pending(p.charge_point_id, rid):
                del self._starts[rid]  # its window passed, or it was refused
        if any(_covers(p, uid, charge_point_id, evse_id) for p in self._starts.values()):
            return True
        if not correlator.awaits_token(uid):
            return False
        stored = await self._ctx.store.pending_start_for(uid, self._ctx.clock(), charge_point_id)
        return stored is not None and _covers(stored, uid, charge_point_id, evse_id)

    async def reserved_for(self, uid: str, charge_point_id: str, evse_id: int | None = None) -> bool:
        """Whether an active reservation a partner made with RESERVE_NOW holds token `uid` at
        `charge_point_id` (on `evse_id`, when both name one). The eMSP vouched for the token for that
        reservation (OCPI 2.2.1 Commands: the CPO does not validate command tokens), so its driver is
        Accepted there on arrival even before the partner's token list reached us; not at another station
        or EVSE."""
        now = self._ctx.clock()
        for r in await self._ctx.domain.store.find_active_reservations(charge_point_id):
            if not (r.owner or "").startswith("ocpi:") or r.id_token != uid or r.expiry_date <= now:
                continue
            if r.evse_id in (None, 0) or evse_id in (None, 0) or r.evse_id == evse_id:
                return True
        return False

    async def _match(self, event: TransactionStarted) -> PendingStart | None:
        # The domain's correlator has said which remote start the transaction answers; the START_SESSION
        # may have been sent by another node (or before a restart): then the store knows it.
        if event.remote_start_id is None:
            return None
        pending = self._starts.get(event.remote_start_id)
        if pending is None:
            pending = await self._ctx.store.get_pending_start(event.remote_start_id)
        if pending is None or pending.charge_point_id != event.transaction.charge_point_id:
            return None
        return pending

    async def _link_start(self, pending: PendingStart, tx: Transaction) -> None:
        self._starts.pop(pending.remote_start_id, None)
        link = SessionLink(
            session_id=str(tx.id),
            partner_id=pending.partner_id,
            transaction_pk=tx.id,
            reservation_id=tx.reservation_id,
            auth_method="COMMAND",
            authorization_reference=pending.authorization_reference,
            cdr_token=pending.cdr_token,
            last_updated=self._ctx.clock(),
        )
        await self._ctx.store.save_session_link(link)
        await self._ctx.store.delete_pending_start(pending.remote_start_id)
        log.info("ocpi_session_linked", transaction_pk=tx.id, partner_id=pending.partner_id)

    async def _reservation_link(self, tx: Transaction) -> SessionLink | None:
        """The SessionLink `R<id>` of the RESERVE_NOW reservation `tx` uses (as the domain will mark it used:
        `ReservationService.reservation_for`), if no transaction has it yet; else None."""
        if tx.reservation_id is None:
            return None
        link = await self._ctx.store.get_session_link(f"R{tx.reservation_id}")
        if link is None or link.transaction_pk is not None:
            return None
        if await self._ctx.domain.reservations.reservation_for(tx) is None:
            return None
        return link

    async def _carry_on(self, link: SessionLink, tx: Transaction, pending: PendingStart | None) -> None:
        """The reservation's Session goes on as the transaction's (OCPI 2.2.1 Sessions, "Reservation": its
        status becomes ACTIVE; same id). A START_SESSION of the same partner is the latest authorization:
        its CdrToken and authorization_reference replace the reservation's."""
        if pending is not None:
            self._starts.pop(pending.remote_start_id, None)
            await self._ctx.store.delete_pending_start(pending.remote_start_id)
            if pending.partner_id == link.partner_id:
                link.auth_method = "COMMAND"
                link.cdr_token = pending.cdr_token
                link.authorization_reference = pending.authorization_reference or link.authorization_reference
        link.transaction_pk = tx.id
        link.last_updated = self._ctx.clock()
        await self._ctx.store.save_session_link(link)
        log.info("ocpi_reservation_session_charging", transaction_pk=tx.id, session_id=link.session_id)

    async def _link(self, tx: Transaction, pending: PendingStart | None) -> None:
        reserved = await self._reservation_link(tx)
        if reserved is not None:
            await self._carry_on(reserved, tx, pending)
        elif pending is not None:
            await self._link_start(pending, tx)

    async def on_transaction_started(self, event: TransactionStarted) -> None:
        """Link a transaction to what OCPI knows of it: the RESERVE_NOW reservation it uses (the
        reservation's Session goes on: `_carry_on`), else the START_SESSION it follows (SessionLink COMMAND).
        Runs before the partner-token authority, which then leaves the link alone: the command is the latest
        authorization."""
        await self._link(event.transaction, await self._match(event))

    # -- the commands ------------------------------------------------------------------------------------

    def _pick_charge_point(self, location: Location) -> str:
        """A charge point of a location for a command that names no EVSE: the first connected one."""
        commands = self._ctx.domain.commands
        for charge_point_id in location.charge_point_ids:
            if commands.ocpp_version(charge_point_id) is not None:
                return charge_point_id
        return location.charge_point_ids[0]

    def _target(self, location: Location, evse: EvseUid | None) -> tuple[str, int | None]:
        """(charge point, EVSE or None) a START_SESSION / RESERVE_NOW goes to.

        Any token uid goes (CiString(36), OCPI 2.2.1 Tokens): to an OCPP 1.6 station, whose idTag has 20
        characters, a longer one is sent as its alias and mapped back when the station presents it (the
        1.6 adapter, `csms.domain.id_token_aliases`); sessions and CDRs carry the uid itself."""
        charge_point_id = evse.charge_point_id if evse is not None else self._pick_charge_point(location)
        evse_id = (evse.evse_id or None) if evse is not None else None
        return charge_point_id, evse_id

    def _group(self, charge_point_id: str, token: dict[str, Any]) -> str | None:
        group = token.get("group_id")
        if not isinstance(group, str) or not group:
            return None
        if (
            self._ctx.domain.commands.ocpp_version(charge_point_id) == "1.6"
            and len(group) > OCPP16_ID_TAG_LENGTH
        ):
            return None  # 1.6 parentIdTag cannot carry it
        return group

    async def start_session(
        self, partner: Partner, body: dict[str, Any], location: Location, evse: EvseUid | None
    ) -> tuple[str, str | None]:
        """START_SESSION: remote start on the EVSE (or the location's first connected charge point, the
        station choosing the EVSE); the transaction that follows is linked by `on_transaction_started`."""
        domain = self._ctx.domain
        token = body["token"]
        uid = token["uid"]
        charge_point_id, evse_id = self._target(location, evse)
        group = self._group(charge_point_id, token)
        try:
            await domain.reservations.check_start(charge_point_id, evse_id, uid, group)
        except ReservationError as exc:
            return RESERVATION_RESULTS.get(exc.code, "REJECTED"), exc.message
        pending = PendingStart(
            remote_start_id=domain.remote_starts.new_id(),
            partner_id=partner.id,
            charge_point_id=charge_point_id,
            uid=uid,
            cdr_token=cdr_token(token),
            authorization_reference=body.get("authorization_reference"),
            until=self._ctx.clock() + REMOTE_START_WINDOW,
            evse_id=evse_id,
        )
        # Stored before the call: the station may report the transaction before its answer arrives, and
        # in a cluster to another node.
        await self._ctx.store.add_pending_start(pending)
        self._starts[pending.remote_start_id] = pending
        try:
            started = await domain.sessions.start(
                charge_point_id,
                uid,
                evse_id=evse_id,
                id_token_type=ocpp_token_type(token["type"]),
                group_id_token=group,
                remote_start_id=pending.remote_start_id,
            )
        except BaseException:
            await self._forget_start(pending)
            raise
        if not started.result.accepted:
            await self._forget_start(pending)
            return result_of(started.result)
        if started.transaction is not None and pending.remote_start_id in self._starts:
            await self._link(started.transaction, pending)
        return "ACCEPTED", None

    async def _forget_start(self, pending: PendingStart) -> None:
        self._starts.pop(pending.remote_start_id, None)
        await self._ctx.store.delete_pending_start(pending.remote_start_id)

    async def stop_session(self, tx: Transaction) -> tuple[str, str | None]:
        """STOP_SESSION: remote stop; the session completes when the station reports the stop."""
        try:
            result = await self._ctx.domain.sessions.stop(tx)
        except ValueError:
            return "REJECTED", "the session is already completed"
        return result_of(result)

    async def reserve_now(
        self,
        partner: Partner,
        body: dict[str, Any],
        location: Location,
        evse: EvseUid | None,
        expiry: datetime,
    ) -> tuple[str, str | None]:
        """RESERVE_NOW: ReserveNow through the reservation service (the same reservation_id again replaces
        the reservation), then the SessionLink `R<id>` and the watch for CANCELED_RESERVATION."""
        token = body["token"]
        charge_point_id, evse_id = self._target(location, evse)
        uid = token["uid"]
        external_id = body["reservation_id"]
        try:
            reservation = await self._ctx.domain.reservations.create(
                charge_point_id=charge_point_id,
                evse_id=evse_id,
                id_token=uid,
                expiry_date=expiry,
                id_token_type=ocpp_token_type(token["type"]),
                group_id_token=self._group(charge_point_id, token),
                owner=owner_of(partner),
                external_id=external_id,
            )
        except ReservationError as exc:
            return RESERVATION_RESULTS.get(exc.code, "FAILED"), exc.message
        except ValueError as exc:  # the expiry date passed meanwhile
            return "REJECTED", str(exc)
        link = SessionLink(
            session_id=f"R{reservation.id}",
            partner_id=partner.id,
            reservation_id=reservation.id,
            auth_method="COMMAND",
            authorization_reference=body.get("authorization_reference"),
            cdr_token=cdr_token(token),
            last_updated=self._ctx.clock(),
        )
        await self._ctx.store.save_session_link(link)
        promise = await self._ctx.store.add_command_promise(
            CommandPromise(
                id=0,
                partner_id=partner.id,
                command="RESERVE_NOW",
                response_url=body["response_url"],
                reservation_id=reservation.id,
                external_id=external_id,
            )
        )
        watched = Watched(partner.id, body["response_url"], external_id, promise.id)
        replaced = self.watcher.watch(reservation.id, watched)
        await self.watcher.push_session(reservation.id, partner.id)
        for rid in replaced:  # replaced by this one (on another station): those sessions are over
            await self.watcher.push_session(rid, partner.id, only_ended=True)
            await self._settle_watch(rid, REPLACED)
        return "ACCEPTED", None

    async def _settle_watch(self, reservation_id: int, why: str) -> None:
        """No CANCELED_RESERVATION is owed for this reservation any more (the partner cancelled or replaced
        it): settle its stored promise, whichever process watches it."""
        for promise in await self._ctx.store.list_command_promises():
            if promise.reservation_id == reservation_id:
                await self._ctx.store.settle_command_promise(promise.id, why)

    async def cancel_reservation(self, partner: Partner, external_id: str) -> tuple[str, str | None]:
        """CANCEL_RESERVATION: find the partner's reservation by its reservation_id and cancel it at the
        station. Unknown, already ended, or unknown to the station → UNKNOWN_RESERVATION."""
        domain = self._ctx.domain
        reservation = await domain.store.find_reservation_by_external_id(owner_of(partner), external_id)
        if reservation is None or reservation.status is not ReservationStatus.ACTIVE:
            return "UNKNOWN_RESERVATION", f"no active reservation {external_id}"
        watched = self.watcher.unwatch(
            reservation.id
        )  # the partner asked: no CANCELED_RESERVATION afterwards
        try:
            cancelled = await domain.reservations.cancel(reservation.id)
        except ReservationError as exc:
            if watched is not None and exc.code not in ("reservation_not_found", "reservation_not_active"):
                self.watcher.watch(reservation.id, watched)  # still active
            elif watched is not None:  # it ended meanwhile: the watcher no longer sees it
                await self.watcher.push_session(reservation.id, partner.id, only_ended=True)
                await self._settle_watch(reservation.id, "ended")
            return RESERVATION_RESULTS.get(exc.code, "FAILED"), exc.message
        await self._settle_watch(reservation.id, "cancelled_by_partner")
        await self.watcher.push_session(reservation.id, partner.id, only_ended=True)  # COMPLETED
        if cancelled.status is not ReservationStatus.CANCELLED:
            return "UNKNOWN_RESERVATION", f"the reservation is {cancelled.status.value}"
        if cancelled.reason == UNKNOWN_AT_STATION:
            return "UNKNOWN_RESERVATION", "the charge point did not know the reservation"
        return "ACCEPTED", None

    async def unlock_connector(self, evse: EvseUid, connector_id: int) -> tuple[str, str | None]:
        """UNLOCK_CONNECTOR: UnlockConnector on the EVSE's connector (OCPP 1.6: connector 1 of EVSE N is
        connectorId N)."""
        commands = self._ctx.domain.commands
        if commands.ocpp_version(evse.charge_point_id) == "1.6":
            connector_id = 1
        result = await commands.send(evse.charge_point_id, UnlockConnector(evse.evse_id, connector_id))
        return result_of(result)


def owner_of(partner: Partner) -> str:
    """The reservation `owner` of a partner's reservations (their reservation_id is the `external_id`)."""
    return f"ocpi:{partner.id}"


def install(ctx: OcpiContext) -> CommandRunner:
    """Create the CommandRunner once per context and plug it into the domain: first among the token
    authorities (vouching for START_SESSION tokens) and first among the subscribers to transaction starts
    (`Order.COMMAND`: the SessionLink exists before a session push reads it). Calling it again returns the
    installed runner."""
    existing = ctx.command_runner
    if isinstance(existing, CommandRunner):
        return existing
    runner = CommandRunner(ctx)
    ctx.command_runner = runner
    ctx.domain.authorization.add_authority(runner.token_authority, order=Order.COMMAND)
    ctx.domain.events.subscribe(TransactionStarted, runner.on_transaction_started, order=Order.COMMAND)
    return runner


async def recover(ctx: OcpiContext) -> None:
    """Take over the CommandResults a stopped or dead process still owed (`CommandRunner.recover`)."""
    await install(ctx).recover()


async def shutdown(ctx: OcpiContext) -> None:
    """Stop the runner's background work (commands still running get no CommandResult)."""
    runner = ctx.command_runner
    if isinstance(runner, CommandRunner):
        await runner.close()
