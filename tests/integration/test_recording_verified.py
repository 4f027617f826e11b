"""Automatic and compliance recording cannot silently not start (issue 12, item 4), on the local stack
against the emulator, which behaves as LiveKit does: CreateRoom's refused auto egress leaves the room live
and unrecorded, an egress waits in EGRESS_STARTING until a track is published, and one nobody published to
ends EGRESS_ABORTED with no file."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from rooms_local.livekit_emulator import control
from tests import livekit_webhooks as lw


@pytest.fixture
def devserver(stack):
    url = stack.config.livekit_url
    yield url
    control.configure(url, refuse_egress_start=False, fail_egress=False, hold_webhooks=False)
    control.flush_webhooks(url)


def _template(api, **fields) -> str:
    name = f"ens-{uuid.uuid4().hex[:8]}"
    body = {"room_type": "workshop", "max_participants": 10, "max_participants_limit": 20, **fields}
    r = api.admin("PUT", f"/templates/{name}", json=body)
    assert r.status_code == 200, r.text
    return name


def _room(api, ids, template: str) -> dict:
    r = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "template": template, "waiting_room": False,
        "host": {"user_id": ids["host"], "name": "Dr Who"},
        "members": [{"user_id": ids["client"], "role": "participant"},
                    {"user_id": ids["other"], "role": "viewer"}],
    })
    assert r.status_code == 201, r.text
    return r.json()


def _token(api, room: dict, user: str):
    return api.call("POST", f"/rooms/{room['room_id']}/token", as_user=user)


def _recordings(api, room: dict, user: str) -> list[dict]:
    r = api.call("GET", f"/rooms/{room['room_id']}/recordings", as_user=user)
    assert r.status_code == 200, r.text
    return r.json()["recordings"]


def _room_egress(devserver: str, room: dict) -> list[dict]:
    return [e for e in control.state(devserver)["egress"] if e.get("roomName") == room["livekit_room"]]


def _failures(capsys) -> int:
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    values = [m["RecordingFailures"] for m in metrics if "RecordingFailures" in m]
    return sum(sum(v) if isinstance(v, list) else v for v in values)


def _open_with_refused_auto_egress(api, room: dict, user: str, devserver: str):
    """CreateRoom's auto egress is refused: the first token request fails but the LiveKit room is live."""
    control.configure(devserver, refuse_egress_start=True)
    first = _token(api, room, user)
    assert first.status_code == 503, first.text
    assert room["livekit_room"] in {r["name"] for r in control.state(devserver)["rooms"]}
    assert _room_egress(devserver, room) == []
    control.drain_webhooks(devserver)  # its room_started is handled before our CreateRoom has answered


def test_a_compliance_room_whose_auto_egress_failed_is_recorded_from_the_first_publish(api, ids, devserver, drain):
    room = _room(api, ids, _template(api, recording="compliance"))
    _open_with_refused_auto_egress(api, room, ids["host"], devserver)
    control.configure(devserver, refuse_egress_start=False)
    retry = _token(api, room, ids["host"])  # CreateRoom returns the live room unchanged: no egress
    assert retry.status_code == 200, retry.text
    control.join(devserver, retry.json()["token"], publish=["audio"])
    drain()
    (egress,) = _room_egress(devserver, room)
    assert egress["status"] == "EGRESS_ACTIVE"
    (rec,) = _recordings(api, room, ids["host"])
    assert (rec["trigger"], rec["egress_status"], rec["status"]) == ("compliance", "active", "pending")
    assert rec["egress_id"] == egress["egressId"] and rec["started_by"] == "rooms"


def test_room_started_of_the_room_we_created_verifies_its_egress(api, stack, ids, devserver, drain):
    room = _room(api, ids, _template(api, recording="compliance"))
    _open_with_refused_auto_egress(api, room, ids["host"], devserver)
    control.configure(devserver, refuse_egress_start=False)
    assert _token(api, room, ids["host"]).status_code == 200  # our CreateRoom answered: the SID is on record
    assert _room_egress(devserver, room) == []
    (live,) = [r for r in control.state(devserver)["rooms"] if r["name"] == room["livekit_room"]]
    started = lw.event("room_started", room_name=room["livekit_room"])
    started.room.sid = live["sid"]
    assert lw.deliver(stack.config.webhook_url, started).json()["outcome"] == "handled"
    drain()  # the verification is the webhook's follow-up (webhook_worker)
    (egress,) = _room_egress(devserver, room)
    assert egress["status"] == "EGRESS_STARTING"  # started, waiting for the first track
    (rec,) = _recordings(api, room, ids["host"])
    assert (rec["trigger"], rec["status"]) == ("compliance", "pending")


def test_an_egress_that_cannot_start_is_a_recording_failure(api, ids, devserver, capsys, drain):
    room = _room(api, ids, _template(api, recording="automatic"))
    _open_with_refused_auto_egress(api, room, ids["host"], devserver)
    capsys.readouterr()
    retry = _token(api, room, ids["host"])
    assert retry.status_code == 200, retry.text  # not mandatory: the session goes on, and it is reported
    control.join(devserver, retry.json()["token"], publish=["audio"])
    drain()
    assert _room_egress(devserver, room) == []
    recs = _recordings(api, room, ids["host"])
    assert recs and all(r["status"] == "failed" and "refuse_egress_start" in r["error"] for r in recs)
    assert _failures(capsys) >= 1


def test_an_egress_nobody_published_to_ends_empty_not_failed(api, ids, devserver, capsys, drain):
    room = _room(api, ids, _template(api, recording="automatic"))
    token = _token(api, room, ids["host"])
    assert token.status_code == 200, token.text
    control.join(devserver, token.json()["token"])  # connected, publishing nothing
    drain()
    (egress,) = _room_egress(devserver, room)
    assert egress["status"] == "EGRESS_STARTING"  # waiting for a track: running, nothing to restart
    capsys.readouterr()
    assert api.admin("DELETE", f"/rooms/{room['room_id']}").status_code == 200
    drain()
    (egress,) = _room_egress(devserver, room)
    assert egress["status"] == "EGRESS_ABORTED" and not egress.get("fileResults")
    (rec,) = _recordings(api, room, ids["host"])
    assert (rec["egress_status"], rec["status"]) == ("aborted", "empty")
    assert rec["error"].startswith("nothing was published")
    assert _failures(capsys) == 0


def test_a_host_stop_of_an_automatic_recording_is_not_undone_by_the_next_publish(api, ids, devserver, drain):
    room = _room(api, ids, _template(api, recording="automatic"))
    host = _token(api, room, ids["host"]).json()["token"]
    control.join(devserver, host, publish=["audio"])
    drain()
    (rec,) = _recordings(api, room, ids["host"])
    stop = api.call("POST", f"/rooms/{room['room_id']}/recordings/{rec['recording_id']}/stop", as_user=ids["host"])
    assert stop.status_code == 200, stop.text
    client = _token(api, room, ids["client"]).json()["token"]
    control.join(devserver, client, publish=["audio"])
    drain()
    assert [e["status"] for e in _room_egress(devserver, room)] == ["EGRESS_COMPLETE"]


def test_mandatory_recording_must_be_on_compliance_rooms(api):
    r = api.admin("PUT", f"/templates/ens-{uuid.uuid4().hex[:8]}", json={
        "room_type": "workshop", "max_participants": 10, "max_participants_limit": 20, "recording": "automatic",
        "recording_mandatory": True})
    assert r.status_code in (400, 422) and "recording_mandatory" in r.text
    assert _template(api, recording="compliance", recording_mandatory=True)  # accepted where it belongs


def test_a_mandatory_recording_room_admits_no_publisher_while_it_cannot_record(api, ids, devserver, capsys, drain):
    room = _room(api, ids, _template(api, recording="compliance", recording_mandatory=True))
    _open_with_refused_auto_egress(api, room, ids["host"], devserver)
    capsys.readouterr()
    for user in (ids["host"], ids["client"]):
        refused = _token(api, room, user)
        assert refused.status_code == 409 and refused.json()["code"] == "recording_not_active", refused.text
    assert _failures(capsys) >= 2
    viewer = _token(api, room, ids["other"])  # cannot publish: nothing to record from them
    assert viewer.status_code == 200, viewer.text

    control.configure(devserver, refuse_egress_start=False)
    admitted = _token(api, room, ids["client"])  # the verification starts the missing egress
    assert admitted.status_code == 200, admitted.text
    (egress,) = _room_egress(devserver, room)
    assert egress["status"] == "EGRESS_STARTING"  # running, waiting for the first track
    control.join(devserver, admitted.json()["token"], publish=["audio"])
    drain()
    assert [e["status"] for e in _room_egress(devserver, room)] == ["EGRESS_ACTIVE"]
    assert _token(api, room, ids["host"]).status_code == 200


def test_concurrent_verifications_start_one_egress(api, ids, devserver, drain):
    room = _room(api, ids, _template(api, recording="compliance", recording_mandatory=True))
    _open_with_refused_auto_egress(api, room, ids["host"], devserver)
    control.configure(devserver, refuse_egress_start=False)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda user: _token(api, room, user), [ids["host"], ids["client"]] * 2))
    assert any(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code != 200} <= {"recording_not_active", "token_race"}
    drain()
    assert len(_room_egress(devserver, room)) == 1
