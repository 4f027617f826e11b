"""Wire shape of the session's verdict, in its own module: a room's view carries it, and the room paths
(the token route among them) need it without the rest of attendance's models (``make bench
BENCH=cold_start``)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class VerdictNoShow(BaseModel):
    model_config = ConfigDict(defer_build=True)

    kind: Literal["nobody", "host_absent", "client_absent", "attendees_absent"]
    host_absent: bool
    absent: list[str]
    attendees: list[str]


class SessionVerdict(BaseModel):
    """What the session was, for billing (once the room has ended)."""

    model_config = ConfigDict(defer_build=True)

    outcome: Literal["held", "no_show", "cancelled", "ended_early", "overran"]
    no_show: VerdictNoShow | None = None
    attended: list[str] = Field(description="Identities that attended (the attended rule)")
    billable_seconds: int = Field(description="Time the host and at least one other attendee were both there")
    billing_band: str | None = None
    session_ended_at: str | None = Field(None, description="When the attended session ended")
    reasons: list[str] = Field(default_factory=list)
    policy: dict = Field(default_factory=dict, description="The evidence policy the room was judged by")
