"""Request and response bodies of the firmware, campaign and log routes (issue 14, items 3 and 4).

Request bodies reject unknown fields and name the field of each problem (400 `invalid_request`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from csms.api.models import ResponseModel, Timestamp

LogType = Literal["DiagnosticsLog", "SecurityLog"]
UpdateStateName = Literal["queued", "running", "installed", "failed"]
MAX_CAMPAIGN_STATIONS = 10_000


class Request(BaseModel):
    """A request body: exactly these fields."""

    model_config = ConfigDict(extra="forbid")


class FirmwareCreate(Request):
    """A firmware image: its content follows with `PUT /firmware/{id}/content`, or it lives at `location`
    (an external URL stations fetch themselves)."""

    filename: str = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9._-]+$")
    location: str | None = Field(None, min_length=1, max_length=512, pattern=r"^(https?|ftps?)://")
    # OCPP 2.0.1 FirmwareType / 1.6 security extension: PEM certificate (5500) and base64 signature (800).
    signing_certificate: str | None = Field(None, min_length=1, max_length=5500)
    signature: str | None = Field(None, min_length=1, max_length=800)


class UpdateSettings(Request):
    """When stations fetch and install, and how often they retry (all optional; fetch now by default)."""

    retrieve_at: datetime | None = None
    install_at: datetime | None = None
    retries: int | None = Field(None, ge=0, le=1000)
    retry_interval: int | None = Field(None, ge=0, le=86400)


class FirmwareUpdateCreate(UpdateSettings):
    """Update one charge point with a firmware file."""

    firmware_id: int = Field(ge=1, le=2**31 - 1)


class CampaignCreate(UpdateSettings):
    """Update many charge points, at most `max_concurrent` at a time."""

    firmware_id: int = Field(ge=1, le=2**31 - 1)
    charge_point_ids: list[str] = Field(min_length=1, max_length=MAX_CAMPAIGN_STATIONS)
    max_concurrent: int = Field(1, ge=1, le=1000)


class LogRequest(Request):
    """Ask a charge point to upload a log (1.6 DiagnosticsLog: GetDiagnostics; else GetLog)."""

    log_type: LogType = "DiagnosticsLog"
    oldest: datetime | None = None
    latest: datetime | None = None


class Firmware(ResponseModel):
    """A firmware file (or external location) stations can be updated with."""

    id: int
    filename: str
    location: str | None = Field(description="the external URL, when the file is not stored here")
    size: int | None = Field(description="bytes stored; null until the content was uploaded")
    sha256: str | None
    signing_certificate: str | None
    signature: str | None
    created_at: Timestamp


class FirmwareList(ResponseModel):
    """An organization's firmware files, newest first."""

    items: list[Firmware]


class FirmwareUpdate(ResponseModel):
    """One station's firmware update and its progress."""

    id: int = Field(description="the requestId sent to the station")
    charge_point_id: str
    firmware_id: int
    campaign_id: int | None
    state: UpdateStateName
    status: str | None = Field(description="the station's last FirmwareStatus")
    detail: str | None = Field(description="why it failed, when the station refused or went silent")
    created_at: Timestamp
    updated_at: Timestamp


class FirmwareUpdateList(ResponseModel):
    """A charge point's firmware updates, oldest first."""

    items: list[FirmwareUpdate]


class Campaign(ResponseModel):
    """A firmware campaign and each station's progress."""

    id: int
    firmware_id: int
    max_concurrent: int
    created_at: Timestamp
    finished: bool = Field(description="no station is queued or running")
    stations: list[FirmwareUpdate]


class LogUpload(ResponseModel):
    """A log a charge point was asked to upload, and what arrived."""

    id: int = Field(description="the requestId sent to the station")
    charge_point_id: str
    log_type: LogType
    status: str | None = Field(description="the station's last upload status")
    filename: str | None
    size: int | None
    content_type: str | None
    uploaded_at: Timestamp | None
    created_at: Timestamp


class LogUploadList(ResponseModel):
    """A charge point's log uploads, newest first."""

    items: list[LogUpload]
