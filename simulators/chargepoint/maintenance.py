"""Firmware updates and log uploads of the simulated station (issue 14, item 8), both versions.

UpdateFirmware (1.6; 2.0.1 with requestId) and the 1.6 security extension's SignedUpdateFirmware: the station
answers Accepted, downloads the file from `location` over HTTP(S) with aiohttp and reports Downloading,
Downloaded (or DownloadFailed), Installing and Installed through FirmwareStatusNotification (1.6 signed:
SignedFirmwareStatusNotification; both with the requestId where the version has one). Before Installed it
waits on `firmware_gate` when one is set, so a test can hold an installation.

GetDiagnostics (1.6) and GetLog (2.0.1, 1.6 extension): the station answers with the file name and uploads a
generated log to the given URL with an HTTP PUT, reporting Uploading then Uploaded (or UploadFailed /
UploadFailure) through DiagnosticsStatusNotification or LogStatusNotification.
"""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp

from csms.domain.clock import isoformat_z
from simulators.chargepoint.model import FollowUp, JsonDict, _Answer
from simulators.chargepoint.transactions import StationTransactions

HTTP_TIMEOUT = aiohttp.ClientTimeout(total=60)


class StationMaintenance(StationTransactions):
    """Firmware and log behaviour; `installed_firmware` holds the SHA-256 of each image installed."""

    firmware_gate: asyncio.Event | None = None
    installed_firmware: list[str]

    def _firmware_state(self) -> list[str]:
        if not hasattr(self, "installed_firmware"):
            self.installed_firmware = []
        return self.installed_firmware

    # -- firmware -------------------------------------------------------------------------------------

    def _answer_update_firmware(self, payload: JsonDict) -> _Answer:
        """UpdateFirmware: 1.6 answers {} (2.0.1 / SignedUpdateFirmware: status Accepted) and updates."""
        signed = "firmware" in payload
        location = payload["firmware"]["location"] if signed else payload["location"]
        request_id = payload.get("requestId")
        action = "FirmwareStatusNotification"
        if signed and self._v16:
            action = "SignedFirmwareStatusNotification"

        def commit() -> FollowUp:
            return lambda: self._update_firmware(location, action, request_id)

        return ({"status": "Accepted"} if signed or not self._v16 else {}), commit

    async def _firmware_status(self, action: str, status: str, request_id: int | None) -> None:
        payload: JsonDict = {"status": status}
        # 1.6 FirmwareStatusNotification has no requestId; 2.0.1 and SignedFirmwareStatusNotification do.
        if request_id is not None and not (self._v16 and action == "FirmwareStatusNotification"):
            payload["requestId"] = request_id
        await self.call(action, payload)

    async def _update_firmware(self, location: str, action: str, request_id: int | None) -> None:
        await self._firmware_status(action, "Downloading", request_id)
        try:
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http, http.get(location) as response:
                response.raise_for_status()
                image = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._log.warning("firmware_download_failed", location=location, error=repr(exc))
            await self._firmware_status(action, "DownloadFailed", request_id)
            return
        await self._firmware_status(action, "Downloaded", request_id)
        await self._firmware_status(action, "Installing", request_id)
        if self.firmware_gate is not None:
            await self.firmware_gate.wait()
        digest = hashlib.sha256(image).hexdigest()
        self._firmware_state().append(digest)
        self._log.info("firmware_installed", size=len(image), sha256=digest)
        await self._firmware_status(action, "Installed", request_id)

    # -- logs -----------------------------------------------------------------------------------------

    def _answer_get_diagnostics(self, payload: JsonDict) -> _Answer:
        """GetDiagnostics (1.6): answer the file name, then upload it to `location`."""
        filename = f"diagnostics-{self.config.charge_point_id}.log"

        def commit() -> FollowUp:
            return lambda: self._upload_log(
                payload["location"], filename, "DiagnosticsStatusNotification", None, "DiagnosticsLog"
            )

        return {"fileName": filename}, commit

    def _answer_get_log(self, payload: JsonDict) -> _Answer:
        """GetLog (2.0.1, 1.6 extension): Accepted with the file name, then the upload."""
        log_type = payload["logType"]
        filename = f"{log_type}-{self.config.charge_point_id}.log"

        def commit() -> FollowUp:
            location, request_id = payload["log"]["remoteLocation"], payload["requestId"]
            return lambda: self._upload_log(location, filename, "LogStatusNotification", request_id, log_type)

        return {"status": "Accepted", "filename": filename}, commit

    def log_text(self, log_type: str) -> bytes:
        """The generated log a station uploads: a few lines naming the station and the time."""
        now = isoformat_z(self._clock())
        lines = [f"{now} {self.config.charge_point_id} {log_type} firmware={self.config.firmware_version}"]
        lines += [f"{now} connector {c} {self.connector_status.get(c, 'Available')}"
                  for c in self.connector_ids]
        return ("\n".join(lines) + "\n").encode()

    async def _upload_log(
        self, location: str, filename: str, action: str, request_id: int | None, log_type: str
    ) -> None:
        def status(word: str) -> JsonDict:
            return {"status": word} if request_id is None else {"status": word, "requestId": request_id}

        await self.call(action, status("Uploading"))
        url = location.rstrip("/") + "/" + filename
        try:
            async with aiohttp.ClientSession(timeout=HTTP_TIMEOUT) as http, http.put(
                url, data=self.log_text(log_type), headers={"Content-Type": "text/plain"}
            ) as response:
                response.raise_for_status()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._log.warning("log_upload_failed", location=location, error=repr(exc))
            await self.call(action, status("UploadFailed" if request_id is None else "UploadFailure"))
            return
        await self.call(action, status("Uploaded"))
