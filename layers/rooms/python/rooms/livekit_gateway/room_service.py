"""LiveKit RoomService: rooms (create, delete, list) and participants (list, get, remove, update permission,
mute a track).

Answers are plain dataclasses, so no code outside this package depends on protobuf messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rooms.livekit_gateway.client import run, run_or


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
    hidden: bool = False
    recorder: bool = False
    agent: bool = False  # the (deprecated) agent permission: a dependent participant, like kind agent
    disconnect_reason: str = "unknown"  # DisconnectReason, lower case (webhooks: why they left)


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
        tracks=tuple(track_info(t) for t in p.tracks),
        hidden=p.permission.hidden,
        recorder=p.permission.recorder,
        agent=p.permission.agent,
        disconnect_reason=_enum_name(p, "disconnect_reason"),
    )


def track_info(t: Any) -> LiveTrackInfo:
    """Our view of a ``livekit.TrackInfo``."""
    return LiveTrackInfo(sid=t.sid, type=_enum_name(t, "type"), source=_enum_name(t, "source"), muted=t.muted)


# Participant kinds LiveKit calls dependent (livekit-server's ``IsDependent``: these kinds, or the recorder
# or agent permission): never counted against, nor refused by, a room's max participants. Everyone else
# is: people, phone callers (sip), ingress, hidden ones.
DEPENDENT_KINDS = ("agent", "egress")


def counts_toward_max(p: LiveParticipantInfo) -> bool:
    """Whether LiveKit counts this participant against the room's max participants."""
    return p.kind not in DEPENDENT_KINDS and not p.recorder and not p.agent


def list_live_participants(room: str) -> list[LiveParticipantInfo]:
    """Everyone connected to the LiveKit room (empty when it does not exist)."""
    return [participant_info(p) for p in _list_participants(room)]


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


class RemoteUnmuteDisabled(Exception):
    """LiveKit refused a remote unmute (``failed_precondition``): the server's
    ``room.enable_remote_unmute`` is off, its default (for privacy)."""


def mute_track(room: str, identity: str, track_sid: str, *, muted: bool) -> bool:
    """Mute (or unmute) one published track (MutePublishedTrack). False when it is gone. livekit-server
    answers success for an unknown track sid, so callers check the track exists first."""

    async def call(lk: Any, api: Any) -> Any:
        try:
            return await lk.room.mute_published_track(
                api.MuteRoomTrackRequest(room=room, identity=identity, track_sid=track_sid, muted=muted)
            )
        except api.ServerError as err:
            if err.code == "failed_precondition" and not muted:
                raise RemoteUnmuteDisabled(err.message) from None
            raise

    return run_or(call, None) is not None


def send_data(room: str, identities: list[str], *, topic: str, payload: dict[str, Any]) -> bool:
    """A reliable data message (SendData) to these participants, on ``topic``. False when the room is gone."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.room.send_data(api.SendDataRequest(
            room=room, destination_identities=identities, topic=topic, kind=api.DataPacket.Kind.RELIABLE,
            data=json.dumps(payload, separators=(",", ":"), sort_keys=True).encode(),
        ))

    return run_or(call, None) is not None



@dataclass(frozen=True)
class RoomConfig:
    """The settings a LiveKit room must have however it comes to exist: our CreateRoom, a client's join
    (auto-create takes the token's ``roomConfig``) or a dial-in caller (the dispatch rule's
    ``room_config``). LiveKit applies them only at the room's creation: CreateRoom on a live room
    returns it unchanged."""

    name: str
    max_participants: int
    empty_timeout: int
    departure_timeout: int
    metadata: str

    def claim(self) -> dict[str, object]:
        """The ``roomConfig`` JWT claim: what ``AccessToken.with_room_config`` writes (protobuf JSON of
        ``livekit.RoomConfiguration``: camelCase, defaults left out). Written by hand so the token route
        does not import protobuf; a unit test compares it with livekit-api's."""
        claim: dict[str, object] = {
            "name": self.name,
            "emptyTimeout": self.empty_timeout,
            "departureTimeout": self.departure_timeout,
            "maxParticipants": self.max_participants,
            "metadata": self.metadata,
        }
        return {key: value for key, value in claim.items() if value}

    def message(self, api: Any) -> Any:
        """As a ``livekit.RoomConfiguration`` (for the SIP dispatch rule)."""
        return api.RoomConfiguration(name=self.name, max_participants=self.max_participants,
                                     empty_timeout=self.empty_timeout, departure_timeout=self.departure_timeout,
                                     metadata=self.metadata)


@dataclass(frozen=True)
class LiveKitRoom:
    name: str
    sid: str
    num_participants: int


def ensure_room(config: RoomConfig, *, auto_egress: Any | None = None) -> LiveKitRoom:
    """Create the LiveKit room. CreateRoom on a live room returns it unchanged (LiveKit's roommanager):
    nothing here updates a live room, so its config also travels in join tokens and dispatch rules.

    ``auto_egress`` (an ``egress.FileTarget``) records the room from its creation (LiveKit's
    ``CreateRoomRequest.egress.room``; it starts only when the room is first created).
    """

    async def call(lk: Any, api: Any) -> Any:
        request = api.CreateRoomRequest(
            name=config.name,
            max_participants=config.max_participants,
            empty_timeout=config.empty_timeout,
            departure_timeout=config.departure_timeout,
            metadata=config.metadata,
        )
        if auto_egress is not None:
            from rooms.livekit_gateway.egress_service import room_composite_request

            request.egress.room.CopyFrom(room_composite_request(api, "", auto_egress))
        return await lk.room.create_room(request)

    room = run(call)
    return LiveKitRoom(name=room.name, sid=room.sid, num_participants=room.num_participants)


def delete_room(name: str) -> bool:
    """Delete the LiveKit room (disconnects everyone). False when it did not exist."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.room.delete_room(api.DeleteRoomRequest(room=name))

    return run_or(call, None) is not None


def update_room_metadata(name: str, metadata: dict[str, Any]) -> bool:
    """Replace a live LiveKit room's metadata (UpdateRoomMetadata); False when the room is gone."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.room.update_room_metadata(api.UpdateRoomMetadataRequest(
            room=name, metadata=json.dumps(metadata, separators=(",", ":"), sort_keys=True)))

    return run_or(call, None) is not None


def remove_participant(room: str, identity: str, *, revoke_token_ts: int | None = None) -> bool:
    """Remove a participant; tokens with nbf before ``revoke_token_ts`` can no longer join.

    False when the participant (or room) was not there.
    """

    async def call(lk: Any, api: Any) -> Any:
        request = api.RoomParticipantIdentity(room=room, identity=identity)
        if revoke_token_ts is not None:
            request.revoke_token_ts = revoke_token_ts
        return await lk.room.remove_participant(request)

    return run_or(call, None) is not None


def room_exists(name: str) -> bool:
    """Whether LiveKit has a room of this name now (ListRooms filtered by name)."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.room.list_rooms(api.ListRoomsRequest(names=[name]))

    return any(room.name == name for room in run(call).rooms)


def _list_participants(room: str) -> list[Any]:
    """ParticipantInfo of everyone connected (empty when the LiveKit room does not exist)."""

    async def call(lk: Any, api: Any) -> Any:
        return await lk.room.list_participants(api.ListParticipantsRequest(room=room))

    response = run_or(call, None)
    return list(response.participants) if response is not None else []
