"""Wire shapes of the recording routes."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RecordingTrigger = Literal["manual", "automatic", "compliance"]
# empty: the egress ended aborted before recording anything (nobody published a track): no file, not a failure
ProcessingStatus = Literal["pending", "processing", "available", "failed", "empty"]
EgressStatus = Literal["starting", "active", "ending", "complete", "failed", "aborted", "limit_reached"]


class RecordingStorage(BaseModel):
    """Where the file is (hosts and the platform backend only)."""

    model_config = ConfigDict(defer_build=True)

    bucket: str | None = None
    key: str | None = None
    endpoint: str | None = None
    location: str | None = None


class RecordingView(BaseModel):
    model_config = ConfigDict(defer_build=True)

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
    model_config = ConfigDict(defer_build=True)

    room_id: str
    recordings: list[RecordingView]


class RecordingUrl(BaseModel):
    model_config = ConfigDict(defer_build=True)

    recording_id: str
    url: str
    expires_at: str
    disposition: Literal["inline", "attachment"]


class DeletedRecording(BaseModel):
    model_config = ConfigDict(defer_build=True)

    recording_id: str
    room_id: str
    deleted: bool


ConsentChannel = Literal["web", "mobile", "phone", "email", "in_person", "api"]


class ConsentRequest(BaseModel):
    """Optional body of the consent routes: how the person gave (or withdrew) it, and which text they saw."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    channel: ConsentChannel = Field("web", description="Where the person decided")
    text_version: str | None = Field(None, max_length=64, description="Version of the consent text shown; "
                                                                     "must be the room's current one")


class RecordingConsentView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    user_id: str
    consented: bool
    consented_at: str | None = None
    text_version: str | None = Field(None, description="The room's consent-text version (from its template)")
    channel: ConsentChannel | None = None
    recordings_stopped: list[str] = Field(default_factory=list,
                                          description="Optional recordings the withdrawal stopped (each file ends "
                                                      "there; a new start makes a new file)")


class ConsentLedgerEntryView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    at: str
    user_id: str
    decision: Literal["given", "withdrawn"]
    text_version: str | None = None
    channel: str
    actor: str
