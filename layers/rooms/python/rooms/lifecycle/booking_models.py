"""Wire shapes of the booking lifecycle: PATCH and cancel bodies, and the booking platform's events.
The event details reuse the API's shapes: ``Booking Confirmed`` and
``Session Scheduled`` carry a ``POST /rooms`` body."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rooms.room.models import ID_PATTERN, CreateRoomRequest, RoomView, ScheduleTime, _In
from rooms.room.templates import MemberRole, RecordingPolicy


class SipUpdate(_In):
    """The phone settings PATCH may change: ``call_me`` (the number and PIN stay the room's)."""

    call_me: bool = Field(description="Participants may ask to be called themselves (needs a SIP-enabled room)")


class UpdateRoomRequest(_In):
    """Body of PATCH /rooms/{room_id}: only the fields given change."""

    scheduled_start: ScheduleTime | None = None
    scheduled_end: ScheduleTime | None = None
    title: str | None = Field(None, max_length=200, description="null clears it")
    max_participants: int | None = Field(None, ge=2, le=10000, description="Within the template's ceiling")
    waiting_room: bool | None = None
    recording: RecordingPolicy | None = None
    metadata: dict[str, Any] | None = Field(None, description="Replaces the room's metadata; null clears it")
    sip: SipUpdate | None = Field(None, description="sip.call_me; changes live too (read on each dial-out)")

    @model_validator(mode="after")
    def _something_and_not_null(self) -> UpdateRoomRequest:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in ("scheduled_start", "scheduled_end", "max_participants", "waiting_room", "recording", "sip"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class CancelRoomRequest(_In):
    reason: str | None = Field(None, max_length=500)


class CancelRoomResponse(BaseModel):
    model_config = ConfigDict(defer_build=True)

    room: RoomView
    changed: bool = Field(description="False when the room was already cancelled")


_Id = Field(min_length=1, max_length=128, pattern=ID_PATTERN)


class _Detail(_In):
    """An inbound event's detail (unknown fields are refused, as in the API, so a typo is not ignored)."""


class BookingConfirmed(CreateRoomRequest):
    """``Booking Confirmed``: a ``POST /rooms`` body for a booking."""

    @model_validator(mode="after")
    def _booking(self) -> BookingConfirmed:
        if not self.booking_id:
            raise ValueError("booking_id is required")
        return self


class SessionScheduled(CreateRoomRequest):
    """``Session Scheduled``: a ``POST /rooms`` body for a service-session occurrence."""

    @model_validator(mode="after")
    def _session(self) -> SessionScheduled:
        if not self.service_session_id:
            raise ValueError("service_session_id is required")
        return self


class _Schedule(_Detail):
    scheduled_start: ScheduleTime
    scheduled_end: ScheduleTime | None = None

    @model_validator(mode="after")
    def _order(self) -> _Schedule:
        if self.scheduled_end and self.scheduled_end <= self.scheduled_start:
            raise ValueError("scheduled_end must be after scheduled_start")
        return self


class BookingRescheduled(_Schedule):
    booking_id: str = _Id


class SessionRescheduled(_Schedule):
    service_session_id: str = _Id


class BookingCancelled(_Detail):
    booking_id: str = _Id
    reason: str | None = Field(None, max_length=500)


class SessionCancelled(_Detail):
    service_session_id: str = _Id
    reason: str | None = Field(None, max_length=500)


class AttendeeConfirmed(_Detail):
    service_session_id: str = _Id
    user_id: str = _Id
    name: str | None = Field(None, max_length=200)
    role: MemberRole | None = Field(None, description="Defaults to the room's attendee role")


class AttendeeCancelled(_Detail):
    service_session_id: str = _Id
    user_id: str = _Id


# detail-type → the shape of its detail (the wire contract of inbound events)
INBOUND_DETAIL_TYPES: dict[str, type[BaseModel]] = {
    "Booking Confirmed": BookingConfirmed,
    "Booking Rescheduled": BookingRescheduled,
    "Booking Cancelled": BookingCancelled,
    "Session Scheduled": SessionScheduled,
    "Session Rescheduled": SessionRescheduled,
    "Session Cancelled": SessionCancelled,
    "Attendee Confirmed": AttendeeConfirmed,
    "Attendee Cancelled": AttendeeCancelled,
}
