"""Rooms: plan and create (or return) the room of a booking or a session occurrence, read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rooms import metric_names, store
from rooms.access import Caller, require_member_or_admin, require_room
from rooms.attendance.view import EvidencePolicy
from rooms.clock import iso
from rooms.errors import InvalidInput
from rooms.observability import logger, metrics
from rooms.phone import service as phone
from rooms.room.catalog import get_template
from rooms.room.ids import room_id_for_booking, room_id_for_session
from rooms.room.models import CreateRoomRequest, RoomView
from rooms.room.status import RoomStatus
from rooms.room.templates import SERVICE_PROFILES, Template
from rooms.room.views import room_view
from rooms.settings import Settings
from rooms.store import users as user_index
from rooms.store.table import due_keys


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
        raise InvalidInput("give service_type, room_type or template: a room's kind is never guessed",
                           code="room_type_required", field="room_type")
    template = template_lookup(name)
    if template is None:
        raise InvalidInput(f"unknown template {name!r}", code="unknown_template", field=field)
    if request.room_type and request.room_type != template.room_type:
        source = f"template {template.name!r}" if field != "room_type" else "its template"
        raise InvalidInput(f"room_type {request.room_type!r} contradicts {source} (room_type "
                           f"{template.room_type!r}; from {field})", code="room_type_mismatch", field="room_type")

    room_type = template.room_type
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


def create_room(request: CreateRoomRequest, *, caller: Caller, now: datetime,
                settings: Settings) -> tuple[RoomView, bool]:
    """Create the room of a booking or session occurrence, or return the one that exists.

    Returns (room, created). Creating twice, even concurrently, gives one room: the second call gets
    the first one's room back (and its own request body is ignored). The creation claims no schedule
    version: every later reschedule applies over it (rooms.store.booking). Callers go through
    ``rooms.lifecycle.booking_events.confirm_room``.
    """
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
        status=RoomStatus.SCHEDULED,
        max_participants=plan.max_participants,
        recording=plan.recording,
        recording_consent_required=plan.template.recording_consent_required,
        # only while the room is a compliance room (a request may narrow the template's policy)
        recording_mandatory=plan.template.recording_mandatory and plan.recording == "compliance",
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
    if len(members) > plan.max_participants:
        raise InvalidInput(f"{len(members)} members (host included) exceed max_participants "
                           f"{plan.max_participants}", code="members_over_max_participants", field="members")

    # The user index first (store.users): a link without a membership is harmless, a membership without
    # its link would escape an erasure.
    user_index.write_links(user_index.link(m.user_id, room_id, now=created_at) for m in members)
    room, created = phone.create_room_with_dial_in(item, members, sip=request.sip, actor=caller.user_id,
                                                   settings=settings)
    if created:
        metrics.add_metric(name=metric_names.ROOMS_CREATED, unit="Count", value=1)
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


def read_room(room_id: str, *, caller: Caller) -> RoomView:
    """A room as its members (or the platform backend) see it."""
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_member_or_admin(caller, room, member)
    return room_view(room)
