"""Host controls, the waiting room, revocation on join and quality samples, against the LiveKit
emulator: every effect is checked in the server's own state."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from rooms_local.livekit_emulator import control


@pytest.fixture
def lk(stack):
    return stack.config.livekit_url


def _live(lk: str, livekit_room: str) -> dict[str, dict]:
    room = next((r for r in control.state(lk)["rooms"] if r["name"] == livekit_room), None)
    return {p["identity"]: p for p in room["participants"]} if room else {}


def _token(api, room_id: str, user: str) -> dict:
    r = api.call("POST", f"/rooms/{room_id}/token", as_user=user)
    assert r.status_code == 200, r.text
    return r.json()


def _workshop(api, ids, *, waiting_room: bool) -> dict:
    r = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "room_type": "workshop", "waiting_room": waiting_room,
        "host": {"user_id": ids["host"]}, "members": [{"user_id": ids["client"]}, {"user_id": ids["other"]}],
    })
    assert r.status_code == 201, r.text
    return r.json()


def test_waiting_room_admission_is_granted_live_and_remembered(api, lk, ids, drain):
    room = _workshop(api, ids, waiting_room=True)
    rid, name = room["room_id"], room["livekit_room"]
    control.join(lk, _token(api, rid, ids["host"])["token"], publish=["audio"])
    waiting = _token(api, rid, ids["client"])
    assert waiting["waiting"] is True
    control.join(lk, waiting["token"], publish=["audio"])  # refused to publish while waiting
    client = _live(lk, name)[ids["client"]]
    assert client["permission"]["canSubscribe"] is False and client["tracks"] == []

    view = api.call("GET", f"/rooms/{rid}/participants", as_user=ids["host"]).json()
    assert view["waiting"] == [ids["client"]]
    by_id = {p["identity"]: p for p in view["participants"]}
    assert by_id[ids["host"]]["role"] == "host" and by_id[ids["host"]]["tracks"][0]["source"] == "microphone"
    assert by_id[ids["client"]]["attendance"]["segments"][0]["left_at"] is None

    r = api.call("POST", f"/rooms/{rid}/participants/{ids['client']}/admit", as_user=ids["host"])
    assert r.status_code == 200 and r.json()["connected"] is True, r.text
    permission = _live(lk, name)[ids["client"]]["permission"]
    assert (permission["canPublish"], permission["canSubscribe"], permission["canPublishData"]) == (True, True, True)

    # a reconnect with the waiting-room token it still holds does not wait again
    control.leave(lk, name, ids["client"])
    control.join(lk, waiting["token"])
    drain()  # re-admitted by the join webhook's follow-up
    assert _live(lk, name)[ids["client"]]["permission"]["canSubscribe"] is True
    assert _token(api, rid, ids["client"])["waiting"] is False  # and neither does a new token

    # admitting someone who is not connected is remembered too; a non-member is 404
    r = api.call("POST", f"/rooms/{rid}/participants/{ids['other']}/admit", as_user=ids["host"])
    assert r.status_code == 200 and r.json()["connected"] is False
    assert _token(api, rid, ids["other"])["waiting"] is False
    r = api.call("POST", f"/rooms/{rid}/participants/nobody/admit", as_user=ids["host"])
    assert r.status_code == 404 and r.json()["code"] == "member_not_found"
    attendance = api.call("GET", f"/rooms/{rid}/attendance", as_user=ids["host"]).json()
    client = next(p for p in attendance["participants"] if p["identity"] == ids["client"])
    assert client["reconnects"] == 1 and client["segments"][0]["left_reason"] == "client_initiated"


def test_host_mutes_and_removes_and_the_dev_server_obeys(api, lk, ids):
    room = _workshop(api, ids, waiting_room=False)
    rid, name = room["room_id"], room["livekit_room"]
    control.join(lk, _token(api, rid, ids["host"])["token"])
    client_token = _token(api, rid, ids["client"])["token"]
    control.join(lk, client_token, publish=["audio", "video"])

    r = api.call("POST", f"/rooms/{rid}/participants/{ids['client']}/mute", as_user=ids["host"],
                 json={"track": "audio"})
    assert r.status_code == 200 and r.json()["action"] == "mute", r.text
    tracks = {t["source"]: t for t in _live(lk, name)[ids["client"]]["tracks"]}
    assert tracks["MICROPHONE"]["muted"] is True and tracks["CAMERA"]["muted"] is False
    r = api.call("POST", f"/rooms/{rid}/participants/{ids['client']}/mute", as_user=ids["host"],
                 json={"track": "video"})
    assert r.status_code == 200 and r.json()["tracks"] == [tracks["CAMERA"]["sid"]]
    assert all(t["muted"] for t in _live(lk, name)[ids["client"]]["tracks"])

    for body, field in (({"track": "speakers"}, "track"), ({}, "track"), (None, "body")):
        r = api.call("POST", f"/rooms/{rid}/participants/{ids['client']}/mute", as_user=ids["host"], json=body)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    r = api.call("POST", f"/rooms/{rid}/participants/{ids['host']}/mute", as_user=ids["host"], json={"track": "audio"})
    assert r.status_code == 404 and r.json()["code"] == "track_not_published"
    r = api.call("POST", f"/rooms/{rid}/participants/{ids['other']}/mute", as_user=ids["host"], json={"track": "audio"})
    assert r.status_code == 404 and r.json()["code"] == "participant_not_connected"

    r = api.call("DELETE", f"/rooms/{rid}/participants/{ids['client']}", as_user=ids["host"])
    assert r.status_code == 200 and r.json()["action"] == "remove", r.text
    assert ids["client"] not in _live(lk, name)
    assert any(v["identity"] == ids["client"] for v in control.state(lk)["revocations"])
    with pytest.raises(control.LiveKitEmulatorRefused) as err:  # the old token cannot come back
        control.join(lk, client_token)
    assert err.value.status == 401
    r = api.call("DELETE", f"/rooms/{rid}/participants/{ids['client']}", as_user=ids["host"])
    assert r.status_code == 404
    r = api.call("DELETE", f"/rooms/{rid}/participants/{ids['host']}", as_user=ids["host"])
    assert r.status_code == 422 and r.json()["code"] == "cannot_remove_self"
    control.drain_webhooks(lk)  # RemoveParticipant answers at once; its participant_left follows
    attendance = api.call("GET", f"/rooms/{rid}/attendance", as_user=ids["host"]).json()
    client = next(p for p in attendance["participants"] if p["identity"] == ids["client"])
    assert client["segments"][0]["left_reason"] == "participant_removed"
    assert client["published"] == ["camera", "microphone"]
    time.sleep(1.1)  # tokens minted up to the second of the removal are revoked with it
    control.join(lk, _token(api, rid, ids["client"])["token"])  # still a member: a new token works
    assert ids["client"] in _live(lk, name)


def test_only_the_host_runs_the_session(api, ids, booking_room):
    rid = booking_room["room_id"]
    routes = [("GET", f"/rooms/{rid}/participants", None), ("GET", f"/rooms/{rid}/attendance", None),
              ("POST", f"/rooms/{rid}/participants/{ids['host']}/admit", None),
              ("POST", f"/rooms/{rid}/participants/{ids['host']}/mute", {"track": "audio"}),
              ("DELETE", f"/rooms/{rid}/participants/{ids['host']}", None)]
    for method, path, body in routes:
        for user in (ids["client"], ids["other"]):
            r = api.call(method, path, as_user=user, json=body)
            assert r.status_code == 403, (method, path, user, r.text)
        assert api.call(method, path, json=body).status_code == 401
    assert api.admin("GET", f"/rooms/{rid}/participants").status_code == 403  # host controls are the host's
    assert api.admin("GET", f"/rooms/{rid}/attendance").status_code == 200  # billing reads attendance
    assert api.call("GET", "/rooms/00000000-0000-0000-0000-000000000000/attendance",
                    as_user=ids["host"]).status_code == 404


def test_a_revoked_member_who_joins_is_removed_at_once(api, lk, ids, booking_room, drain):
    rid, name = booking_room["room_id"], booking_room["livekit_room"]
    token = _token(api, rid, ids["client"])["token"]
    assert api.admin("DELETE", f"/rooms/{rid}/members/{ids['client']}").status_code == 200
    control.join(lk, token)  # LiveKit still accepts the token: it was not connected when revoked
    drain()
    assert ids["client"] not in _live(lk, name)  # our participant_joined handler removed it
    assert any(v["identity"] == ids["client"] for v in control.state(lk)["revocations"])
    with pytest.raises(control.LiveKitEmulatorRefused):
        control.join(lk, token)
    attendance = api.admin("GET", f"/rooms/{rid}/attendance").json()
    (entry,) = attendance["participants"]
    assert entry["identity"] == ids["client"] and entry["segments"][0]["left_reason"] == "participant_removed"


def test_a_superseded_token_is_removed_and_the_live_one_stays(api, lk, ids, booking_room, drain):
    rid, name = booking_room["room_id"], booking_room["livekit_room"]
    old = _token(api, rid, ids["client"])["token"]
    new = _token(api, rid, ids["client"])["token"]
    control.advance_clock(lk, 5)  # the old token is used after the new one was issued
    control.join(lk, old)
    drain()  # removed by the join webhook's follow-up
    assert ids["client"] not in _live(lk, name)
    control.join(lk, new)
    assert ids["client"] in _live(lk, name)
    control.join(lk, _token(api, rid, ids["host"])["token"])
    assert set(_live(lk, name)) == {ids["client"], ids["host"]}


def test_quality_samples_are_summarized_on_attendance(api, lk, ids, booking_room):
    rid = booking_room["room_id"]
    control.join(lk, _token(api, rid, ids["client"])["token"])
    for sample in ({"packet_loss_pct": 1.0, "jitter_ms": 10, "rtt_ms": 80},
                   {"packet_loss_pct": 3.0, "jitter_ms": 30, "rtt_ms": 120},
                   {"rtt_ms": 100, "measured_at": datetime.now(UTC).isoformat()}):
        r = api.call("POST", f"/rooms/{rid}/quality", as_user=ids["client"], json=sample)
        assert r.status_code == 201, r.text
    for bad, field in (({}, "body"), ({"rtt_ms": -1}, "rtt_ms"), ({"rtt_ms": 1, "mos": 4}, "mos"),
                       ({"rtt_ms": 1, "measured_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
                        "measured_at")):
        r = api.call("POST", f"/rooms/{rid}/quality", as_user=ids["client"], json=bad)
        assert r.status_code == 422 and r.json()["field"] == field, (bad, r.text)
    assert api.call("POST", f"/rooms/{rid}/quality", as_user=ids["other"], json={"rtt_ms": 1}).status_code == 403
    entry = next(p for p in api.call("GET", f"/rooms/{rid}/attendance", as_user=ids["host"]).json()["participants"]
                 if p["identity"] == ids["client"])
    quality = entry["quality"]
    assert quality["samples"] == 3
    assert quality["rtt_ms"] == {"min": 80.0, "avg": 100.0, "max": 120.0}
    assert quality["packet_loss_pct"] == {"min": 1.0, "avg": 2.0, "max": 3.0}
    assert quality["jitter_ms"] == {"min": 10.0, "avg": 20.0, "max": 30.0}


def test_remote_unmute_is_a_clear_409_and_asking_to_unmute_sends_a_data_message(api, lk, ids):
    """A default LiveKit server refuses remote unmute (failed_precondition): 409 remote_unmute_disabled,
    never a 500; asking the participant to unmute is a data message to them alone."""
    room = _workshop(api, ids, waiting_room=False)
    rid, name = room["room_id"], room["livekit_room"]
    control.join(lk, _token(api, rid, ids["host"])["token"])
    control.join(lk, _token(api, rid, ids["client"])["token"], publish=["audio"])
    path = f"/rooms/{rid}/participants/{ids['client']}"
    assert api.call("POST", f"{path}/mute", as_user=ids["host"], json={"track": "audio"}).status_code == 200
    r = api.call("POST", f"{path}/mute", as_user=ids["host"], json={"track": "audio", "muted": False})
    assert r.status_code == 409 and r.json()["code"] == "remote_unmute_disabled", r.text
    assert "enable_remote_unmute" in r.json()["message"] and "ask-unmute" in r.json()["message"]

    r = api.call("POST", f"{path}/ask-unmute", as_user=ids["host"], json={"track": "audio"})
    assert r.status_code == 200 and r.json()["action"] == "ask_unmute", r.text
    (sent,) = [d for d in control.state(lk)["sent_data"] if d["room"] == name]
    assert sent["destination_identities"] == [ids["client"]] and sent["topic"] == "rooms.host_request"
    assert sent["reliable"] and json.loads(sent["data"]) | {"at": None} == {
        "type": "ask_unmute", "track": "audio", "from": ids["host"], "at": None}
    r = api.call("POST", f"{path}/ask-unmute", as_user=ids["client"], json={"track": "audio"})
    assert r.status_code == 403
    r = api.call("POST", f"{path}/ask-unmute", as_user=ids["host"], json={"track": "video"})
    assert r.status_code == 404 and r.json()["code"] == "track_not_published"

    control.configure(lk, enable_remote_unmute=True)  # a server configured for it
    try:
        r = api.call("POST", f"{path}/mute", as_user=ids["host"], json={"track": "audio", "muted": False})
        assert r.status_code == 200 and r.json()["action"] == "unmute", r.text
        assert not any(t["muted"] for t in _live(lk, name)[ids["client"]]["tracks"])
    finally:
        control.configure(lk, enable_remote_unmute=False)
