"""Who is calling and what they may do. Authorization is decided here, server side, and only here."""

from __future__ import annotations

from dataclasses import dataclass, field

from rooms.errors import Forbidden, NotFound
from rooms.store import Member, RoomItem

ADMIN_SCOPE = "rooms/admin"


@dataclass(frozen=True)
class Caller:
    """The authenticated principal: the JWT ``sub`` and its scopes (from API Gateway's authorizer)."""

    user_id: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes


def require_admin(caller: Caller) -> None:
    if not caller.is_admin:
        raise Forbidden(f"this route needs the {ADMIN_SCOPE} scope", code="admin_scope_required")


def require_room(room: RoomItem | None, room_id: str) -> RoomItem:
    if room is None:
        raise NotFound(f"room {room_id} not found", code="room_not_found")
    return room


def require_member(caller: Caller, room: RoomItem, member: Member | None) -> Member:
    """The caller's active membership of ``room``; 403 for everyone else.

    For a booking that is its practitioner (host) and client; for a session, its practitioner and the
    attendees the platform granted (confirmed bookings).
    """
    if member is None:
        raise Forbidden("you are not a member of this room", code="not_a_member")
    if member.status != "active":
        raise Forbidden("your membership of this room was revoked", code="membership_revoked")
    return member


def require_member_or_admin(caller: Caller, room: RoomItem, member: Member | None) -> Member | None:
    if caller.is_admin:
        return member
    return require_member(caller, room, member)


def require_host(caller: Caller, room: RoomItem, member: Member | None) -> Member:
    member = require_member(caller, room, member)
    if member.role != "host":
        raise Forbidden("only the host of this room may do this", code="host_only")
    return member
