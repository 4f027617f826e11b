"""Booking lifecycle at the data door: a room's schedule and settings changed, its live tokens revoked on
cancel, membership driven by the booking platform's events, and events kept until their room exists.

Keys: the table in ``rooms.store`` (PendingBookingEvent, BookingEventMarker).

Order of events: every change an event makes carries its *version* ``{event time}#{event id}`` (ISO 8601
UTC, whole seconds, so versions sort by time), and is written only if the thing it changes (the room's
schedule: ``RoomItem.schedule_version``; a membership: ``Member.event_version``) holds an older version
or none. So an older event that arrives late changes nothing, and the same event twice changes nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from rooms.room.status import LIVE_STATUSES, MemberStatus
from rooms.store.conditions import cancelled_by_condition, condition_failed
from rooms.store.rooms import (
    JoinTokenRecord,
    Member,
    RoomItem,
    _retrying_conflicts,
    list_members,
    room_pk,
    user_link,
)
from rooms.store.table import TableItem, bind, due_keys

PENDING_RETENTION_DAYS = 90
MARKER_RETENTION_DAYS = 7
KEEP_DUE = object()  # ``update_room(due=KEEP_DUE)``: leave the room's due key as it is


class RoomChanged(Exception):
    """The room is not as the caller read it (ended, opened in LiveKit, rescheduled by a newer version)."""


# --- schedule and settings -----------------------------------------------------------------------------


def update_room(room: RoomItem, changes: dict[str, Any], *, due: datetime | object | None, now: str,
                version: str, livekit_open: bool, audit: list | None = None) -> RoomItem:
    """Write ``changes`` (attribute name, or ``map.key``, → value; None removes it) to a live room, with its new due key
    (``due``: when the sweeper should look at it next; None: out of the index; ``KEEP_DUE``), and its
    ``audit`` entries in the same transaction (store.audit).

    Conditional on: the room still live, LiveKit's room still open or not as the caller saw it (what
    may change depends on it) and the room's schedule version older than ``version``. Raises
    RoomChanged otherwise (nothing written). Returns the room as written. Takes the room away from a
    sweep that holds it (its lease is removed, so that sweep's finishing write, computed from the old
    schedule, does nothing).
    """
    bind()
    actions = []
    for name, value in changes.items():
        top, _, inner = name.partition(".")  # "sip.call_me": one key of a map attribute
        attr = getattr(RoomItem, top)[inner] if inner else getattr(RoomItem, top)
        actions.append(attr.remove() if value is None else attr.set(value))
    actions += [RoomItem.schedule_version.set(version), RoomItem.updated_at.set(now)]
    if due is None:
        actions += [RoomItem.gsi1pk.remove(), RoomItem.gsi1sk.remove(), RoomItem.due_lease.remove(),
                    RoomItem.due_lease_until.remove()]
    elif due is not KEEP_DUE:
        pk, sk = due_keys(due, room.room_id)  # type: ignore[arg-type]
        actions += [RoomItem.gsi1pk.set(pk), RoomItem.gsi1sk.set(sk), RoomItem.due_lease.remove(),
                    RoomItem.due_lease_until.remove()]
    condition = RoomItem.status.is_in(*LIVE_STATUSES)
    condition &= RoomItem.schedule_version.does_not_exist() | (RoomItem.schedule_version < version)
    condition &= RoomItem.livekit_created_at.exists() if livekit_open else RoomItem.livekit_created_at.does_not_exist()
    target = RoomItem(*RoomItem.key(room.room_id))
    if audit:
        from rooms.store.audit import update_with_entries

        if not update_with_entries(target, actions=actions, condition=condition, entries=audit):
            raise RoomChanged(room.room_id)
        return target
    try:
        target.update(actions=actions, condition=condition)
    except UpdateError as err:
        if condition_failed(err):
            raise RoomChanged(room.room_id) from err
        raise
    return target


def record_opened(room_id: str, updates: list, *, due: datetime | None) -> bool:
    """Record a LiveKit room opened now (``updates``: from ``room.livekit_room.open_livekit_room``) on a
    room still live and not opened by anyone else meanwhile, with its next due key. False otherwise."""
    bind()
    actions = list(updates)
    if due is None:
        actions += [RoomItem.gsi1pk.remove(), RoomItem.gsi1sk.remove()]
    else:
        pk, sk = due_keys(due, room_id)
        actions += [RoomItem.gsi1pk.set(pk), RoomItem.gsi1sk.set(sk)]
    try:
        RoomItem(*RoomItem.key(room_id)).update(
            actions=actions,
            condition=RoomItem.status.is_in(*LIVE_STATUSES) & RoomItem.livekit_created_at.does_not_exist())
    except UpdateError as err:
        if condition_failed(err):
            return False
        raise
    return True


def revoke_live_tokens(room_id: str, *, now: str) -> int:
    """Mark every member's live join token revoked (a cancelled room). Idempotent; returns how many."""
    bind()
    revoked = 0
    for member in list_members(room_id):
        if not member.token_sk:
            continue
        record = JoinTokenRecord(room_pk(room_id), member.token_sk)
        try:
            record.update(actions=[JoinTokenRecord.revoked_at.set(now)],
                          condition=JoinTokenRecord.pk.exists() & JoinTokenRecord.revoked_at.does_not_exist())
            revoked += 1
        except UpdateError as err:
            if not condition_failed(err):
                raise
    return revoked


# --- membership from events ----------------------------------------------------------------------------


def apply_member_event(room: RoomItem, user_id: str, *, active: bool, role: str, name: str | None,
                       version: str, now: str, actor: str, audit: list | None = None) -> Member | None:
    """Grant (``active``) or revoke a membership as of ``version``: written only when the member holds
    an older event version (or none). A revoke of someone never granted leaves a revoked member behind,
    so that the older grant arriving after it stays revoked. A grant needs the room live. The user
    index link (store.users: an erasure finds the member through it) and the ``audit`` entries commit
    in the same transaction.

    Returns the member as written, None when the member already holds this or a newer version.
    Raises LookupError("room") when a grant finds the room no longer live.
    """
    bind()
    member = Member(*Member.key(room.room_id, user_id))
    actions = [
        Member.kind.set(Member),
        Member.room_id.set(room.room_id),
        Member.user_id.set(user_id),
        Member.role.set(Member.role | role) if not active else Member.role.set(role),
        Member.granted_at.set(Member.granted_at | now),
        Member.event_version.set(version),
    ]
    if active:
        actions += [Member.status.set(MemberStatus.ACTIVE), Member.granted_by.set(actor), Member.revoked_at.remove(),
                    Member.revoked_by.remove(), Member.grants.add(1)]
    else:
        actions += [Member.status.set(MemberStatus.REVOKED), Member.revoked_at.set(now), Member.revoked_by.set(actor),
                    Member.admitted_at.remove()]
    if name is not None:
        actions.append(Member.name.set(name))
    condition = Member.event_version.does_not_exist() | (Member.event_version < version)
    puts = [user_link(user_id, room.room_id, now=now), *(audit or ())]

    def attempt() -> None:
        with TransactWrite(connection=Member._get_connection().connection) as tx:
            if active:
                tx.condition_check(RoomItem, *RoomItem.key(room.room_id),
                                   condition=RoomItem.status.is_in(*LIVE_STATUSES))
            tx.update(member, actions=actions, condition=condition)
            tx.save(puts[0])  # the link says only "look in this room": written over freely
            for entry in puts[1:]:
                tx.save(entry, condition=TableItem.pk.does_not_exist())  # append-only (store.audit)

    try:
        _retrying_conflicts(attempt)
    except TransactWriteError as err:
        # (pynamodb sends condition checks first, then puts, then the update)
        if active and cancelled_by_condition(err, 0):
            raise LookupError("room") from err
        if cancelled_by_condition(err, (1 if active else 0) + len(puts)):
            return None
        raise
    return Member.get(*Member.key(room.room_id, user_id), consistent_read=True)


# --- events that came before their room -----------------------------------------------------------------


class PendingBookingEvent(TableItem, discriminator="pending_booking_event"):
    room_id = UnicodeAttribute()
    version = UnicodeAttribute()
    event_id = UnicodeAttribute()
    detail_type = UnicodeAttribute()
    detail = UnicodeAttribute()  # the event's detail as JSON, exactly as it came
    received_at = UnicodeAttribute()

    @staticmethod
    def key(room_id: str, version: str) -> tuple[str, str]:
        return room_pk(room_id), f"PENDING#{version}"

    @property
    def subject_user_id(self) -> str | None:
        """The person the kept event is about (an attendee event's ``user_id``), if any."""
        try:
            detail = json.loads(self.detail)
        except ValueError:
            return None
        user_id = detail.get("user_id") if isinstance(detail, dict) else None
        return user_id if isinstance(user_id, str) else None


def keep_until_room_exists(room_id: str, *, version: str, event_id: str, detail_type: str, detail: str,
                           received_at: str, expires_at: datetime, user_id: str | None = None) -> bool:
    """Keep an event for a room that does not exist yet: the put is conditional on the room's absence
    in the same transaction, so either the room's creation sees it (``pending_events``, read after the
    room was written) or this returns False and the caller applies the event to the room now.
    Returns True when kept (also when this very event was already kept).

    An event about a person (``user_id``: an attendee's) links them to the room in the same transaction
    (``store.users``), so an erasure before the room exists finds and deletes the kept event."""
    bind()
    item = PendingBookingEvent(*PendingBookingEvent.key(room_id, version), room_id=room_id, version=version,
                               event_id=event_id, detail_type=detail_type, detail=detail, received_at=received_at)
    item.ttl = expires_at
    try:
        with TransactWrite(connection=TableItem._get_connection().connection) as tx:
            tx.condition_check(RoomItem, *RoomItem.key(item.room_id), condition=RoomItem.pk.does_not_exist())
            tx.save(item, condition=PendingBookingEvent.pk.does_not_exist())
            if user_id is not None:
                tx.save(user_link(user_id, room_id, now=received_at))
    except TransactWriteError as err:
        if cancelled_by_condition(err, 0):
            return False
        if cancelled_by_condition(err, 1):
            return True  # kept by an earlier delivery
        raise
    return True


def pending_events(room_id: str) -> list[PendingBookingEvent]:
    """The events kept for this room, oldest version first (one Query, consistent)."""
    bind()
    return list(PendingBookingEvent.query(room_pk(room_id), PendingBookingEvent.sk.startswith("PENDING#"),
                                          consistent_read=True))


def drop_pending(item: PendingBookingEvent) -> None:
    bind()
    item.delete()


# --- at-least-once delivery ------------------------------------------------------------------------------


class BookingEventMarker(TableItem, discriminator="booking_event"):
    event_id = UnicodeAttribute()
    detail_type = UnicodeAttribute()
    outcome = UnicodeAttribute()
    handled_at = UnicodeAttribute()

    @staticmethod
    def key(event_id: str) -> tuple[str, str]:
        return f"BEVENT#{event_id}", "BEVENT"


def booking_event_handled(event_id: str) -> bool:
    bind()
    try:
        BookingEventMarker.get(*BookingEventMarker.key(event_id), consistent_read=True)
    except BookingEventMarker.DoesNotExist:
        return False
    return True


def mark_booking_event_handled(event_id: str, *, detail_type: str, outcome: str, now: str,
                               expires_at: datetime) -> bool:
    """Record that the event's work is done. False when an earlier delivery recorded it first."""
    bind()
    marker = BookingEventMarker(*BookingEventMarker.key(event_id), event_id=event_id, detail_type=detail_type,
                                outcome=outcome, handled_at=now)
    marker.ttl = expires_at
    try:
        marker.save(condition=BookingEventMarker.pk.does_not_exist())
    except PutError as err:
        if condition_failed(err):
            return False
        raise
    return True
