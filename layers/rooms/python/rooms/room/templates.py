"""Room templates: built-in defaults, per-deployment overrides, and the service-type mapping.

A template fixes what a room of a kind may do; a create request may narrow it (fewer participants,
another recording policy) but never exceed its ceiling.
"""

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RoomType = Literal["individual", "workshop", "course", "webinar", "broadcast"]
RecordingPolicy = Literal["none", "optional", "automatic", "compliance"]
MemberRole = Literal["host", "participant", "viewer"]


class BillingBand(BaseModel):
    """A named band of billable minutes (e.g. US psychotherapy CPT 90834: 38-52 minutes)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str = Field(min_length=1, max_length=64)
    min_minutes: int = Field(ge=0, le=1440, description="Lowest whole billable minute of the band")
    max_minutes: int | None = Field(None, ge=0, le=1440, description="Highest whole minute; none: open-ended")

    @model_validator(mode="after")
    def _ordered(self) -> "BillingBand":
        if self.max_minutes is not None and self.max_minutes < self.min_minutes:
            raise ValueError("max_minutes must not be below min_minutes")
        return self


class TemplateSettings(BaseModel):
    """Everything a template fixes but its name (also the body of PUT /templates/{name})."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    room_type: RoomType
    description: str = Field("", max_length=500)
    max_participants: int = Field(ge=2, le=10000, description="Default when the request gives none")
    max_participants_limit: int = Field(ge=2, le=10000, description="Ceiling a request may ask for")
    recording: RecordingPolicy = "none"
    recording_consent_required: bool = False
    recording_mandatory: bool = Field(
        False,
        description="Compliance rooms only: nobody who may publish is admitted (their join token is refused "
                    "409 recording_not_active) unless LiveKit has the room's egress running (starting or "
                    "active), which is verified, and started if missing, at each such token request",
    )
    waiting_room: bool = False
    attendee_role: Literal["participant", "viewer"] = "participant"
    empty_timeout_seconds: int | None = Field(None, ge=10, le=86400)
    clients_can_access_recordings: bool = False
    recording_downloads_enabled: bool = True
    # --- evidence (verdicts, billing bands, consent): copied onto each room when it is created, so a
    # room is always judged by the policy it was booked under (rooms.attendance.verdict).
    attended_min_seconds: int = Field(
        0, ge=0, le=86400, description="Billable seconds a person needs to count as having attended"
    )
    no_show_grace_minutes: int | None = Field(
        None, ge=0, le=1440,
        description="A party not connected by scheduled_start + this counts as absent (a no-show) even if "
                    "they come later; none: only the attended rule decides",
    )
    schedule_tolerance_minutes: int = Field(
        5, ge=0, le=1440, description="How far from scheduled_end a session may end and still be 'held'"
    )
    billing_bands: list[BillingBand] = Field(default_factory=list, max_length=20)
    consent_text_version: str | None = Field(
        None, max_length=64, description="Version of the recording-consent text shown to members"
    )

    @model_validator(mode="after")
    def _default_within_limit(self) -> "TemplateSettings":
        if self.max_participants > self.max_participants_limit:
            raise ValueError("max_participants must not exceed max_participants_limit")
        if self.recording_mandatory and self.recording != "compliance":
            raise ValueError("recording_mandatory needs recording 'compliance'")
        bands = sorted(self.billing_bands, key=lambda b: b.min_minutes)
        for low, high in itertools.pairwise(bands):
            if low.max_minutes is None or low.max_minutes >= high.min_minutes:
                raise ValueError(f"billing_bands {low.name!r} and {high.name!r} overlap")
        return self


class Template(TemplateSettings):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")


def _builtin_templates() -> dict[str, Template]:
    templates = (
        Template(
            name="individual",
            room_type="individual",
            description="1-on-1 session (therapy, consultation): private, no recording",
            max_participants=2,
            max_participants_limit=2,
            recording="none",
            attended_min_seconds=300,
            no_show_grace_minutes=15,
        ),
        Template(
            name="workshop",
            room_type="workshop",
            description="Group workshop or class: waiting room, optional recording with consent",
            max_participants=25,
            max_participants_limit=100,
            recording="optional",
            recording_consent_required=True,
            waiting_room=True,
            attended_min_seconds=300,
            consent_text_version="1",
        ),
        Template(
            name="course",
            room_type="course",
            description="Course session: every session recorded automatically for enrolled members",
            max_participants=25,
            max_participants_limit=100,
            recording="automatic",
            waiting_room=True,
            clients_can_access_recordings=True,
            attended_min_seconds=300,
        ),
        Template(
            name="webinar",
            room_type="webinar",
            description="Webinar: attendees view only",
            max_participants=100,
            max_participants_limit=500,
            recording="optional",
            attendee_role="viewer",
            clients_can_access_recordings=True,
            attended_min_seconds=60,
            consent_text_version="1",
        ),
        Template(
            name="broadcast",
            room_type="broadcast",
            description="Broadcast to a large audience: viewers only, always recorded",
            max_participants=1000,
            max_participants_limit=10000,
            recording="automatic",
            attendee_role="viewer",
            clients_can_access_recordings=True,
            attended_min_seconds=60,
        ),
    )
    return {t.name: t for t in templates}


# "group" is an older name of the workshop template; accept it.
TEMPLATE_ALIASES = {"group": "workshop"}


class ServiceProfile(BaseModel):
    """What a platform service type implies for its rooms (its automatic configuration)."""

    model_config = ConfigDict(defer_build=True)

    template: str
    max_participants: int | None = None
    recording: RecordingPolicy | None = None


# A service type's profile, as data: ServiceProfile models are made on first use (``__getattr__``).
_SERVICE_PROFILES: dict[str, dict[str, Any]] = {
    "therapy": {"template": "individual", "max_participants": 2, "recording": "none"},
    "consultation": {"template": "individual", "max_participants": 2, "recording": "none"},
    "yoga_class": {"template": "workshop", "max_participants": 20, "recording": "optional"},
    "workshop": {"template": "workshop"},
    "course": {"template": "course"},
    "webinar": {"template": "broadcast", "max_participants": 500, "recording": "automatic"},
    "broadcast": {"template": "broadcast"},
}

BUILTIN_TEMPLATES: dict[str, Template]
SERVICE_PROFILES: dict[str, ServiceProfile]


def __getattr__(name: str) -> Any:
    """BUILTIN_TEMPLATES and SERVICE_PROFILES, validated on first use rather than at import: validating
    them builds their models' schemas (the models are ``defer_build``), which a function that never
    reads a template (issue_token, room_query, ...) should not pay at every cold start."""
    if name == "BUILTIN_TEMPLATES":
        value: Any = _builtin_templates()
    elif name == "SERVICE_PROFILES":
        value = {service: ServiceProfile(**profile) for service, profile in _SERVICE_PROFILES.items()}
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def service_type_mapping() -> str:
    """SERVICE_PROFILES in words (the API documents it on ``service_type``, the README shows it)."""
    parts = []
    for name, profile in _SERVICE_PROFILES.items():
        extras = [f"{profile['max_participants']} participants"] if profile.get("max_participants") else []
        extras += [f"recording {profile['recording']}"] if profile.get("recording") else []
        parts.append(f"{name} → {profile['template']}" + (f" ({', '.join(extras)})" if extras else ""))
    return "; ".join(parts) + ". Any other service_type needs room_type or template."


def canonical_template_name(name: str) -> str:
    return TEMPLATE_ALIASES.get(name, name)
