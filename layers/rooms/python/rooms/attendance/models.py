"""Wire shapes of attendance, host controls and quality samples."""

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

# (re-exported: their home is verdict_models)
from rooms.attendance.verdict_models import SessionVerdict as SessionVerdict
from rooms.attendance.verdict_models import VerdictNoShow as VerdictNoShow


class AttendanceSegment(BaseModel):
    model_config = ConfigDict(defer_build=True)

    joined_at: str | None = Field(description="When this connection became active (null: its join was never seen)")
    left_at: str | None = Field(description="When it ended; null while connected")
    seconds: int = Field(description="Whole seconds connected on this segment")
    participant_sid: str
    via: Literal["video", "phone"] = "video"
    waiting_seconds: int = Field(0, description="Part of it spent in the waiting room, before admission")
    left_reason: str | None = None


class TrackView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    track_sid: str
    participant_sid: str
    type: str = Field(description="audio | video | data")
    source: str = Field(description="microphone | camera | screen_share | screen_share_audio | unknown")
    published_at: str | None = None
    unpublished_at: str | None = None


class MetricSummary(BaseModel):
    model_config = ConfigDict(defer_build=True)

    min: float
    avg: float
    max: float


class QualitySummary(BaseModel):
    model_config = ConfigDict(defer_build=True)

    samples: int
    packet_loss_pct: MetricSummary | None = None
    jitter_ms: MetricSummary | None = None
    rtt_ms: MetricSummary | None = None


class AttendanceEntry(BaseModel):
    model_config = ConfigDict(defer_build=True)

    identity: str
    user_id: str
    name: str | None = None
    role: str | None = None
    via: Literal["video", "phone"]
    first_joined_at: str | None
    last_left_at: str | None = Field(description="null while a segment is still open")
    total_seconds: int = Field(description="Time connected: the union of the segments, whole seconds")
    waiting_seconds: int = 0
    reconnects: int = Field(description="segments - 1")
    connected: bool = False
    segments: list[AttendanceSegment]
    published: list[str] = Field(default_factory=list, description="Track sources this participant published")
    tracks: list[TrackView] = Field(default_factory=list)
    quality: QualitySummary | None = None
    billable_seconds: int = Field(0, description="Connected time without the waiting-room time (reconnects "
                                                 "counted once)")
    late_seconds: int = Field(0, description="First join after scheduled_start (0 when on time or unscheduled)")
    attended: bool = Field(False, description="billable_seconds reached the template's attended_min_seconds")
    billing_band: str | None = Field(None, description="The template's billing band of billable_seconds")


class AttendanceView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    status: str
    started_at: str | None = Field(description="First join")
    last_left_at: str | None = Field(description="Last leave; null while someone is connected")
    ended_at: str | None = None
    duration_seconds: int = Field(description="From the first join to the last leave (or now, while live)")
    participant_count: int
    peak_concurrent: int
    participants: list[AttendanceEntry]
    scheduled_start: str | None = None
    scheduled_end: str | None = None
    verdict: SessionVerdict | None = Field(None, description="Once the room has ended (or was cancelled)")


class QualitySampleIn(BaseModel):
    """One connection-quality sample measured by the member's client."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    packet_loss_pct: float | None = Field(None, ge=0, le=100, description="Packet loss, percent")
    jitter_ms: float | None = Field(None, ge=0, le=60000)
    rtt_ms: float | None = Field(None, ge=0, le=60000, description="Round-trip time")
    measured_at: AwareDatetime | None = Field(None, description="Defaults to when the sample is received")

    @model_validator(mode="after")
    def _some_metric(self) -> "QualitySampleIn":
        if self.packet_loss_pct is None and self.jitter_ms is None and self.rtt_ms is None:
            raise ValueError("give at least one of packet_loss_pct, jitter_ms, rtt_ms")
        return self


class QualitySampleAccepted(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    identity: str
    measured_at: str


class LiveTrack(BaseModel):
    model_config = ConfigDict(defer_build=True)

    track_sid: str
    type: str
    source: str
    muted: bool


class LiveParticipant(BaseModel):
    model_config = ConfigDict(defer_build=True)

    identity: str
    participant_sid: str
    name: str | None = None
    role: str | None = None
    via: Literal["video", "phone"]
    joined_at: str | None = None
    waiting: bool = Field(description="Held in the waiting room: may neither publish nor subscribe")
    can_publish: bool
    can_subscribe: bool
    tracks: list[LiveTrack]
    attendance: AttendanceEntry | None = None


class ParticipantsView(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    participants: list[LiveParticipant] = Field(description="Connected now, as LiveKit lists them")
    waiting: list[str] = Field(description="Identities held in the waiting room")
    attendance: AttendanceView


class MuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    track: Literal["audio", "video", "screen_share"] = Field(description="Which of the participant's tracks")
    muted: bool = True


class HostMessageRequest(BaseModel):
    """A message from the host to one participant, e.g. a client in the waiting room: "running 5 minutes late"."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    text: str = Field(min_length=1, max_length=500)


HOST_MESSAGE_TOPIC = "rooms.host_message"


class AskUnmuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    track: Literal["audio", "video", "screen_share"] = Field(
        "audio", description="Which of the participant's tracks to ask them to unmute")


class HostActionResult(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room_id: str
    identity: str
    action: Literal["admit", "mute", "unmute", "ask_unmute", "remove", "message"]
    connected: bool = Field(description="Whether the participant was connected (and so changed in LiveKit)")
    tracks: list[str] = Field(default_factory=list, description="Track SIDs muted or unmuted")
