"""OCPP 1.6J behaviour of the simulator: its StartTransaction / StopTransaction / MeterValues messages and the
table of CSMS calls it answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from csms.domain.clock import isoformat_z
from simulators.chargepoint.local_list import LocalList
from simulators.chargepoint.model import (
    _PHASES,
    _REASON_TO_16,
    _REASONS_16,
    _VOLTAGE,
    JsonDict,
    _Answer,
    _Queued,
    _Transaction,
    ocmf_reading,
)
from simulators.chargepoint.smart_charging import StationSmartCharging


class V16Behaviour(StationSmartCharging):
    """The OCPP 1.6J messages and answers."""

    local_list: LocalList

    async def _start_16(self, tx: _Transaction) -> str:
        payload: JsonDict = {
            "connectorId": tx.connector,
            "idTag": tx.id_token,
            "meterStart": tx.meter_start_wh,
            "timestamp": isoformat_z(tx.started_at),
        }
        if tx.reservation_id is not None:
            payload["reservationId"] = tx.reservation_id
        if not self._offline:
            result = await self.call("StartTransaction", payload)
            self._check_id_tag_info(result)
            return str(result["transactionId"])
        placeholder = f"offline-{next(self._placeholder_ids)}"

        def learn_id(result: JsonDict) -> None:
            real = str(result["transactionId"])
            self._tx_aliases[placeholder] = real
            if tx.transaction_id == placeholder:
                tx.transaction_id = real
            if self.transactions.get(tx.connector) == placeholder:
                self.transactions[tx.connector] = real
            self._log.info("offline_transaction_id_learned", placeholder=placeholder, transaction_id=real)

        self._queue.append(_Queued("StartTransaction", lambda: payload, learn_id))
        return placeholder

    def _check_id_tag_info(self, result: JsonDict) -> None:
        info = result.get("idTagInfo")
        status = info.get("status") if isinstance(info, dict) else None
        if status != "Accepted":
            self._log.warning("transaction_not_authorized", status=status)

    async def _stop_16(self, tx: _Transaction, stop_wh: int, now: datetime, reason: str) -> JsonDict:
        ref = tx.transaction_id
        energy = "Energy.Active.Import.Register"
        transaction_data: list[JsonDict] = [
            {
                "timestamp": isoformat_z(tx.started_at),
                "sampledValue": [
                    {
                        "value": str(tx.meter_start_wh),
                        "context": "Transaction.Begin",
                        "measurand": energy,
                        "location": "Outlet",
                        "unit": "Wh",
                    }
                ],
            },
            {
                "timestamp": isoformat_z(now),
                "sampledValue": [
                    {
                        "value": str(stop_wh),
                        "context": "Transaction.End",
                        "measurand": energy,
                        "location": "Outlet",
                        "unit": "Wh",
                    }
                ],
            },
        ]
        if self.config.signed_meter_values:
            meter = self.config.serial_number or self.config.charge_point_id
            readings = zip(transaction_data, (tx.meter_start_wh, stop_wh), (tx.started_at, now), strict=True)
            for mv, wh, at in readings:
                raw = mv["sampledValue"][0]
                blob = ocmf_reading(meter, wh, at, raw["context"])
                mv["sampledValue"].append({**raw, "format": "SignedData", "value": blob})
        reason_16 = reason if reason in _REASONS_16 else _REASON_TO_16.get(reason, "Other")

        def build() -> JsonDict:
            return {
                "transactionId": self._tx_int(ref),
                "idTag": tx.id_token,
                "meterStop": stop_wh,
                "timestamp": isoformat_z(now),
                "reason": reason_16,
                "transactionData": transaction_data,
            }

        return await self._send_tx("StopTransaction", build)

    def _sampled_16(self, connector: int, unit: str, context: str) -> list[JsonDict]:
        wh = self.meter_wh[connector]
        energy = f"{wh / 1000:.3f}" if unit == "kWh" else str(wh)
        values: list[JsonDict] = [
            {
                "value": energy,
                "context": context,
                "measurand": "Energy.Active.Import.Register",
                "location": "Outlet",
                "unit": unit,
            },
        ]
        power = self.current_power_w(connector)
        values.append(
            {
                "value": str(power),
                "context": context,
                "measurand": "Power.Active.Import",
                "location": "Outlet",
                "unit": "W",
            }
        )
        amps = power / len(_PHASES) / _VOLTAGE
        for phase in _PHASES:
            values.append(
                {
                    "value": f"{_VOLTAGE:.1f}",
                    "context": context,
                    "measurand": "Voltage",
                    "phase": f"{phase}-N",
                    "location": "Outlet",
                    "unit": "V",
                }
            )
        for phase in _PHASES:
            values.append(
                {
                    "value": f"{amps:.2f}",
                    "context": context,
                    "measurand": "Current.Import",
                    "phase": phase,
                    "location": "Outlet",
                    "unit": "A",
                }
            )
        return values

    def _handlers_16(self) -> dict[str, Callable[[JsonDict], _Answer]]:
        return {
            "Reset": self._on_reset_16,
            "TriggerMessage": self._on_trigger_16,
            "RemoteStartTransaction": self._on_remote_start_16,
            "RemoteStopTransaction": lambda p: self._answer_stop(str(p["transactionId"])),
            "ChangeConfiguration": self._on_change_configuration_16,
            "GetConfiguration": self._on_get_configuration_16,
            "ChangeAvailability": lambda p: self._answer_change_availability(
                p["connectorId"], p["type"] == "Operative"
            ),
            "UnlockConnector": self._on_unlock_16,
            "ReserveNow": self._on_reserve_now_16,
            "CancelReservation": self._answer_cancel_reservation,
            "SetChargingProfile": lambda p: self._answer_set_charging_profile(
                p["connectorId"], p["csChargingProfiles"]
            ),
            "GetCompositeSchedule": self._on_get_composite_schedule_16,
            "ClearChargingProfile": lambda p: self._answer_clear_charging_profile(
                p.get("id"), p.get("connectorId"), p.get("chargingProfilePurpose"), p.get("stackLevel")
            ),
            "DataTransfer": self._answer_data_transfer,
            "ClearCache": self._answer_clear_cache,
            "UpdateFirmware": self._answer_update_firmware,
            "SignedUpdateFirmware": self._answer_update_firmware,
            "GetDiagnostics": self._answer_get_diagnostics,
            "GetLog": self._answer_get_log,
            "ExtendedTriggerMessage": self._on_extended_trigger_16,
            **self._certificate_handlers(),
            "GetLocalListVersion": lambda p: ({"listVersion": self.local_list.version}, None),
            "SendLocalList": self._on_send_local_list_16,
        }

    def _on_extended_trigger_16(self, payload: JsonDict) -> _Answer:
        """ExtendedTriggerMessage (1.6 Security Whitepaper): only SignChargePointCertificate (renewal,
        A03) is implemented here; the other triggers answer NotImplemented."""
        if payload["requestedMessage"] != "SignChargePointCertificate":
            return {"status": "NotImplemented"}, None
        return {"status": "Accepted"}, lambda: self.sign_certificate

    def _on_send_local_list_16(self, payload: JsonDict) -> _Answer:
        # 1.6 §6.42: an entry without idTagInfo is removed from the list.
        items = [(e["idTag"], e.get("idTagInfo")) for e in payload.get("localAuthorizationList", [])]
        status = self.local_list.apply_update(payload["listVersion"], payload["updateType"], items)
        return {"status": status}, None

    def _on_reset_16(self, payload: JsonDict) -> _Answer:
        reason = "HardReset" if payload["type"] == "Hard" else "SoftReset"
        return {"status": "Accepted"}, lambda: partial(self._reset, reason)

    def _on_trigger_16(self, payload: JsonDict) -> _Answer:
        connector = payload.get("connectorId")
        if connector and connector not in self.connector_ids:
            return {"status": "Rejected"}, None
        targets = [connector] if connector else list(self.connector_ids)
        follow_up = self._trigger_follow_up(payload["requestedMessage"], targets)
        if follow_up is None:
            return {"status": "NotImplemented"}, None
        return {"status": "Accepted"}, lambda: follow_up

    def _on_remote_start_16(self, payload: JsonDict) -> _Answer:
        return self._answer_start(
            payload.get("connectorId"), payload["idTag"], "ISO14443", None, payload.get("chargingProfile")
        )

    def _on_change_configuration_16(self, payload: JsonDict) -> _Answer:
        key, value = payload["key"], payload["value"]
        setting = self.settings.get(key)
        if setting is None:
            return {"status": "NotSupported"}, None
        if setting.readonly or not self._valid_value(setting, value):
            return {"status": "Rejected"}, None
        return {"status": "Accepted"}, lambda: self._apply_setting(key, value)

    def _on_get_configuration_16(self, payload: JsonDict) -> _Answer:
        keys = payload.get("key") or [k for k, s in self.settings.items() if not s.write_only]
        known: list[JsonDict] = []
        unknown: list[str] = []
        for key in keys:
            setting = self.settings.get(key)
            if setting is None:
                unknown.append(key)
                continue
            entry: JsonDict = {"key": key, "readonly": setting.readonly}
            if not setting.write_only:  # Security whitepaper: AuthorizationKey is never revealed
                entry["value"] = setting.value
            known.append(entry)
        result: JsonDict = {}
        if known:
            result["configurationKey"] = known
        if unknown:
            result["unknownKey"] = unknown
        return result, None

    def _on_unlock_16(self, payload: JsonDict) -> _Answer:
        connector = payload["connectorId"]
        if connector not in self.connector_ids:
            return {"status": "NotSupported"}, None
        status = "UnlockFailed" if self.config.unlock_fails else "Unlocked"
        if connector in self._tx:
            # 1.6 §5.18: a running transaction is stopped first (reason UnlockCommand).
            return {"status": status}, lambda: partial(
                self.stop_transaction, connector, reason="UnlockCommand"
            )
        return {"status": status}, None

    def _on_reserve_now_16(self, payload: JsonDict) -> _Answer:
        connector = payload["connectorId"]
        if not self.config.reservation_support or (connector != 0 and connector not in self.connector_ids):
            return {"status": "Rejected"}, None
        if connector == 0 and not self._setting_true("ReserveConnectorZeroSupported"):
            return {"status": "Rejected"}, None
        return self._answer_reserve(
            payload["reservationId"],
            connector,
            payload["expiryDate"],
            payload["idTag"],
            payload.get("parentIdTag"),
        )
