"""Firmware and logs over the REST API (issue 14, items 3 and 4; ADR 0015).

- `/firmware`: firmware images (admins upload them: `POST` the metadata, then `PUT .../content` the bytes, at
  most `[files] max_firmware_bytes`), or an external `location`; signing certificate and signature kept with
  them and sent along.
- `/charge-points/{charge_point_id}/firmware-updates`: update one station, and its update history/progress.
- `/firmware-campaigns`: update many stations with at most `max_concurrent` at a time; per-station progress.
- `/charge-points/{charge_point_id}/logs`: ask a station for a log (GetDiagnostics / GetLog), list what it
  uploaded, and download it.

Everything is the caller's organization's (`org_of`): another organization's firmware, campaign, charge
point or log is a 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from csms.api import firmware_models as fm
from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, found
from csms.api.files import (
    firmware_path,
    firmware_url,
    log_path,
    log_upload_url,
    public_base,
    read_body_limited,
    store_bytes,
)
from csms.api.params import (
    get_domain,
    get_services,
    int_path_param,
    read_model,
    read_optional_model,
    registered_charge_point,
)
from csms.api.responses import created, json_response
from csms.api.results import command_failure
from csms.api.routes import ID, PATH_PARAMETERS, Operations, Route, param
from csms.api.serialize import timestamp
from csms.domain.firmware import (
    FirmwareFile,
    FirmwareUpdate,
    LogUpload,
    UpdateOptions,
    UpdateState,
    new_token,
)

PATHS = {
    **PATH_PARAMETERS,
    "firmware_id": param("firmware_id", "path", ID, "the firmware file's id"),
    "campaign_id": param("campaign_id", "path", ID, "the campaign's id"),
    "log_id": param("log_id", "path", ID, "the log upload's id (its requestId)"),
}
api = Operations(path_parameters=PATHS)


def firmware_json(file: FirmwareFile) -> dict[str, Any]:
    """A firmware file as the API shows it (never its download token)."""
    return {
        "id": file.id,
        "filename": file.filename,
        "location": file.location,
        "size": file.size,
        "sha256": file.sha256,
        "signing_certificate": file.signing_certificate,
        "signature": file.signature,
        "created_at": timestamp(file.created_at),
    }


def update_json(update: FirmwareUpdate) -> dict[str, Any]:
    """One station's firmware update as the API shows it."""
    return {
        "id": update.id,
        "charge_point_id": update.charge_point_id,
        "firmware_id": update.firmware_id,
        "campaign_id": update.campaign_id,
        "state": str(update.state),
        "status": update.status,
        "detail": update.detail,
        "created_at": timestamp(update.created_at),
        "updated_at": timestamp(update.updated_at),
    }


def log_json(upload: LogUpload) -> dict[str, Any]:
    """A log upload as the API shows it (never its upload token)."""
    return {
        "id": upload.id,
        "charge_point_id": upload.charge_point_id,
        "log_type": upload.log_type,
        "status": upload.status,
        "filename": upload.filename,
        "size": upload.size,
        "content_type": upload.content_type,
        "uploaded_at": timestamp(upload.uploaded_at),
        "created_at": timestamp(upload.created_at),
    }


async def _firmware(request: web.Request, firmware_id: int) -> FirmwareFile:
    file = await get_services(request).store.get_firmware_file(firmware_id, org_id=org_of(request))
    return found(file, f"firmware {firmware_id}")


def _deliverable(file: FirmwareFile) -> None:
    if file.location is None and file.size is None:
        raise ApiError(409, "firmware_not_uploaded", f"firmware {file.id} has no content yet")


def _options(request: web.Request, body: fm.UpdateSettings) -> UpdateOptions:
    return UpdateOptions(
        retrieve_at=body.retrieve_at or get_services(request).clock(),
        install_at=body.install_at,
        retries=body.retries,
        retry_interval=body.retry_interval,
    )


@api("POST", "/firmware", {201: fm.Firmware}, errors=(400,), body=fm.FirmwareCreate, role=Role.ADMIN)
async def handle_create_firmware(request: web.Request) -> web.Response:
    """Register a firmware image (content uploaded next) or an external firmware location.

    The signing certificate and signature are sent with every update of this firmware (2.0.1
    UpdateFirmware, 1.6 SignedUpdateFirmware); without them a 1.6 station gets a plain UpdateFirmware.
    """
    body = await read_model(request, fm.FirmwareCreate)
    services = get_services(request)
    file = await services.store.add_firmware_file(FirmwareFile(
        id=0, org_id=org_of(request), filename=body.filename, token=new_token(), created_at=services.clock(),
        location=body.location, signing_certificate=body.signing_certificate, signature=body.signature,
    ))
    return created(request, firmware_json(file), "firmware_item", firmware_id=str(file.id))


@api("GET", "/firmware", {200: fm.FirmwareList})
async def handle_list_firmware(request: web.Request) -> web.Response:
    """The organization's firmware files, newest first."""
    files = await get_services(request).store.list_firmware_files(org_of(request))
    return json_response({"items": [firmware_json(f) for f in files]})


@api("GET", "/firmware/{firmware_id}", {200: fm.Firmware}, errors=(400, 404), name="firmware_item")
async def handle_get_firmware(request: web.Request) -> web.Response:
    """One firmware file."""
    return json_response(firmware_json(await _firmware(request, int_path_param(request, "firmware_id"))))


@api("PUT", "/firmware/{firmware_id}/content", {200: fm.Firmware}, errors=(400, 404, 409, 413),
     role=Role.ADMIN, raw_body="application/octet-stream")
async def handle_upload_firmware_content(request: web.Request) -> web.Response:
    """Upload (or replace) a firmware image's bytes."""
    file = await _firmware(request, int_path_param(request, "firmware_id"))
    if file.location is not None:
        raise ApiError(409, "external_firmware", f"firmware {file.id} lives at its external location")
    config = get_services(request).config.files
    data = await read_body_limited(request, config.max_firmware_bytes)
    if not data:
        raise ApiError(400, "empty_content", "the body must be the firmware image")
    file.sha256 = await store_bytes(firmware_path(config, file.id), data)
    file.size = len(data)
    await get_services(request).store.save_firmware_file(file)
    return json_response(firmware_json(file))


@api("POST", "/charge-points/{charge_point_id}/firmware-updates", {200: fm.FirmwareUpdate},
     errors=(400, 404, 409, 502, 504), body=fm.FirmwareUpdateCreate)
async def handle_update_firmware(request: web.Request) -> web.Response:
    """Update a charge point's firmware: UpdateFirmware (1.6 SignedUpdateFirmware when signed).

    200 with the update once the station answered (`state` running, or failed with the station's refusal
    in `detail`); progress follows in `GET .../firmware-updates`.
    """
    body = await read_model(request, fm.FirmwareUpdateCreate)
    services = get_services(request)
    charge_point = await registered_charge_point(
        services, request.match_info["charge_point_id"], org_id=org_of(request)
    )
    file = await _firmware(request, body.firmware_id)
    _deliverable(file)
    location = firmware_url(public_base(request, services.config.files), file)
    update, result = await get_domain(request).firmware.update_station(
        file, location, charge_point.charge_point_id, _options(request, body)
    )
    error = command_failure(result, charge_point.charge_point_id)
    if error is not None:
        raise error
    updates = await services.store.list_firmware_updates(charge_point_id=charge_point.charge_point_id)
    stored = [u for u in updates if u.id == update.id]
    return json_response(update_json(stored[0] if stored else update))


@api("GET", "/charge-points/{charge_point_id}/firmware-updates", {200: fm.FirmwareUpdateList},
     errors=(404,))
async def handle_list_firmware_updates(request: web.Request) -> web.Response:
    """A charge point's firmware updates and their progress, oldest first."""
    services = get_services(request)
    charge_point = await registered_charge_point(
        services, request.match_info["charge_point_id"], org_id=org_of(request)
    )
    updates = await services.store.list_firmware_updates(charge_point_id=charge_point.charge_point_id)
    return json_response({"items": [update_json(u) for u in updates]})


@api("POST", "/firmware-campaigns", {201: fm.Campaign}, errors=(400, 404, 409), body=fm.CampaignCreate,
     name="firmware_campaigns")
async def handle_create_firmware_campaign(request: web.Request) -> web.Response:
    """Update many charge points with one firmware, at most `max_concurrent` at a time.

    The next station starts when one finishes: Installed, a failure status, a refusal, or no final status
    within `[files] campaign_step_timeout`. 404 when the firmware or a charge point is not the caller's.
    """
    body = await read_model(request, fm.CampaignCreate)
    services = get_services(request)
    org_id = org_of(request)
    file = await _firmware(request, body.firmware_id)
    _deliverable(file)
    ids = list(dict.fromkeys(body.charge_point_ids))
    for charge_point_id in ids:
        await registered_charge_point(services, charge_point_id, org_id=org_id)
    location = firmware_url(public_base(request, services.config.files), file)
    campaign = await get_domain(request).firmware.start_campaign(
        file, location, ids, body.max_concurrent, _options(request, body)
    )
    data = await _campaign_json(request, campaign.id)
    return created(request, data, "firmware_campaign", campaign_id=str(campaign.id))


async def _campaign_json(request: web.Request, campaign_id: int) -> dict[str, Any]:
    store = get_services(request).store
    campaign = found(
        await store.get_firmware_campaign(campaign_id, org_id=org_of(request)), f"campaign {campaign_id}"
    )
    updates = await store.list_firmware_updates(campaign_id=campaign.id)
    open_states = (UpdateState.QUEUED, UpdateState.RUNNING)
    return {
        "id": campaign.id,
        "firmware_id": campaign.firmware_id,
        "max_concurrent": campaign.max_concurrent,
        "created_at": timestamp(campaign.created_at),
        "finished": not any(u.state in open_states for u in updates),
        "stations": [update_json(u) for u in updates],
    }


@api("GET", "/firmware-campaigns/{campaign_id}", {200: fm.Campaign}, errors=(400, 404),
     name="firmware_campaign")
async def handle_get_firmware_campaign(request: web.Request) -> web.Response:
    """A firmware campaign and each station's progress."""
    return json_response(await _campaign_json(request, int_path_param(request, "campaign_id")))


@api("POST", "/charge-points/{charge_point_id}/logs", {200: fm.LogUpload}, errors=(400, 404, 409, 502, 504),
     body=fm.LogRequest, body_required=False)
async def handle_request_log(request: web.Request) -> web.Response:
    """Ask a charge point to upload a log to the CSMS (1.6 GetDiagnostics or GetLog; 2.0.1 GetLog).

    The station uploads to a tokenized URL of this server; the upload's status and file show up in
    `GET .../logs`.
    """
    body = await read_optional_model(request, fm.LogRequest)
    services = get_services(request)
    charge_point = await registered_charge_point(
        services, request.match_info["charge_point_id"], org_id=org_of(request)
    )
    upload, result = await get_domain(request).firmware.request_log(
        charge_point.org_id,
        charge_point.charge_point_id,
        body.log_type,
        log_upload_url(public_base(request, services.config.files)),
        oldest=body.oldest,
        latest=body.latest,
    )
    error = command_failure(result, charge_point.charge_point_id)
    if error is not None:
        raise error
    return json_response(log_json(upload))


@api("GET", "/charge-points/{charge_point_id}/logs", {200: fm.LogUploadList}, errors=(404,))
async def handle_list_logs(request: web.Request) -> web.Response:
    """The logs a charge point was asked for and what it uploaded, newest first."""
    services = get_services(request)
    charge_point = await registered_charge_point(
        services, request.match_info["charge_point_id"], org_id=org_of(request)
    )
    uploads = await services.store.list_log_uploads(charge_point.charge_point_id)
    return json_response({"items": [log_json(u) for u in uploads]})


@api("GET", "/charge-points/{charge_point_id}/logs/{log_id}/content", {200: None}, errors=(400, 404),
     media_type="application/octet-stream")
async def handle_download_log(request: web.Request) -> web.StreamResponse:
    """Download an uploaded log file."""
    services = get_services(request)
    charge_point = await registered_charge_point(
        services, request.match_info["charge_point_id"], org_id=org_of(request)
    )
    log_id = int_path_param(request, "log_id")
    uploads = await services.store.list_log_uploads(charge_point.charge_point_id)
    uploads = [u for u in uploads if u.id == log_id]
    upload = found(uploads[0] if uploads else None, f"log {log_id}")
    if upload.uploaded_at is None:
        raise ApiError(404, "not_found", f"log {log_id} has not been uploaded")
    return web.FileResponse(
        log_path(services.config.files, upload.id),
        headers={"Content-Type": "application/octet-stream",
                 "Content-Disposition": f'attachment; filename="{upload.filename}"'},
    )


ROUTES: tuple[Route, ...] = tuple(api.routes)
