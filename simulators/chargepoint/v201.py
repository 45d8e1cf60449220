"""OCPP 2.0.1 behaviour of the simulator: TransactionEvent messages, the table of CSMS calls it answers and
the device model (GetBaseReport, Get/SetVariables)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from csms.domain.clock import isoformat_z
from simulators.chargepoint.local_list import LocalList
from simulators.chargepoint.model import (
    _AVAILABILITY_STATES,
    _DATA_TYPES,
    _PHASES,
    _VOLTAGE,
    FollowUp,
    JsonDict,
    _Answer,
    _DeviceVariable,
    _Transaction,
    signed_meter_value,
)
from simulators.chargepoint.smart_charging import StationSmartCharging


class V201Behaviour(StationSmartCharging):
    """The OCPP 2.0.1 messages, answers and device model."""

    local_list: LocalList

    async def _start_201(self, tx: _Transaction) -> str:
        tx.transaction_id = str(uuid.uuid4())
        event = self._tx_event(
            tx,
            "Started",
            "RemoteStart" if tx.remote_start_id is not None else "Authorized",
            timestamp=tx.started_at,
            charging_state="Charging",
            with_id_token=True,
            meter_value=self._meter_value_201(
                tx.connector, "Wh", "Transaction.Begin", tx.started_at, energy_only=True
            ),
        )
        event["evse"] = {"id": tx.connector, "connectorId": 1}
        if tx.reservation_id is not None:
            event["reservationId"] = tx.reservation_id
        await self._send_tx("TransactionEvent", lambda: event)
        return tx.transaction_id

    def _tx_event(
        self,
        tx: _Transaction,
        event_type: str,
        trigger: str,
        *,
        timestamp: datetime,
        charging_state: str,
        stopped_reason: str | None = None,
        with_id_token: bool = False,
        meter_value: JsonDict | None = None,
    ) -> JsonDict:
        """Build a 2.0.1 TransactionEvent and take the next seqNo (0 on Started, then +1 per event)."""
        info: JsonDict = {"transactionId": tx.transaction_id, "chargingState": charging_state}
        if stopped_reason is not None:
            info["stoppedReason"] = stopped_reason
        if event_type == "Started" and tx.remote_start_id is not None:
            info["remoteStartId"] = tx.remote_start_id
        event: JsonDict = {
            "eventType": event_type,
            "timestamp": isoformat_z(timestamp),
            "triggerReason": trigger,
            "seqNo": tx.next_seq_no,
            "transactionInfo": info,
        }
        tx.next_seq_no += 1
        if not self.connected:
            event["offline"] = True
        if with_id_token:
            event["idToken"] = {"idToken": tx.id_token, "type": tx.id_token_type}
        if meter_value is not None:
            event["meterValue"] = [meter_value]
        return event

    def _meter_value_201(
        self, connector: int, unit: str, context: str, timestamp: datetime, *, energy_only: bool = False
    ) -> JsonDict:
        wh = self.meter_wh[connector]
        energy: JsonDict = {
            "value": wh,
            "context": context,
            "measurand": "Energy.Active.Import.Register",
            "location": "Outlet",
        }
        if unit == "kWh":
            energy["value"] = wh / 1000
            energy["unitOfMeasure"] = {"unit": "kWh"}
        if self.config.signed_meter_values and context in ("Transaction.Begin", "Transaction.End"):
            meter = self.config.serial_number or self.config.charge_point_id
            energy["signedMeterValue"] = signed_meter_value(meter, wh, timestamp, context)
        values = [energy]
        if not energy_only:
            power = self.current_power_w(connector)
            values.append(
                {
                    "value": power,
                    "context": context,
                    "measurand": "Power.Active.Import",
                    "location": "Outlet",
                    "unitOfMeasure": {"unit": "W"},
                }
            )
            amps = round(power / len(_PHASES) / _VOLTAGE, 2)
            for phase in _PHASES:
                values.append(
                    {
                        "value": _VOLTAGE,
                        "context": context,
                        "measurand": "Voltage",
                        "phase": f"{phase}-N",
                        "location": "Outlet",
                        "unitOfMeasure": {"unit": "V"},
                    }
                )
            for phase in _PHASES:
                values.append(
                    {
                        "value": amps,
                        "context": context,
                        "measurand": "Current.Import",
                        "phase": phase,
                        "location": "Outlet",
                        "unitOfMeasure": {"unit": "A"},
                    }
                )
        return {"timestamp": isoformat_z(timestamp), "sampledValue": values}

    def _on_send_local_list_201(self, payload: JsonDict) -> _Answer:
        # 2.0.1 D01.FR.18: an entry without idTokenInfo is removed from the list.
        entries = payload.get("localAuthorizationList", [])
        items = [(e["idToken"]["idToken"], e.get("idTokenInfo")) for e in entries]
        status = self.local_list.apply_update(payload["versionNumber"], payload["updateType"], items)
        return {"status": status}, None

    def _handlers_201(self) -> dict[str, Callable[[JsonDict], _Answer]]:
        return {
            "Reset": self._on_reset_201,
            "TriggerMessage": self._on_trigger_201,
            "RequestStartTransaction": self._on_request_start_201,
            "RequestStopTransaction": lambda p: self._answer_stop(p["transactionId"]),
            "GetVariables": self._on_get_variables_201,
            "SetVariables": self._on_set_variables_201,
            "GetBaseReport": self._on_get_base_report_201,
            "ChangeAvailability": lambda p: self._answer_change_availability(
                p.get("evse", {}).get("id", 0), p["operationalStatus"] == "Operative"
            ),
            "UnlockConnector": self._on_unlock_201,
            "ReserveNow": self._on_reserve_now_201,
            "CancelReservation": self._answer_cancel_reservation,
            "SetChargingProfile": lambda p: self._answer_set_charging_profile(
                p["evseId"], p["chargingProfile"]
            ),
            "GetCompositeSchedule": self._on_get_composite_schedule_201,
            "GetChargingProfiles": self._on_get_charging_profiles_201,
            "ClearChargingProfile": self._on_clear_charging_profile_201,
            "DataTransfer": self._answer_data_transfer,
            "ClearCache": self._answer_clear_cache,
            "GetLocalListVersion": lambda p: ({"versionNumber": self.local_list.version}, None),
            "SendLocalList": self._on_send_local_list_201,
            "CostUpdated": self._on_cost_updated_201,
            "UpdateFirmware": self._answer_update_firmware,
            "GetLog": self._answer_get_log,
            **self._certificate_handlers(),
        }

    def _on_cost_updated_201(self, payload: JsonDict) -> _Answer:
        """Show the running cost (OCPP 2.0.1 I02.FR.03); kept in `costs_shown`."""
        cost = Decimal(str(payload["totalCost"]))
        self.costs_shown.append(("CostUpdated", payload["transactionId"], cost))
        return {}, None

    def _on_reset_201(self, payload: JsonDict) -> _Answer:
        if "evseId" in payload:
            return {"status": "Rejected"}, None  # resetting a single EVSE is not supported
        if payload["type"] == "OnIdle" and self._tx:

            def schedule() -> None:
                self._reset_when_idle = True

            return {"status": "Scheduled"}, schedule
        return {"status": "Accepted"}, lambda: partial(self._reset, "ImmediateReset")

    def _on_trigger_201(self, payload: JsonDict) -> _Answer:
        requested = payload["requestedMessage"]
        evse: JsonDict = payload.get("evse") or {}
        evse_id = evse.get("id")
        if evse_id and (evse_id not in self.connector_ids or evse.get("connectorId", 1) != 1):
            return {"status": "Rejected"}, None
        targets = [evse_id] if evse_id else list(self.connector_ids)
        follow_up = self._trigger_follow_up(requested, targets)
        if requested == "SignChargingStationCertificate":  # A03.FR.01: renewal on request
            follow_up = self.sign_certificate
        if follow_up is None:
            return {"status": "NotImplemented"}, None
        if requested == "TransactionEvent" and not any(c in self._tx for c in targets):
            return {"status": "Rejected"}, None
        return {"status": "Accepted"}, lambda: follow_up

    def _on_request_start_201(self, payload: JsonDict) -> _Answer:
        id_token = payload["idToken"]["idToken"]
        group = payload.get("groupIdToken")
        if group is not None:
            self.token_parents[id_token] = group["idToken"]
        return self._answer_start(
            payload.get("evseId"),
            id_token,
            payload["idToken"]["type"],
            payload["remoteStartId"],
            payload.get("chargingProfile"),
        )

    def _on_clear_charging_profile_201(self, payload: JsonDict) -> _Answer:
        criteria = payload.get("chargingProfileCriteria", {})
        return self._answer_clear_charging_profile(
            payload.get("chargingProfileId"),
            criteria.get("evseId"),
            criteria.get("chargingProfilePurpose"),
            criteria.get("stackLevel"),
        )

    def device_model(self) -> list[JsonDict]:
        """The 2.0.1 device model as NotifyReport reportData entries (what FullInventory reports).

        Station-level variables come from `settings`; ChargingStation, EVSE and Connector components
        (AvailabilityState, ConnectorType, ...) are read-only and follow the live state.
        """
        return [variable.report() for variable in self._device_variables()]

    def _device_variables(self) -> list[_DeviceVariable]:
        variables: list[_DeviceVariable] = []
        for key, setting in self.settings.items():
            parts = key.split(".", 2)
            if len(parts) < 2:
                continue
            variable: JsonDict = {"name": parts[1]}
            if len(parts) == 3:
                variable["instance"] = parts[2]
            mutability = (
                "WriteOnly" if setting.write_only else "ReadOnly" if setting.readonly else "ReadWrite"
            )
            variables.append(
                _DeviceVariable(
                    {"name": parts[0]},
                    variable,
                    _DATA_TYPES.get(setting.kind, "string"),
                    mutability,
                    setting.value,
                    key=key,
                )
            )

        def read_only(
            component: JsonDict, name: str, data_type: str, value: str, **extra: Any
        ) -> _DeviceVariable:
            return _DeviceVariable(component, {"name": name}, data_type, "ReadOnly", value, **extra)

        def availability(component: JsonDict, state: str) -> _DeviceVariable:
            return read_only(
                component, "AvailabilityState", "OptionList", state, values_list=_AVAILABILITY_STATES
            )

        station: JsonDict = {"name": "ChargingStation"}
        operative = any(c not in self.inoperative for c in self.connector_ids)
        variables += [
            availability(station, "Available" if operative else "Unavailable"),
            read_only(station, "Available", "boolean", "true"),
            read_only(station, "Model", "string", self.config.model),
            read_only(station, "VendorName", "string", self.config.vendor),
        ]
        max_power = float(self.config.power_w)
        for evse_id in self.connector_ids:
            state = self.connector_status.get(evse_id, "Available")
            evse: JsonDict = {"name": "EVSE", "evse": {"id": evse_id}}
            connector: JsonDict = {"name": "Connector", "evse": {"id": evse_id, "connectorId": 1}}
            power = str(self.current_power_w(evse_id))
            variables += [
                availability(evse, state),
                read_only(evse, "Available", "boolean", "true"),
                read_only(evse, "Power", "decimal", power, unit="W", max_limit=max_power),
                availability(connector, state),
                read_only(connector, "Available", "boolean", "true"),
                read_only(connector, "ConnectorType", "string", self.config.connector_type),
            ]
        return variables

    def _variable(self, item: JsonDict) -> tuple[_DeviceVariable | None, str, JsonDict]:
        """Look up the variable a Get/SetVariables item names.

        Returns:
            (the variable or None, the status if unknown: UnknownComponent / UnknownVariable, the result
            skeleton echoing component, variable and attributeType).
        """
        component, variable = item["component"], item["variable"]
        result: JsonDict = {"component": component, "variable": variable}
        if "attributeType" in item:
            result["attributeType"] = item["attributeType"]
        unknown = "UnknownComponent"
        for candidate in self._device_variables():
            if candidate.is_component(component):
                unknown = "UnknownVariable"
                if candidate.is_variable(variable):
                    return candidate, unknown, result
        return None, unknown, result

    def _on_get_variables_201(self, payload: JsonDict) -> _Answer:
        results: list[JsonDict] = []
        for item in payload["getVariableData"]:
            found, unknown, result = self._variable(item)
            if found is None:
                result["attributeStatus"] = unknown
            elif item.get("attributeType", "Actual") != "Actual":
                result["attributeStatus"] = "NotSupportedAttributeType"
            elif found.mutability == "WriteOnly":
                result["attributeStatus"] = "Rejected"
            else:
                result["attributeStatus"] = "Accepted"
                result["attributeValue"] = found.value
            results.append(result)
        return {"getVariableResult": results}, None

    def _on_set_variables_201(self, payload: JsonDict) -> _Answer:
        results: list[JsonDict] = []
        changes: list[tuple[str, str]] = []
        for item in payload["setVariableData"]:
            found, unknown, result = self._variable(item)
            value = item["attributeValue"]
            setting = self.settings.get(found.key) if found is not None and found.key is not None else None
            if found is None:
                result["attributeStatus"] = unknown
            elif item.get("attributeType", "Actual") != "Actual":
                result["attributeStatus"] = "NotSupportedAttributeType"
            elif (
                setting is None
                or found.key is None
                or setting.readonly
                or not self._valid_value(setting, value)
            ):
                result["attributeStatus"] = "Rejected"
            else:
                result["attributeStatus"] = "Accepted"
                changes.append((found.key, value))
            results.append(result)

        def commit() -> FollowUp | None:
            follow_ups = [f for f in (self._apply_setting(k, v) for k, v in changes) if f is not None]
            if not follow_ups:
                return None

            async def run_all() -> None:
                for follow_up in follow_ups:
                    await follow_up()

            return run_all

        return {"setVariableResult": results}, commit

    def _on_get_base_report_201(self, payload: JsonDict) -> _Answer:
        """GetBaseReport: Accepted, then the report as a stream of NotifyReport messages."""
        if self._reporting:
            return {"status": "Rejected"}, None  # one report at a time
        base = payload["reportBase"]
        variables = self._device_variables()
        if base == "ConfigurationInventory":  # what the operator can set
            variables = [v for v in variables if v.mutability != "ReadOnly"]
        elif base == "SummaryInventory":  # availability and problems
            variables = [v for v in variables if v.variable["name"] == "AvailabilityState"]
        if not variables:
            return {"status": "EmptyResultSet"}, None
        report = [v.report() for v in variables]

        def commit() -> FollowUp:
            self._reporting = True
            return partial(self._send_report, payload["requestId"], report)

        return {"status": "Accepted"}, commit

    async def _send_report(self, request_id: int, report: list[JsonDict]) -> None:
        """Send `report` as NotifyReport messages of `report_chunk_size` entries: seqNo 0..n, the same
        requestId and generatedAt, tbc true on all but the last."""
        try:
            generated_at = isoformat_z(self._clock())
            size = self.config.report_chunk_size
            chunks = [report[i : i + size] for i in range(0, len(report), size)]
            for seq_no, chunk in enumerate(chunks):
                await self.call(
                    "NotifyReport",
                    {
                        "requestId": request_id,
                        "generatedAt": generated_at,
                        "seqNo": seq_no,
                        "tbc": seq_no < len(chunks) - 1,
                        "reportData": chunk,
                    },
                )
        finally:
            self._reporting = False

    def _on_unlock_201(self, payload: JsonDict) -> _Answer:
        if payload["evseId"] not in self.connector_ids or payload["connectorId"] != 1:
            return {"status": "UnknownConnector"}, None
        if payload["evseId"] in self._tx:
            return {"status": "OngoingAuthorizedTransaction"}, None
        return {"status": "UnlockFailed" if self.config.unlock_fails else "Unlocked"}, None

    def _on_reserve_now_201(self, payload: JsonDict) -> _Answer:
        evse_id = payload.get("evseId")
        if not (
            self._setting_true("ReservationCtrlr.Available")
            and self._setting_true("ReservationCtrlr.Enabled")
        ):
            return {"status": "Rejected"}, None
        if evse_id is None and not self._setting_true("ReservationCtrlr.NonEvseSpecific"):
            return {"status": "Rejected"}, None
        if evse_id is not None and evse_id not in self.connector_ids:
            return {"status": "Rejected"}, None
        connector_type = payload.get("connectorType")
        if connector_type not in (None, self.config.connector_type, "Unknown", "Undetermined"):
            return {"status": "Rejected"}, None  # no connector of that type here
        group = payload.get("groupIdToken")
        return self._answer_reserve(
            payload["id"],
            evse_id or 0,
            payload["expiryDateTime"],
            payload["idToken"]["idToken"],
            group["idToken"] if group is not None else None,
        )
