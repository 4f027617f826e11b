"""RoomService calls on one participant: get, update permission (waiting room admission), mute a track.

Answers are plain dataclasses, so no code outside this package depends on protobuf messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rooms.livekit_gateway import run_or


@dataclass(frozen=True)
class LiveTrackInfo:
    sid: str
    type: str  # audio | video | data
    source: str  # camera | microphone | screen_share | screen_share_audio | unknown
    muted: bool


@dataclass(frozen=True)
class LiveParticipantInfo:
    sid: str
    identity: str
    name: str
    kind: str  # standard | sip | egress | ingress | agent | ...
    joined_at: int
    can_publish: bool
    can_subscribe: bool
    can_publish_data: bool
    attributes: dict[str, str] = field(default_factory=dict)
    tracks: tuple[LiveTrackInfo, ...] = ()


def _enum_name(message: Any, field_name: str) -> str:
    descriptor = message.DESCRIPTOR.fields_by_name[field_name].enum_type
    value = descriptor.values_by_number.get(getattr(message, field_name))
    return value.name.lower() if value else "unknown"


def participant_info(p: Any) -> LiveParticipantInfo:
    """Our view of a ``livekit.ParticipantInfo``."""
    return LiveParticipantInfo(
        sid=p.sid,
        identity=p.identity,
        name=p.name,
        kind=_enum_name(p, "kind"),
        joined_at=int(p.joined_at or (p.joined_at_ms // 1000)),
        can_publish=p.permission.can_publish,
        can_subscribe=p.permission.can_subscribe,
        can_publish_data=p.permission.can_publish_data,
        attributes=dict(p.attributes),
        tracks=tuple(
            LiveTrackInfo(sid=t.sid, type=_enum_name(t, "type"), source=_enum_name(t, "source"), muted=t.muted)
            for t in p.tracks
        ),
    )


def list_live_participants(room: str) -> list[LiveParticipantInfo]:
    """Everyone connected to the LiveKit room (empty when it does not exist)."""
    from rooms.livekit_gateway import list_participants

    return [participant_info(p) for p in list_participants(room)]


def get_participant(room: str, identity: str) -> LiveParticipantInfo | None:
    """The connected participant with this identity, or None."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.room.get_participant(api.RoomParticipantIdentity(room=room, identity=identity))

    response = run_or(call, None)
    return participant_info(response) if response is not None else None


def update_permission(room: str, identity: str, *, can_publish: bool, can_subscribe: bool,
                      can_publish_data: bool) -> LiveParticipantInfo | None:
    """Change a connected participant's permission (UpdateParticipant). None when not connected."""

    async def call(lk: Any, api: Any) -> Any:
        permission = api.ParticipantPermission(
            can_publish=can_publish, can_subscribe=can_subscribe, can_publish_data=can_publish_data
        )
        return await lk.room.update_participant(
            api.UpdateParticipantRequest(room=room, identity=identity, permission=permission)
        )

    response = run_or(call, None)
    return participant_info(response) if response is not None else None


def mute_track(room: str, identity: str, track_sid: str, *, muted: bool) -> bool:
    """Mute (or unmute) one published track (MutePublishedTrack). False when it is gone."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.room.mute_published_track(
            api.MuteRoomTrackRequest(room=room, identity=identity, track_sid=track_sid, muted=muted)
        )

    return run_or(call, None) is not None
