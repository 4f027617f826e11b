"""Who is calling and what they may do. Authorization is decided here, server side, and only here.

Every rule of the API is a function of this module; the capabilities call them, never their own checks.

- admin: the platform backend (the ``rooms/admin`` scope): creates rooms, manages members, ends rooms,
  templates; reads any room, its attendance and its recordings.
- member: a room's active members read it, join it, report quality, consent to recording, and see its
  recordings when the room lets clients access them (until its access end date).
- host: the member with role ``host`` runs the session (participants, admit, mute, remove, dial-out),
  starts and stops recordings, reads attendance, and deletes recordings (compliance ones: admin only).
- "call me": in a room with ``sip.call_me`` a participant (not a viewer, and not while waiting to be
  admitted) may have the room dial out to them, as themselves only, and read their own attempts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rooms.clock import parse_iso
from rooms.errors import Forbidden, Gone, NotFound
from rooms.room.status import MemberStatus
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
    if member.status != MemberStatus.ACTIVE:
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


def require_host_or_admin(caller: Caller, room: RoomItem, member: Member | None) -> Member | None:
    """The host, or the platform backend (attendance for billing)."""
    if caller.is_admin:
        return member
    return require_host(caller, room, member)


# --- dial-out ("call me") --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DialOutPermit:
    """Who a dial-out may be for: ``user_id`` (the member whose identity the call joins as, or None for
    a number that is nobody's) and whether it is a member's own "call me" (which takes their own slot)."""

    user_id: str | None
    call_me: bool


def room_allows_call_me(room: RoomItem) -> bool:
    sip = room.sip
    if sip is None:
        return False
    sip = sip.as_dict() if hasattr(sip, "as_dict") else dict(sip)
    return bool(sip.get("enabled") and sip.get("call_me"))


def require_may_dial_out(caller: Caller, room: RoomItem, member: Member | None, *,
                         user_id: str | None) -> DialOutPermit:
    """The host dials anyone (a member, as themself, or any number). A participant of a room with
    ``sip.call_me`` may ask only for themselves: ``user_id`` omitted or their own, so the phone leg joins
    as their identity and their attendance stays one record. Viewers may not: a phone leg publishes
    audio, which their join never may. A participant still waiting to be admitted may not either: the
    call would walk past the waiting room."""
    member = require_member(caller, room, member)
    if member.role == "host":
        return DialOutPermit(user_id=user_id, call_me=False)
    if member.role != "participant" or not room_allows_call_me(room):
        raise Forbidden("only the host can place calls into this room; ask the host, or dial in",
                        code="call_me_not_allowed")
    if user_id is not None and user_id != caller.user_id:
        raise Forbidden("you can ask a call only for yourself", code="call_me_self_only")
    if room.waiting_room and not member.admitted_at:
        raise Forbidden("the host has not admitted you yet", code="call_me_waiting")
    return DialOutPermit(user_id=caller.user_id, call_me=True)


def require_may_see_dial_out(caller: Caller, room: RoomItem, member: Member | None, *, requested_by: str) -> None:
    """The host sees every dial-out of the room; another member only the ones they asked for."""
    member = require_member(caller, room, member)
    if member.role != "host" and requested_by != caller.user_id:
        raise Forbidden("this call was not asked for by you", code="dial_out_not_yours")


# --- recordings ------------------------------------------------------------------------------------------


def require_may_record(caller: Caller, room: RoomItem, member: Member | None) -> Member:
    """Start or stop a recording: the host only (the platform records through the room's policy)."""
    return require_host(caller, room, member)


def sees_all_recordings(caller: Caller, member: Member | None) -> bool:
    """The platform and the room's host see every recording, with where its file is; others see the
    available ones, if any (``require_may_view_recordings``)."""
    return caller.is_admin or (member is not None and member.status == MemberStatus.ACTIVE and member.role == "host")


def require_may_view_recordings(caller: Caller, room: RoomItem, member: Member | None) -> None:
    """A recording's URL: practitioners always; other members only when the room lets clients access
    recordings; everyone else 403. (The access end date is ``require_recording_access_open``.)"""
    if sees_all_recordings(caller, member):
        return
    require_member(caller, room, member)
    if not room.clients_can_access_recordings:
        raise Forbidden("recordings of this room are for the practitioner only", code="recording_access_denied")


def require_recording_access_open(caller: Caller, room: RoomItem, member: Member | None, *, now: datetime) -> None:
    """Clients' access to a room's recordings ends at its ``recording_access_until`` (courses); hosts' never."""
    if sees_all_recordings(caller, member):
        return
    if room.recording_access_until and parse_iso(room.recording_access_until) <= now:
        raise Gone(f"access to this room's recordings ended at {room.recording_access_until}",
                   code="recording_access_expired")


def require_may_delete_recording(caller: Caller, room: RoomItem, member: Member | None, *, trigger: str | None) -> None:
    """The platform, or the room's host; a compliance recording only the platform."""
    if caller.is_admin:
        return
    require_host(caller, room, member)
    if trigger == "compliance":
        raise Forbidden("only the platform may delete a compliance recording", code="recording_compliance")
