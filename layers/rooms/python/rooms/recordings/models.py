"""Wire shapes of the recording routes (SPEC "RoomRecording")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

RecordingTrigger = Literal["manual", "automatic", "compliance"]
ProcessingStatus = Literal["pending", "processing", "available", "failed"]
EgressStatus = Literal["starting", "active", "ending", "complete", "failed", "aborted", "limit_reached"]


class RecordingStorage(BaseModel):
    """Where the file is (hosts and the platform backend only)."""

    bucket: str | None = None
    key: str | None = None
    endpoint: str | None = None
    location: str | None = None


class RecordingView(BaseModel):
    recording_id: str
    room_id: str
    trigger: RecordingTrigger | None = None
    status: ProcessingStatus
    egress_status: EgressStatus | None = None
    created_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    duration_seconds: int | None = None
    size_bytes: int | None = None
    content_type: str | None = None
    checksum: str | None = None
    available_at: str | None = None
    archive_at: str | None = None
    archived: bool = False
    access_until: str | None = None
    downloads_enabled: bool = True
    # host / admin only
    egress_id: str | None = None
    started_by: str | None = None
    stop_requested_at: str | None = None
    error: str | None = None
    storage: RecordingStorage | None = None


class RecordingList(BaseModel):
    room_id: str
    recordings: list[RecordingView]


class RecordingUrl(BaseModel):
    recording_id: str
    url: str
    expires_at: str
    disposition: Literal["inline", "attachment"]


class DeletedRecording(BaseModel):
    recording_id: str
    room_id: str
    deleted: bool


class RecordingConsentView(BaseModel):
    room_id: str
    user_id: str
    consented: bool
    consented_at: str | None = None
