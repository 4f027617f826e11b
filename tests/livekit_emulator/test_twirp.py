"""Twirp wire format and authorization, as the real livekit-api client sees them."""

from __future__ import annotations

import pytest
import requests
from livekit import api
from livekit.protocol import room as proto_room

from .support import KEY, SECRET, call


def test_a_call_without_a_token_is_unauthenticated(server):
    response = requests.post(
        f"{server.url}/twirp/livekit.RoomService/ListRooms",
        data=proto_room.ListRoomsRequest().SerializeToString(),
        headers={"Content-Type": "application/protobuf"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_token_signed_with_another_secret_is_unauthenticated(server):
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()), secret="not-the-secret")
    assert (err.value.status, err.value.code) == (401, "unauthenticated")


def test_each_call_needs_its_own_grant(server):
    list_only = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_list=True)).to_jwt()
    call(server, lambda lk: lk.room.list_rooms(api.ListRoomsRequest()), token=list_only)
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.room.create_room(api.CreateRoomRequest(name="r")), token=list_only)
    assert (err.value.status, err.value.code) == (403, "permission_denied")
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.egress.list_egress(api.ListEgressRequest()), token=list_only)
    assert err.value.status == 403
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.sip.list_inbound_trunk(api.ListSIPInboundTrunkRequest()), token=list_only)
    assert err.value.status == 403


def test_room_admin_is_scoped_to_its_room(server):
    call(server, lambda lk: lk.room.create_room(api.CreateRoomRequest(name="mine")))
    other_room_admin = (
        api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_admin=True, room="theirs")).to_jwt()
    )
    with pytest.raises(api.ServerError) as err:
        call(
            server,
            lambda lk: lk.room.list_participants(api.ListParticipantsRequest(room="mine")),
            token=other_room_admin,
        )
    assert err.value.status == 403


def test_sip_call_grant_does_not_administer_trunks(server):
    caller = api.AccessToken(KEY, SECRET).with_sip_grants(api.SIPGrants(call=True)).to_jwt()
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.sip.list_dispatch_rule(api.ListSIPDispatchRuleRequest()), token=caller)
    assert err.value.status == 403


def test_unknown_and_unsupported_methods_say_so(server):
    with pytest.raises(api.ServerError) as err:
        call(server, lambda lk: lk.room.update_subscriptions(api.UpdateSubscriptionsRequest(room="r")))
    assert (err.value.status, err.value.code) == (501, "unimplemented")
    response = requests.post(f"{server.url}/twirp/livekit.RoomService/Nope", data=b"", timeout=5)
    assert (response.status_code, response.json()["code"]) == (404, "bad_route")


def test_json_bodies_are_accepted_and_answered_in_json(server):
    token = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_create=True)).to_jwt()
    response = requests.post(
        f"{server.url}/twirp/livekit.RoomService/CreateRoom",
        json={"name": "json-room", "maxParticipants": 3},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["name"] == "json-room"
    assert response.json()["maxParticipants"] == 3
