"""What stations fetch and upload over HTTP without operator credentials (issue 14, ADR 0015): firmware
images (`GET /files/firmware/{token}/{filename}`) and logs (`PUT` or `POST /files/logs/{token}[/{filename}]`,
a raw body or a multipart form whose first file part is the log).

The token in the path is the secret (192 random bits per file or per log request); an unknown token is a
plain 404. The bytes live in `[files] dir` (`firmware/<id>`, `logs/<id>`), read and written off the event
loop; uploads larger than `[files] max_log_bytes` are refused with 413.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

import structlog
from aiohttp import BodyPartReader, web

from csms.api.params import get_domain, get_services
from csms.config import FilesConfig
from csms.domain.firmware import FirmwareFile

log = structlog.get_logger("csms.files")

FIRMWARE_PATH = "/files/firmware/{token}/{filename}"
LOG_PATHS = ("/files/logs/{token}", "/files/logs/{token}/{filename}")
CHUNK = 64 * 1024
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def firmware_path(config: FilesConfig, firmware_id: int) -> Path:
    """Where a firmware file's bytes are stored."""
    return Path(config.dir) / "firmware" / str(firmware_id)


def log_path(config: FilesConfig, upload_id: int) -> Path:
    """Where an uploaded log's bytes are stored."""
    return Path(config.dir) / "logs" / str(upload_id)


def public_base(request: web.Request, config: FilesConfig) -> str:
    """The address stations reach this HTTP server at: `[files] public_url`, else the one the caller used."""
    return config.public_url.rstrip("/") or f"{request.scheme}://{request.host}"


def firmware_url(base: str, file: FirmwareFile) -> str:
    """The location sent in UpdateFirmware: the external URL, or our tokenized download URL."""
    return file.location or f"{base}/files/firmware/{file.token}/{file.filename}"


def log_upload_url(base: str) -> str:
    """The remote location template sent in GetLog/GetDiagnostics (`{token}` filled in per request)."""
    return base + "/files/logs/{token}"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(path)


async def store_bytes(path: Path, data: bytes) -> str:
    """Write `data` to `path` (atomically, off the event loop); returns its SHA-256 hex digest."""
    await asyncio.to_thread(_write, path, data)
    return hashlib.sha256(data).hexdigest()


async def read_body_limited(request: web.Request, limit: int) -> bytes:
    """The raw body, at most `limit` bytes.

    Raises:
        web.HTTPRequestEntityTooLarge: beyond `limit` (the API's own routes turn it into 413
            `request_too_large`).
    """
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    data = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        data += chunk
        if len(data) > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(data))
    return bytes(data)


async def _multipart_file(request: web.Request, limit: int) -> tuple[bytes, str | None, str | None]:
    """The first file part of a multipart body: (bytes, filename, content type)."""
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.filename is None:
            continue
        data = bytearray()
        while chunk := await part.read_chunk(CHUNK):
            data += chunk
            if len(data) > limit:
                raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(data))
        return bytes(data), part.filename, part.headers.get("Content-Type")
    raise web.HTTPBadRequest(text="no file part in the multipart body")


async def handle_download_firmware(request: web.Request) -> web.StreamResponse:
    """`GET /files/firmware/{token}/{filename}`: the firmware image, for the station holding the URL."""
    services = get_services(request)
    file = await services.store.firmware_file_by_token(request.match_info["token"])
    if file is None or file.size is None or file.filename != request.match_info["filename"]:
        raise web.HTTPNotFound()
    log.info("firmware_downloaded", firmware_id=file.id, peer=request.remote)
    return web.FileResponse(
        firmware_path(services.config.files, file.id),
        headers={"Content-Type": "application/octet-stream", "Content-Disposition":
                 f'attachment; filename="{file.filename}"'},
    )


async def handle_upload_log(request: web.Request) -> web.Response:
    """`PUT`/`POST /files/logs/{token}[/{filename}]`: a station uploads the log it was asked for (raw body
    or multipart form); stored, then listed under `GET /api/v1/charge-points/{id}/logs`."""
    services = get_services(request)
    upload = await services.store.log_upload_by_token(request.match_info["token"])
    if upload is None:
        raise web.HTTPNotFound()
    limit = services.config.files.max_log_bytes
    filename = request.match_info.get("filename")
    content_type: str | None = request.content_type
    if request.content_type.startswith("multipart/"):
        data, part_name, content_type = await _multipart_file(request, limit)
        filename = filename or part_name
    else:
        data = await read_body_limited(request, limit)
    await store_bytes(log_path(services.config.files, upload.id), data)
    # The station names the file; only a safe name is kept (it is echoed in Content-Disposition).
    name = SAFE_NAME.sub("_", Path(filename or "").name)[:255].strip("._") or f"log-{upload.id}"
    await get_domain(request).firmware.log_received(upload, name, len(data), content_type)
    return web.Response(status=201, text="stored\n")


def add_station_routes(app: web.Application) -> None:
    """Add the station-facing routes to the root application (outside the API: no operator key)."""
    app.router.add_get(FIRMWARE_PATH, handle_download_firmware, name="firmware_download")
    for path in LOG_PATHS:
        app.router.add_put(path, handle_upload_log)
        app.router.add_post(path, handle_upload_log)
