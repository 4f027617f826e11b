"""What the host of a room does during a session: see who is there, admit from the waiting room, mute,
remove. Host only (the member whose role is ``host``); everyone else gets 403.
"""

from __future__ import annotations

from datetime import datetime

from rooms import audit, metric_names, store
from rooms.access import Caller, require_host, require_room
from rooms.attendance.models import (
    HOST_MESSAGE_TOPIC,
    AskUnmuteRequest,
    HostActionResult,
    HostMessageRequest,
    LiveParticipant,
    LiveTrack,
    MuteRequest,
    ParticipantsView,
)
from rooms.attendance.people import is_person
from rooms.attendance.view import attendance_view
from rooms.clock import iso
from rooms.errors import Conflict, InvalidInput, NotFound
from rooms.livekit_gateway import room_service
from rooms.livekit_gateway.room_service import (
    LiveParticipantInfo,
    LiveTrackInfo,
    RemoteUnmuteDisabled,
    get_participant,
    list_live_participants,
    mute_track,
    update_permission,
)
from rooms.observability import logger, metrics
from rooms.room.grants import admitted_permission
from rooms.room.status import is_live
from rooms.settings import Settings
from rooms.store import attendance as attendance_store

# What "audio" / "video" / "screen_share" mean among a participant's published tracks.
_TRACK_SOURCES = {
    "audio": {"microphone"},
    "video": {"camera"},
    "screen_share": {"screen_share", "screen_share_audio"},
}


def _host_room(room_id: str, caller: Caller) -> store.RoomItem:
    room, member = store.get_room_and_member(room_id, caller.user_id)
    room = require_room(room, room_id)
    require_host(caller, room, member)
    return room


def _in_livekit(room: store.RoomItem) -> bool:
    return bool(room.livekit_created_at) and is_live(room.status)


def _is_waiting(p: LiveParticipantInfo) -> bool:
    # Only our join tokens carry rooms.role; a waiting-room token can neither subscribe nor publish.
    return "rooms.role" in p.attributes and not p.can_subscribe and not p.can_publish


def _log(action: str, caller: Caller, room: store.RoomItem, target: str, **extra) -> None:
    logger.info(action.replace(".", " "), extra={"action": action, "actor": caller.user_id, "target": target,
                                                 "room_id": room.room_id, **extra})


def list_participants(room_id: str, *, caller: Caller, now: datetime) -> ParticipantsView:
    """Who is connected now (LiveKit's ListParticipants), each with their attendance so far."""
    room = _host_room(room_id, caller)
    live = list_live_participants(room.livekit_room) if _in_livekit(room) else []
    view = attendance_view(room, attendance_store.get_room_attendance(room_id), now=now)
    entries = {e.identity: e for e in view.participants}
    participants = [
        LiveParticipant(
            identity=p.identity,
            participant_sid=p.sid,
            name=p.name or None,
            role=p.attributes.get("rooms.role") or ("participant" if p.kind == "sip" else None),
            via="phone" if p.kind == "sip" else "video",
            joined_at=iso(datetime.fromtimestamp(p.joined_at, tz=now.tzinfo)) if p.joined_at else None,
            waiting=_is_waiting(p),
            can_publish=p.can_publish,
            can_subscribe=p.can_subscribe,
            tracks=[LiveTrack(track_sid=t.sid, type=t.type, source=t.source, muted=t.muted) for t in p.tracks],
            attendance=entries.get(p.identity),
        )
        for p in live
        if is_person(p)
    ]
    return ParticipantsView(room_id=room_id, participants=participants,
                            waiting=[p.identity for p in participants if p.waiting], attendance=view)


def admit(room_id: str, identity: str, *, caller: Caller, now: datetime, settings: Settings) -> HostActionResult:
    """Admit a member from the waiting room: remembered on the membership (their next token and any
    reconnect skip the waiting room) and, if connected, granted their role's permission at once."""
    room = _host_room(room_id, caller)
    entry = audit.entry(room, at=now, actor=caller.user_id, action="participant.admitted", target=identity,
                        settings=settings)
    member = attendance_store.admit_member(room_id, identity, now=iso(now), actor=caller.user_id, audit=[entry])
    if member is None:
        raise NotFound(f"{identity} is not an active member of room {room_id}", code="member_not_found",
                       field="identity")
    info = None
    if _in_livekit(room):
        info = update_permission(room.livekit_room, identity, **admitted_permission(member.role))
        if info is not None:
            attendance_store.mark_segment_admitted(room_id, identity, info.sid, at=int(now.timestamp()))
    metrics.add_metric(name=metric_names.PARTICIPANTS_ADMITTED, unit="Count", value=1)
    _log("participant.admit", caller, room, identity, connected=info is not None, role=member.role)
    return HostActionResult(room_id=room_id, identity=identity, action="admit", connected=info is not None)


def _matching_tracks(p: LiveParticipantInfo, track: str) -> list[LiveTrackInfo]:
    sources = _TRACK_SOURCES[track]
    out = [t for t in p.tracks if t.source in sources]
    if not out and track in ("audio", "video"):  # a track published without a source: go by its type
        out = [t for t in p.tracks if t.source == "unknown" and t.type == track]
    return out


def mute(room_id: str, identity: str, request: MuteRequest, *, caller: Caller, now: datetime,
         settings: Settings) -> HostActionResult:
    """Mute (or unmute, where LiveKit allows remote unmute) the participant's audio, video or screen."""
    room = _host_room(room_id, caller)
    live = get_participant(room.livekit_room, identity) if _in_livekit(room) else None
    if live is None:
        raise NotFound(f"{identity} is not connected to room {room_id}", code="participant_not_connected",
                       field="identity")
    tracks = _matching_tracks(live, request.track)  # livekit-server "mutes" an unknown track without a word
    if not tracks:
        raise NotFound(f"{identity} publishes no {request.track} track", code="track_not_published", field="track")
    try:
        changed = [t.sid for t in tracks if mute_track(room.livekit_room, identity, t.sid, muted=request.muted)]
    except RemoteUnmuteDisabled:
        raise Conflict(
            "this LiveKit server refuses remote unmute (room.enable_remote_unmute is off, its default, for "
            f"privacy): ask the participant to unmute (POST .../participants/{identity}/ask-unmute), or set "
            "room.enable_remote_unmute: true in the server's config (LiveKit Cloud: the project's settings)",
            code="remote_unmute_disabled", field="muted",
        ) from None
    action = "mute" if request.muted else "unmute"
    metrics.add_metric(name=metric_names.PARTICIPANTS_MUTED if request.muted else metric_names.PARTICIPANTS_UNMUTED,
                       unit="Count", value=1)
    _log(f"participant.{action}", caller, room, identity, track=request.track, track_sids=changed)
    audit.record(room, at=now, actor=caller.user_id, action=f"participant.{action}d", target=identity,
                 details={"track": request.track, "track_sids": changed}, settings=settings)
    return HostActionResult(room_id=room_id, identity=identity, action=action, connected=True, tracks=changed)


# The data-message topic of host requests to one participant; the reference web app shows them.
HOST_REQUEST_TOPIC = "rooms.host_request"


def ask_unmute(room_id: str, identity: str, request: AskUnmuteRequest, *, caller: Caller,
               now: datetime) -> HostActionResult:
    """Ask a participant to unmute: a data message their client shows (the default host action, since
    LiveKit refuses remote unmute unless the server enables it). Nothing changes without their consent."""
    room = _host_room(room_id, caller)
    live = get_participant(room.livekit_room, identity) if _in_livekit(room) else None
    if live is None:
        raise NotFound(f"{identity} is not connected to room {room_id}", code="participant_not_connected",
                       field="identity")
    tracks = _matching_tracks(live, request.track)
    if not tracks:
        raise NotFound(f"{identity} publishes no {request.track} track", code="track_not_published", field="track")
    sent = room_service.send_data(room.livekit_room, [identity], topic=HOST_REQUEST_TOPIC, payload={
        "type": "ask_unmute", "track": request.track, "from": caller.user_id, "at": iso(now)})
    if not sent:
        raise NotFound(f"{identity} is not connected to room {room_id}", code="participant_not_connected",
                       field="identity")
    metrics.add_metric(name=metric_names.UNMUTE_REQUESTS, unit="Count", value=1)
    _log("participant.ask_unmute", caller, room, identity, track=request.track)
    return HostActionResult(room_id=room_id, identity=identity, action="ask_unmute", connected=True,
                            tracks=[t.sid for t in tracks])


def remove(room_id: str, identity: str, *, caller: Caller, now: datetime, settings: Settings) -> HostActionResult:
    """Remove a participant from the session. Their current token stops working: LiveKit Cloud refuses
    it (``revoke_token_ts``); on self-hosted LiveKit, which ignores that, the token is no longer the
    member's live one, so a rejoin with it is removed on its participant_joined. Their admission is
    forgotten, so in a waiting-room room they wait again if they come back with a new token; keeping
    someone out for good is the platform's membership revocation."""
    room = _host_room(room_id, caller)
    if identity == caller.user_id:
        raise InvalidInput("the host cannot remove themselves", code="cannot_remove_self", field="identity")
    if not _in_livekit(room):
        raise NotFound(f"{identity} is not connected to room {room_id}", code="participant_not_connected",
                       field="identity")
    # +1 s: a token minted earlier in this same second (nbf == now) must stop working too.
    removed = room_service.remove_participant(room.livekit_room, identity,
                                                 revoke_token_ts=int(now.timestamp()) + 1)
    if not removed:
        raise NotFound(f"{identity} is not connected to room {room_id}", code="participant_not_connected",
                       field="identity")
    attendance_store.forget_session(room_id, identity)
    metrics.add_metric(name=metric_names.PARTICIPANTS_REMOVED, unit="Count", value=1)
    _log("participant.remove", caller, room, identity)
    audit.record(room, at=now, actor=caller.user_id, action="participant.removed", target=identity, settings=settings)
    return HostActionResult(room_id=room_id, identity=identity, action="remove", connected=True)


def message(room_id: str, identity: str, request: HostMessageRequest, *, caller: Caller,
            now: datetime, settings: Settings) -> HostActionResult:
    """The waiting-room concierge: the host's message to one connected participant (a client waiting to
    be admitted included), delivered as a LiveKit data message on topic ``rooms.host_message`` with a
    JSON body ``{"type": "host_message", "text", "from", "sent_at"}`` that the reference app shows. It
    goes through our API (the host's token carries no server grant) and is on the audit trail (its
    length, not its text)."""
    room = _host_room(room_id, caller)
    live = get_participant(room.livekit_room, identity) if _in_livekit(room) else None
    if live is None:
        raise NotFound(f"{identity} is not connected to room {room_id}", code="participant_not_connected",
                       field="identity")
    body = {"type": "host_message", "text": request.text, "from": caller.name or caller.user_id, "sent_at": iso(now)}
    if not room_service.send_data(room.livekit_room, [identity], topic=HOST_MESSAGE_TOPIC, payload=body):
        raise NotFound(f"room {room_id} is not running in LiveKit", code="room_not_running")
    metrics.add_metric(name=metric_names.HOST_MESSAGES, unit="Count", value=1)
    _log("participant.message", caller, room, identity, waiting=_is_waiting(live), length=len(request.text))
    audit.record(room, at=now, actor=caller.user_id, action="participant.messaged", target=identity,
                 details={"length": len(request.text), "waiting": _is_waiting(live)}, settings=settings)
    return HostActionResult(room_id=room_id, identity=identity, action="message", connected=True)
