"""Room lifecycle from LiveKit.

``room_started`` fires when the LiveKit room is created (by our first token request, the sweeper, or a
client's join), so it means "open"; the room becomes ``active`` when a participant joins (attendance).
An automatic or compliance room's egress is verified then (``recordings.ensure``).

``room_finished`` closes the attendance of that LiveKit room at the event's time, then:
- before the room's ``scheduled_end`` it is taken as LiveKit's departure/empty timeout (everyone dropped
  for 20 s, or nobody came yet), not as the end of the session: the room stays joinable (``open``) and
  ``livekit_created_at`` is cleared so the next join token creates the LiveKit room again;
- otherwise (no schedule, or past its end) the room ends; ``release_room_resources`` (LiveKit, S3,
  EventBridge) is the webhook worker's follow-up (``release_finished_room``), so the webhook is answered
  at once.
A room_finished about an older LiveKit room of the same name (another SID) only closes its segments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rooms import audit, store
from rooms.attendance.reconcile import close_livekit_room_segments
from rooms.clock import iso, parse_iso
from rooms.lifecycle.ending import release_room_resources
from rooms.livekit_gateway import room_service
from rooms.observability import logger
from rooms.recordings import ensure
from rooms.room.schedule import settle_due_actions
from rooms.room.status import RoomStatus, is_live
from rooms.settings import Settings
from rooms.store import audit as audit_store

if TYPE_CHECKING:
    from rooms.livekit_gateway.webhook import WebhookEvent
    from rooms.webhooks import WebhookContext


def room_started(event: WebhookEvent, ctx: WebhookContext) -> None:
    if not is_live(ctx.room.status):
        # LiveKit creates a room when someone joins with a still-valid token (auto-create is its default):
        # a room that is over stays over (the worker deletes the LiveKit room).
        ctx.defer("delete_livekit_room")
        with ctx.transaction():
            pass  # only the marker: this event has been handled
        return
    at = iso(ctx.event_time)
    opened = store.rooms.livekit_room_opened(
        sid=event.room_sid, at=at, status=RoomStatus.OPEN if ctx.room.status == RoomStatus.SCHEDULED else None)
    if (event.room_sid and event.room_sid == ctx.room.livekit_sid
            and ensure.records_by_itself(ctx.room, ctx.settings)):
        # Our CreateRoom for this LiveKit room has returned (its SID is on record), so its auto egress is
        # started or failed, not in flight: the worker verifies it (``rooms.webhooks.verify_recording``).
        # Otherwise (our CreateRoom has not answered yet, or a client or caller auto-created the room) the
        # first track_published verifies: a room composite records nothing before a track is published.
        ctx.defer("verify_recording", reason="room_started")
    with ctx.transaction() as tx:
        # a late room_started must not reopen a room that has ended
        store.rooms.write_room(tx, ctx.room, opened, only_if_live=True)


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
        reopened = RoomStatus.OPEN if room.status == RoomStatus.ACTIVE else None
        gone = store.rooms.livekit_room_gone(at=at, status=reopened)
        with ctx.transaction() as tx:
            store.rooms.write_room(tx, room, gone, only_if_live=True)
        logger.info("livekit room finished before the scheduled end: room kept joinable", extra={
            "action": "room.livekit_finished", "actor": "livekit", "room_id": room.room_id,
            "livekit_sid": finished_sid, "scheduled_end": room.scheduled_end})
        return
    # Released by the worker after the marker (with it) is written: if releasing fails, SQS delivers it
    # again, then the failure queue (alarmed) holds it; the sweeper's ending converges too.
    ctx.defer("release_room")
    if not is_live(room.status):  # ended or cancelled by us first: it stays what it is
        with ctx.transaction():
            pass  # only the marker: this event has been handled
        return
    with ctx.transaction() as tx:
        # a scheduled room comes due for the sweeper to settle (no-shows)
        store.rooms.write_room(tx, room, [*store.rooms.ended(at=at, reason="livekit_room_finished"),
                                          *settle_due_actions(room, ctx.event_time)])
        audit_store.add(tx, audit.entry(room, at=at, actor=audit.LIVEKIT, action="room.ended",
                                        details={"reason": "livekit_room_finished"}, entry_id=event.id,
                                        settings=ctx.settings))


# --- the webhook worker's follow-ups (rooms.webhooks.FOLLOW_UPS) ------------------------------------------


def delete_livekit_room(event: WebhookEvent, room: store.RoomItem, received_at: datetime,
                        arguments: dict[str, Any], *, settings: Settings) -> None:
    """room_started of a room that is over: its LiveKit room goes (idempotent: a missing one is fine)."""
    deleted = room_service.delete_room(room.livekit_room)
    logger.info("LiveKit room of a finished room deleted", extra={
        "action": "livekit.room.delete", "actor": "livekit", "room_id": room.room_id,
        "status": room.status, "deleted": deleted})


def release_finished_room(event: WebhookEvent, room: store.RoomItem, received_at: datetime,
                          arguments: dict[str, Any], *, settings: Settings) -> None:
    """room_finished that ended the room: release what it held, at the event's time (each step idempotent)."""
    at = datetime.fromtimestamp(event.created_at, UTC) if event.created_at else received_at
    release_room_resources(room, now=at, settings=settings)
