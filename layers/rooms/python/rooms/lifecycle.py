"""Rooms: create (or return) the room of a booking or a session occurrence, read it, end it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from rooms import audit, livekit_gateway, phone, store
from rooms.access import Caller, require_member_or_admin, require_room
from rooms.catalog import get_template
from rooms.clock import iso, parse_iso
from rooms.errors import InvalidInput, NotFound
from rooms.models import CreateRoomRequest, RoomView
from rooms.observability import logger, metrics
from rooms.recordings import auto_recording_target, release_room_recordings
from rooms.schedule import live_check_due_actions, settle_due_actions
from rooms.settings import get_settings
from rooms.store import users as user_index
from rooms.store.rooms import LIVE_STATUSES
from rooms.store.table import due_keys
from rooms.templates import SERVICE_PROFILES, Template
from rooms.verdicts import EvidencePolicy
from rooms.views import room_view

# Room ids are derived from what they belong to, so "the room of booking X" is a GetItem and the
# conditional put of that one item is what guarantees one room per booking / session occurrence.
_ROOM_NAMESPACE = uuid.UUID("5b7c1f0e-7d0a-4c1e-9a53-6f1d2f8e9a10")


def room_id_for_booking(booking_id: str) -> str:
    return str(uuid.uuid5(_ROOM_NAMESPACE, f"booking:{booking_id}"))


def room_id_for_session(service_session_id: str) -> str:
    return str(uuid.uuid5(_ROOM_NAMESPACE, f"session:{service_session_id}"))


@dataclass(frozen=True)
class RoomPlan:
    template: Template
    room_type: str
    max_participants: int
    recording: str
    waiting_room: bool


def plan_room(request: CreateRoomRequest, template_lookup=get_template) -> RoomPlan:
    """Pick the template and apply the request's overrides within its bounds (pure but for lookup)."""
    profile = SERVICE_PROFILES.get(request.service_type) if request.service_type else None
    if request.template:
        name, field = request.template, "template"
    elif profile:
        name, field = profile.template, "service_type"
    elif request.room_type:
        name, field = request.room_type, "room_type"
    elif request.service_type:
        raise InvalidInput(
            f"unknown service_type {request.service_type!r}: give room_type or template",
            code="unknown_service_type",
            field="service_type",
        )
    else:
        name, field = ("individual" if request.booking_id else "workshop"), "booking_id"
    template = template_lookup(name)
    if template is None:
        raise InvalidInput(f"unknown template {name!r}", code="unknown_template", field=field)

    room_type = request.room_type or template.room_type
    max_participants = request.max_participants or (profile.max_participants if profile else None)
    max_participants = max_participants or template.max_participants
    if max_participants > template.max_participants_limit:
        raise InvalidInput(
            f"max_participants {max_participants} exceeds the {template.name} template's limit of "
            f"{template.max_participants_limit}",
            code="max_participants_over_limit",
            field="max_participants",
        )
    recording = request.recording or (profile.recording if profile else None) or template.recording
    if template.recording == "compliance" and recording != "compliance":
        raise InvalidInput(
            f"the {template.name} template records for compliance; recording cannot be {recording!r}",
            code="recording_policy_locked",
            field="recording",
        )
    waiting_room = template.waiting_room if request.waiting_room is None else request.waiting_room
    return RoomPlan(template, room_type, max_participants, recording, waiting_room)


def create_room(request: CreateRoomRequest, *, caller: Caller, now: datetime) -> tuple[RoomView, bool]:
    """Create the room of a booking or session occurrence, or return the one that exists.

    Returns (room, created). Creating twice, even concurrently, gives one room: the second call gets
    the first one's room back (and its own request body is ignored).
    """
    settings = get_settings()
    plan = plan_room(request)
    if request.booking_id:
        room_id = room_id_for_booking(request.booking_id)
    else:
        room_id = room_id_for_session(request.service_session_id or "")

    created_at = iso(now)
    item = store.RoomItem(
        *store.RoomItem.key(room_id),
        room_id=room_id,
        booking_id=request.booking_id,
        service_session_id=request.service_session_id,
        service_type=request.service_type,
        room_type=plan.room_type,
        template=plan.template.name,
        title=request.title,
        status="scheduled",
        max_participants=plan.max_participants,
        recording=plan.recording,
        recording_consent_required=plan.template.recording_consent_required,
        clients_can_access_recordings=plan.template.clients_can_access_recordings,
        recording_downloads_enabled=plan.template.recording_downloads_enabled,
        recording_access_until=iso(request.recording_access_until) if request.recording_access_until else None,
        waiting_room=plan.waiting_room,
        attendee_role=plan.template.attendee_role,
        empty_timeout_seconds=plan.template.empty_timeout_seconds or settings.empty_timeout_seconds,
        scheduled_start=iso(request.scheduled_start) if request.scheduled_start else None,
        scheduled_end=iso(request.scheduled_end) if request.scheduled_end else None,
        host_user_id=request.host.user_id if request.host else None,
        metadata=request.metadata,
        sip=request.sip.model_dump() if request.sip else None,
        livekit_room=room_id,
        evidence_policy=EvidencePolicy.of_template(plan.template).as_dict(),
        created_at=created_at,
        created_by=caller.user_id,
    )
    if request.scheduled_start:
        # The sweeper opens the LiveKit room a lead time before the start.
        item.gsi1pk, item.gsi1sk = due_keys(
            request.scheduled_start - timedelta(minutes=settings.open_lead_minutes), room_id
        )

    members = []
    if request.host:
        members.append(_new_member(room_id, request.host.user_id, "host", request.host.name, created_at, caller))
    for m in request.members:
        if request.host and m.user_id == request.host.user_id:
            continue
        role = m.role or plan.template.attendee_role
        members.append(_new_member(room_id, m.user_id, role, m.name, created_at, caller))
    if len({m.user_id for m in members}) != len(members):
        raise InvalidInput("members lists a user_id twice", code="duplicate_member", field="members")

    # The user index first (store.users): a link without a membership is harmless, a membership without
    # its link would escape an erasure.
    user_index.write_links(user_index.link(m.user_id, room_id, now=created_at) for m in members)
    room, created = phone.create_room_with_dial_in(item, members, sip=request.sip, actor=caller.user_id)
    if created:
        metrics.add_metric(name="RoomsCreated", unit="Count", value=1)
        logger.info(
            "room created",
            extra={"action": "room.create", "actor": caller.user_id, "room_id": room_id,
                   "room_type": plan.room_type, "template": plan.template.name, "members": len(members)},
        )
    return room_view(room), created


def _new_member(room_id: str, user_id: str, role: str, name: str | None, now: str, caller: Caller) -> store.Member:
    return store.Member(
        *store.Member.key(room_id, user_id),
        room_id=room_id,
        user_id=user_id,
        role=role,
        name=name,
        status="active",
        granted_at=now,
        granted_by=caller.user_id,
    )


def release_room_resources(room: store.RoomItem, *, now: datetime) -> None:
    """Everything that must be closed or given back when a room ends, whoever ended it (admin,
    sweeper, LiveKit's room_finished). Each step is idempotent: it may run more than once.
    """
    from rooms.attendance import close_room_attendance  # lazily: create_room's cold start never needs it
    from rooms.retention import schedule_retention

    release_room_recordings(room, now=now)  # stop egress, reconcile with ListEgress, check uploads
    close_room_attendance(room, now=now)  # reconcile with ListParticipants, close open segments, summary
    phone.release_room_phone(room, now=now)  # dispatch rule deleted, then the PIN released
    schedule_retention(room, now=now)  # when its data is deleted (rooms.retention)


def resolve_room_id(*, room_id: str | None = None, booking_id: str | None = None,
                    service_session_id: str | None = None) -> str:
    if room_id:
        return room_id
    if booking_id:
        return room_id_for_booking(booking_id)
    if service_session_id:
        return room_id_for_session(service_session_id)
    raise ValueError("one of room_id, booking_id, service_session_id")


def read_room(room_id: str, *, caller: Caller) -> RoomView:
    """A room as its members (or the platform backend) see it."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member_or_admin(caller, room, member)
    return room_view(room)


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
               status: str = "ended") -> tuple[store.RoomItem | None, bool]:
    """The one way a room is ended by us (admin route, sweeper): the record first (so the
    ``room_finished`` that LiveKit sends back finds it already ended), then the LiveKit room deleted
    (everyone disconnected), then ``release_room_resources`` at the end time.

    Returns (room, changed). A room ended by someone else is returned as it is; one ended earlier by
    the same actor gets the LiveKit deletion and the release again (both idempotent), so a retry after
    a failure half-way completes the job.
    """
    if room.status in LIVE_STATUSES:
        ended, changed = store.end_room(room.room_id, now=iso(now), actor=actor, reason=reason, status=status,
                                        due_actions=settle_due_actions(room, now),
                                        audit=[audit.entry(room, at=now, actor=actor or audit.SYSTEM,
                                                           action="room.ended",
                                                           details={"reason": reason, "status": status})])
        if ended is None:
            return None, False
    else:
        ended, changed = room, False
    if not changed and (ended.ended_by is None or ended.ended_by != actor):
        return ended, False
    if ended.livekit_created_at:
        livekit_gateway.delete_room(ended.livekit_room)
    release_room_resources(ended, now=parse_iso(ended.ended_at) if ended.ended_at else now)
    ended.refresh(consistent_read=True)  # with what the release wrote (the attendance summary)
    if changed:
        logger.info("room ended", extra={"action": "room.end", "actor": actor, "room_id": room.room_id,
                                         "reason": reason, "status": status})
        metrics.add_metric(name="RoomsEnded", unit="Count", value=1)
    return ended, changed


def open_livekit_room(room: store.RoomItem, *, now: datetime, schedule_live_checks: bool = True) -> list:
    """Create the room's LiveKit room (just in time: at the first join-token request, or the open lead
    before a scheduled start) and return the room updates that record it, which the caller writes in
    its own conditional write (status still live: ``OPENABLE``). CreateRoom is create-or-update, so
    calling it again is harmless.

    Before a scheduled start, LiveKit's empty timeout (which closes a room nobody has joined yet) is
    counted from the start, not from now: a room opened 15 minutes early must still be there at the
    start.
    """
    settings = get_settings()
    empty_timeout = int(room.empty_timeout_seconds)
    if room.scheduled_start:
        until_start = (parse_iso(room.scheduled_start) - now).total_seconds()
        empty_timeout += int(min(max(until_start, 0), _MAX_EMPTY_TIMEOUT_EXTENSION_S))
    lk_room = livekit_gateway.ensure_room(
        room.livekit_room,
        max_participants=int(room.max_participants),
        empty_timeout=empty_timeout,
        departure_timeout=settings.departure_timeout_seconds,
        metadata=room_metadata(room),
        auto_egress=auto_recording_target(room),
    )
    logger.info("livekit room created", extra={"action": "livekit.room.create", "room_id": room.room_id,
                                               "livekit_sid": lk_room.sid, "empty_timeout": empty_timeout})
    at = iso(now)
    updates = [
        store.RoomItem.livekit_sid.set(lk_room.sid),
        store.RoomItem.livekit_created_at.set(store.RoomItem.livekit_created_at | at),
        store.RoomItem.opened_at.set(store.RoomItem.opened_at | at),
        store.RoomItem.updated_at.set(at),
    ]
    if room.status == "scheduled":
        updates.append(store.RoomItem.status.set("open"))
    if schedule_live_checks:  # (the sweeper sets the due key itself when it opens a room)
        updates += live_check_due_actions(room, now, settings)
    return updates


# A room must not be ended by us between open and end: the condition of any write that opens it.
OPENABLE = store.RoomItem.status.is_in(*LIVE_STATUSES)
_MAX_EMPTY_TIMEOUT_EXTENSION_S = 24 * 3600


def room_link(room: store.RoomItem) -> dict[str, str]:
    if room.booking_id:
        return {"booking_id": room.booking_id}
    return {"service_session_id": room.service_session_id or ""}


def room_metadata(room: store.RoomItem) -> dict[str, str]:
    """The LiveKit room's metadata: which room of ours, and what it belongs to."""
    return {"room_id": room.room_id, "room_type": room.room_type, **room_link(room)}
