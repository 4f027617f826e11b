"""The wire contract: request and response shapes of the HTTP API (docs/openapi.json is generated from them)."""

import json
import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from rooms.attendance.verdict_models import SessionVerdict
from rooms.room.templates import (
    MemberRole,
    RecordingPolicy,
    RoomType,
    Template,
    TemplateSettings,
    service_type_mapping,
)

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+-]*$"
Identifier = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
MAX_MEMBERS_AT_CREATE = 90  # members + host + room fit one DynamoDB transaction (100 items)


# Times the service schedules by: 2000-01-01 .. 2100-01-01 UTC. Outside it, arithmetic on the time (UTC
# conversion of 0001-01-01T00:00:00+14:00, a token's expiry after 9999-12-31) overflows datetime.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _between(value: datetime, earliest: datetime, latest: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not earliest <= utc < latest:
        raise ValueError(f"must be between {earliest:%Y-%m-%dT%H:%M:%SZ} and {latest:%Y-%m-%dT%H:%M:%SZ}")
    return value


ScheduleTime = Annotated[AwareDatetime, AfterValidator(lambda v: _between(v, EARLIEST, LATEST))]
# Recording access may be granted "for good": any time a datetime can still be compared and stored.
ACCESS_LATEST = datetime(9000, 1, 1, tzinfo=UTC)
AccessUntil = Annotated[AwareDatetime, AfterValidator(lambda v: _between(v, EARLIEST, ACCESS_LATEST))]

# What DynamoDB can store in one item, with room to spare: metadata is kept on the room item.
METADATA_MAX_BYTES = 64 * 1024
METADATA_MAX_DEPTH = 16  # DynamoDB allows 32 levels of nesting; the item's own map takes some
DYNAMODB_MAX_DIGITS = 38


def _storable(value: Any, depth: int = 0) -> None:
    if depth > METADATA_MAX_DEPTH:
        raise ValueError(f"metadata nests deeper than {METADATA_MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _storable(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _storable(item, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError("metadata numbers must be finite (no NaN, Infinity or 1e400)")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        digits = len(repr(abs(value)).replace(".", "").split("e")[0].lstrip("0"))
        if digits > DYNAMODB_MAX_DIGITS:
            raise ValueError(f"metadata numbers may have at most {DYNAMODB_MAX_DIGITS} significant digits")


def _metadata_storable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    _storable(value)
    if len(json.dumps(value, separators=(",", ":")).encode()) > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is larger than {METADATA_MAX_BYTES // 1024} KB")
    return value


Metadata = Annotated[dict[str, Any] | None, AfterValidator(_metadata_storable)]

class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class HostIn(_In):
    user_id: str = Identifier
    name: str | None = Field(None, max_length=200)


class MemberIn(_In):
    user_id: str = Identifier
    name: str | None = Field(None, max_length=200)
    role: MemberRole | None = Field(None, description="Defaults to the template's attendee role")


class SipIn(_In):
    enabled: bool = False
    region: Literal["US", "UK", "AU"] = "US"
    call_me: bool = Field(False, description="Members (participants, not viewers) may ask to be called: POST "
                                             "…/dial-out to their own number, as themselves (needs enabled)")

    @model_validator(mode="after")
    def _call_me_needs_phone(self) -> "SipIn":
        if self.call_me and not self.enabled:
            raise ValueError("sip.call_me needs sip.enabled")
        return self


class CreateRoomRequest(_In):
    booking_id: str | None = Field(None, min_length=1, max_length=128, pattern=ID_PATTERN)
    service_session_id: str | None = Field(None, min_length=1, max_length=128, pattern=ID_PATTERN)
    service_type: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$",
                                     description="The platform's service type; it picks the template: "
                                                 + service_type_mapping())
    room_type: RoomType | None = Field(None, description="Without service_type or template: the template of "
                                                         "that name. With them: must be the template's room type")
    template: str | None = Field(None, min_length=1, max_length=63, description="Wins over service_type")
    title: str | None = Field(None, max_length=200)
    scheduled_start: ScheduleTime | None = None
    scheduled_end: ScheduleTime | None = None
    host: HostIn = Field(description="The practitioner who runs the room (role host)")
    members: list[MemberIn] = Field(default_factory=list, max_length=MAX_MEMBERS_AT_CREATE,
                                    description="With the host, at most max_participants")
    max_participants: int | None = Field(None, ge=2, le=10000)
    recording: RecordingPolicy | None = None
    recording_access_until: AccessUntil | None = Field(
        None, description="Members other than the practitioner may access recordings until then (courses)"
    )
    waiting_room: bool | None = None
    sip: SipIn | None = None
    metadata: Metadata = None

    @model_validator(mode="after")
    def _exactly_one_link(self) -> "CreateRoomRequest":
        if bool(self.booking_id) == bool(self.service_session_id):
            raise ValueError("exactly one of booking_id or service_session_id is required")
        if self.scheduled_start and self.scheduled_end and self.scheduled_end <= self.scheduled_start:
            raise ValueError("scheduled_end must be after scheduled_start")
        if self.scheduled_end and not self.scheduled_start:
            raise ValueError("scheduled_end needs scheduled_start")
        return self


class RoomUrls(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room: str
    booking: str | None = None
    session: str | None = None


class NoShowView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    kind: Literal["nobody", "host_absent", "client_absent", "attendees_absent"]
    host_absent: bool
    absent: list[str] = Field(description="Members (host included) who never connected")
    attendees: list[str] = Field(description="Identities that did connect")


class DialInNumber(BaseModel):
    model_config = ConfigDict(defer_build=True)

    region: Literal["US", "UK", "AU"]
    number: str = Field(description="E.164")
    formatted: str = Field(description="For people, e.g. +1 202-555-0100")


class DialIn(BaseModel):
    """How to join a room by phone: the room's regional number and its PIN (end it with #)."""

    model_config = ConfigDict(defer_build=True)

    numbers: list[DialInNumber]
    pin: str
    instructions: str = Field(description="One line for the booking confirmation")
    call_me: bool = Field(False, description="The room lets its participants ask to be called (POST …/dial-out "
                                             "with their own user_id, or none); otherwise only the host dials out")


class RoomView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    livekit_room: str
    room_type: RoomType
    template: str
    status: Literal["scheduled", "open", "active", "ended", "cancelled", "expired"]
    booking_id: str | None = None
    service_session_id: str | None = None
    service_type: str | None = None
    title: str | None = None
    max_participants: int
    recording: RecordingPolicy
    waiting_room: bool
    scheduled_start: str | None = None
    scheduled_end: str | None = None
    created_at: str
    opened_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    host_user_id: str | None = None
    metadata: dict[str, Any] | None = None
    no_show: NoShowView | None = Field(None, description="Set by the sweeper after a session nobody, or only "
                                                         "one side, joined")
    urls: RoomUrls
    dial_in: DialIn | None = Field(None, description="Phone dial-in while the room is live (SIP enabled)")
    participant_count: int | None = Field(None, description="Attendance summary, once the room has ended")
    peak_concurrent: int | None = Field(None, description="Attendance summary, once the room has ended")
    duration_seconds: int | None = Field(None, description="First join to last leave, once the room has ended")
    verdict: SessionVerdict | None = Field(None, description="The session's verdict, settled by the sweeper after "
                                                             "a scheduled session (GET .../attendance computes it "
                                                             "for any ended room)")


class GrantMemberRequest(_In):
    role: MemberRole | None = Field(None, description="Defaults to the room's attendee role")
    name: str | None = Field(None, max_length=200)


class MemberView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    user_id: str
    role: MemberRole
    name: str | None = None
    status: Literal["active", "revoked"]
    granted_at: str
    revoked_at: str | None = None
    admitted_at: str | None = None


class TokenRequest(_In):
    """Optional body of the token routes."""

    name: str | None = Field(None, max_length=200, description="Display name; defaults to the member's")


class TokenResponse(BaseModel):
    model_config = ConfigDict(defer_build=True)

    token: str
    server_url: str
    identity: str
    role: Literal["host", "participant", "viewer"]
    expires_at: str
    waiting: bool
    room_id: str
    livekit_room: str
    dial_in: DialIn | None = Field(None, description="Switch to phone if video fails (SIP-enabled rooms)")


E164_PATTERN = r"^\+[1-9]\d{6,14}$"


class DialOutRequest(_In):
    phone_number: str = Field(description="E.164, e.g. +14155550123", examples=["+14155550123"])
    participant_name: str | None = Field(None, max_length=200, description="Shown in the room")
    user_id: str | None = Field(
        None, min_length=1, max_length=128, pattern=ID_PATTERN,
        description="A member being called (e.g. after video failed): the call joins as their identity, "
                    "so their attendance stays one record. A participant of a room with sip.call_me may only "
                    "give their own (or none: the call is for them)",
    )

    @field_validator("phone_number", mode="before")
    @classmethod
    def _e164(cls, value: Any) -> Any:
        if isinstance(value, str):
            compact = re.sub(r"[\s().-]", "", value)
            if re.fullmatch(E164_PATTERN, compact):
                return compact
        raise ValueError("phone_number must be an E.164 number: + then country code and number, "
                         "e.g. +14155550123")


DialOutStatus = Literal["requested", "dialing", "answered", "busy", "no_answer", "failed"]


class DialOutResponse(BaseModel):
    """A dial-out attempt: POST answers it ``requested`` (202) and the call is placed asynchronously;
    GET …/dial-outs/{dial_out_id} shows what became of it."""

    model_config = ConfigDict(defer_build=True)

    dial_out_id: str
    status: DialOutStatus = Field(description="requested → dialing → answered, or busy / no_answer / failed")
    room_id: str
    participant_identity: str
    participant_id: str | None = Field(None, description="LiveKit participant SID, once the call is placed")
    sip_call_id: str | None = Field(None, description="LiveKit SIP call id, once the call is placed")
    user_id: str | None = None
    phone_number: str = Field(description="The number called, masked")
    requested_by: str
    requested_at: str
    answered_at: str | None = Field(None, description="When the callee answered: attendance starts here")
    finished_at: str | None = Field(None, description="When the outcome was known")
    ended_at: str | None = Field(None, description="When an answered call hung up")
    sip_status_code: int | None = Field(None, description="The SIP response of a failed call (486 Busy Here, …)")
    sip_status: str | None = None
    livekit_code: str | None = Field(None, description="LiveKit's error code of a failed call (e.g. canceled "
                                                       "when the ringing timed out)")


class DialOutList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    dial_outs: list[DialOutResponse]


class TemplateIn(TemplateSettings):
    """Body of PUT /templates/{name}: every field of a template but its name (taken from the path)."""


class TemplateView(Template):
    source: Literal["builtin", "override", "custom"]


class TemplateList(BaseModel):
    model_config = ConfigDict(defer_build=True)

    templates: list[TemplateView]


class TemplateDeleted(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str
    removed: bool = Field(description="False when there was no override to remove")
    template: TemplateView | None = Field(None, description="The built-in template now in effect; null for a "
                                                            "custom template, which is gone")


class EndRoomResponse(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room: RoomView
    changed: bool
