"""The attendance routes: the billing view, and members' connection-quality samples."""

from __future__ import annotations

from datetime import datetime

from rooms import metric_names, store
from rooms.access import Caller, require_host_or_admin, require_member, require_room
from rooms.attendance.models import (
    AttendanceView,
    QualitySampleAccepted,
    QualitySampleIn,
)
from rooms.attendance.view import QUALITY_METRICS, attendance_view, unix_seconds
from rooms.clock import iso
from rooms.errors import Conflict, InvalidInput
from rooms.observability import logger, metrics
from rooms.room.status import RoomStatus, is_over, is_running
from rooms.store import attendance as attendance_store

_MAX_SAMPLE_SKEW_S = 300


# --- HTTP-facing operations ------------------------------------------------------------------------------


def read_attendance(room_id: str, *, caller: Caller, now: datetime) -> AttendanceView:
    """The room's attendance: its host, or the platform backend (admin scope), which bills from it."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_host_or_admin(caller, room, member)
    members = store.list_members(room_id) if is_over(room.status) else None  # for the session's verdict
    return attendance_view(room, attendance_store.get_room_attendance(room_id), now=now, members=members)


def record_quality_sample(room_id: str, sample: QualitySampleIn, *, caller: Caller,
                          now: datetime) -> QualitySampleAccepted:
    """A member's client reports one connection-quality sample; it lands on their attendance."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member(caller, room, member)
    if not (is_running(room.status) or room.status == RoomStatus.ENDED):  # a last sample may race the room's end
        raise Conflict(f"room {room_id} is {room.status}", code="room_not_open")
    if caller.user_id not in (room.attendee_ids or ()):
        # (attendee_ids: everyone who ever connected, written with the participant_joined attendance)
        raise Conflict(f"{caller.user_id} never connected to room {room_id}: no attendance to report on",
                       code="not_connected")
    measured = sample.measured_at or now
    if abs(unix_seconds(measured) - unix_seconds(now)) > _MAX_SAMPLE_SKEW_S:
        raise InvalidInput("measured_at is more than 5 minutes away from now", code="sample_time_skew",
                           field="measured_at")
    values = {name: getattr(sample, name) for name in QUALITY_METRICS if getattr(sample, name) is not None}
    if not attendance_store.append_quality_sample(room_id, caller.user_id, {"at": iso(measured), **values}):
        raise Conflict(f"at most {attendance_store.MAX_QUALITY_SAMPLES} quality samples per member and room",
                       code="quality_samples_full")
    metrics.add_metric(name=metric_names.QUALITY_SAMPLES, unit="Count", value=1)
    logger.info("quality sample", extra={"action": "quality.sample", "actor": caller.user_id,
                                          "room_id": room_id, **values})
    return QualitySampleAccepted(room_id=room_id, identity=caller.user_id, measured_at=iso(measured))

