"""The answers to CSMS calls both versions share (reservations, availability, remote start and stop,
triggers) and charging profiles."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from csms.domain.clock import isoformat_z, parse_datetime
from simulators.chargepoint.maintenance import StationMaintenance
from simulators.chargepoint.model import (
    _MAX_PROFILE_PURPOSES,
    FollowUp,
    JsonDict,
    _Answer,
)


class StationAnswers(StationMaintenance):
    """Version-neutral answers and charging profiles."""

    def _answer_cancel_reservation(self, payload: JsonDict) -> _Answer:
        reservation_id = payload["reservationId"]
        if reservation_id not in self.reservations:
            return {"status": "Rejected"}, None

        def commit() -> FollowUp:
            self._end_reservation(reservation_id)
            self._log.info("reservation_cancelled", reservation_id=reservation_id)
            return self._refresh_statuses

        return {"status": "Accepted"}, commit

    def _answer_reserve(
        self,
        reservation_id: int,
        connector: int,
        expiry_text: str,
        id_token: str,
        parent: str | None,
    ) -> _Answer:
        """ReserveNow for `connector` (0: station-wide) once the version-specific checks passed."""
        expiry = parse_datetime(expiry_text)
        if expiry <= self._clock():
            return {"status": "Rejected"}, None
        if connector == 0:
            status = self._reservable_anywhere(reservation_id)
        else:
            status = self._reservable(connector, reservation_id)
        if status != "Accepted":
            return {"status": status}, None
        return {"status": "Accepted"}, lambda: self._reserve(
            reservation_id, connector, id_token, parent, expiry
        )

    def _answer_change_availability(self, connector: int, operative: bool) -> _Answer:
        """ChangeAvailability for connector/EVSE `connector` (0 = all)."""
        if connector != 0 and connector not in self.connector_ids:
            return {"status": "Rejected"}, None
        targets = list(self.connector_ids) if connector == 0 else [connector]
        busy = [c for c in targets if c in self._tx]
        idle = [c for c in targets if c not in self._tx]
        status = "Scheduled" if busy and not operative else "Accepted"

        def commit() -> FollowUp:
            if operative:
                self.inoperative.difference_update(targets)
                self._pending_inoperative.difference_update(targets)
            else:
                self.inoperative.update(idle)
                self._pending_inoperative.update(busy)

            async def report() -> None:
                for c in idle:
                    await self._set_status(c, self._idle_status(c))

            return report

        return {"status": status}, commit

    def _answer_data_transfer(self, payload: JsonDict) -> _Answer:
        return {"status": "UnknownVendorId"}, None

    def _answer_clear_cache(self, payload: JsonDict) -> _Answer:
        return {"status": "Accepted"}, None

    def _answer_stop(self, transaction_id: str) -> _Answer:
        connector = self._connector_of(transaction_id)
        if connector is None or self._tx[connector].stopping.is_set():
            return {"status": "Rejected"}, None

        def commit() -> FollowUp:
            self._tx[connector].stopping.set()
            return partial(self.stop_transaction, connector, reason="Remote")

        return {"status": "Accepted"}, commit

    def _answer_start(
        self,
        requested: int | None,
        id_token: str,
        id_token_type: str,
        remote_start_id: int | None,
        profile: JsonDict | None = None,
    ) -> _Answer:
        """Remote start: Rejected when the connector is busy, unavailable, faulted or held for another
        token, or when the charging profile that came with it is not a TxProfile."""
        if profile is not None and profile["chargingProfilePurpose"] != "TxProfile":
            return {"status": "Rejected"}, None
        connector = self._free_connector(requested, id_token)
        if connector is None:
            return {"status": "Rejected"}, None

        def commit() -> FollowUp:
            self._starting.add(connector)
            return partial(self._remote_start, connector, id_token, id_token_type, remote_start_id, profile)

        return {"status": "Accepted"}, commit

    async def _send_statuses(self, connectors: list[int]) -> None:
        for connector in connectors:
            await self.send_status(connector, self.connector_status.get(connector, "Available"))

    async def _trigger_meter_values(self, connectors: list[int]) -> None:
        for connector in connectors:
            tx = self._tx.get(connector) if self._v16 else None  # 2.0.1 F06: a MeterValuesRequest
            await self._send_sample(connector, tx, unit="Wh", context="Trigger", trigger="Trigger")

    async def _trigger_transaction_events(self, connectors: list[int]) -> None:
        for connector in connectors:
            tx = self._tx.get(connector)
            if tx is not None:
                await self._send_sample(connector, tx, unit="Wh", context="Trigger", trigger="Trigger")

    def _profile_refusal(self, connector: int, profile: JsonDict) -> str | None:
        """Why SetChargingProfile must be Rejected, or None when the profile can be installed."""
        if connector != 0 and connector not in self.connector_ids:
            return "unknown connector"
        if not self._v16 and not self._setting_true("SmartChargingCtrlr.Enabled"):
            return "smart charging disabled"
        _, stack_level, purpose = self._profile_key(profile)
        max_level = self.settings[
            "ChargeProfileMaxStackLevel" if self._v16 else "SmartChargingCtrlr.ProfileStackLevel"
        ]
        if not 0 <= stack_level <= int(max_level.value):
            return "stackLevel out of range"
        schedules = [profile["chargingSchedule"]] if self._v16 else profile["chargingSchedule"]
        max_periods = int(
            self.settings[
                "ChargingScheduleMaxPeriods" if self._v16 else "SmartChargingCtrlr.PeriodsPerSchedule"
            ].value
        )
        if any(len(s["chargingSchedulePeriod"]) > max_periods for s in schedules):
            return "too many periods"
        if purpose in _MAX_PROFILE_PURPOSES and connector != 0:
            return "a max profile belongs to connector 0"
        if purpose == "ChargingStationExternalConstraints":
            return "external constraints are not set by the CSMS"  # 2.0.1 K01.FR.22
        if purpose == "TxProfile":
            if connector not in self._tx:
                return "no transaction on the connector"
            wanted = profile.get("transactionId")
            if wanted is None and not self._v16:
                return "TxProfile without transactionId"  # 2.0.1 K01.FR.03
            if wanted is not None and self._connector_of(str(wanted)) != connector:
                return "transactionId does not match"
        return None

    def _answer_set_charging_profile(self, connector: int, profile: JsonDict) -> _Answer:
        """SetChargingProfile: install (replacing the same id, or the same stackLevel and purpose on the
        connector) or refuse."""
        refusal = self._profile_refusal(connector, profile)
        if refusal is not None:
            self._log.info("charging_profile_rejected", connector=connector, reason=refusal)
            return {"status": "Rejected"}, None
        profile_id, stack_level, purpose = self._profile_key(profile)

        def commit() -> None:
            for installed in self.charging_profiles.values():
                installed.pop(profile_id, None)
            target = self.charging_profiles.setdefault(connector, {})
            for other_id, other in list(target.items()):
                if self._profile_key(other)[1:] == (stack_level, purpose):
                    del target[other_id]
            target[profile_id] = profile
            self._log.info("charging_profile_set", connector=connector, profile_id=profile_id)

        return {"status": "Accepted"}, commit

    def _answer_clear_charging_profile(
        self, profile_id: int | None, connector: int | None, purpose: str | None, stack_level: int | None
    ) -> _Answer:
        """ClearChargingProfile by id, or by the criteria given (none: every profile); Accepted if any
        profile matched, else Unknown."""
        matched: list[tuple[int, int]] = []
        for where, installed in self.charging_profiles.items():
            for pid, profile in installed.items():
                _, level, kind = self._profile_key(profile)
                if profile_id is not None:
                    hit = pid == profile_id
                else:
                    hit = (
                        connector in (None, where)
                        and purpose in (None, kind)
                        and stack_level in (None, level)
                    )
                if hit:
                    matched.append((where, pid))
        if not matched:
            return {"status": "Unknown"}, None

        def commit() -> None:
            for where, pid in matched:
                self.charging_profiles.get(where, {}).pop(pid, None)
            self._log.info("charging_profiles_cleared", profiles=len(matched))

        return {"status": "Accepted"}, commit

    async def sign_certificate(self, certificate_type: str = "ChargingStationCertificate") -> JsonDict:
        """Make a key and CSR and send SignCertificate (OCPP 2.0.1 A02; 1.6 Security Whitepaper, which has
        no certificateType); the CSMS's CertificateSigned installs the chain (`certificates`)."""
        payload: JsonDict = {"csr": self.certificates.make_csr()}
        if not self._v16:
            payload["certificateType"] = certificate_type
        return await self.call("SignCertificate", payload)

    async def send_security_event(self, event_type: str, tech_info: str | None = None) -> JsonDict:
        """Send SecurityEventNotification (2.0.1 A04; the 1.6 extension has the same fields)."""
        payload: JsonDict = {"type": event_type, "timestamp": isoformat_z(self._clock())}
        if tech_info is not None:
            payload["techInfo"] = tech_info
        return await self.call("SecurityEventNotification", payload)

    def _certificate_handlers(self) -> dict[str, Callable[[JsonDict], _Answer]]:
        """CertificateSigned, InstallCertificate, GetInstalledCertificateIds, DeleteCertificate: the same
        messages in 2.0.1 and the 1.6 security extension."""
        certs = self.certificates
        return {
            "CertificateSigned": lambda p: (certs.on_certificate_signed(p), None),
            "InstallCertificate": lambda p: (certs.on_install_certificate(p), None),
            "GetInstalledCertificateIds": lambda p: (certs.on_get_installed_certificate_ids(p), None),
            "DeleteCertificate": lambda p: (certs.on_delete_certificate(p), None),
        }

    def _trigger_follow_up(self, requested: str, targets: list[int]) -> FollowUp | None:
        """What TriggerMessage `requested` sends for connectors / EVSEs `targets` (None: not implemented)."""
        follow_ups: dict[str, FollowUp] = {
            "BootNotification": self.boot if self._v16 else partial(self.boot, "Triggered"),
            "Heartbeat": self.heartbeat,
            "StatusNotification": partial(self._send_statuses, targets),
            "MeterValues": partial(self._trigger_meter_values, targets),
            "FirmwareStatusNotification": partial(
                self.call, "FirmwareStatusNotification", {"status": "Idle"}
            ),
        }
        if self._v16:
            follow_ups["DiagnosticsStatusNotification"] = partial(
                self.call, "DiagnosticsStatusNotification", {"status": "Idle"}
            )
        else:
            follow_ups["TransactionEvent"] = partial(self._trigger_transaction_events, targets)
            follow_ups["LogStatusNotification"] = partial(
                self.call, "LogStatusNotification", {"status": "Idle"}
            )
        return follow_ups.get(requested)
