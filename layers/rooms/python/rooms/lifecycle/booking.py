"""Booking lifecycle: a room follows its booking when it is rescheduled, changed or cancelled.

The same two domain functions serve the API (``PATCH /rooms/{id}``, ``POST /rooms/{id}/cancel``) and
the booking platform's events (``rooms.booking_events``):

- ``update_room``: new schedule and settings of a room that has not ended. Its due key follows the new
  schedule (a room not open yet comes due at the new start minus the open lead, an open one at the new
  end plus the grace), so the sweeper opens and ends it on the new times. The PIN is kept. Changes
  LiveKit applies at room creation only (max participants, recording, waiting room) are refused with a
  409 naming the field once the LiveKit room is open; title and metadata reach an open LiveKit room
  through UpdateRoomMetadata. Publishes ``Room Rescheduled`` when the schedule changed. The audit entry
  (``room.rescheduled`` with the old and new times, or ``room.updated``) commits with the change.
- ``cancel_room``: status ``cancelled`` (the same closing as an end: LiveKit room deleted so everyone is
  disconnected, recordings stopped, attendance closed, dispatch rule deleted and PIN released), every
  live join token marked revoked, and ``Room Cancelled`` published. Never a no-show
  (``schedule.session_was_due``). Idempotent; a token request then gets 409 ``room_cancelled``. The
  audit entry ``room.cancelled`` commits with the status write (``close_room``).

A cancelled room stays cancelled: ``POST /rooms`` for its booking or session answers 409
``room_cancelled`` and a ``Booking Confirmed`` for it changes nothing (events arrive in any order, so a
late confirmation must not bring a cancelled booking back). A booking that is booked again is a new
booking id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from rooms import audit, metric_names, notify, store
from rooms.clock import iso, parse_iso
from rooms.errors import Conflict, InvalidInput, NotFound
from rooms.lifecycle.booking_models import UpdateRoomRequest
from rooms.livekit_gateway import room_service
from rooms.observability import logger, metrics
from rooms.room.catalog import get_template
from rooms.room.livekit_room import open_now, room_metadata
from rooms.room.models import RoomView
from rooms.room.schedule import end_check_at, next_live_check, open_at
from rooms.room.status import MemberStatus, RoomStatus, is_live
from rooms.room.views import room_event_detail, room_view
from rooms.settings import Settings
from rooms.store.booking import KEEP_DUE, RoomChanged

RESCHEDULED_DETAIL_TYPE = "Room Rescheduled"
CANCELLED_DETAIL_TYPE = "Room Cancelled"
# Settings LiveKit fixes when it creates the room (CreateRoom on a live room returns it unchanged),
# and the waiting room, which connected participants' permissions already reflect.
NOT_LIVE_CHANGEABLE = ("max_participants", "recording", "waiting_room")
_ATTEMPTS = 3


@dataclass(frozen=True)
class RoomUpdate:
    room: RoomView
    changed: bool  # False: nothing to change, or this version (or a newer one) was already applied
    rescheduled: bool = False


def api_version(now: datetime) -> str:
    """The version of a change made through the API (events carry ``{time}#{event id}``)."""
    return f"{iso(now)}#api-{uuid.uuid4().hex[:12]}"


def _api_version_after(current: str | None, now: datetime) -> str:
    """A change through the API is the latest word whatever the clocks say: its version is now, or just
    after the room's current one if that is not older (an event stamped ahead of our clock)."""
    candidate = api_version(now)
    if current is None or candidate > current:
        return candidate
    return current + "+"


def update_room(room_id: str, request: UpdateRoomRequest, *, actor: str, now: datetime,
                version: str | None = None, settings: Settings) -> RoomUpdate:
    """Change the schedule and settings of a room that has not ended (see the module docstring).

    ``version`` orders the changes of events (``{event time}#{event id}``): one not newer than the
    room's last schedule change changes nothing. Without it (the API) the change always applies.
    """
    for _ in range(_ATTEMPTS):
        room = _live_room(room_id)
        if version is None:
            new_version = _api_version_after(room.schedule_version, now)
        elif room.schedule_version and room.schedule_version >= version:
            if room.schedule_version == version:  # applied by an earlier delivery that may not have published
                _publish_rescheduled(room, previous=None)
            return RoomUpdate(room_view(room), changed=False)
        else:
            new_version = version
        changes = _changes(room, request)
        if not changes:
            if version is not None:
                # nothing to change, but this event is now the room's latest word: an older one arriving
                # after it must not change the schedule either
                try:
                    store.booking.update_room(room, {}, due=KEEP_DUE, now=iso(now), version=new_version,
                                              livekit_open=bool(room.livekit_created_at))
                except RoomChanged:
                    continue
            return RoomUpdate(room_view(room), changed=False)
        livekit_open = bool(room.livekit_created_at)
        if livekit_open:
            for name in NOT_LIVE_CHANGEABLE:
                if name in changes:
                    raise Conflict(f"{name} cannot change while the LiveKit room is open: LiveKit applies it when "
                                   "it creates the room", code="not_changeable_live", field=name)
        rescheduled = "scheduled_start" in changes or "scheduled_end" in changes
        due = _next_due(room, changes, livekit_open, now, settings) if rescheduled else KEEP_DUE
        previous = {"scheduled_start": room.scheduled_start, "scheduled_end": room.scheduled_end}
        entry = _update_entry(room, changes, previous, actor=actor, now=now, version=new_version,
                              rescheduled=rescheduled, settings=settings)
        try:
            updated = store.booking.update_room(room, changes, due=due, now=iso(now), version=new_version,
                                                livekit_open=livekit_open, audit=[entry])
        except RoomChanged:
            continue  # ended, opened or rescheduled meanwhile: decide again on what it is now
        if livekit_open and ("title" in changes or "metadata" in changes):
            room_service.update_room_metadata(updated.livekit_room, room_metadata(updated))
        logger.info("room updated", extra={"action": "room.update", "actor": actor, "room_id": room_id,
                                           "fields": sorted(changes), "version": new_version, **previous,
                                           "new_start": updated.scheduled_start, "new_end": updated.scheduled_end})
        if rescheduled:
            metrics.add_metric(name=metric_names.ROOMS_RESCHEDULED, unit="Count", value=1)
            _publish_rescheduled(updated, previous=previous)
            if open_if_due(updated, now=now, actor=actor, settings=settings):
                updated = store.get_room(room_id, consistent=True) or updated
        return RoomUpdate(room_view(updated), changed=True, rescheduled=rescheduled)
    raise Conflict(f"room {room_id} changed while it was being updated; retry", code="room_update_race")


def _update_entry(room: store.RoomItem, changes: dict[str, Any], previous: dict[str, str | None], *, actor: str,
                  now: datetime, version: str, rescheduled: bool, settings: Settings):
    """The audit entry of a change, written with it: ``room.rescheduled`` (old and new times) when the
    schedule moved, else ``room.updated``; the fields that changed either way (metadata by name only)."""
    details: dict[str, Any] = {"fields": sorted(changes), "version": version}
    if rescheduled:
        details |= {"previous_scheduled_start": previous["scheduled_start"],
                    "previous_scheduled_end": previous["scheduled_end"],
                    "scheduled_start": changes.get("scheduled_start", room.scheduled_start),
                    "scheduled_end": changes.get("scheduled_end", room.scheduled_end)}
    return audit.entry(room, at=now, actor=actor, action="room.rescheduled" if rescheduled else "room.updated",
                       details=details, settings=settings)


def _live_room(room_id: str) -> store.RoomItem:
    room = store.get_room(room_id, consistent=True)
    if room is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    if room.status == RoomStatus.CANCELLED:
        raise Conflict(f"room {room_id} is cancelled", code="room_cancelled")
    if not is_live(room.status):
        raise Conflict(f"room {room_id} is {room.status}", code="room_ended")
    return room


def _changes(room: store.RoomItem, request: UpdateRoomRequest) -> dict[str, Any]:
    """The attributes that change (name → new value; None removes), validated against the room."""
    given = request.model_fields_set
    changes: dict[str, Any] = {}
    start = request.scheduled_start if "scheduled_start" in given else None
    end = request.scheduled_end if "scheduled_end" in given else None
    new_start = iso(start) if start else room.scheduled_start
    new_end = iso(end) if end else room.scheduled_end
    if new_end and not new_start:
        raise InvalidInput("scheduled_end needs scheduled_start", code="invalid_schedule", field="scheduled_end")
    if new_start and new_end and parse_iso(new_end) <= parse_iso(new_start):
        raise InvalidInput(f"scheduled_end {new_end} must be after scheduled_start {new_start}",
                           code="invalid_schedule", field="scheduled_end")
    if new_start != room.scheduled_start:
        changes["scheduled_start"] = new_start
    if new_end != room.scheduled_end:
        changes["scheduled_end"] = new_end

    if "title" in given and request.title != room.title:
        changes["title"] = request.title
    if "metadata" in given and request.metadata != (room.metadata.as_dict() if room.metadata else None):
        changes["metadata"] = request.metadata
    if "waiting_room" in given and request.waiting_room != bool(room.waiting_room):
        changes["waiting_room"] = request.waiting_room

    template = get_template(room.template)
    if "max_participants" in given and request.max_participants != int(room.max_participants):
        limit = template.max_participants_limit if template else int(room.max_participants)
        if request.max_participants > limit:
            raise InvalidInput(f"max_participants {request.max_participants} exceeds the {room.template} "
                               f"template's limit of {limit}", code="max_participants_over_limit",
                               field="max_participants")
        members = sum(1 for m in store.list_members(room.room_id) if m.status == MemberStatus.ACTIVE)
        if request.max_participants < members:
            raise InvalidInput(f"max_participants {request.max_participants} is below the room's {members} "
                               "members", code="members_over_max_participants", field="max_participants")
        changes["max_participants"] = request.max_participants
    if "recording" in given and request.recording != room.recording:
        if template is not None and template.recording == "compliance":
            raise InvalidInput(f"the {room.template} template records for compliance; recording cannot be "
                               f"{request.recording!r}", code="recording_policy_locked", field="recording")
        changes["recording"] = request.recording
    if "sip" in given:
        sip = room.sip.as_dict() if room.sip is not None and hasattr(room.sip, "as_dict") else dict(room.sip or {})
        if not sip.get("enabled"):
            raise InvalidInput("sip.call_me needs a room with phone access (sip.enabled at creation)",
                               code="invalid_input", field="sip.call_me")
        if request.sip.call_me != bool(sip.get("call_me")):
            changes["sip.call_me"] = request.sip.call_me
    return changes


def _next_due(room: store.RoomItem, changes: dict[str, Any], livekit_open: bool, now: datetime,
              settings: Settings):
    """When the sweeper should next look at the room under its new schedule (None: never)."""
    start = changes.get("scheduled_start", room.scheduled_start)
    end = changes.get("scheduled_end", room.scheduled_end)
    probe = SimpleNamespace(scheduled_start=start, scheduled_end=end)  # the room as it will be
    if not livekit_open and room.status == RoomStatus.SCHEDULED:
        return open_at(probe, settings)  # (in the past: opened by the next sweep)
    return end_check_at(probe, settings) or next_live_check(now, settings)


def open_if_due(room: store.RoomItem, *, now: datetime, actor: str, settings: Settings) -> bool:
    """A room created or rescheduled inside its open window (start - open lead) opens at once, as the
    sweeper would open it at the next run. True when this call opened it."""
    start_at = open_at(room, settings)
    if room.livekit_created_at or room.status != RoomStatus.SCHEDULED or start_at is None or start_at > now:
        return False
    return open_now(room, now=now, actor=actor, why="inside its open window", settings=settings)


def _publish_rescheduled(room: store.RoomItem, *, previous: dict[str, str | None] | None) -> None:
    detail = {**room_event_detail(room), "schedule_version": room.schedule_version}
    if previous is not None:
        detail["previous_scheduled_start"] = previous["scheduled_start"]
        detail["previous_scheduled_end"] = previous["scheduled_end"]
    notify.publish(RESCHEDULED_DETAIL_TYPE, detail)


def cancel_room(room_id: str, *, actor: str, now: datetime, reason: str | None = None,
                republish: bool = False, settings: Settings) -> tuple[RoomView, bool]:
    """Cancel a room (see the module docstring). Returns (room, changed); changed is False when it was
    already cancelled (by anyone). A room that ended or expired cannot be cancelled: 409 ``room_ended``.

    ``Room Cancelled`` is published when this call cancelled the room, and with ``republish`` also when
    ``actor`` had cancelled it before (events name themselves as actor: one redelivered after a delivery
    that died before publishing publishes then).
    """
    room = store.get_room(room_id, consistent=True)
    if room is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    if not is_live(room.status) and room.status != RoomStatus.CANCELLED:
        raise Conflict(f"room {room_id} is {room.status}: it can no longer be cancelled", code="room_ended")
    if is_live(room.status):
        store.booking.revoke_live_tokens(room_id, now=iso(now))  # first: no new connection from here on
    # imported here: ending a room reaches recordings (egress) and phone, which creating and rescheduling
    # rooms never need (create_room's cold start, `make bench BENCH=cold_start`)
    from rooms.lifecycle.ending import close_room

    # its audit entry (room.cancelled) commits with the status write (close_room)
    cancelled, changed = close_room(room, now=now, actor=actor, reason=reason or "cancelled",
                                    status=RoomStatus.CANCELLED, audit_action="room.cancelled", settings=settings)
    if cancelled is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    if cancelled.status != RoomStatus.CANCELLED:  # ended by someone else while we cancelled it
        raise Conflict(f"room {room_id} is {cancelled.status}: it can no longer be cancelled", code="room_ended")
    if changed or (republish and cancelled.ended_by == actor):
        notify.publish(CANCELLED_DETAIL_TYPE, {**room_event_detail(cancelled), "reason": cancelled.end_reason,
                                               "cancelled_at": cancelled.ended_at, "cancelled_by": cancelled.ended_by})
    if changed:
        metrics.add_metric(name=metric_names.ROOMS_CANCELLED, unit="Count", value=1)
        logger.info("room cancelled", extra={"action": "room.cancel", "actor": actor, "room_id": room_id,
                                             "reason": cancelled.end_reason})
    return room_view(cancelled), changed
