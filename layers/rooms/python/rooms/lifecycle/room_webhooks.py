"""Room lifecycle from LiveKit.

``room_started`` fires when the LiveKit room is created (by our first token request, the sweeper, or a
client's join), so it means "open"; the room becomes ``active`` when a participant joins (attendance).

``room_finished`` closes the attendance of that LiveKit room at the event's time, then:
- before the room's ``scheduled_end`` it is taken as LiveKit's departure/empty timeout (everyone dropped
  for 20 s, or nobody came yet), not as the end of the session: the room stays joinable (``open``) and
  ``livekit_created_at`` is cleared so the next join token creates the LiveKit room again;
- otherwise (no schedule, or past its end) the room ends and ``release_room_resources`` runs.
A room_finished about an older LiveKit room of the same name (another SID) only closes its segments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rooms import audit
from rooms.attendance.reconcile import close_livekit_room_segments
from rooms.clock import iso, parse_iso
from rooms.lifecycle.ending import release_room_resources
from rooms.livekit_gateway import room_service
from rooms.observability import logger
from rooms.room.schedule import settle_due_actions
from rooms.room.status import LIVE_STATUSES, RoomStatus, is_live
from rooms.store import RoomItem
from rooms.store import audit as audit_store

if TYPE_CHECKING:
    from rooms.livekit_gateway.webhook import WebhookEvent
    from rooms.webhooks import WebhookContext


def room_started(event: WebhookEvent, ctx: WebhookContext) -> None:
    if not is_live(ctx.room.status):
        # LiveKit creates a room when someone joins with a still-valid token (auto-create is its default):
        # a room that is over stays over.
        deleted = room_service.delete_room(ctx.room.livekit_room)
        logger.info("LiveKit room of a finished room deleted", extra={
            "action": "livekit.room.delete", "actor": "livekit", "room_id": ctx.room.room_id,
            "status": ctx.room.status, "deleted": deleted})
        with ctx.transaction():
            pass  # only the marker: this event has been handled
        return
    at = iso(ctx.event_time)
    actions = [
        RoomItem.opened_at.set(RoomItem.opened_at | at),
        RoomItem.livekit_created_at.set(RoomItem.livekit_created_at | at),
        RoomItem.updated_at.set(at),
    ]
    if event.room_sid:
        actions.append(RoomItem.livekit_sid.set(event.room_sid))
    if ctx.room.status == RoomStatus.SCHEDULED:
        actions.append(RoomItem.status.set(RoomStatus.OPEN))
    with ctx.transaction() as tx:
        # a late room_started must not reopen a room that has ended
        tx.update(ctx.room, actions=actions, condition=RoomItem.status.is_in(*LIVE_STATUSES))


def room_finished(event: WebhookEvent, ctx: WebhookContext) -> None:
    room = ctx.room
    at = iso(ctx.event_time)
    finished_sid = event.room_sid or None
    if finished_sid and room.livekit_sid and finished_sid != room.livekit_sid:
        # an older LiveKit room of this name; the current one lives on
        close_livekit_room_segments(room, livekit_room_sid=finished_sid, at=ctx.event_time)
        with ctx.transaction():
            pass  # only the marker: this event has been handled
        return
    if is_live(room.status) and room.scheduled_end and ctx.event_time < parse_iso(room.scheduled_end):
        close_livekit_room_segments(room, livekit_room_sid=finished_sid, at=ctx.event_time)
        actions = [RoomItem.livekit_created_at.remove(), RoomItem.livekit_sid.remove(), RoomItem.updated_at.set(at)]
        if room.status == RoomStatus.ACTIVE:
            actions.append(RoomItem.status.set(RoomStatus.OPEN))
        with ctx.transaction() as tx:
            tx.update(room, actions=actions, condition=RoomItem.status.is_in(*LIVE_STATUSES))
        logger.info("livekit room finished before the scheduled end: room kept joinable", extra={
            "action": "room.livekit_finished", "actor": "livekit", "room_id": room.room_id,
            "livekit_sid": finished_sid, "scheduled_end": room.scheduled_end})
        return
    # Released before the marker is written: if releasing fails, LiveKit's retry runs it again.
    release_room_resources(room, now=ctx.event_time)
    with ctx.transaction() as tx:
        tx.update(
            room,
            actions=[
                RoomItem.status.set(RoomStatus.ENDED),
                RoomItem.ended_at.set(RoomItem.ended_at | at),
                RoomItem.end_reason.set(RoomItem.end_reason | "livekit_room_finished"),
                RoomItem.updated_at.set(at),
                # a scheduled room comes due for the sweeper to settle (no-shows)
                *settle_due_actions(room, ctx.event_time),
            ],
        )
        if is_live(room.status):
            audit_store.add(tx, audit.entry(room, at=at, actor=audit.LIVEKIT, action="room.ended",
                                            details={"reason": "livekit_room_finished"}, entry_id=event.id))
