"""Firmware campaigns and log uploads end to end (issue 14, items 3, 4 and 8): the real CSMS, simulated
1.6 and 2.0.1 stations over real sockets downloading firmware from and uploading logs to the CSMS over HTTP,
progress read through the REST API."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import aiohttp
import pytest

from csms.app import Csms
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import Api, ocpp_url
from tests.utils import MS

WAIT = 10000 * MS
IMAGE = b"\x7fFIRMWARE" + bytes(range(256)) * 64
CERT = "-----BEGIN CERTIFICATE-----\nMIIBsim\n-----END CERTIFICATE-----\n"
SIGNATURE = "c2lnbmF0dXJl"
MakeSim = Callable[..., Awaitable[ChargePointSimulator]]
T = TypeVar("T")


@pytest.fixture
async def make_sim(csms: Csms) -> AsyncIterator[MakeSim]:
    """Connected, booted simulators; closed after the test, having received only schema-valid CALLs."""
    sims: list[ChargePointSimulator] = []

    async def make(cp_id: str, version: str) -> ChargePointSimulator:
        config = SimulatorConfig(charge_point_id=cp_id, url=ocpp_url(csms), ocpp_version=version)
        sim = ChargePointSimulator(config)
        sims.append(sim)
        await sim.connect()
        assert (await sim.boot())["status"] == "Accepted"
        return sim

    yield make
    for sim in sims:
        assert not sim.violations, sim.violations
        await sim.close()


async def eventually(probe: Callable[[], Awaitable[T | None]]) -> T:
    """Poll `probe` until it returns something other than None (fail after WAIT)."""
    async with asyncio.timeout(WAIT):
        while True:
            found = await probe()
            if found is not None:
                return found
            await asyncio.sleep(20 * MS)


async def upload_firmware(api: Api, csms: Csms, **signing: str) -> int:
    """Register a firmware file and upload its image; returns its id."""
    status, body = await api.post("/api/v1/firmware", {"filename": "fw-2.0.bin", **signing})
    assert status == 201, body
    async with api.session.put(f"{api.base}/api/v1/firmware/{body['id']}/content", data=IMAGE) as resp:
        assert resp.status == 200, await resp.text()
        stored = await resp.json()
    assert stored["size"] == len(IMAGE) and stored["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    return int(body["id"])


async def test_campaign_updates_three_stations_two_at_a_time(csms: Csms, api: Api, make_sim: MakeSim) -> None:
    """A campaign with max_concurrent 2 over a 1.6, a signed-1.6 and a 2.0.1 station starts two updates,
    starts the third only when one finished, and every station downloads the image and reports Installed."""
    firmware_id = await upload_firmware(api, csms, signing_certificate=CERT, signature=SIGNATURE)
    sims = [await make_sim("FW-A", "1.6"), await make_sim("FW-B", "2.0.1"), await make_sim("FW-C", "1.6")]
    gates = {sim.config.charge_point_id: asyncio.Event() for sim in sims}
    for sim in sims:
        sim.firmware_gate = gates[sim.config.charge_point_id]
    status, campaign = await api.post("/api/v1/firmware-campaigns", {
        "firmware_id": firmware_id, "charge_point_ids": ["FW-A", "FW-B", "FW-C"], "max_concurrent": 2,
    })
    assert status == 201, campaign
    path = f"/api/v1/firmware-campaigns/{campaign['id']}"

    async def states(wanted: dict[str, tuple[str, str | None]]) -> dict[str, Any] | None:
        _, body = await api.get(path)
        got = {s["charge_point_id"]: (s["state"], s["status"]) for s in body["stations"]}
        return body if got == wanted else None

    # Two installing (held at the gate), the third still queued: the concurrency limit holds.
    await eventually(lambda: states({
        "FW-A": ("running", "Installing"), "FW-B": ("running", "Installing"), "FW-C": ("queued", None),
    }))
    gates["FW-B"].set()
    installing, installed = ("running", "Installing"), ("installed", "Installed")
    await eventually(lambda: states({"FW-A": installing, "FW-B": installed, "FW-C": installing}))
    gates["FW-A"].set()
    gates["FW-C"].set()
    done = await eventually(lambda: states({"FW-A": installed, "FW-B": installed, "FW-C": installed}))
    assert done["finished"] is True
    digest = hashlib.sha256(IMAGE).hexdigest()
    assert all(sim.installed_firmware == [digest] for sim in sims)
    # Signed firmware: the 1.6 stations got SignedUpdateFirmware, the 2.0.1 station UpdateFirmware with
    # requestId and the signing certificate and signature.
    a16 = next(p for a, p in sims[0].calls_received if a == "SignedUpdateFirmware")
    assert a16["firmware"]["signingCertificate"] == CERT and a16["firmware"]["signature"] == SIGNATURE
    b201 = next(p for a, p in sims[1].calls_received if a == "UpdateFirmware")
    assert b201["firmware"]["signature"] == SIGNATURE and isinstance(b201["requestId"], int)
    # Progress per station, over REST.
    _, updates = await api.get("/api/v1/charge-points/FW-B/firmware-updates")
    assert [u["status"] for u in updates["items"]] == ["Installed"]
    _, cp = await api.get("/api/v1/charge-points/FW-B")
    assert cp["firmware_status"] == "Installed"


async def test_unsigned_update_of_a_16_station(csms: Csms, api: Api, make_sim: MakeSim) -> None:
    """Unsigned firmware reaches a 1.6 station as UpdateFirmware (location, retrieveDate, retries) and its
    FirmwareStatusNotifications without requestId are recorded on the update."""
    firmware_id = await upload_firmware(api, csms)
    sim = await make_sim("FW-U", "1.6")
    status, update = await api.post(
        "/api/v1/charge-points/FW-U/firmware-updates", {"firmware_id": firmware_id, "retries": 2}
    )
    assert status == 200 and update["state"] == "running", update

    async def installed() -> list[Any] | None:
        _, body = await api.get("/api/v1/charge-points/FW-U/firmware-updates")
        return body["items"] if body["items"][0]["state"] == "installed" else None

    items = await eventually(installed)
    assert items[0]["status"] == "Installed"
    reports = [p for a, p in sim.sent_calls if a == "FirmwareStatusNotification"]
    assert reports == [{"status": s} for s in ("Downloading", "Downloaded", "Installing", "Installed")]
    call = next(p for a, p in sim.calls_received if a == "UpdateFirmware")
    assert call["retries"] == 2 and call["location"].endswith("/fw-2.0.bin") and "retrieveDate" in call


@pytest.mark.parametrize(("version", "log_type", "action"), [
    ("1.6", "DiagnosticsLog", "GetDiagnostics"),
    ("1.6", "SecurityLog", "GetLog"),
    ("2.0.1", "DiagnosticsLog", "GetLog"),
])
async def test_log_upload_arrives_and_is_listed(
    csms: Csms, api: Api, make_sim: MakeSim, version: str, log_type: str, action: str
) -> None:
    """A requested log is uploaded by the station over HTTP, listed with status Uploaded, and downloadable."""
    sim = await make_sim("LOG-1", version)
    status, upload = await api.post("/api/v1/charge-points/LOG-1/logs", {"log_type": log_type})
    assert status == 200, upload
    assert any(a == action for a, _ in sim.calls_received)

    async def uploaded() -> dict[str, Any] | None:
        _, body = await api.get("/api/v1/charge-points/LOG-1/logs")
        item = body["items"][0]
        return item if item["status"] == "Uploaded" and item["uploaded_at"] else None

    item = await eventually(uploaded)
    assert item["log_type"] == log_type and item["filename"].endswith(".log")
    async with api.session.get(f"{api.base}/api/v1/charge-points/LOG-1/logs/{item['id']}/content") as resp:
        assert resp.status == 200
        content = await resp.read()
    assert b"LOG-1" in content and item["size"] == len(content)


async def test_station_urls_need_the_token(csms: Csms, api: Api) -> None:
    """Download and upload URLs with an unknown token are 404; an upload beyond the limit is refused."""
    async with aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{csms.http_port}"
        async with http.get(f"{base}/files/firmware/nope/fw.bin") as resp:
            assert resp.status == 404
        async with http.put(f"{base}/files/logs/nope", data=b"x") as resp:
            assert resp.status == 404


async def test_a_failed_download_fails_the_update(csms: Csms, api: Api, make_sim: MakeSim) -> None:
    """A 2.0.1 station that cannot fetch an external location reports DownloadFailed with the requestId;
    the update shows failed with that status."""
    sim = await make_sim("FW-X", "2.0.1")
    location = f"http://127.0.0.1:{csms.http_port}/files/firmware/missing/fw.bin"
    status, firmware = await api.post("/api/v1/firmware", {"filename": "fw.bin", "location": location})
    assert status == 201, firmware
    updates = "/api/v1/charge-points/FW-X/firmware-updates"
    status, update = await api.post(updates, {"firmware_id": firmware["id"]})
    assert status == 200, update

    async def failed() -> dict[str, Any] | None:
        _, body = await api.get("/api/v1/charge-points/FW-X/firmware-updates")
        return body["items"][0] if body["items"][0]["state"] == "failed" else None

    item = await eventually(failed)
    assert (item["status"], item["detail"]) == ("DownloadFailed", "DownloadFailed")
    report = {"status": "DownloadFailed", "requestId": update["id"]}
    assert ("FirmwareStatusNotification", report) in sim.sent_calls
