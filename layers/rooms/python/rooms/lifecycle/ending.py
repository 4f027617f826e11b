"""Ending a room: the record first, then LiveKit, then every capability's release."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rooms import audit, metric_names, store
from rooms.access import Caller
from rooms.clock import iso, parse_iso
from rooms.errors import NotFound
from rooms.livekit_gateway import room_service
from rooms.observability import logger, metrics
from rooms.phone import service as phone
from rooms.recordings.egress_sync import release_room_recordings
from rooms.room.models import RoomView
from rooms.room.schedule import settle_due_actions
from rooms.room.status import RoomStatus, is_live
from rooms.room.views import room_view


def release_room_resources(room: store.RoomItem, *, now: datetime) -> None:
    """Everything that must be closed or given back when a room ends, whoever ended it (admin,
    sweeper, LiveKit's room_finished). Each step is idempotent: it may run more than once.
    """
    from rooms.attendance.reconcile import close_room_attendance  # lazily: create_room's cold start never needs it
    from rooms.evidence.retention import schedule_retention

    release_room_recordings(room, now=now)  # stop egress, reconcile with ListEgress, check uploads
    close_room_attendance(room, now=now)  # reconcile with ListParticipants, close open segments, summary
    phone.release_room_phone(room, now=now)  # dispatch rule deleted, then the PIN released
    schedule_retention(room, now=now)  # when its data is deleted (rooms.evidence.retention)


def end_room(room_id: str, *, caller: Caller, now: datetime, reason: str = "ended_by_admin") -> tuple[RoomView, bool]:
    """End a room now (the platform backend's DELETE): see ``close_room``.

    Idempotent: ending an ended room returns it unchanged (and, when this caller ended it, finishes the
    LiveKit deletion and the release in case an earlier attempt failed half-way).
    """
    room = store.get_room(room_id)
    if room is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    ended, changed = close_room(room, now=now, actor=caller.user_id, reason=reason)
    if ended is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    return room_view(ended), changed


def close_room(room: store.RoomItem, *, now: datetime, actor: str | None, reason: str,
               status: str = RoomStatus.ENDED,
               audit_action: str = "room.ended") -> tuple[store.RoomItem | None, bool]:
    """The one way a room is ended by us (admin route, sweeper, a cancellation): the record first (so
    the ``room_finished`` that LiveKit sends back finds it already ended), with its audit entry
    (``audit_action``) in the same transaction, then the LiveKit room deleted (everyone disconnected),
    then ``release_room_resources`` at the end time.

    Returns (room, changed). A room ended by someone else is returned as it is; one ended earlier by
    the same actor gets the LiveKit deletion and the release again (both idempotent), so a retry after
    a failure half-way completes the job.
    """
    if is_live(room.status):
        ended, changed = store.end_room(room.room_id, now=iso(now), actor=actor, reason=reason, status=status,
                                        due_actions=settle_due_actions(room, now),
                                        audit=[audit.entry(room, at=now, actor=actor or audit.SYSTEM,
                                                           action=audit_action,
                                                           details={"reason": reason, "status": str(status)})])
        if ended is None:
            return None, False
    else:
        ended, changed = room, False
    if not changed and (ended.ended_by is None or ended.ended_by != actor):
        return ended, False
    if ended.livekit_created_at:
        room_service.delete_room(ended.livekit_room)
    release_room_resources(ended, now=parse_iso(ended.ended_at) if ended.ended_at else now)
    ended.refresh(consistent_read=True)  # with what the release wrote (the attendance summary)
    if changed:
        logger.info("room ended", extra={"action": "room.end", "actor": actor, "room_id": room.room_id,
                                         "reason": reason, "status": status})
        metrics.add_metric(name=metric_names.ROOMS_ENDED, unit="Count", value=1)
    return ended, changed


def room_event_detail(room: store.RoomItem) -> dict[str, Any]:
    """What every room event of ours carries: which room, what it belongs to, its status and schedule."""
    return {
        "room_id": room.room_id,
        "livekit_room": room.livekit_room,
        "room_type": room.room_type,
        "booking_id": room.booking_id,
        "service_session_id": room.service_session_id,
        "status": room.status,
        "scheduled_start": room.scheduled_start,
        "scheduled_end": room.scheduled_end,
        "host_user_id": room.host_user_id,
    }
