"""Room lifecycle from LiveKit: ``room_started`` → active, ``room_finished`` → ended."""

from __future__ import annotations

from rooms.clock import iso
from rooms.store import RoomItem
from rooms.webhooks import WebhookContext, on


@on("room_started")
def room_started(event, ctx: WebhookContext) -> None:
    at = iso(ctx.event_time)
    with ctx.transaction() as tx:
        tx.update(
            ctx.room,
            actions=[
                RoomItem.status.set("active"),
                RoomItem.started_at.set(RoomItem.started_at | at),
                RoomItem.livekit_sid.set(event.room.sid or ctx.room.livekit_sid),
                RoomItem.updated_at.set(at),
            ],
            # a late room_started must not reopen a room that has ended
            condition=RoomItem.status.is_in("scheduled", "open", "active"),
        )


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
                RoomItem.gsi1pk.remove(),
                RoomItem.gsi1sk.remove(),
            ],
        )
