"""A room's time-driven work, as pure functions of the room, the time and the settings.

A scheduled room walks through the due index (``store.due``) one step at a time; its due key always
says when the sweeper should look at it next, and what it then does depends only on the room's state:

    created ─(start - open lead)→ open the LiveKit room ─(scheduled end + end grace)→ end it ─→ settle
    ended by anyone (admin, LiveKit's room_finished, the sweeper) ───────────────────────────→ settle

Settling (once, after the session is over) marks no-shows. A room that was never opened by the end
check (no LiveKit room, so nobody could have joined) becomes ``expired`` instead of ``ended``.

A room with no scheduled end (unscheduled, or a start only) is ended by the platform or by LiveKit's
``room_finished``; since LiveKit's webhooks are best-effort, once open it comes due every
``live_check_minutes`` to be checked against LiveKit: a LiveKit room that is gone means the
``room_finished`` was lost (the room is closed as that event would have), otherwise attendance is
reconciled with ``ListParticipants``. Such rooms have no session time to call anyone a no-show against.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from rooms.clock import parse_iso
from rooms.room.status import RoomStatus, is_live
from rooms.settings import Settings
from rooms.store import RoomItem, due_keys

Action = Literal["open", "end", "expire", "settle", "check", "wait", "done"]


@dataclass(frozen=True)
class DueWork:
    action: Action
    # Where the room's due key goes once the action is done (None: out of the index). For "end" and
    # "expire" the room then settles, which takes it out of the index.
    next_due: datetime | None = None


def open_at(room: RoomItem, settings: Settings) -> datetime | None:
    if not room.scheduled_start:
        return None
    return parse_iso(room.scheduled_start) - timedelta(minutes=settings.open_lead_minutes)


def end_check_at(room: RoomItem, settings: Settings) -> datetime | None:
    """When a room still open is ended: its scheduled end plus the grace period (None: never)."""
    if not room.scheduled_end:
        return None
    return parse_iso(room.scheduled_end) + timedelta(minutes=settings.end_grace_minutes)


def due_work(room: RoomItem, now: datetime, settings: Settings) -> DueWork:
    """What the sweeper does with ``room`` at ``now``."""
    if not is_live(room.status):
        if room.settled_at or not room.scheduled_start:
            return DueWork("done")
        return DueWork("settle")
    end_at = end_check_at(room, settings)
    opened = bool(room.livekit_created_at) or room.status != RoomStatus.SCHEDULED
    if end_at is not None and now >= end_at:
        return DueWork("end" if opened else "expire")
    start_at = open_at(room, settings)
    if not opened and start_at is not None:
        if now >= start_at:
            return DueWork("open", next_due=end_at or next_live_check(now, settings))
        return DueWork("wait", next_due=start_at)
    if end_at is None:
        return DueWork("check", next_due=next_live_check(now, settings)) if opened else DueWork("done")
    return DueWork("wait", next_due=end_at)


def next_live_check(now: datetime, settings: Settings) -> datetime:
    return now + timedelta(minutes=settings.live_check_minutes)


def live_check_due_actions(room: RoomItem, now: datetime, settings: Settings) -> list:
    """The due-key writes that go with opening ``room``: a room with no scheduled end comes due for its
    live checks; any other room keeps the due key its schedule gave it."""
    if end_check_at(room, settings) is not None:
        return []
    pk, sk = due_keys(next_live_check(now, settings), room.room_id)
    return [RoomItem.gsi1pk.set(pk), RoomItem.gsi1sk.set(sk)]


def session_was_due(room: RoomItem) -> bool:
    """Did the room end after its session was to start? (Ending before is a cancellation, and nobody
    can be a no-show for it.)"""
    return bool(room.scheduled_start and room.ended_at and room.ended_at >= room.scheduled_start)


def settle_due_actions(room: RoomItem, ended_at: datetime) -> list:
    """The due-key writes that go with ending ``room`` at ``ended_at``: a scheduled room comes due to be
    settled now; any other room leaves the index. Nothing changes for a room that had already ended
    (whoever ended it set its due key then)."""
    if not is_live(room.status):
        return []
    if room.scheduled_start and not room.settled_at:
        pk, sk = due_keys(ended_at, room.room_id)
        return [RoomItem.gsi1pk.set(pk), RoomItem.gsi1sk.set(sk)]
    return [RoomItem.gsi1pk.remove(), RoomItem.gsi1sk.remove()]

