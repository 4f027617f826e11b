"""Rooms and participants: LiveKit's RoomService, simulated joins, and room lifecycle timers.

All state sits behind one lock shared with egress and SIP. Webhooks are queued while the lock is held
(so they keep the order things happened in) but delivered by the notifier's worker, never under it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import jwt
from google.protobuf import json_format
from livekit.api import TokenVerifier
from livekit.api.access_token import VideoGrants
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room
from livekit.protocol.models import ParticipantInfo, ParticipantPermission, Room, TrackInfo

from .clock import Clock
from .ids import new_id
from .twirp import Method, TwirpError, room_admin, room_create, room_list
from .webhooks import WebhookNotifier, new_event

# Self-hosted LiveKit's defaults: nobody ever joined / after the last one left.
DEFAULT_EMPTY_TIMEOUT_S = 300
DEFAULT_DEPARTURE_TIMEOUT_S = 20
# RemoveParticipant without revoke_token_ts revokes tokens up to "now" plus the verifier's 1 min leeway.
DEFAULT_REVOKE_LEEWAY_S = 60

Reason = proto_models.DisconnectReason

# What `publish` in a simulated join means: (type, source, name, mime type).
_TRACKS = {
    "audio": (proto_models.AUDIO, proto_models.MICROPHONE, "microphone", "audio/opus"),
    "video": (proto_models.VIDEO, proto_models.CAMERA, "camera", "video/VP8"),
    "screen_share": (proto_models.VIDEO, proto_models.SCREEN_SHARE, "screen", "video/VP8"),
}
_TRACK_ALIASES = {"microphone": "audio", "camera": "video", "screen": "screen_share"}


def to_dict(message) -> dict:
    """Protobuf JSON with defaults printed, so `canPublish: false` is visible rather than absent."""
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


@dataclass
class LiveRoom:
    info: Room
    participants: dict[str, ParticipantInfo] = field(default_factory=dict)  # by identity
    # Server data messages (SendData) each connected participant received, by identity.
    data_received: dict[str, list[dict]] = field(default_factory=dict)
    # The pending close; a timer only acts if it is still the room's current one when it fires.
    close_token: object | None = None
    close_timer: threading.Timer | None = None


class Rooms:
    def __init__(self, lock: threading.RLock, notifier: WebhookNotifier, api_key: str, api_secret: str,
                 clock: Clock | None = None):
        self.lock = lock
        self.clock = clock or Clock()
        self.notifier = notifier
        self.verifier = TokenVerifier(api_key, api_secret)
        self.rooms: dict[str, LiveRoom] = {}
        self.revocations: dict[
            tuple[str, str], int
        ] = {}  # (room, identity) -> tokens with nbf before it fail
        # Wired by the server to egress: auto-egress on first creation, and ending egress with the room.
        self.on_room_created: Callable[[Room, proto_room.CreateRoomRequest], None] = lambda room, req: None
        self.on_room_closed: Callable[[str], None] = lambda room_name: None
        # and egress waiting for its start signal (called with the lock held, after track_published)
        self.on_track_published: Callable[[str], None] = lambda room_name: None
        # livekit-server's room.enable_remote_unmute (off by default, for privacy)
        self.enable_remote_unmute = False
        self.sent_data: list[dict] = []  # SendData requests (nobody really listens: tests read them)
        self._stopped = False

    # --- RoomService -------------------------------------------------------------------------------

    def twirp_methods(self) -> dict[str, Method]:
        pr = proto_room
        return {
            "CreateRoom": Method(pr.CreateRoomRequest, room_create, self.create_room),
            "ListRooms": Method(pr.ListRoomsRequest, room_list, self.list_rooms),
            "DeleteRoom": Method(pr.DeleteRoomRequest, room_create, self.delete_room),
            "ListParticipants": Method(pr.ListParticipantsRequest, room_admin, self.list_participants),
            "GetParticipant": Method(pr.RoomParticipantIdentity, room_admin, self.get_participant),
            "RemoveParticipant": Method(pr.RoomParticipantIdentity, room_admin, self.remove_participant),
            "MutePublishedTrack": Method(pr.MuteRoomTrackRequest, room_admin, self.mute_published_track),
            "UpdateParticipant": Method(pr.UpdateParticipantRequest, room_admin, self.update_participant),
            "UpdateRoomMetadata": Method(pr.UpdateRoomMetadataRequest, room_admin, self.update_room_metadata),
            "SendData": Method(pr.SendDataRequest, room_admin, self.send_data),
        }

    def create_room(self, request: proto_room.CreateRoomRequest) -> Room:
        if not request.name:
            raise TwirpError("invalid_argument", "room name is required")
        with self.lock:
            live = self.rooms.get(request.name)
            created = live is None
            if created:
                live = self._open_room(request.name, request)
            else:  # create-or-update: a repeated CreateRoom overwrites the fields it sets (non-zero)
                _apply_room_fields(live.info, request)
            snapshot = self._snapshot(live)
        # LiveKit starts auto-egress only when the room is first created. If that start fails, CreateRoom
        # answers the error but the room stays live (room_started was sent): a retry returns it unrecorded.
        if created and request.HasField("egress") and request.egress.HasField("room"):
            self.on_room_created(snapshot, request)
        return snapshot

    def list_rooms(self, request: proto_room.ListRoomsRequest) -> proto_room.ListRoomsResponse:
        names = set(request.names)
        with self.lock:
            rooms = [self._snapshot(r) for n, r in self.rooms.items() if not names or n in names]
        return proto_room.ListRoomsResponse(rooms=rooms)

    def delete_room(self, request: proto_room.DeleteRoomRequest) -> proto_room.DeleteRoomResponse:
        with self.lock:
            self._close_room(self._room(request.room), proto_models.ROOM_END_API_DELETE, Reason.ROOM_DELETED)
        self.on_room_closed(request.room)
        return proto_room.DeleteRoomResponse()

    def list_participants(self, request: proto_room.ListParticipantsRequest):
        # livekit-server answers an empty list for a room that does not exist (no error)
        with self.lock:
            live = self.rooms.get(request.room)
            participants = [copy_message(p) for p in live.participants.values()] if live else []
        return proto_room.ListParticipantsResponse(participants=participants)

    def get_participant(self, request: proto_room.RoomParticipantIdentity) -> ParticipantInfo:
        with self.lock:
            return copy_message(self._participant(request.room, request.identity))

    def remove_participant(self, request: proto_room.RoomParticipantIdentity):
        with self.lock:
            live = self._room(request.room)
            self._participant(request.room, request.identity)
            revoke_ts = request.revoke_token_ts or int(time.time()) + DEFAULT_REVOKE_LEEWAY_S
            key = (request.room, request.identity)
            self.revocations[key] = max(revoke_ts, self.revocations.get(key, 0))
            self._remove(live, request.identity, Reason.PARTICIPANT_REMOVED)
        return proto_room.RemoveParticipantResponse()

    def mute_published_track(self, request: proto_room.MuteRoomTrackRequest):
        # LiveKit sends no webhook for a mute: only the track's state changes. As livekit-server does:
        # remote unmute is refused unless room.enable_remote_unmute, and an unknown track sid succeeds
        # with an empty track (nothing changes).
        with self.lock:
            participant = self._participant(request.room, request.identity)
            if not request.muted and not self.enable_remote_unmute:
                raise TwirpError("failed_precondition", "remote unmute not enabled")
            for track in participant.tracks:
                if track.sid == request.track_sid:
                    track.muted = request.muted
                    return proto_room.MuteRoomTrackResponse(track=copy_message(track))
        return proto_room.MuteRoomTrackResponse()

    def update_participant(self, request: proto_room.UpdateParticipantRequest) -> ParticipantInfo:
        with self.lock:
            live = self._room(request.room)
            participant = self._participant(request.room, request.identity)
            if request.metadata:
                participant.metadata = request.metadata
            if request.name:
                participant.name = request.name
            for key, value in request.attributes.items():
                if value:
                    participant.attributes[key] = value
                else:  # an empty value deletes the attribute
                    participant.attributes.pop(key, None)
            if request.HasField("permission"):
                participant.permission.CopyFrom(request.permission)
                # Like LiveKit, losing the right to publish unpublishes what is no longer allowed.
                for track in list(participant.tracks):
                    if not _may_publish(participant.permission, track.source):
                        self._unpublish(live, participant, track)
            participant.version += 1
            return copy_message(participant)

    def update_room_metadata(self, request: proto_room.UpdateRoomMetadataRequest) -> Room:
        with self.lock:
            live = self._room(request.room)
            live.info.metadata = request.metadata
            return self._snapshot(live)

    def send_data(self, request: proto_room.SendDataRequest) -> proto_room.SendDataResponse:
        """Delivered as LiveKit's BroadcastDataPacketForRoom does (pkg/rtc/room.go): to every connected
        participant, or to those named in destination_identities; the subscribe permission is not
        checked (a waiting-room participant, who may not subscribe, still receives it)."""
        with self.lock:
            live = self._room(request.room)
            wanted = set(request.destination_identities)
            for identity in live.participants:
                if wanted and identity not in wanted:
                    continue
                live.data_received.setdefault(identity, []).append({
                    "topic": request.topic, "data": request.data.decode("utf-8", "replace"),
                    "kind": "reliable" if request.kind == 0 else "lossy"})
            self.sent_data.append({
                "room": request.room, "topic": request.topic,
                "destination_identities": list(request.destination_identities),
                "reliable": request.kind == proto_models.DataPacket.RELIABLE,
                "data": request.data.decode("utf-8", "replace"),
            })
        return proto_room.SendDataResponse()

    # --- simulated clients -------------------------------------------------------------------------

    def join(self, token: str, publish: Iterable[str] = ()) -> ParticipantInfo:
        """A client connecting with a join token, refused the way LiveKit refuses it."""
        with self.lock:  # verified under the lock: a concurrent RemoveParticipant's revocation counts
            claims = self._verify_join_token(token)
            video = claims.video
            participant = ParticipantInfo(
                sid=new_id("PA_"),
                identity=claims.identity,
                name=claims.name,
                metadata=claims.metadata,
                attributes=claims.attributes or {},
                kind=_kind(claims.kind),
                permission=_permission(video),
            )
            room_config = claims.room_config
            live = self._join(video.room, participant, publish, room_config)
            return copy_message(live.participants[claims.identity])

    def join_as(
        self, room_name: str, participant: ParticipantInfo, publish: Iterable[str] = ()
    ) -> ParticipantInfo:
        """A participant the server itself brings in (a SIP call), no token involved."""
        with self.lock:
            participant.sid = participant.sid or new_id("PA_")
            live = self._join(room_name, participant, publish)
            return copy_message(live.participants[participant.identity])

    def hang_up(self, room: str, identity: str, reason: int) -> ParticipantInfo:
        """A participant the server brought in leaves on its own (a SIP call that ended)."""
        with self.lock:
            left = copy_message(self._participant(room, identity))
            self._remove(self._room(room), identity, reason)
        return left

    def leave(self, room: str, identity: str) -> ParticipantInfo:
        with self.lock:
            left = copy_message(self._participant(room, identity))
            self._remove(self._room(room), identity, Reason.CLIENT_INITIATED)
        return left

    def abort(self, room: str = "", identity: str = "", token: str = "") -> ParticipantInfo:
        """A connection that never became active (ICE failed): participant_connection_aborted, no left.

        With a token, a client that never got in at all; with room + identity, a joined one dropping."""
        if token:
            with self.lock:
                claims = self._verify_join_token(token)
                live = self._get_or_open(claims.video.room)
                aborted = ParticipantInfo(
                    sid=new_id("PA_"),
                    identity=claims.identity,
                    name=claims.name,
                    kind=_kind(claims.kind),
                    state=ParticipantInfo.DISCONNECTED,
                    permission=_permission(claims.video),
                    disconnect_reason=Reason.CONNECTION_TIMEOUT,
                )
                self._emit("participant_connection_aborted", live, participant=aborted)
                if not live.participants:
                    self._schedule_close(live, live.info.departure_timeout)
                return aborted
        with self.lock:
            aborted = copy_message(self._participant(room, identity))
            self._remove(
                self._room(room), identity, Reason.CONNECTION_TIMEOUT, event="participant_connection_aborted"
            )
        return aborted

    def state(self) -> dict:
        with self.lock:
            rooms = []
            for live in self.rooms.values():
                room = to_dict(self._snapshot(live))
                room["participants"] = [to_dict(p) for p in live.participants.values()]
                room["data_received"] = {k: list(v) for k, v in live.data_received.items()}
                rooms.append(room)
            revocations = [
                {"room": room, "identity": identity, "revokeTokenTs": ts}
                for (room, identity), ts in self.revocations.items()
            ]
            sent_data = list(self.sent_data)
        return {"rooms": rooms, "revocations": revocations, "sent_data": sent_data}

    def has_published_tracks(self, name: str) -> bool:
        with self.lock:
            live = self.rooms.get(name)
            return live is not None and any(p.tracks for p in live.participants.values())

    def room_info(self, name: str) -> Room | None:
        with self.lock:
            live = self.rooms.get(name)
            return self._snapshot(live) if live else None

    def stop(self) -> None:
        with self.lock:
            self._stopped = True
            for live in self.rooms.values():
                self._cancel_close(live)

    # --- internals (call with the lock held) -------------------------------------------------------

    def _verify_join_token(self, token: str):
        try:
            claims = self.verifier.verify(token)
            nbf = int(jwt.decode(token, options={"verify_signature": False}).get("nbf", 0))
        except Exception as err:  # bad signature, expired, garbage: LiveKit answers 401
            raise TwirpError("unauthenticated", f"invalid token: {err}") from err
        if not claims.video or not claims.video.room_join or not claims.video.room:
            raise TwirpError("permission_denied", "token has no roomJoin grant for a room")
        if not claims.identity:
            raise TwirpError("unauthenticated", "token has no identity")
        with self.lock:
            if nbf < self.revocations.get((claims.video.room, claims.identity), 0):
                raise TwirpError("unauthenticated", "token has been revoked for this participant")
        return claims

    def _join(
        self,
        room_name: str,
        participant: ParticipantInfo,
        publish: Iterable[str],
        room_config: proto_room.RoomConfiguration | None = None,
    ) -> LiveRoom:
        live = self._get_or_open(room_name, room_config)
        # As livekit-server's Room.Join: dependent participants (egress, agents, recorders) are neither counted against
        # max participants nor refused by it; a rejoin of the same identity replaces its connection.
        if live.info.max_participants and not _dependent(participant):
            others = [p for identity, p in live.participants.items()
                      if identity != participant.identity and not _dependent(p)]
            if len(others) >= live.info.max_participants:
                raise TwirpError("resource_exhausted", "room has exceeded its max participants", status=409)
        if participant.identity in live.participants:
            # Duplicate identity: LiveKit disconnects the older session before the new one joins.
            self._remove(live, participant.identity, Reason.DUPLICATE_IDENTITY)
        now = self.clock.now()
        participant.state = ParticipantInfo.ACTIVE
        participant.joined_at = int(now)
        participant.joined_at_ms = int(now * 1000)
        live.participants[participant.identity] = participant
        self._cancel_close(live)
        self._emit("participant_joined", live, participant=participant)
        for kind in publish:
            self._publish(live, participant, kind)
        return live

    def _publish(self, live: LiveRoom, participant: ParticipantInfo, kind: str) -> None:
        kind = _TRACK_ALIASES.get(kind, kind)
        if kind not in _TRACKS:
            raise TwirpError("invalid_argument", f"cannot publish {kind!r}; use one of {sorted(_TRACKS)}")
        track_type, source, name, mime_type = _TRACKS[kind]
        if not _may_publish(participant.permission, source):
            return  # the client SDK would be refused; the participant just stays unpublished
        track = TrackInfo(sid=new_id("TR_"), type=track_type, source=source, name=name, mime_type=mime_type)
        if track_type == proto_models.VIDEO:
            track.width, track.height = 1280, 720
        participant.tracks.append(track)
        participant.is_publisher = True
        self._emit("track_published", live, participant=participant, track=track)
        self.on_track_published(live.info.name)

    def _unpublish(self, live: LiveRoom, participant: ParticipantInfo, track: TrackInfo) -> None:
        unpublished = copy_message(track)
        participant.tracks.remove(track)
        self._emit("track_unpublished", live, participant=participant, track=unpublished)

    def _remove(self, live: LiveRoom, identity: str, reason: int, event: str = "participant_left") -> None:
        participant = live.participants[identity]
        for track in list(participant.tracks):
            self._unpublish(live, participant, track)
        del live.participants[identity]
        participant.state = ParticipantInfo.DISCONNECTED
        participant.disconnect_reason = reason
        self._emit(event, live, participant=participant)
        if not live.participants and live.info.name in self.rooms:
            self._schedule_close(live, live.info.departure_timeout)

    def _get_or_open(self, name: str, config: proto_room.RoomConfiguration | None = None) -> LiveRoom:
        # LiveKit's auto_create: the first join opens the room (with the token's room config, if any).
        return self.rooms.get(name) or self._open_room(name, config)

    def _open_room(self, name: str, fields=None) -> LiveRoom:
        now = self.clock.now()
        info = Room(
            sid=new_id("RM_"),
            name=name,
            empty_timeout=DEFAULT_EMPTY_TIMEOUT_S,
            departure_timeout=DEFAULT_DEPARTURE_TIMEOUT_S,
            creation_time=int(now),
            creation_time_ms=int(now * 1000),
        )
        if fields is not None:
            _apply_room_fields(info, fields)
        live = LiveRoom(info=info)
        self.rooms[name] = live
        self._emit("room_started", live)
        # Closes unless someone joins first (a join cancels it).
        self._schedule_close(live, info.empty_timeout)
        return live

    def _close_room(self, live: LiveRoom, end_reason: int, disconnect_reason: int) -> None:
        self._cancel_close(live)
        del self.rooms[live.info.name]
        for identity in list(live.participants):
            self._remove(live, identity, disconnect_reason)
        event = new_event("room_finished", room=self._snapshot(live), created_at=self.clock.now())
        event.room_end_reason = end_reason
        self.notifier.emit(event)

    def _schedule_close(self, live: LiveRoom, delay_s: float) -> None:
        self._cancel_close(live)
        if self._stopped:
            return
        token = object()
        live.close_token = token
        live.close_timer = threading.Timer(delay_s, self._close_if_idle, args=(live.info.name, token))
        live.close_timer.daemon = True
        live.close_timer.start()

    def _cancel_close(self, live: LiveRoom) -> None:
        if live.close_timer is not None:
            live.close_timer.cancel()
        live.close_timer = live.close_token = None

    def _close_if_idle(self, room_name: str, token: object) -> None:
        with self.lock:
            live = self.rooms.get(room_name)
            if self._stopped or live is None or live.close_token is not token or live.participants:
                return
            self._close_room(live, proto_models.ROOM_END_IDLE_TIMEOUT, Reason.ROOM_CLOSED)
        self.on_room_closed(room_name)

    def _room(self, name: str) -> LiveRoom:
        live = self.rooms.get(name)
        if live is None:
            raise TwirpError("not_found", f"room {name} does not exist")
        return live

    def _participant(self, room: str, identity: str) -> ParticipantInfo:
        participant = self._room(room).participants.get(identity)
        if participant is None:
            raise TwirpError("not_found", f"participant {identity} is not in room {room}")
        return participant

    def _snapshot(self, live: LiveRoom) -> Room:
        room = copy_message(live.info)
        room.num_participants = len(live.participants)
        room.num_publishers = sum(1 for p in live.participants.values() if p.tracks)
        return room

    def _emit(
        self, name: str, live: LiveRoom, participant: ParticipantInfo | None = None, track=None
    ) -> None:
        self.notifier.emit(new_event(name, room=self._snapshot(live), participant=participant, track=track,
                                     created_at=self.clock.now()))


def copy_message(message):
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


def _apply_room_fields(info: Room, fields) -> None:
    """Copy the settable fields a CreateRoomRequest or RoomConfiguration sets (non-zero) onto the room."""
    for name in ("empty_timeout", "departure_timeout", "max_participants", "metadata"):
        if getattr(fields, name):
            setattr(info, name, getattr(fields, name))


_DEPENDENT_KINDS = (ParticipantInfo.EGRESS, ParticipantInfo.AGENT)


def _dependent(p: ParticipantInfo) -> bool:
    """livekit-server's ``IsDependent``: kind egress or agent, or the recorder or agent permission."""
    return p.kind in _DEPENDENT_KINDS or p.permission.recorder or p.permission.agent


def _kind(kind: str) -> int:
    try:
        return ParticipantInfo.Kind.Value(kind.upper()) if kind else ParticipantInfo.STANDARD
    except ValueError:
        return ParticipantInfo.STANDARD


def _permission(video: VideoGrants) -> ParticipantPermission:
    """The permission LiveKit derives from a token's video grants."""
    sources = []
    for source in video.can_publish_sources or []:
        try:
            sources.append(proto_models.TrackSource.Value(source.upper()))
        except ValueError:
            continue
    return ParticipantPermission(
        can_publish=video.can_publish,
        can_subscribe=video.can_subscribe,
        can_publish_data=video.can_publish_data,
        can_publish_sources=sources,
        hidden=bool(video.hidden),
        recorder=bool(video.recorder),
        can_update_metadata=bool(video.can_update_own_metadata),
        agent=bool(video.agent),
        can_subscribe_metrics=bool(video.can_subscribe_metrics),
        can_manage_agent_session=bool(video.can_manage_agent_session),
    )


def _may_publish(permission: ParticipantPermission, source: int) -> bool:
    if not permission.can_publish:
        return False
    return not permission.can_publish_sources or source in permission.can_publish_sources
