"""Room lifecycle from LiveKit.

``room_started`` fires when the LiveKit room is created (by our first token request, the sweeper, or a
client's join), so it means "open"; the room becomes ``active`` when a participant joins (attendance).
``room_finished`` → ended.
"""

from __future__ import annotations

from rooms.clock import iso
from rooms.schedule import settle_due_actions
from rooms.store import RoomItem
from rooms.webhooks import WebhookContext, on


@on("room_started")
def room_started(event, ctx: WebhookContext) -> None:
    at = iso(ctx.event_time)
    actions = [
        RoomItem.opened_at.set(RoomItem.opened_at | at),
        RoomItem.livekit_created_at.set(RoomItem.livekit_created_at | at),
        RoomItem.updated_at.set(at),
    ]
    if event.room.sid:
        actions.append(RoomItem.livekit_sid.set(event.room.sid))
    if ctx.room.status == "scheduled":
        actions.append(RoomItem.status.set("open"))
    with ctx.transaction() as tx:
        # a late room_started must not reopen a room that has ended
        tx.update(ctx.room, actions=actions, condition=RoomItem.status.is_in("scheduled", "open", "active"))


@on("room_finished")
def room_finished(event, ctx: WebhookContext) -> None:
    at = iso(ctx.event_time)
    with ctx.transaction() as tx:
        tx.update(
            ctx.room,
            actions=[
                RoomItem.status.set("ended"),
                RoomItem.ended_at.set(RoomItem.ended_at | at),
                RoomItem.end_reason.set(RoomItem.end_reason | "livekit_room_finished"),
                RoomItem.updated_at.set(at),
                # a scheduled room comes due for the sweeper to settle (no-shows)
                *settle_due_actions(ctx.room, ctx.event_time),
            ],
        )
