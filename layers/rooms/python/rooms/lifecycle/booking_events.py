"""The booking platform's events (EventBridge, source ``booking-platform``): the same domain functions as
the API, driven by "booking confirmed → signal fires → room created".

| detail-type         | detail                                             | does                              |
|---------------------|----------------------------------------------------|-----------------------------------|
| Booking Confirmed   | a ``POST /rooms`` body with ``booking_id``         | ``confirm_room`` (create or keep) |
| Session Scheduled   | a ``POST /rooms`` body with ``service_session_id`` | ``confirm_room``                  |
| Booking Rescheduled | ``booking_id, scheduled_start, scheduled_end?``    | ``lifecycle.booking.update_room`` |
| Session Rescheduled | ``service_session_id, scheduled_start, scheduled_end?`` | ``update_room``              |
| Booking Cancelled   | ``booking_id, reason?``                            | ``lifecycle.booking.cancel_room`` |
| Session Cancelled   | ``service_session_id, reason?``                    | ``cancel_room``                   |
| Attendee Confirmed  | ``service_session_id, user_id, name?, role?``      | membership granted                |
| Attendee Cancelled  | ``service_session_id, user_id``                    | membership revoked (tokens, LiveKit) |

Delivery is at least once and in any order, so:
- **Duplicates**: a marker per event id is written once the event's work is done (``store.booking``);
  a redelivery after it changes nothing. A delivery that died half-way is redone: every step is
  idempotent, and each change carries the event's *version* (``{time}#{id}``), so it is written once.
- **Out of order**: a change older than the last one applied to the same thing (the schedule, one
  membership) changes nothing (the room's creation is no such change: ``confirm_room``); a later
  ``Booking Confirmed`` for a cancelled booking changes nothing (a cancelled room stays cancelled).
- **Before the room exists** (``Booking Rescheduled`` before ``Booking Confirmed``): the event is kept
  in the table (``PendingBookingEvent``, put only while the room is absent, in one transaction) and
  applied, oldest first, when the room is created, by whichever path creates it (this function or
  ``POST /rooms``). Not retried through the failure path: a confirmation may come days later.
- **Malformed** (unknown detail-type, wrong source, a detail that fails validation, a room the API would
  refuse to create): ``MalformedEvent`` naming the field; the function fails, and after Lambda's retries
  the event lands in the function's failure queue with that reason (the destination record's
  ``responsePayload.errorMessage``). Nothing of it was written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from rooms import audit, metric_names, store
from rooms.access import ADMIN_SCOPE, Caller
from rooms.clock import iso, parse_iso
from rooms.errors import Conflict, InvalidInput
from rooms.lifecycle.booking import cancel_room, open_if_due, update_room
from rooms.lifecycle.booking_models import (
    INBOUND_DETAIL_TYPES,
    AttendeeCancelled,
    AttendeeConfirmed,
    BookingCancelled,
    BookingConfirmed,
    BookingRescheduled,
    SessionCancelled,
    SessionRescheduled,
    SessionScheduled,
    UpdateRoomRequest,
)
from rooms.observability import logger, metrics
from rooms.room.ids import room_id_for_booking, room_id_for_session
from rooms.room.membership import revoke_membership
from rooms.room.models import CreateRoomRequest, RoomView
from rooms.room.service import create_room
from rooms.room.status import RoomStatus
from rooms.room.views import room_view
from rooms.settings import Settings
from rooms.store.booking import MARKER_RETENTION_DAYS, PENDING_RETENTION_DAYS

EVENTS_ACTOR = "booking-platform"  # actors of what the platform's events do: booking-platform:{event id}


class MalformedEvent(Exception):
    """An event that can never be applied: the message says why (and which field)."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class InboundEvent:
    id: str
    detail_type: str
    time: datetime
    detail: BaseModel

    @property
    def version(self) -> str:
        """Orders this event's changes against others': by the event's time, then (same second) its id."""
        return f"{iso(self.time)}#{self.id}"


def parse_event(raw: Any, settings: Settings) -> InboundEvent:
    """The event EventBridge delivers (``{id, source, detail-type, time, detail, ...}``), validated."""
    if not isinstance(raw, dict):
        raise MalformedEvent("the event is not a JSON object")
    if raw.get("source") != settings.booking_events_source:
        raise MalformedEvent(f"source must be {settings.booking_events_source!r}, got {raw.get('source')!r}",
                             field="source")
    detail_type = raw.get("detail-type")
    shape = INBOUND_DETAIL_TYPES.get(detail_type)  # type: ignore[arg-type]
    if shape is None:
        raise MalformedEvent(f"unknown detail-type {detail_type!r}; one of {', '.join(INBOUND_DETAIL_TYPES)}",
                             field="detail-type")
    event_id = raw.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise MalformedEvent("the event has no id", field="id")
    try:
        time = parse_iso(raw["time"])
    except (KeyError, TypeError, ValueError):
        raise MalformedEvent(f"time must be an ISO 8601 timestamp, got {raw.get('time')!r}", field="time") from None
    detail = raw.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("detail must be a JSON object", field="detail")
    return InboundEvent(event_id, detail_type, time, _validate(shape, detail))  # type: ignore[arg-type]


def _validate(shape: type[BaseModel], detail: dict) -> BaseModel:
    try:
        return shape.model_validate(detail)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MalformedEvent(first.get("msg", "invalid value"),
                             field=f"detail.{where}" if where else "detail") from None


def handle_booking_event(raw: Any, *, now: datetime, settings: Settings) -> str:
    """Apply one delivered event; returns the outcome (also recorded on its marker).

    Raises MalformedEvent for an event that can never be applied, and lets other failures (DynamoDB,
    LiveKit, EventBridge unreachable) through so that the delivery is retried.
    """
    event = parse_event(raw, settings=settings)
    log = {"event_id": event.id, "detail_type": event.detail_type, "version": event.version}
    if store.booking.booking_event_handled(event.id):
        logger.info("booking event duplicate", extra=log)
        return "duplicate"
    outcome = _apply(event, now=now, settings=settings)
    store.booking.mark_booking_event_handled(event.id, detail_type=event.detail_type, outcome=outcome,
                                             now=iso(now), expires_at=now + timedelta(days=MARKER_RETENTION_DAYS))
    metrics.add_metric(name=metric_names.BOOKING_EVENTS_HANDLED, unit="Count", value=1)
    logger.info("booking event handled", extra={**log, "outcome": outcome})
    return outcome


def _apply(event: InboundEvent, *, now: datetime, settings: Settings) -> str:
    try:
        return _HANDLERS[type(event.detail)](event, now, settings=settings)
    except InvalidInput as err:  # what the API would answer 422 to: never applicable
        raise MalformedEvent(err.message, field=f"detail.{err.field}" if err.field else None) from err


# --- creating the room, and the events kept until it exists --------------------------------------------


def confirm_room(request: CreateRoomRequest, *, caller: Caller, now: datetime,
                 settings: Settings) -> tuple[RoomView, bool]:
    """Create (or return) the room of a booking or session occurrence (``POST /rooms``, ``Booking
    Confirmed``, ``Session Scheduled``), then apply the events that came before it, and open it at once
    when it is created inside its open window (start - open lead).

    The creation is the base of the room's schedule and claims no version: a booking is rescheduled only
    after it was confirmed, so every reschedule applies over it (kept ones oldest first), also one stamped
    with the confirmation's own second, or older than a ``POST /rooms`` sent late with the body the
    platform had at confirmation time. Reschedules are ordered among themselves (and with ``PATCH``).

    A cancelled room stays cancelled: 409 ``room_cancelled`` (a booking booked again is a new booking id).
    """
    room, created = create_room(request, caller=caller, now=now, settings=settings)
    if room.status == RoomStatus.CANCELLED:
        raise Conflict(f"room {room.room_id} of this {'booking' if request.booking_id else 'session'} was "
                       "cancelled; a booking booked again needs a new booking id", code="room_cancelled")
    changed = apply_pending_events(room.room_id, now=now, settings=settings) > 0
    if created or changed:
        fresh = store.get_room(room.room_id, consistent=True)
        if fresh is not None and open_if_due(fresh, now=now, actor=caller.user_id, settings=settings):
            changed = True
        if changed and fresh is not None:
            room = room_view(store.get_room(room.room_id, consistent=True) or fresh)
    return room, created


def apply_pending_events(room_id: str, *, now: datetime, settings: Settings) -> int:
    """Apply the events kept for this room, oldest first, each deleted once applied. Returns how many.

    Each is applied as when it arrived (its version keeps it in order); one that the room's state makes
    inapplicable (e.g. a reschedule whose end falls before the room's start) is logged and dropped.
    """
    applied = 0
    for item in store.booking.pending_events(room_id):
        log = {"event_id": item.event_id, "detail_type": item.detail_type, "room_id": room_id,
               "version": item.version}
        shape = INBOUND_DETAIL_TYPES[item.detail_type]
        time = parse_iso(item.version.partition("#")[0])
        event = InboundEvent(item.event_id, item.detail_type, time, shape.model_validate_json(item.detail))
        try:
            outcome = _apply(event, now=now, settings=settings)
        except MalformedEvent as err:
            outcome = "rejected"
            metrics.add_metric(name=metric_names.BOOKING_EVENTS_REJECTED, unit="Count", value=1)
            logger.error("kept booking event cannot apply to its room: dropped", extra={**log, "reason": str(err)})
        store.booking.drop_pending(item)
        applied += 1
        logger.info("kept booking event applied", extra={**log, "outcome": outcome})
    return applied


def _room_or_keep(event: InboundEvent, room_id: str, now: datetime) -> store.RoomItem | None:
    """The room, or None when there is none yet and the event was kept for it."""
    room = store.get_room(room_id, consistent=True)
    if room is not None:
        return room
    kept = store.booking.keep_until_room_exists(
        room_id, version=event.version, event_id=event.id, detail_type=event.detail_type,
        detail=event.detail.model_dump_json(exclude_unset=True), received_at=iso(now),
        expires_at=now + timedelta(days=PENDING_RETENTION_DAYS), user_id=getattr(event.detail, "user_id", None))
    if kept:
        return None
    return store.get_room(room_id, consistent=True)  # created meanwhile: apply to it now


def _actor(event: InboundEvent) -> str:
    """Who did it, in the records and logs: the platform, by this event (so a redelivery knows its own work)."""
    return f"{EVENTS_ACTOR}:{event.id}"


def _events_caller(event: InboundEvent) -> Caller:
    return Caller(user_id=_actor(event), scopes=frozenset({ADMIN_SCOPE}))


# --- one handler per detail-type -------------------------------------------------------------------------


def _confirmed(event: InboundEvent, now: datetime, *, settings: Settings) -> str:
    request: CreateRoomRequest = event.detail  # type: ignore[assignment]
    try:
        _, created = confirm_room(request, caller=_events_caller(event), now=now, settings=settings)
    except Conflict as err:
        if err.code == "room_cancelled":
            return "room_cancelled"
        raise
    return "created" if created else "exists"


def _rescheduled(event: InboundEvent, now: datetime, *, settings: Settings) -> str:
    detail: BookingRescheduled | SessionRescheduled = event.detail  # type: ignore[assignment]
    room_id = _room_id(detail)
    if _room_or_keep(event, room_id, now) is None:
        return "kept_until_room_exists"
    request = UpdateRoomRequest(**detail.model_dump(include={"scheduled_start", "scheduled_end"}, exclude_none=True))
    try:
        result = update_room(room_id, request, actor=_actor(event), now=now, version=event.version, settings=settings)
    except Conflict as err:
        if err.code in ("room_cancelled", "room_ended"):
            return err.code  # the booking is over: nothing to reschedule
        raise
    return "rescheduled" if result.changed else "unchanged"


def _cancelled(event: InboundEvent, now: datetime, *, settings: Settings) -> str:
    detail: BookingCancelled | SessionCancelled = event.detail  # type: ignore[assignment]
    room_id = _room_id(detail)
    if _room_or_keep(event, room_id, now) is None:
        return "kept_until_room_exists"
    try:
        _, changed = cancel_room(room_id, actor=_actor(event), now=now, reason=detail.reason, republish=True,
                                 settings=settings)
    except Conflict as err:
        if err.code == "room_ended":
            return "room_ended"
        raise
    return "cancelled" if changed else "already_cancelled"


def _attendee(event: InboundEvent, now: datetime, *, settings: Settings) -> str:
    detail: AttendeeConfirmed | AttendeeCancelled = event.detail  # type: ignore[assignment]
    room_id = room_id_for_session(detail.service_session_id)
    room = _room_or_keep(event, room_id, now)
    if room is None:
        return "kept_until_room_exists"
    confirmed = isinstance(detail, AttendeeConfirmed)
    role = (detail.role if confirmed else None) or room.attendee_role
    try:
        # a grant is on the room's audit trail with its write (a revoke: by revoke_membership below)
        granted = [audit.entry(room, at=now, actor=_actor(event), action="member.granted", target=detail.user_id,
                               details={"role": role, "version": event.version},
                               settings=settings)] if confirmed else None
        member = store.booking.apply_member_event(
            room, detail.user_id, active=confirmed, role=role, name=detail.name if confirmed else None,
            version=event.version, now=iso(now), actor=_actor(event), audit=granted)
    except LookupError:
        return "room_not_live"
    if member is None:
        return "stale"  # this membership already reflects this or a newer event
    if confirmed:
        logger.info("member granted", extra={"action": "member.grant", "actor": _actor(event), "room_id": room_id,
                                             "target": detail.user_id, "role": role})
        return "granted"
    revoke_membership(room_id, detail.user_id, caller=_events_caller(event), now=now,
                      settings=settings)  # tokens, LiveKit removal
    return "revoked"


def _room_id(detail: Any) -> str:
    booking_id = getattr(detail, "booking_id", None)
    return room_id_for_booking(booking_id) if booking_id else room_id_for_session(detail.service_session_id)


# a handler: (the event, now, settings=...) -> outcome
_HANDLERS: dict[type, Callable[..., str]] = {
    BookingConfirmed: _confirmed,
    SessionScheduled: _confirmed,
    BookingRescheduled: _rescheduled,
    SessionRescheduled: _rescheduled,
    BookingCancelled: _cancelled,
    SessionCancelled: _cancelled,
    AttendeeConfirmed: _attendee,
    AttendeeCancelled: _attendee,
}

