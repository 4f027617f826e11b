"""Join tokens end to end: grants checked with LiveKit's TokenVerifier, the LiveKit room created just
in time, and simulated clients joining the LiveKit emulator."""

from __future__ import annotations

import asyncio
import contextlib

import jwt
import pytest
from livekit import api as lk

from rooms_local.livekit_emulator import control


def _verify(stack, token: str):
    return lk.TokenVerifier(stack.config.livekit_api_key, stack.config.livekit_api_secret).verify(token)


def _livekit_rooms(stack, name: str):
    async def main():
        client = lk.LiveKitAPI(stack.config.livekit_url, stack.config.livekit_api_key,
                               stack.config.livekit_api_secret)
        try:
            return (await client.room.list_rooms(lk.ListRoomsRequest(names=[name]))).rooms
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_livekit_room_created_at_first_token_request_not_at_booking(api, stack, ids, booking_room):
    name = booking_room["livekit_room"]
    assert _livekit_rooms(stack, name) == []
    r = api.call("POST", f"/bookings/{ids['booking']}/room/token", as_user=ids["client"])
    assert r.status_code == 200, r.text
    rooms = _livekit_rooms(stack, name)
    assert [room.name for room in rooms] == [name]
    assert rooms[0].max_participants == 2 and rooms[0].empty_timeout == 600
    view = api.call("GET", f"/rooms/{booking_room['room_id']}", as_user=ids["client"]).json()
    assert view["status"] == "open" and view["opened_at"]


def test_token_response_and_grants_per_role(api, stack, ids, booking_room):
    room_id = booking_room["room_id"]
    host = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["host"]).json()
    client = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["client"]).json()
    assert set(host) >= {"token", "server_url", "identity", "role", "expires_at", "waiting"}
    assert host["server_url"] == stack.config.livekit_url.replace("http://", "ws://")
    assert (host["role"], host["identity"], host["waiting"]) == ("host", ids["host"], False)
    assert (client["role"], client["identity"]) == ("participant", ids["client"])

    h = _verify(stack, host["token"])
    assert h.identity == ids["host"] and h.name == "Dr Who"
    assert h.video.room == booking_room["livekit_room"]
    assert (h.video.room_join, h.video.can_publish, h.video.can_subscribe, h.video.can_publish_data) == (
        True, True, True, True)
    assert not h.video.room_admin and not h.video.room_record  # host powers go through our API
    raw = jwt.decode(host["token"], options={"verify_signature": False})
    assert raw["exp"] - raw["nbf"] == 600  # short-lived: self-hosted LiveKit ignores revoke_token_ts
    c = _verify(stack, client["token"])
    assert (c.video.room_join, c.video.can_publish, c.video.can_subscribe, c.video.can_publish_data) == (
        True, True, True, True)
    assert not c.video.room_admin and not c.video.room_record
    assert f'"booking_id":"{ids["booking"]}"' in c.metadata


def test_viewer_and_waiting_room_grants(api, stack, ids):
    room = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "room_type": "workshop", "waiting_room": True,
        "host": {"user_id": ids["host"]},
        "members": [{"user_id": ids["client"]}, {"user_id": ids["other"], "role": "viewer"}],
    }).json()
    waiting = api.call("POST", f"/sessions/{ids['session']}/room/token", as_user=ids["client"]).json()
    assert waiting["waiting"] is True
    w = _verify(stack, waiting["token"]).video
    assert (w.room_join, w.can_publish, w.can_subscribe) == (True, False, False)
    host = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["host"]).json()
    assert host["waiting"] is False
    viewer = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["other"]).json()
    v = _verify(stack, viewer["token"]).video
    assert viewer["role"] == "viewer" and viewer["waiting"] is True
    assert (v.can_publish, v.can_publish_data) == (False, False)


def test_who_may_get_a_token(api, ids, booking_room):
    room_id = booking_room["room_id"]
    r = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["other"])
    assert r.status_code == 403 and r.json()["code"] == "not_a_member"
    r = api.call("POST", "/rooms/00000000-0000-0000-0000-000000000000/token", as_user=ids["host"])
    assert r.status_code == 404
    assert api.call("POST", f"/rooms/{room_id}/token").status_code == 401
    r = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["client"], json={"name": 5})
    assert r.status_code == 422 and r.json()["field"] == "name"


def test_new_token_supersedes_the_old_one(api, ids, booking_room):
    from rooms import store

    room_id = booking_room["room_id"]
    first = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["client"]).json()
    second = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["client"]).json()
    assert first["token"] != second["token"]
    _, member = store.get_room_and_member(room_id, ids["client"])
    records = {r.jti: r for r in store.JoinTokenRecord.query(
        f"ROOM#{room_id}", store.JoinTokenRecord.sk.startswith(f"TOKEN#{ids['client']}#"))}
    assert len(records) == 2
    live = records[member.token_jti]
    assert live.superseded_at is None and live.role == "participant"
    (old,) = [r for r in records.values() if r.jti != member.token_jti]
    assert old.superseded_by == member.token_jti


def test_simulated_join_with_the_token_and_tampered_token_refused(api, stack, ids, booking_room):
    token = api.call("POST", f"/rooms/{booking_room['room_id']}/token", as_user=ids["client"]).json()["token"]
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(control.LiveKitEmulatorRefused) as err:
        control.join(stack.config.livekit_url, tampered)
    assert err.value.status == 401
    joined = control.join(stack.config.livekit_url, token)
    assert joined["identity"] == ids["client"]
    state = control.state(stack.config.livekit_url)
    room = next(r for r in state["rooms"] if r["name"] == booking_room["livekit_room"])
    assert ids["client"] in {p["identity"] for p in room["participants"]}


def test_revoked_member_is_removed_and_cannot_rejoin_with_old_token(api, stack, ids, booking_room):
    room_id = booking_room["room_id"]
    token = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["client"]).json()["token"]
    control.join(stack.config.livekit_url, token)
    assert api.admin("DELETE", f"/rooms/{room_id}/members/{ids['client']}").status_code == 200
    state = control.state(stack.config.livekit_url)
    room = next(r for r in state["rooms"] if r["name"] == booking_room["livekit_room"])
    assert ids["client"] not in {p["identity"] for p in room["participants"]}
    with pytest.raises(control.LiveKitEmulatorRefused):
        control.join(stack.config.livekit_url, token)


def test_ending_a_room_deletes_the_livekit_room(api, stack, ids, booking_room):
    api.call("POST", f"/rooms/{booking_room['room_id']}/token", as_user=ids["host"])
    assert _livekit_rooms(stack, booking_room["livekit_room"])
    assert api.admin("DELETE", f"/rooms/{booking_room['room_id']}").status_code == 200
    assert _livekit_rooms(stack, booking_room["livekit_room"]) == []


def test_a_third_person_cannot_join_a_two_person_room(api, stack, ids, booking_room):
    room_id = booking_room["room_id"]
    api.admin("PUT", f"/rooms/{room_id}/members/{ids['other']}", json={"role": "participant"})
    tokens = [api.call("POST", f"/rooms/{room_id}/token", as_user=u).json()["token"]
              for u in (ids["host"], ids["client"], ids["other"])]
    control.join(stack.config.livekit_url, tokens[0])
    control.join(stack.config.livekit_url, tokens[1])
    with pytest.raises(control.LiveKitEmulatorRefused) as err:
        control.join(stack.config.livekit_url, tokens[2])
    assert err.value.status == 409


def test_an_old_token_cannot_bring_an_ended_room_back(api, stack, ids, booking_room):
    token = api.call("POST", f"/rooms/{booking_room['room_id']}/token", as_user=ids["host"]).json()["token"]
    assert api.admin("DELETE", f"/rooms/{booking_room['room_id']}").status_code == 200
    assert _livekit_rooms(stack, booking_room["livekit_room"]) == []
    # LiveKit auto-creates the room for a join with a still-valid token; our room_started deletes it again
    with contextlib.suppress(control.LiveKitEmulatorRefused):  # removed while joining: equally fine
        control.join(stack.config.livekit_url, token)
    control.drain_webhooks(stack.config.livekit_url)
    stack.webhook_work.drain()  # room_started's follow-up deletes it
    assert _livekit_rooms(stack, booking_room["livekit_room"]) == []
    assert api.admin("GET", f"/rooms/{booking_room['room_id']}").json()["status"] == "ended"


def test_twenty_concurrent_token_requests_of_one_member_all_get_a_token(api, ids, booking_room):
    """The same member asking 20 times at once (tabs, client retries): each request races the others on
    the member's one live token; the race is retried inside (consistent re-read, jittered backoff), so
    every caller gets a token and exactly one of them is the live one."""
    from concurrent.futures import ThreadPoolExecutor

    from rooms import store

    room_id = booking_room["room_id"]
    path = f"/rooms/{room_id}/token"
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: api.call("POST", path, as_user=ids["client"]), range(20)))
    assert [r.status_code for r in answers] == [200] * 20, [r.text for r in answers if r.status_code != 200]
    jtis = {jwt.decode(r.json()["token"], options={"verify_signature": False})["jti"] for r in answers}
    assert len(jtis) == 20  # twenty tokens issued, each its own
    member = store.get_member(room_id, ids["client"])
    assert member.token_jti in jtis  # the last one written is the live one; the others superseded
