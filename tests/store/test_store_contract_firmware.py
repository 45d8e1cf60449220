"""The `FirmwareStore` contract (firmware files, campaigns, updates, log uploads) on every backend (memory,
SQLite, PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace

from csms.domain.firmware import FirmwareCampaign, FirmwareFile, FirmwareUpdate, LogUpload, UpdateState
from csms.domain.ports import Store
from csms.domain.tenancy import DEFAULT_ORG_ID

from .conftest import T0


async def test_firmware_files_round_trip_scoped_and_by_token(store: Store) -> None:
    """A file comes back with every field, by id (scoped to its organization) and by token; saved changes
    stick; listed newest first per organization."""
    file = await store.add_firmware_file(
        FirmwareFile(0, DEFAULT_ORG_ID, "fw.bin", "tok-1", T0, signing_certificate="PEM", signature="sig")
    )
    assert file.id > 0
    assert await store.get_firmware_file(file.id) == file
    assert await store.get_firmware_file(file.id, org_id=DEFAULT_ORG_ID) == file
    assert await store.get_firmware_file(file.id, org_id="other") is None
    assert await store.firmware_file_by_token("tok-1") == file
    assert await store.firmware_file_by_token("nope") is None
    file.size, file.sha256 = 2**33, "a" * 64
    await store.save_firmware_file(file)
    assert await store.get_firmware_file(file.id) == file
    second = await store.add_firmware_file(
        FirmwareFile(0, DEFAULT_ORG_ID, "ext.bin", "tok-2", T0, location="https://fw.example/ext.bin")
    )
    assert [f.id for f in await store.list_firmware_files(DEFAULT_ORG_ID)] == [second.id, file.id]
    assert await store.list_firmware_files("other") == []


async def test_campaign_updates_are_listed_by_station_and_campaign(store: Store) -> None:
    """Updates keep their state enum and station status, and list oldest first by station or campaign."""
    file = await store.add_firmware_file(FirmwareFile(0, DEFAULT_ORG_ID, "fw.bin", "tok", T0))
    campaign = await store.add_firmware_campaign(FirmwareCampaign(0, DEFAULT_ORG_ID, file.id, 2, T0))
    assert await store.get_firmware_campaign(campaign.id) == campaign
    assert await store.get_firmware_campaign(campaign.id, org_id="other") is None
    org, queued, running = DEFAULT_ORG_ID, UpdateState.QUEUED, UpdateState.RUNNING
    a = await store.add_firmware_update(
        FirmwareUpdate(0, org, "CP-A", file.id, queued, T0, T0, campaign_id=campaign.id)
    )
    b = await store.add_firmware_update(FirmwareUpdate(0, org, "CP-B", file.id, running, T0, T0))
    a.state, a.status = UpdateState.INSTALLED, "Installed"
    await store.save_firmware_update(a)
    assert await store.list_firmware_updates(campaign_id=campaign.id) == [a]
    assert await store.list_firmware_updates(charge_point_id="CP-B") == [b]
    assert [u.id for u in await store.list_firmware_updates()] == [a.id, b.id]
    assert (await store.list_firmware_updates(charge_point_id="CP-A"))[0].state is UpdateState.INSTALLED


async def test_log_uploads_round_trip(store: Store) -> None:
    """A log upload is found by token and listed newest first per station, with what arrived."""
    first = await store.add_log_upload(LogUpload(0, DEFAULT_ORG_ID, "CP-A", "DiagnosticsLog", "lt-1", T0, T0))
    second = await store.add_log_upload(LogUpload(0, DEFAULT_ORG_ID, "CP-A", "SecurityLog", "lt-2", T0, T0))
    assert await store.log_upload_by_token("lt-1") == first
    done = replace(
        first, status="Uploaded", filename="d.log", size=12, content_type="text/plain", uploaded_at=T0
    )
    await store.save_log_upload(done)
    assert await store.list_log_uploads("CP-A") == [second, done]
    assert await store.list_log_uploads("CP-B") == []
