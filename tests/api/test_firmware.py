"""The firmware and log routes on the in-memory store with scripted stations: roles, limits, errors, the
URLs sent to stations, and the station-facing upload (raw and multipart)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from urllib.parse import urlsplit

import aiohttp

from csms.api.files import firmware_path
from csms.config import FilesConfig
from csms.domain.commands import GetLog, UpdateFirmware
from csms.domain.core import Domain
from tests.api.conftest import ApiClient, StationFactory, error_of
from tests.fakes.memory_store import MemoryStore

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def set_files(domain: Domain, **changes: int) -> None:
    """Change `[files]` settings of the running app (read per request)."""
    config = domain.services.config
    domain.services.config = replace(config, files=replace(config.files, **changes))


def path_of(url: str) -> str:
    """The path of a URL sent to a station (the test client adds its own host)."""
    return urlsplit(url).path


async def _firmware(client: ApiClient, auth: dict[str, str], content: bytes | None = b"image") -> int:
    response = await client.post("/api/v1/firmware", json={"filename": "fw-1.bin"}, headers=auth)
    assert response.status == 201, await response.text()
    firmware_id = int((await response.json())["id"])
    assert response.headers["Location"] == f"/api/v1/firmware/{firmware_id}"
    if content is not None:
        put = await client.put(f"/api/v1/firmware/{firmware_id}/content", data=content, headers=auth)
        assert put.status == 200, await put.text()
    return firmware_id


async def test_only_admins_upload_firmware(
    client: ApiClient, role_headers: dict[str, dict[str, str]]
) -> None:
    """A member may not register or upload firmware (403); an admin may."""
    body = {"filename": "a.bin"}
    member = await client.post("/api/v1/firmware", json=body, headers=role_headers["member"])
    assert (await error_of(member, 403))["code"] == "forbidden"
    await _firmware(client, role_headers["admin"])


async def test_content_is_stored_with_size_and_digest(
    client: ApiClient, auth: dict[str, str], domain: Domain
) -> None:
    """The uploaded image is written under the files dir; size and SHA-256 are shown; an empty body is 400."""
    firmware_id = await _firmware(client, auth, b"firmware image")
    body = await (await client.get(f"/api/v1/firmware/{firmware_id}", headers=auth)).json()
    assert body["size"] == 14 and body["sha256"] == hashlib.sha256(b"firmware image").hexdigest()
    assert firmware_path(domain.config.files, firmware_id).read_bytes() == b"firmware image"
    empty = await client.put(f"/api/v1/firmware/{firmware_id}/content", data=b"", headers=auth)
    assert (await error_of(empty, 400))["code"] == "empty_content"


async def test_content_beyond_the_limit_is_413(
    client: ApiClient, auth: dict[str, str], domain: Domain
) -> None:
    """A firmware image larger than `[files] max_firmware_bytes` is refused with 413 request_too_large."""
    set_files(domain, max_firmware_bytes=4)
    firmware_id = await _firmware(client, auth, None)
    response = await client.put(f"/api/v1/firmware/{firmware_id}/content", data=b"12345", headers=auth)
    assert (await error_of(response, 413))["code"] == "request_too_large"


async def test_update_needs_content_and_sends_the_download_url(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, store: MemoryStore
) -> None:
    """Firmware without content cannot be sent (409 firmware_not_uploaded); with content the station gets
    UpdateFirmware with the tokenized download URL and the certificate and signature."""
    station = await connect_station("CP-1")
    empty = await _firmware(client, auth, None)
    response = await client.post(
        "/api/v1/charge-points/CP-1/firmware-updates", json={"firmware_id": empty}, headers=auth
    )
    assert (await error_of(response, 409))["code"] == "firmware_not_uploaded"
    signed = await client.post(
        "/api/v1/firmware",
        json={"filename": "s.bin", "signing_certificate": CERT, "signature": "c2ln",
              "location": "https://fw.example/s.bin"},
        headers=auth,
    )
    signed_id = (await signed.json())["id"]
    external = await client.put(f"/api/v1/firmware/{signed_id}/content", data=b"x", headers=auth)
    assert (await error_of(external, 409))["code"] == "external_firmware"
    firmware_id = await _firmware(client, auth)
    for fid in (signed_id, firmware_id):
        response = await client.post(
            "/api/v1/charge-points/CP-1/firmware-updates",
            json={"firmware_id": fid, "retries": 3},
            headers=auth,
        )
        assert response.status == 200, await response.text()
        assert (await response.json())["state"] == "running"
    first, second = station.commands
    assert isinstance(first, UpdateFirmware) and isinstance(second, UpdateFirmware)
    assert first.location == "https://fw.example/s.bin" and first.signing_certificate == CERT
    file = await store.get_firmware_file(firmware_id)
    assert file is not None and second.location.endswith(f"/files/firmware/{file.token}/fw-1.bin")
    assert second.retries == 3 and second.signature is None
    download = await client.get(path_of(second.location))
    assert download.status == 200 and await download.read() == b"image"


async def test_a_refused_update_is_failed_and_offline_is_409(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory
) -> None:
    """A station answering Rejected leaves the update failed with its word; an offline station is 409."""
    station = await connect_station("CP-1")
    station.answer("Rejected")
    firmware_id = await _firmware(client, auth)
    response = await client.post(
        "/api/v1/charge-points/CP-1/firmware-updates", json={"firmware_id": firmware_id}, headers=auth
    )
    body = await response.json()
    assert response.status == 200 and (body["state"], body["detail"]) == ("failed", "Rejected")
    station.disconnect()
    offline = await client.post(
        "/api/v1/charge-points/CP-1/firmware-updates", json={"firmware_id": firmware_id}, headers=auth
    )
    assert (await error_of(offline, 409))["code"] == "charge_point_offline"


async def test_campaign_names_only_known_charge_points(client: ApiClient, auth: dict[str, str]) -> None:
    """A campaign naming an unknown charge point is 404 and nothing starts."""
    firmware_id = await _firmware(client, auth)
    response = await client.post(
        "/api/v1/firmware-campaigns", json={"firmware_id": firmware_id, "charge_point_ids": ["NOPE"]},
        headers=auth,
    )
    assert (await error_of(response, 404))["code"] == "not_found"


async def test_log_upload_raw_or_multipart_and_limit(
    client: ApiClient, auth: dict[str, str], connect_station: StationFactory, domain: Domain
) -> None:
    """The log request sends GetLog with the upload URL; a multipart upload keeps the part's file name; a
    raw PUT with a name in the path keeps that (made safe); an upload beyond `max_log_bytes` is 413 and
    unknown tokens are 404."""
    station = await connect_station("CP-1")
    logs = "/api/v1/charge-points/CP-1/logs"
    response = await client.post(logs, json={"log_type": "SecurityLog"}, headers=auth)
    assert response.status == 200, await response.text()
    (command,) = station.commands
    assert isinstance(command, GetLog) and command.log_type == "SecurityLog"
    path = path_of(command.remote_location)
    form = aiohttp.FormData()
    form.add_field("file", b"line 1\n", filename="sec.log", content_type="text/plain")
    assert (await client.post(path, data=form)).status == 201
    listed = (await (await client.get("/api/v1/charge-points/CP-1/logs", headers=auth)).json())["items"]
    assert (listed[0]["filename"], listed[0]["size"]) == ("sec.log", 7)
    assert listed[0]["content_type"] == "text/plain"
    assert (await client.put(path + "/raw.log", data=b"raw")).status == 201
    listed = (await (await client.get("/api/v1/charge-points/CP-1/logs", headers=auth)).json())["items"]
    assert (listed[0]["filename"], listed[0]["size"]) == ("raw.log", 3)
    assert (await client.put(path + '/a"b c.log', data=b"raw")).status == 201  # only a safe name is kept
    listed = (await (await client.get("/api/v1/charge-points/CP-1/logs", headers=auth)).json())["items"]
    assert listed[0]["filename"] == "a_b_c.log"
    content = await client.get(f"/api/v1/charge-points/CP-1/logs/{listed[0]['id']}/content", headers=auth)
    assert content.status == 200 and await content.read() == b"raw"
    set_files(domain, max_log_bytes=2)
    assert (await client.put(path, data=b"too big")).status == 413
    assert (await client.put("/files/logs/unknown-token", data=b"x")).status == 404


def test_files_dir_is_configurable() -> None:
    """`[files]` is a config section like the others (CSMS_FILES_* overrides)."""
    from csms.config import load_config

    config = load_config(None, {"CSMS_FILES_DIR": "/srv/files", "CSMS_FILES_MAX_LOG_BYTES": "10"})
    assert config.files == replace(FilesConfig(), dir="/srv/files", max_log_bytes=10)
