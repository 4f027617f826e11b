"""Build the participant and track webhooks LiveKit would send for a scripted session."""

from __future__ import annotations

from livekit.protocol.models import DisconnectReason, ParticipantInfo, TrackInfo, TrackSource, TrackType

from tests import livekit_webhooks as lw


def participant(identity: str, sid: str, joined_at: int, *, role: str = "participant", jti: str | None = None,
                sip: bool = False, reason: int = 0, waiting: bool = False) -> ParticipantInfo:
    p = ParticipantInfo(sid=sid, identity=identity, name=identity.title(), joined_at=joined_at,
                        joined_at_ms=joined_at * 1000, disconnect_reason=reason,
                        kind=ParticipantInfo.SIP if sip else ParticipantInfo.STANDARD)
    if not sip:
        p.attributes["rooms.role"] = role
        if jti:
            p.attributes["rooms.jti"] = jti
    p.permission.can_publish = p.permission.can_subscribe = p.permission.can_publish_data = not waiting
    return p


def joined(room: str, p: ParticipantInfo, **kw):
    return lw.event("participant_joined", room_name=room, created_at=p.joined_at, participant=p, **kw)


def left(room: str, p: ParticipantInfo, at: int, **kw):
    gone = ParticipantInfo()
    gone.CopyFrom(p)
    gone.state = ParticipantInfo.DISCONNECTED
    gone.disconnect_reason = gone.disconnect_reason or DisconnectReason.CLIENT_INITIATED
    return lw.event("participant_left", room_name=room, created_at=at, participant=gone, **kw)


def track(name: str, room: str, p: ParticipantInfo, sid: str, at: int, kind: str = "audio"):
    info = TrackInfo(sid=sid, type=TrackType.AUDIO if kind == "audio" else TrackType.VIDEO,
                     source=TrackSource.MICROPHONE if kind == "audio" else TrackSource.CAMERA)
    return lw.event(name, room_name=room, created_at=at, participant=p, track=info)


def iso(ts: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
