"""Ending a room: the record first, then LiveKit, then every capability's release."""

from __future__ import annotations

from datetime import datetime

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
from rooms.room.status import MemberStatus, RoomStatus, is_live
from rooms.room.views import room_view
from rooms.settings import Settings
from rooms.store.rooms import due_at


def release_room_resources(room: store.RoomItem, *, now: datetime, settings: Settings) -> None:
    """Everything that must be closed or given back when a room ends, whoever ended it (admin,
    sweeper, LiveKit's room_finished). Each step is idempotent: it may run more than once.
    """
    from rooms.attendance.reconcile import close_room_attendance  # lazily: create_room's cold start never needs it
    from rooms.evidence.retention import schedule_retention

    release_room_recordings(room, now=now, settings=settings)  # stop egress, reconcile with ListEgress, check uploads
    close_room_attendance(room, now=now)  # reconcile with ListParticipants, close open segments, summary
    phone.release_room_phone(room, now=now)  # dispatch rule deleted, then the PIN released
    schedule_retention(room, now=now, settings=settings)  # when its data is deleted (rooms.evidence.retention)


def end_room(room_id: str, *, caller: Caller, now: datetime, reason: str = "ended_by_admin",
             settings: Settings) -> tuple[RoomView, bool]:
    """End a room now (the platform backend's DELETE): see ``close_room``.

    Idempotent: ending an ended room returns it unchanged (and, when this caller ended it, finishes the
    LiveKit deletion and the release in case an earlier attempt failed half-way).
    """
    room = store.get_room(room_id)
    if room is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    ended, changed = close_room(room, now=now, actor=caller.user_id, reason=reason, settings=settings)
    if ended is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    return room_view(ended), changed


def close_room(room: store.RoomItem, *, now: datetime, actor: str | None, reason: str,
               status: str = RoomStatus.ENDED,
               audit_action: str = "room.ended", settings: Settings) -> tuple[store.RoomItem | None, bool]:
    """The one way a room is ended by us (admin route, sweeper, a cancellation): the record first (so
    the ``room_finished`` that LiveKit sends back finds it already ended), with its audit entry
    (``audit_action``) and the cleanup it owes (``cleanup_pending`` "end", with a due key) in the same
    transaction, then ``finish_ending``: the LiveKit room deleted (everyone disconnected),
    ``release_room_resources`` at the end time, the cleanup marked done.

    Returns (room, changed). A room that had already ended is returned as it is, unless its ending is
    still owed (LiveKit refused, or the Lambda died half-way): then this call finishes it, as the
    sweeper would (``converge_room``). If LiveKit fails now, the error goes to the caller (503) and the
    record keeps what is owed: the sweeper retries it until LiveKit has done it.
    """
    if is_live(room.status):
        ended, changed = store.end_room(room.room_id, now=iso(now), actor=actor, reason=reason, status=status,
                                        due_actions=_ending_due_actions(room, now),
                                        audit=[audit.entry(room, at=now, actor=actor or audit.SYSTEM,
                                                           action=audit_action,
                                                           details={"reason": reason, "status": str(status)},
                                                           settings=settings)])
        if ended is None:
            return None, False
    else:
        ended, changed = room, False
    if store.CLEANUP_END not in (ended.cleanup_pending or ()):
        return ended, changed
    finish_ending(ended, now=now, settings=settings)
    if changed:
        logger.info("room ended", extra={"action": "room.end", "actor": actor, "room_id": room.room_id,
                                         "reason": reason, "status": status})
        metrics.add_metric(name=metric_names.ROOMS_ENDED, unit="Count", value=1)
    return ended, changed


def _ending_due_actions(room: store.RoomItem, now: datetime) -> list:
    """The due key an ending writes: a scheduled room's settle (now), and for any other room now too,
    so the cleanup it owes is found by the sweeper if this invocation does not finish it."""
    return settle_due_actions(room, now) if room.scheduled_start and not room.settled_at else due_at(now, room.room_id)


def finish_ending(room: store.RoomItem, *, now: datetime, settings: Settings) -> None:
    """What an ending owes after its record: the LiveKit room deleted, the resources released (at the
    end time), the ``end`` cleanup marked done; ``room`` is read back. Idempotent; raises (503) when
    LiveKit fails, leaving the cleanup owed."""
    if room.livekit_created_at:
        room_service.delete_room(room.livekit_room)
    release_room_resources(room, now=parse_iso(room.ended_at) if room.ended_at else now, settings=settings)
    # an unscheduled room had no due work but this: it leaves the index (a scheduled one still settles)
    store.cleanup_done(room.room_id, store.CLEANUP_END, leave_due_index=not room.scheduled_start)
    room.refresh(consistent_read=True)  # with what the release wrote (the attendance summary)


def converge_room(room: store.RoomItem, *, now: datetime, settings: Settings) -> list[str]:
    """Finish the LiveKit work the room still owes (``cleanup_pending``), whoever left it: the sweeper
    calls it for every due room that owes some. Returns outcomes; raises (the sweeper retries the
    room when its lease runs out) when LiveKit still fails."""
    owed = set(room.cleanup_pending or ())
    outcomes = []
    if store.CLEANUP_END in owed:
        finish_ending(room, now=now, settings=settings)
        outcomes.append("ending_finished")
    for element in sorted(owed):
        user_id = store.cleanup_participant(element)
        if user_id is None:
            continue
        member = store.get_member(room.room_id, user_id)
        if member is not None and member.status == MemberStatus.REVOKED:
            revoked_at = parse_iso(member.revoked_at) if member.revoked_at else now
            from rooms.room.membership import revoke_from_livekit  # (only a converging revocation needs it)

            revoke_from_livekit(room, user_id, revoked_at=revoked_at)
        else:  # granted again since: they may stay
            store.cleanup_done(room.room_id, element)
        outcomes.append("revocation_finished")
    if owed:
        room.refresh(consistent_read=True)
        logger.info("owed LiveKit cleanup finished", extra={"action": "room.converge", "room_id": room.room_id,
                                                            "owed": sorted(owed)})
    return outcomes


