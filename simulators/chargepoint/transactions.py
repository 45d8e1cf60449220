"""Transactions as the station runs them: start, meter values, stop (queued while offline); the messages
themselves are the version behaviours' (`v16`, `v201`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial

from csms.domain.clock import isoformat_z
from simulators.chargepoint.errors import ConnectorReservedError, NotConnectedError, SimulatorError
from simulators.chargepoint.local_list import LocalList
from simulators.chargepoint.model import (
    _REASON_TO_201,
    _REASONS_201,
    _STOP_TRIGGERS,
    JsonDict,
    _Queued,
    _Transaction,
)
from simulators.chargepoint.station import StationState


class StationTransactions(StationState):
    """Starting, metering and stopping transactions."""

    local_list: LocalList

    async def start_transaction(
        self,
        connector: int,
        id_token: str,
        *,
        meter_start_wh: int | None = None,
        reservation_id: int | None = None,
        remote_start_id: int | None = None,
        id_token_type: str = "ISO14443",
    ) -> str:
        """Start a transaction on `connector` and report status Charging (1.6) / Occupied (2.0.1).

        1.6 sends StartTransaction and returns str(transactionId) assigned by the CSMS (offline:
        a placeholder "offline-N" that `transactions` replaces once the CSMS answered after
        `come_back()`). 2.0.1 sends TransactionEvent Started (seqNo 0, triggerReason Authorized, or
        RemoteStart with `remoteStartId`) and returns the UUID it generated.

        Reservations are honoured like hardware does: a start on a connector reserved for another
        token (or on the last free connector held for a station-wide reservation) is refused; the
        token's reservation (its own, its parent's / group's, on this connector or station-wide) is
        used, sent as `reservationId` and ended. If the token does not match and its parent is
        unknown, it is authorized first to learn the parent.
        With `auto_meter_values`, meter values are sent every `meter_interval` until the stop.

        Args:
            meter_start_wh: set the register first (otherwise it continues from `meter_wh`).
            reservation_id: send this reservationId as given, skipping the reservation checks (to test
                how the CSMS treats a misused reservation); a known reservation of that id ends.

        Raises:
            SimulatorError: unknown connector, a transaction already runs there, or the connector is
                Faulted / Unavailable.
            ConnectorReservedError: the connector is held for another token.
            SimulatorError: offline with a local list (version > 0) that does not hold `id_token` as
                Accepted (1.6 LocalAuthorizeOffline; 2.0.1 LocalAuthListCtrlr Enabled).
        """
        self._check_startable(connector)
        if self._offline and self.local_list.version > 0 and not self.local_list.authorize_offline(id_token):
            raise SimulatorError(f"id token {id_token!r} is not authorized by the local list while offline")
        if reservation_id is None:
            used, blocker = self._start_reservation(connector, id_token)
            if blocker is not None and id_token not in self.token_parents and self.connected:
                await self.authorize(id_token, id_token_type=id_token_type)  # learn its parent / group
                self._check_startable(connector)  # things may have happened meanwhile
                used, blocker = self._start_reservation(connector, id_token)
            if blocker is not None:
                raise ConnectorReservedError(connector, blocker.reservation_id, id_token)
            reservation_id = used.reservation_id if used is not None else None
        if meter_start_wh is not None:
            self.meter_wh[connector] = meter_start_wh
        if reservation_id is not None:
            self._end_reservation(reservation_id)
        tx = _Transaction(
            connector=connector,
            transaction_id="",
            id_token=id_token,
            id_token_type=id_token_type,
            meter_start_wh=self.meter_wh[connector],
            started_at=self._clock(),
            reservation_id=reservation_id,
            remote_start_id=remote_start_id,
        )
        self._tx[connector] = tx
        try:
            tx.transaction_id = await (self._start_16(tx) if self._v16 else self._start_201(tx))
        except BaseException:
            self._tx.pop(connector, None)
            raise
        self.transactions[connector] = tx.transaction_id
        self.transactions_started += 1
        self.plugged[connector] = True
        self._log.info("transaction_started", connector=connector, transaction_id=tx.transaction_id)
        if self.config.auto_meter_values:
            tx.meter_task = asyncio.create_task(self._meter_loop(tx), name=f"sim-meter-{connector}")
        self._notify()
        await self._set_status(connector, "Charging" if self._v16 else "Occupied")
        if reservation_id is not None or self._zero_reservations():
            await self._refresh_statuses()
        return tx.transaction_id

    def current_power_w(self, connector: int) -> int:
        """The power in W drawn on `connector` now: `config.power_w` during a transaction, else 0
        (the smart charging layer caps it by the installed charging profiles)."""
        return self.config.power_w if connector in self._tx else 0

    async def send_meter_values(
        self, connector: int, *, energy_wh: int | None = None, unit: str = "Wh"
    ) -> JsonDict:
        """Advance (or set) the register and send a periodic sample.

        During a transaction the register advances by `current_power_w * meter_interval / 3600` Wh unless
        `energy_wh` sets it. 1.6 sends MeterValues with transactionId and string values (energy in
        kWh with three decimals when `unit="kWh"`), power, and voltage and current per phase; 2.0.1
        sends TransactionEvent Updated (triggerReason MeterValuePeriodic, next seqNo) with numeric
        values and `unitOfMeasure` where the unit is not Wh. Without a transaction both send a plain
        MeterValues.

        Raises:
            ValueError: `unit` is neither "Wh" nor "kWh".
        """
        self._check_connector(connector)
        if unit not in ("Wh", "kWh"):
            raise ValueError(f"unit must be Wh or kWh, not {unit!r}")
        tx = self._tx.get(connector)
        if energy_wh is not None:
            self.meter_wh[connector] = energy_wh
        elif tx is not None:
            power_w = self.current_power_w(connector)
            self.meter_wh[connector] += round(power_w * self.config.meter_interval / 3600)
        self.meter_values_sent += 1
        return await self._send_sample(
            connector, tx, unit=unit, context="Sample.Periodic", trigger="MeterValuePeriodic"
        )

    async def _send_sample(
        self, connector: int, tx: _Transaction | None, *, unit: str, context: str, trigger: str
    ) -> JsonDict:
        now = self._clock()
        if self._v16:
            meter_value: JsonDict = {
                "timestamp": isoformat_z(now),
                "sampledValue": self._sampled_16(connector, unit, context),
            }
            if tx is None:
                return await self.call("MeterValues", {"connectorId": connector, "meterValue": [meter_value]})
            ref = tx.transaction_id

            def build() -> JsonDict:
                return {
                    "connectorId": connector,
                    "transactionId": self._tx_int(ref),
                    "meterValue": [meter_value],
                }

            return await self._send_tx("MeterValues", build)
        sample = self._meter_value_201(connector, unit, context, now)
        if tx is None:
            return await self.call("MeterValues", {"evseId": connector, "meterValue": [sample]})
        event = self._tx_event(
            tx, "Updated", trigger, timestamp=now, charging_state="Charging", meter_value=sample
        )
        return await self._send_tx("TransactionEvent", lambda: event)

    async def stop_transaction(
        self, connector: int, *, reason: str = "Local", meter_stop_wh: int | None = None
    ) -> JsonDict:
        """End the transaction on `connector`, then report Finishing (1.6) / Available (2.0.1).

        1.6 sends StopTransaction with idTag, reason and transactionData (Transaction.Begin and
        Transaction.End registers). 2.0.1 sends TransactionEvent Ended with stoppedReason and
        triggerReason StopAuthorized (EVDeparted for EVDisconnected, RemoteStop for Remote, ...).
        With reason EVDisconnected the cable is out, so 1.6 reports Available directly.

        Args:
            reason: stop reason in either version's words; translated when needed.
            meter_stop_wh: set the register first.

        Returns:
            The response payload ({} while offline).

        Raises:
            SimulatorError: no transaction on `connector`.
        """
        tx = self._tx.get(connector)
        if tx is None:
            raise SimulatorError(f"no transaction on connector {connector}")
        tx.stopping.set()
        if tx.meter_task is not None and tx.meter_task is not asyncio.current_task():
            await asyncio.wait([tx.meter_task])
        if meter_stop_wh is not None:
            self.meter_wh[connector] = meter_stop_wh
        stop_wh = self.meter_wh[connector]
        now = self._clock()
        if self._v16:
            result = await self._stop_16(tx, stop_wh, now, reason)
            next_status = "Available" if reason == "EVDisconnected" else "Finishing"
        else:
            trigger = _STOP_TRIGGERS.get(reason, "StopAuthorized")
            event = self._tx_event(
                tx,
                "Ended",
                trigger,
                timestamp=now,
                charging_state="Idle" if reason == "EVDisconnected" else "EVConnected",
                stopped_reason=reason if reason in _REASONS_201 else _REASON_TO_201.get(reason, "Other"),
                with_id_token=trigger == "StopAuthorized",
                meter_value=self._meter_value_201(connector, "Wh", "Transaction.End", now, energy_only=True),
            )
            result = await self._send_tx("TransactionEvent", lambda: event)
            next_status = "Available"
        if self._tx.get(connector) is tx:
            del self._tx[connector]
            self.transactions.pop(connector, None)
        self.transactions_stopped += 1
        self._log.info(
            "transaction_stopped", connector=connector, transaction_id=tx.transaction_id, reason=reason
        )
        if reason == "EVDisconnected":
            self.plugged[connector] = False
        profiles = self.charging_profiles.get(connector, {})
        for profile_id in [i for i, p in profiles.items() if p["chargingProfilePurpose"] == "TxProfile"]:
            del profiles[profile_id]  # a TxProfile lives as long as its transaction (1.6 §3.13.4, K01)
        if connector in self._pending_inoperative:
            self._pending_inoperative.discard(connector)
            self.inoperative.add(connector)
        if next_status == "Available" or connector in self.inoperative:
            next_status = self._idle_status(connector, cable=False)
        self._notify()
        await self._set_status(connector, next_status)
        if self._zero_reservations():
            await self._refresh_statuses()
        if self._reset_when_idle and not self._tx:
            self._reset_when_idle = False
            self._spawn(partial(self._reset, "ImmediateReset"), "Reset")
        return result

    async def _send_tx(
        self, action: str, build: Callable[[], JsonDict], on_result: Callable[[JsonDict], None] | None = None
    ) -> JsonDict:
        """Send a transaction message now, or queue it while offline (then return {})."""
        if self._offline:
            self._queue.append(_Queued(action, build, on_result))
            self._log.debug("queued_offline", action=action, queued=len(self._queue))
            return {}
        result = await self.call(action, build())
        if on_result is not None:
            on_result(result)
        return result

    def _tx_int(self, ref: str) -> int:
        """The 1.6 integer transactionId for `ref`, resolving an offline placeholder."""
        real = self._tx_aliases.get(ref, ref)
        try:
            return int(real)
        except ValueError:
            raise SimulatorError(f"transaction {ref} never got a transactionId from the CSMS") from None

    async def _meter_loop(self, tx: _Transaction) -> None:
        """Send periodic meter values for `tx` until it is being stopped."""
        while True:
            try:
                await asyncio.wait_for(tx.stopping.wait(), timeout=self.config.meter_interval)
                return
            except TimeoutError:
                pass
            if self._tx.get(tx.connector) is not tx:
                return
            try:
                await self.send_meter_values(tx.connector)
            except NotConnectedError:
                self._log.debug("meter_values_skipped_disconnected", connector=tx.connector)
            except (SimulatorError, TimeoutError) as exc:
                self.errors.append(exc)
                self._log.warning("meter_values_failed", connector=tx.connector, error=str(exc))
