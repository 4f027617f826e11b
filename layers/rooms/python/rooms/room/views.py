"""Store items → wire views."""

from __future__ import annotations

from typing import Any

from rooms.attendance.verdict_models import SessionVerdict
from rooms.phone.numbers import dial_in_details
from rooms.room.models import MemberView, NoShowView, RoomUrls, RoomView
from rooms.store import Member, RoomItem


def room_view(room: RoomItem) -> RoomView:
    return RoomView(
        room_id=room.room_id,
        livekit_room=room.livekit_room,
        room_type=room.room_type,
        template=room.template,
        status=room.status,
        booking_id=room.booking_id,
        service_session_id=room.service_session_id,
        service_type=room.service_type,
        title=room.title,
        max_participants=int(room.max_participants),
        recording=room.recording,
        waiting_room=bool(room.waiting_room),
        scheduled_start=room.scheduled_start,
        scheduled_end=room.scheduled_end,
        created_at=room.created_at,
        opened_at=room.opened_at,
        started_at=room.started_at,
        ended_at=room.ended_at,
        host_user_id=room.host_user_id,
        metadata=room.metadata.as_dict() if room.metadata else None,
        no_show=NoShowView(**room.no_show.as_dict()) if room.no_show else None,
        urls=RoomUrls(
            room=f"/room/{room.room_id}/",
            booking=f"/room/booking/{room.booking_id}/" if room.booking_id else None,
            session=f"/room/session/{room.service_session_id}/" if room.service_session_id else None,
        ),
        dial_in=dial_in_details(room),
        participant_count=_int_or_none(room.participant_count),
        peak_concurrent=_int_or_none(room.peak_concurrent),
        duration_seconds=_int_or_none(room.duration_seconds),
        verdict=SessionVerdict(**room.verdict.as_dict()) if room.verdict else None,
    )


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


def member_view(member: Member) -> MemberView:
    return MemberView(
        room_id=member.room_id,
        user_id=member.user_id,
        role=member.role,
        name=member.name,
        status=member.status,
        granted_at=member.granted_at,
        revoked_at=member.revoked_at,
        admitted_at=member.admitted_at,
    )


def room_event_detail(room: RoomItem) -> dict[str, Any]:
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
