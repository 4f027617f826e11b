"""Membership: who may join a room, granted and revoked by the platform backend."""

from __future__ import annotations

from datetime import datetime

from rooms import audit, metric_names, store
from rooms.access import Caller
from rooms.clock import iso
from rooms.errors import Conflict, NotFound
from rooms.livekit_gateway import room_service
from rooms.observability import logger, metrics
from rooms.room.models import GrantMemberRequest, MemberView
from rooms.room.status import is_live
from rooms.room.views import member_view
from rooms.settings import Settings
from rooms.store.rooms import due_at


def grant_membership(
    room_id: str, user_id: str, request: GrantMemberRequest, *, caller: Caller, now: datetime, settings: Settings
) -> tuple[MemberView, bool]:
    """Grant (or update) a membership on a live room. Re-granting a revoked member reinstates them."""
    room = store.get_room(room_id)
    if room is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    role = request.role or room.attendee_role
    entry = audit.entry(room, at=now, actor=caller.user_id, action="member.granted", target=user_id,
                        details={"role": role}, settings=settings)
    try:
        member, created = store.put_member(
            room_id, user_id, role=role, name=request.name, now=iso(now), actor=caller.user_id, audit=[entry]
        )
    except LookupError:
        room = store.get_room(room_id)
        if room is None:
            raise NotFound(f"room {room_id} not found", code="room_not_found") from None
        raise Conflict(f"room {room_id} is {room.status}", code="room_not_live") from None
    logger.info(
        "member granted",
        extra={"action": "member.grant", "actor": caller.user_id, "room_id": room_id, "target": user_id,
               "role": role},
    )
    metrics.add_metric(name=metric_names.MEMBERS_GRANTED, unit="Count", value=1)
    return member_view(member), created


def revoke_membership(room_id: str, user_id: str, *, caller: Caller, now: datetime, settings: Settings) -> MemberView:
    """Revoke a membership: the live token is revoked and, if connected, the participant is removed
    from LiveKit with ``revoke_token_ts`` so the old token cannot rejoin. The removal is recorded as
    owed (``cleanup_pending``) in the revocation's own transaction: if LiveKit fails (503), the sweeper
    removes them later (``rooms.lifecycle.ending.converge_room``)."""
    room = store.get_room(room_id)
    if room is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    entry = audit.entry(room, at=now, actor=caller.user_id, action="member.revoked", target=user_id, settings=settings)
    in_livekit = bool(room.livekit_created_at) and is_live(room.status)
    owed = [*store.cleanup_owed(store.participant_cleanup(user_id)), *due_at(now, room_id)] if in_livekit else None
    member = store.revoke_member(room_id, user_id, now=iso(now), actor=caller.user_id, audit=[entry],
                                 room_updates=owed)
    if member is None:
        raise NotFound(f"{user_id} is not a member of room {room_id}", code="member_not_found")
    if member.token_jti:  # (the token record's revocation is its own write: best-effort entry)
        audit.record(room, at=now, actor=caller.user_id, action="token.revoked", target=user_id,
                     details={"jti": member.token_jti}, settings=settings)
    removed = revoke_from_livekit(room, user_id, revoked_at=now) if in_livekit else False
    logger.info(
        "member revoked",
        extra={"action": "member.revoke", "actor": caller.user_id, "room_id": room_id, "target": user_id,
               "removed_from_livekit": removed},
    )
    metrics.add_metric(name=metric_names.MEMBERS_REVOKED, unit="Count", value=1)
    return member_view(member)


def revoke_from_livekit(room: store.RoomItem, user_id: str, *, revoked_at: datetime) -> bool:
    """Remove a revoked member from the live LiveKit room, with ``revoke_token_ts`` so the old token
    cannot rejoin, and mark the ``participant:`` cleanup done. True when they were connected.
    Raises (503) when LiveKit fails, leaving the cleanup owed (the sweeper retries it)."""
    removed = False
    if room.livekit_created_at and is_live(room.status):
        # +1 s: a token minted earlier in this same second (nbf == revoked_at) must stop working too.
        removed = room_service.remove_participant(room.livekit_room, user_id,
                                                  revoke_token_ts=int(revoked_at.timestamp()) + 1)
    store.cleanup_done(room.room_id, store.participant_cleanup(user_id))
    return removed
