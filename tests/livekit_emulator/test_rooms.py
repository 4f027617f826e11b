"""RoomService and simulated clients: lifecycle, joins refused as LiveKit refuses them, revocation."""

from __future__ import annotations

import time

import jwt
import pytest
from livekit import api

from rooms_local.livekit_emulator import control
from rooms_local.livekit_emulator.control import LiveKitEmulatorRefused

from .support import KEY, SECRET, call, join_token


def create(server, name: str, **fields):
    return call(server, lambda lk: lk.room.create_room(api.CreateRoomRequest(name=name, **fields)))


def test_create_list_update_and_delete_a_room(server, sink):
    room = create(server, "consult-1", empty_timeout=600, max_participants=2, metadata="m1")
    assert room.sid.startswith("RM_") and room.max_participants == 2 and room.empty_timeout == 600
    again = create(server, "consult-1", metadata="m2")  # create-or-update: only set fields change
    assert (again.sid, again.metadata, again.max_participants) == (room.sid, "m2", 2)
    create(server, "consult-2")

    listed = call(server, lambda lk: lk.room.list_rooms(api.ListRoomsRequest(names=["consult-1"])))
    assert [r.name for r in listed.rooms] == ["consult-1"]
    assert len(call(server, lambda lk: lk.room.list_rooms(api.ListRoomsRequest())).rooms) == 2

    call(server, lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room="consult-1")))
    control.drain_webhooks(server.url)
    assert [r.name for r in call(server, lambda lk: lk.room.list_rooms(api.ListRoomsRequest())).rooms] == [
        "consult-2"
    ]
    assert sink.names() == ["room_started", "room_started", "room_finished"]
    finished = sink.events()[-1]
    assert finished.room.sid == room.sid and finished.room_end_reason == api.RoomEndReason.ROOM_END_API_DELETE
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room="consult-1")))
    assert err.value.status == 404


def test_join_takes_identity_grants_and_tracks_from_the_token(server, sink):
    token = join_token("user-1", "room-a", name="Ada", can_publish_data=False)
    joined = control.join(server.url, token, publish=["audio", "video"])
    # The webhooks are delivered by the time join returns.
    assert sink.names() == ["room_started", "participant_joined", "track_published", "track_published"]
    assert joined["sid"].startswith("PA_") and joined["identity"] == "user-1" and joined["name"] == "Ada"
    assert joined["kind"] == "STANDARD"
    assert joined["permission"]["canPublish"] is True and joined["permission"]["canPublishData"] is False
    assert sorted(t["type"] for t in joined["tracks"]) == ["AUDIO", "VIDEO"]
    event = sink.events()[1]
    assert event.participant.identity == "user-1" and event.room.name == "room-a"
    assert event.room.num_participants == 1

    listed = call(
        server,
        lambda lk: lk.room.list_participants(api.ListParticipantsRequest(room="room-a")),
        token=api.AccessToken(KEY, SECRET)
        .with_grants(api.VideoGrants(room_admin=True, room="room-a"))
        .to_jwt(),
    )
    assert [p.identity for p in listed.participants] == ["user-1"]


def test_tampered_expired_and_roomless_tokens_are_refused(server, sink):
    token = join_token("user-1", "room-a")
    header, payload, signature = token.split(".")
    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.join(server.url, f"{header}.{payload}.{signature[:-4]}AAAA")
    assert err.value.status == 401

    now = int(time.time())
    expired = jwt.encode(
        {
            "iss": KEY,
            "sub": "u",
            "nbf": now - 7200,
            "exp": now - 3600,
            "video": {"roomJoin": True, "room": "a"},
        },
        SECRET,
    )
    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.join(server.url, expired)
    assert err.value.status == 401

    no_join = api.AccessToken(KEY, SECRET).with_identity("u").with_grants(api.VideoGrants(room="room-a"))
    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.join(server.url, no_join.to_jwt())
    assert err.value.status == 403

    wrong_key = api.AccessToken("otherkey", SECRET).with_identity("u")
    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.join(server.url, wrong_key.with_grants(api.VideoGrants(room_join=True, room="a")).to_jwt())
    assert err.value.status == 401
    assert sink.deliveries == [] and control.state(server.url)["rooms"] == []


def test_a_full_room_refuses_the_next_participant(server):
    create(server, "pair", max_participants=2)
    control.join(server.url, join_token("a", "pair"))
    control.join(server.url, join_token("b", "pair"))
    control.join(server.url, join_token("b", "pair"))  # a rejoin replaces, it does not add
    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.join(server.url, join_token("c", "pair"))
    assert err.value.status == 409


def test_egress_and_agents_take_no_place_in_a_full_room(server):
    def token(identity: str, kind: str) -> str:
        grant = api.VideoGrants(room_join=True, room="pair2")
        return api.AccessToken(KEY, SECRET).with_identity(identity).with_kind(kind).with_grants(grant).to_jwt()

    create(server, "pair2", max_participants=2)
    control.join(server.url, token("EG_1", "egress"))
    control.join(server.url, join_token("a", "pair2"))
    control.join(server.url, join_token("b", "pair2"))  # the recorder does not count
    control.join(server.url, token("agent-1", "agent"))  # nor is a dependent participant refused
    with pytest.raises(LiveKitEmulatorRefused):
        control.join(server.url, join_token("c", "pair2"))


def test_a_duplicate_identity_replaces_the_older_session(server, sink):
    first = control.join(server.url, join_token("a", "dup"))
    second = control.join(server.url, join_token("a", "dup"))
    assert sink.names() == ["room_started", "participant_joined", "participant_left", "participant_joined"]
    left = sink.events()[2].participant
    assert left.sid == first["sid"] and left.disconnect_reason == api.DisconnectReason.DUPLICATE_IDENTITY
    assert [p["sid"] for p in control.state(server.url)["rooms"][0]["participants"]] == [second["sid"]]


def _backdated_token(identity: str, room: str, seconds: int) -> str:
    now = int(time.time())
    claims = {"iss": KEY, "sub": identity, "nbf": now - seconds, "exp": now + 3600}
    return jwt.encode({**claims, "video": {"roomJoin": True, "room": room}}, SECRET)


def test_remove_participant_with_revoke_token_ts_blocks_the_old_token_only(server, sink):
    old_token = _backdated_token("guest", "r", seconds=30)
    control.join(server.url, old_token)
    admin = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_admin=True, room="r")).to_jwt()
    revoke_at = int(time.time())
    call(
        server,
        lambda lk: lk.room.remove_participant(
            api.RoomParticipantIdentity(room="r", identity="guest", revoke_token_ts=revoke_at)
        ),
        token=admin,
    )
    control.drain_webhooks(server.url)
    assert sink.names()[-1] == "participant_left"
    assert sink.events()[-1].participant.disconnect_reason == api.DisconnectReason.PARTICIPANT_REMOVED

    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.join(server.url, old_token)
    assert err.value.status == 401
    assert control.join(server.url, join_token("guest", "r"))["identity"] == "guest"
    assert control.state(server.url)["revocations"] == [
        {"room": "r", "identity": "guest", "revokeTokenTs": revoke_at}
    ]


def test_update_participant_changes_permission_and_unpublishes(server, sink):
    control.join(server.url, join_token("p", "r", can_publish=False, can_subscribe=False))
    admin = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_admin=True, room="r")).to_jwt()
    admitted = call(
        server,
        lambda lk: lk.room.update_participant(
            api.UpdateParticipantRequest(
                room="r",
                identity="p",
                metadata='{"admitted":true}',
                attributes={"role": "participant"},
                permission=api.ParticipantPermission(
                    can_publish=True, can_subscribe=True, can_publish_data=True
                ),
            )
        ),
        token=admin,
    )
    assert admitted.permission.can_publish and admitted.attributes["role"] == "participant"
    state = control.state(server.url)["rooms"][0]["participants"][0]
    assert state["permission"]["canPublish"] is True and state["permission"]["canSubscribe"] is True
    assert state["metadata"] == '{"admitted":true}'

    # Once publishing, losing the permission unpublishes the tracks (track_unpublished).
    control.leave(server.url, "r", "p")
    control.join(server.url, join_token("p", "r"), publish=["audio"])
    call(
        server,
        lambda lk: lk.room.update_participant(
            api.UpdateParticipantRequest(room="r", identity="p", permission=api.ParticipantPermission())
        ),
        token=admin,
    )
    control.drain_webhooks(server.url)
    assert sink.names()[-1] == "track_unpublished"
    assert control.state(server.url)["rooms"][0]["participants"][0]["tracks"] == []


def test_mute_published_track_updates_state_without_a_webhook(server, sink):
    joined = control.join(server.url, join_token("p", "r"), publish=["audio"])
    admin = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_admin=True, room="r")).to_jwt()
    track_sid = joined["tracks"][0]["sid"]
    delivered = len(sink.deliveries)
    muted = call(
        server,
        lambda lk: lk.room.mute_published_track(
            api.MuteRoomTrackRequest(room="r", identity="p", track_sid=track_sid, muted=True)
        ),
        token=admin,
    )
    control.drain_webhooks(server.url)
    assert muted.track.muted and len(sink.deliveries) == delivered
    participant = call(
        server,
        lambda lk: lk.room.get_participant(api.RoomParticipantIdentity(room="r", identity="p")),
        token=admin,
    )
    assert participant.tracks[0].muted


def test_leave_and_abort_emit_what_livekit_emits(server, sink):
    control.join(server.url, join_token("a", "r"), publish=["audio"])
    control.join(server.url, join_token("b", "r"))
    control.leave(server.url, "r", "a")
    control.abort(server.url, "r", "b")
    assert sink.names()[-3:] == ["track_unpublished", "participant_left", "participant_connection_aborted"]
    aborted = control.abort(server.url, token=join_token("c", "r"))  # never got in at all
    assert aborted["identity"] == "c"
    assert sink.names()[-1] == "participant_connection_aborted"
    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.leave(server.url, "r", "nobody")
    assert err.value.status == 404


def test_rooms_close_after_departure_and_empty_timeouts(server, sink):
    create(server, "brief", departure_timeout=1)
    create(server, "never-joined", empty_timeout=1)
    control.join(server.url, join_token("a", "brief"))
    control.leave(server.url, "brief", "a")
    assert {r["name"] for r in control.state(server.url)["rooms"]} == {"brief", "never-joined"}
    time.sleep(1.5)
    control.drain_webhooks(server.url)
    finished = [e for e in sink.events() if e.event == "room_finished"]
    assert {e.room.name for e in finished} == {"brief", "never-joined"}
    assert all(e.room_end_reason == api.RoomEndReason.ROOM_END_IDLE_TIMEOUT for e in finished)
    assert control.state(server.url)["rooms"] == []


def test_delete_room_removes_everyone_first(server, sink):
    control.join(server.url, join_token("a", "r"), publish=["video"])
    control.join(server.url, join_token("b", "r"))
    call(server, lambda lk: lk.room.delete_room(api.DeleteRoomRequest(room="r")))
    control.drain_webhooks(server.url)
    assert sink.names()[-4:] == ["track_unpublished", "participant_left", "participant_left", "room_finished"]


def test_advancing_the_clock_moves_what_livekit_reports_not_token_checks(server, sink):
    token = join_token("ada", "clocked")
    joined = control.join(server.url, token)
    control.advance_clock(server.url, 300)
    control.leave(server.url, "clocked", "ada")
    control.advance_clock(server.url, 60)
    again = control.join(server.url, token)  # the token is still valid: nbf/exp use real time
    assert again["joinedAt"] and int(again["joinedAt"]) - int(joined["joinedAt"]) >= 360
    control.drain_webhooks(server.url)
    left = next(e for e in sink.events() if e.event == "participant_left")
    assert left.created_at - int(joined["joinedAt"]) in (300, 301)
    assert left.participant.joined_at == int(joined["joinedAt"])
    with pytest.raises(LiveKitEmulatorRefused) as err:
        control.advance_clock(server.url, -1)
    assert err.value.status == 400


def test_a_frozen_clock_gives_exact_scripted_durations(server, sink):
    token = join_token("bo", "frozen")
    control.advance_clock(server.url, freeze=True)
    joined = control.join(server.url, token)
    time.sleep(1.1)  # real time passes; the frozen clock does not
    control.advance_clock(server.url, 90)
    control.leave(server.url, "frozen", "bo")
    control.drain_webhooks(server.url)
    left = next(e for e in sink.events() if e.event == "participant_left")
    assert left.created_at - int(joined["joinedAt"]) == 90
    before = control.advance_clock(server.url, freeze=False)["now"]
    assert control.advance_clock(server.url)["now"] >= before  # runs on, never back
