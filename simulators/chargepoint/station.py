"""What the station tells the CSMS outside transactions (boot, heartbeat, status, authorize), and the
station's own state: connectors, settings, restarts."""

from __future__ import annotations

from csms.domain.clock import isoformat_z
from simulators.chargepoint.errors import SimulatorError
from simulators.chargepoint.model import _STARTABLE, FollowUp, JsonDict, Setting, _number
from simulators.chargepoint.reservations import StationReservations


class StationState(StationReservations):
    """Boot, status, authorization and local state."""

    async def boot(self, reason: str = "PowerUp") -> JsonDict:
        """Send BootNotification; on Accepted adopt `interval` as heartbeat period and start heartbeats.

        Args:
            reason: 2.0.1 BootReasonEnumType (PowerUp, RemoteReset, Triggered, ...); 1.6 has none.

        Returns:
            The response payload (status, currentTime, interval); `boot_status` holds the status.
        """
        cfg = self.config
        payload: JsonDict
        if self._v16:
            payload = {
                "chargePointVendor": cfg.vendor,
                "chargePointModel": cfg.model,
                "firmwareVersion": cfg.firmware_version,
            }
            if cfg.serial_number:
                payload["chargePointSerialNumber"] = cfg.serial_number
        else:
            station: JsonDict = {
                "model": cfg.model,
                "vendorName": cfg.vendor,
                "firmwareVersion": cfg.firmware_version,
            }
            if cfg.serial_number:
                station["serialNumber"] = cfg.serial_number
            payload = {"chargingStation": station, "reason": reason}
        result = await self.call("BootNotification", payload)
        self.boot_status = result.get("status")
        interval = result.get("interval")
        if self.boot_status == "Accepted" and isinstance(interval, int) and interval > 0:
            self.settings[self._heartbeat_key].value = str(interval)
        self._log.info("booted", status=self.boot_status, interval=interval)
        self._restart_heartbeat()
        self._notify()
        return result

    async def heartbeat(self) -> JsonDict:
        """Send Heartbeat; returns `{currentTime}`."""
        return await self.call("Heartbeat", {})

    async def send_status(self, connector: int, status: str, error_code: str = "NoError") -> JsonDict:
        """Report `status` (in this version's words) for `connector` with StatusNotification.

        While offline the status is only remembered and reported by `come_back()`. A connector that
        becomes Faulted or Unavailable loses its reservation (2.0.1: ReservationStatusUpdate Removed);
        Faulted sticks until another status is sent for the connector.

        Args:
            connector: 1.6 connector id (0 = the whole charge point); 2.0.1 EVSE id (connector 1).
            status: 1.6 ChargePointStatus (Available, Preparing, Charging, ...) or 2.0.1
                ConnectorStatusEnumType (Available, Occupied, Reserved, Unavailable, Faulted).
            error_code: 1.6 ChargePointErrorCode; ignored in 2.0.1, which has none.
        """
        self.connector_status[connector] = status
        if self._offline:
            self._status_dirty.add(connector)
            result: JsonDict = {}
        else:
            result = await self._send_status_now(connector, status, error_code)
        if status in ("Faulted", "Unavailable") and connector in self.connector_ids:
            await self._drop_reservations(connector)
        return result

    async def _send_status_now(self, connector: int, status: str, error_code: str) -> JsonDict:
        timestamp = isoformat_z(self._clock())
        payload: JsonDict
        if self._v16:
            payload = {
                "connectorId": connector,
                "errorCode": error_code,
                "status": status,
                "timestamp": timestamp,
            }
        else:
            payload = {
                "timestamp": timestamp,
                "connectorStatus": status,
                "evseId": connector,
                "connectorId": 1,
            }
        result = await self.call("StatusNotification", payload)
        self._status_sent[connector] = status
        self._notify()
        return result

    async def _set_status(self, connector: int, status: str) -> None:
        """Report `status` unless it is already the last one reported (stations report changes)."""
        if self.connector_status.get(connector) == status and self._status_sent.get(connector) == status:
            return
        await self.send_status(connector, status)

    async def _report_status(self, connector: int, status: str) -> None:
        """Report `status`; when the socket is down (but not `go_offline()`), remember it for later."""
        if not self._offline and not self.connected:
            self.connector_status[connector] = status
            self._status_dirty.add(connector)
            return
        await self.send_status(connector, status)

    async def _refresh_statuses(self) -> None:
        """Report the connectors whose resting status (Available / Reserved / ...) has changed.

        Connectors with a cable or a transaction are left alone; their status follows the session.
        """
        for connector in self.connector_ids:
            if connector in self._tx or connector in self._starting or self.plugged[connector]:
                continue
            status = self._idle_status(connector)
            if self.connector_status.get(connector) != status:
                await self._report_status(connector, status)

    async def send_all_statuses(self) -> None:
        """Report the current status of every connector (after boot, or when triggered)."""
        for connector in self.connector_ids:
            await self.send_status(connector, self._idle_status(connector))

    async def plug_in(self, connector: int) -> None:
        """Connect a cable: status Preparing (1.6) / Occupied (2.0.1)."""
        self._check_connector(connector)
        self.plugged[connector] = True
        await self.send_status(connector, "Preparing" if self._v16 else "Occupied")
        if self._zero_reservations():
            await self._refresh_statuses()

    async def unplug(self, connector: int) -> None:
        """Remove the cable: a running transaction ends with reason EVDisconnected; then the connector
        rests as Available (or Reserved, Unavailable, Faulted)."""
        self._check_connector(connector)
        self.plugged[connector] = False
        if connector in self._tx:
            await self.stop_transaction(connector, reason="EVDisconnected")
        else:
            await self.send_status(connector, self._idle_status(connector))
            if self._zero_reservations():
                await self._refresh_statuses()

    async def authorize(self, id_token: str, *, id_token_type: str = "ISO14443") -> JsonDict:
        """Send Authorize for `id_token`; remember its parentIdTag (1.6) / groupIdToken (2.0.1).

        Returns:
            idTagInfo (1.6) or idTokenInfo (2.0.1); check its `status`.
        """
        if self._v16:
            result = await self.call("Authorize", {"idTag": id_token})
            info = result.get("idTagInfo", {})
        else:
            result = await self.call("Authorize", {"idToken": {"idToken": id_token, "type": id_token_type}})
            info = result.get("idTokenInfo", {})
        info = dict(info) if isinstance(info, dict) else {}
        parent = info.get("parentIdTag") if self._v16 else (info.get("groupIdToken") or {}).get("idToken")
        self.token_parents[id_token] = parent if isinstance(parent, str) else None
        return info

    def _check_startable(self, connector: int) -> None:
        """Raise SimulatorError unless a transaction may start on `connector` (reservations aside)."""
        self._check_connector(connector)
        if connector in self._tx:
            raise SimulatorError(
                f"connector {connector} already runs transaction {self.transactions.get(connector)}"
            )
        if self.connector_status.get(connector) == "Faulted" or connector in self.inoperative:
            raise SimulatorError(f"connector {connector} is {self._idle_status(connector)}")

    def _check_connector(self, connector: int) -> None:
        if connector not in self.connector_ids:
            raise SimulatorError(f"no connector {connector} (have 1..{len(self.connector_ids)})")

    def _idle_status(self, connector: int, *, cable: bool = True) -> str:
        """The status a connector reports when nothing is happening to it right now.

        Args:
            cable: take a plugged cable into account (False: the status once the session is over).
        """
        if self.connector_status.get(connector) == "Faulted":
            return "Faulted"
        if connector in self.inoperative:
            return "Unavailable"
        if connector in self._tx:
            return "Charging" if self._v16 else "Occupied"
        if cable and self.plugged.get(connector):
            return "Preparing" if self._v16 else "Occupied"
        if self._reservation_on(connector) is not None or self._held_for_station(connector):
            return "Reserved"
        return "Available"

    def _free_connector(self, requested: int | None, id_token: str) -> int | None:
        """The connector a remote start may use: `requested` if free, else the first free one.

        Free: operative, no transaction, and not held by a reservation for another token; without a
        requested connector one reserved for `id_token` comes first.
        """
        if requested is not None:
            candidates: tuple[int, ...] = (requested,) if requested in self.connector_ids else ()
        else:
            mine = tuple(
                r.connector
                for r in self.reservations.values()
                if r.connector in self.connector_ids and self._matches(r, id_token)
            )
            candidates = (*mine, *(c for c in self.connector_ids if c not in mine))
        for connector in candidates:
            if (
                connector not in self._tx
                and connector not in self._starting
                and connector not in self.inoperative
                and self.connector_status.get(connector) in _STARTABLE
                and self._start_reservation(connector, id_token)[1] is None
            ):
                return connector
        return None

    def _connector_of(self, transaction_id: str) -> int | None:
        for connector, tx in self._tx.items():
            if transaction_id in (tx.transaction_id, self._tx_aliases.get(tx.transaction_id)):
                return connector
        return None

    async def _remote_start(
        self,
        connector: int,
        id_token: str,
        id_token_type: str,
        remote_start_id: int | None,
        profile: JsonDict | None = None,
    ) -> None:
        """Follow-up of an accepted remote start: authorize if configured, plug in, start, and install
        the TxProfile that came with the request."""
        try:
            if self._setting_true(
                "AuthorizeRemoteTxRequests" if self._v16 else "AuthCtrlr.AuthorizeRemoteStart"
            ):
                info = await self.authorize(id_token, id_token_type=id_token_type)
                if info.get("status") != "Accepted":
                    self._log.info("remote_start_not_authorized", status=info.get("status"))
                    return
            if not self.plugged[connector]:
                await self.plug_in(connector)
            await self.start_transaction(
                connector, id_token, remote_start_id=remote_start_id, id_token_type=id_token_type
            )
            if profile is not None:
                profile_id, _, _ = self._profile_key(profile)
                self.charging_profiles.setdefault(connector, {})[profile_id] = profile
        finally:
            self._starting.discard(connector)

    async def _reset(self, reason: str) -> None:
        """Follow-up of an accepted Reset: stop transactions, reconnect, boot, report statuses."""
        for connector in list(self._tx):
            try:
                await self.stop_transaction(connector, reason=reason)
            except (SimulatorError, TimeoutError) as exc:
                self.errors.append(exc)
        await self.restart(boot_reason="RemoteReset")

    async def restart(self, *, boot_reason: str = "PowerUp") -> None:
        """Reboot: close the socket, reconnect, send BootNotification and every connector's status."""
        self._log.info("restarting", boot_reason=boot_reason)
        await self._drop_connection(1000, "rebooting")
        await self.connect()
        result = await self.boot(boot_reason)
        if result.get("status") == "Accepted":
            await self._drain_queue()  # e.g. a reservation that expired while the station rebooted
            self._status_dirty.clear()
            await self.send_all_statuses()

    async def _reconnect(self) -> None:
        """Reconnect with the (new) password; boot again unless already Accepted."""
        await self._drop_connection(1000, "new credentials")
        await self.connect()
        if self.boot_status != "Accepted":
            await self.boot()

    def _setting_true(self, key: str) -> bool:
        setting = self.settings.get(key)
        return setting is not None and setting.value.lower() == "true"

    def _default_settings(self) -> dict[str, Setting]:
        cfg = self.config
        interval = _number(cfg.meter_interval)
        sampled = "Energy.Active.Import.Register,Power.Active.Import,Voltage,Current.Import"
        reservations = "true" if cfg.reservation_support else "false"
        if self._v16:
            profiles = "Core,Reservation,RemoteTrigger,SmartCharging"
            if not cfg.reservation_support:
                profiles = profiles.replace(",Reservation", "")
            return {
                "HeartbeatInterval": Setting("0", kind="int"),
                "MeterValueSampleInterval": Setting(interval, kind="number"),
                "MeterValuesSampledData": Setting(sampled),
                "StopTxnSampledData": Setting("Energy.Active.Import.Register"),
                "ClockAlignedDataInterval": Setting("0", kind="int"),
                "ConnectionTimeOut": Setting("60", kind="int"),
                "AuthorizeRemoteTxRequests": Setting("false", kind="bool"),
                "LocalAuthorizeOffline": Setting("true", kind="bool"),
                "LocalPreAuthorize": Setting("false", kind="bool"),
                "StopTransactionOnEVSideDisconnect": Setting("true", kind="bool"),
                "StopTransactionOnInvalidId": Setting("true", kind="bool"),
                "UnlockConnectorOnEVSideDisconnect": Setting("true", kind="bool"),
                "NumberOfConnectors": Setting(str(cfg.connectors), readonly=True, kind="int"),
                "ReserveConnectorZeroSupported": Setting(
                    "true" if cfg.reserve_connector_zero else "false", readonly=True, kind="bool"
                ),
                "SupportedFeatureProfiles": Setting(profiles, readonly=True),
                "ChargeProfileMaxStackLevel": Setting("10", readonly=True, kind="int"),
                "ChargingScheduleAllowedChargingRateUnit": Setting("Current,Power", readonly=True),
                "ChargingScheduleMaxPeriods": Setting("24", readonly=True, kind="int"),
                "MaxChargingProfilesInstalled": Setting("20", readonly=True, kind="int"),
                "AuthorizationKey": Setting(cfg.password or "", write_only=True),
            }
        settings = {
            "OCPPCommCtrlr.HeartbeatInterval": Setting("0", kind="int"),
            "OCPPCommCtrlr.OfflineThreshold": Setting("60", kind="int"),
            "SampledDataCtrlr.TxUpdatedInterval": Setting(interval, kind="number"),
            "SampledDataCtrlr.TxUpdatedMeasurands": Setting(sampled),
            "SampledDataCtrlr.TxStartedMeasurands": Setting("Energy.Active.Import.Register"),
            "SampledDataCtrlr.TxEndedMeasurands": Setting("Energy.Active.Import.Register"),
            "AuthCtrlr.AuthorizeRemoteStart": Setting("false", kind="bool"),
            "TxCtrlr.EVConnectionTimeOut": Setting("60", kind="int"),
            "TxCtrlr.StopTxOnEVSideDisconnect": Setting("true", kind="bool"),
            "ReservationCtrlr.Available": Setting(reservations, readonly=True, kind="bool"),
            "ReservationCtrlr.Enabled": Setting(reservations, kind="bool"),
            "ReservationCtrlr.NonEvseSpecific": Setting(
                "true" if cfg.non_evse_specific_reservations else "false", readonly=True, kind="bool"
            ),
            "SmartChargingCtrlr.Available": Setting("true", readonly=True, kind="bool"),
            "SmartChargingCtrlr.Enabled": Setting("true", kind="bool"),
            "SmartChargingCtrlr.ProfileStackLevel": Setting("10", readonly=True, kind="int"),
            "SmartChargingCtrlr.RateUnit": Setting("A,W", readonly=True),
            "SmartChargingCtrlr.PeriodsPerSchedule": Setting("24", readonly=True, kind="int"),
            "SecurityCtrlr.SecurityProfile": Setting("1", readonly=True, kind="int"),
            "SecurityCtrlr.Identity": Setting(cfg.charge_point_id, readonly=True),
            "SecurityCtrlr.BasicAuthPassword": Setting(cfg.password or "", write_only=True),
        }
        if cfg.tariff_cost_currency is not None:
            settings |= {
                "TariffCostCtrlr.Available.Cost": Setting("true", readonly=True, kind="bool"),
                "TariffCostCtrlr.Enabled.Cost": Setting("true", kind="bool"),
                "TariffCostCtrlr.Currency": Setting(cfg.tariff_cost_currency),
            }
        return settings

    @staticmethod
    def _valid_value(setting: Setting, value: str) -> bool:
        if setting.kind == "int":
            return value.isdigit()
        if setting.kind == "number":
            try:
                return float(value) > 0
            except ValueError:
                return False
        if setting.kind == "bool":
            return value.lower() in ("true", "false")
        return True

    def _apply_setting(self, key: str, value: str) -> FollowUp | None:
        """Store a new value and act on it; a new password returns the reconnect follow-up."""
        self.settings[key].value = value
        self._log.info("setting_changed", key=key)
        if key == self._heartbeat_key:
            self._restart_heartbeat()
        elif key in ("MeterValueSampleInterval", "SampledDataCtrlr.TxUpdatedInterval"):
            self.config.meter_interval = float(value)
        elif key in ("AuthorizationKey", "SecurityCtrlr.BasicAuthPassword"):
            # Security whitepaper / OCPP 2.0.1 A01: reconnect with the new password.
            self.config.password = value
            return self._reconnect
        return None

    def _profile_key(self, profile: JsonDict) -> tuple[int, int, str]:
        """(id, stackLevel, purpose) of a 1.6 csChargingProfiles / 2.0.1 ChargingProfileType."""
        profile_id = profile["chargingProfileId"] if self._v16 else profile["id"]
        return profile_id, profile["stackLevel"], profile["chargingProfilePurpose"]
