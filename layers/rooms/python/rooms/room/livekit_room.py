"""The room's LiveKit room: opened just in time (first join token, or the sweeper's open lead)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rooms import metric_names, store
from rooms.clock import iso, parse_iso
from rooms.livekit_gateway import room_service
from rooms.observability import logger, metrics
from rooms.phone import service as phone
from rooms.room.schedule import end_check_at, live_check_due_actions, next_live_check
from rooms.room.status import RoomStatus, is_live
from rooms.settings import Settings


def open_livekit_room(room: store.RoomItem, *, now: datetime, settings: Settings,
                      schedule_live_checks: bool = True) -> list:
    """Create the room's LiveKit room (just in time: at the first join-token request, or the open lead
    before a scheduled start) and return the room updates that record it, which the caller writes in
    its own conditional write (status still live: ``OPENABLE``). CreateRoom is create-or-update, so
    calling it again is harmless.

    Before a scheduled start, LiveKit's empty timeout (which closes a room nobody has joined yet) is
    counted from the start, not from now: a room opened 15 minutes early must still be there at the
    start.
    """
    # Only the first join (or the sweeper's open) records the room's automatic egress: the recordings
    # package (its models, storage, egress client) stays out of every other token request's cold start.
    from rooms.recordings.record import auto_recording_target

    config = room_config(room, now=now, settings=settings)
    lk_room = room_service.ensure_room(config, auto_egress=auto_recording_target(room, settings))
    logger.info("livekit room created", extra={"action": "livekit.room.create", "room_id": room.room_id,
                                               "livekit_sid": lk_room.sid, "empty_timeout": config.empty_timeout})
    at = iso(now)
    updates = store.rooms.livekit_room_opened(
        sid=lk_room.sid, at=at, status=RoomStatus.OPEN if room.status == RoomStatus.SCHEDULED else None)
    if schedule_live_checks:  # (the sweeper sets the due key itself when it opens a room)
        updates += live_check_due_actions(room, now, settings)
    return updates


def room_config(room: store.RoomItem, *, now: datetime, settings: Settings) -> room_service.RoomConfig:
    """The LiveKit room's settings, for CreateRoom, join tokens (``roomConfig``) and the dispatch rule, so
    a room LiveKit auto-creates (a reconnect after its departure timeout, a dial-in caller) has them too.

    Automatic/compliance egress is not in tokens or dispatch rules: a token is readable by its holder (the
    bucket, the path, R2 keys), and a room recreated from it would reuse one recording's file path. A room
    started without its egress gets one from the room_started check (``recordings.ensure``)."""
    empty_timeout = int(room.empty_timeout_seconds)
    if room.scheduled_start:
        until_start = (parse_iso(room.scheduled_start) - now).total_seconds()
        empty_timeout += int(min(max(until_start, 0), _MAX_EMPTY_TIMEOUT_EXTENSION_S))
    return room_service.RoomConfig(
        name=room.livekit_room,
        max_participants=int(room.max_participants),
        empty_timeout=empty_timeout,
        departure_timeout=settings.departure_timeout_seconds,
        metadata=json.dumps(room_metadata(room), separators=(",", ":"), sort_keys=True),
    )


# A room must not be ended by us between open and end: the condition of any write that opens it.
OPENABLE = store.rooms.STILL_LIVE
_MAX_EMPTY_TIMEOUT_EXTENSION_S = 24 * 3600


def room_link(room: store.RoomItem) -> dict[str, str]:
    if room.booking_id:
        return {"booking_id": room.booking_id}
    return {"service_session_id": room.service_session_id or ""}


def room_metadata(room: store.RoomItem) -> dict[str, Any]:
    """The LiveKit room's metadata: which room of ours, what it belongs to, and its title and metadata
    (the platform's, for the frontend; ``PATCH /rooms/{id}`` updates them on a live LiveKit room)."""
    out: dict[str, Any] = {"room_id": room.room_id, "room_type": room.room_type, **room_link(room)}
    if room.title:
        out["title"] = room.title
    if room.metadata:
        out["metadata"] = room.metadata.as_dict() if hasattr(room.metadata, "as_dict") else dict(room.metadata)
    return out


def open_now(room: store.RoomItem, *, now: datetime, actor: str, why: str, settings: Settings) -> bool:
    """Create the LiveKit room of a live room that has none yet, and record it (with the due key of an
    open room: its end check, or its live checks) as the sweeper's open does. True when this call opened
    it; False when someone else did meanwhile or it ended (then the LiveKit room is taken away again)."""
    updates = open_livekit_room(room, now=now, settings=settings, schedule_live_checks=False)
    due = end_check_at(room, settings) or next_live_check(now, settings)
    if not store.booking.record_opened(room.room_id, updates, due=due):
        # opened by someone else (a token request, the sweeper) or ended meanwhile: if it is over, take the
        # LiveKit room away again (CreateRoom on an open one changed nothing)
        fresh = store.get_room(room.room_id, consistent=True)
        if fresh is not None and not is_live(fresh.status):
            room_service.delete_room(room.livekit_room)
        return False
    phone.on_livekit_room_open(room, now=now, settings=settings,
                               config=room_config(room, now=now, settings=settings))  # never raises
    metrics.add_metric(name=metric_names.ROOMS_OPENED, unit="Count", value=1)
    logger.info("room opened", extra={"action": "room.open", "actor": actor, "room_id": room.room_id,
                                      "scheduled_start": room.scheduled_start, "why": why})
    return True
