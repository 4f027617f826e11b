"""End to end through the local stack: create a room, get tokens, simulated LiveKit clients join and
leave on the emulator (which posts the signed webhooks), and attendance over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rooms_local.livekit_emulator import control
from tests import livekit_webhooks as lw
from tests.attendance_support import iso


def _token(api, room_id: str, user: str) -> str:
    r = api.call("POST", f"/rooms/{room_id}/token", as_user=user)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _live(lk: str, livekit_room: str) -> dict | None:
    return next((r for r in control.state(lk)["rooms"] if r["name"] == livekit_room), None)


def test_attendance_over_http_matches_the_scripted_session(api, stack, ids, booking_room):
    lk = stack.config.livekit_url
    rid, name = booking_room["room_id"], booking_room["livekit_room"]
    host_token, client_token = _token(api, rid, ids["host"]), _token(api, rid, ids["client"])
    control.advance_clock(lk, freeze=True)  # LiveKit's timestamps advance only as the script says
    try:
        t0 = int(control.join(lk, host_token, publish=["audio", "video"])["joinedAt"])
        control.advance_clock(lk, 5)
        control.join(lk, client_token, publish=["audio"])
        control.advance_clock(lk, 600)
        control.leave(lk, name, ids["client"])  # the client's connection drops ...
        control.advance_clock(lk, 30)
        control.join(lk, client_token, publish=["audio", "video"])  # ... and comes back 30 s later
        control.advance_clock(lk, 1170)
        control.leave(lk, name, ids["client"])
        control.advance_clock(lk, 5)
        control.leave(lk, name, ids["host"])
    finally:
        control.advance_clock(lk, freeze=False)

    r = api.call("GET", f"/rooms/{rid}/attendance", as_user=ids["host"])
    assert r.status_code == 200, r.text
    view = r.json()
    by_id = {p["identity"]: p for p in view["participants"]}
    client, host = by_id[ids["client"]], by_id[ids["host"]]
    assert [(s["joined_at"], s["left_at"]) for s in client["segments"]] == [
        (iso(t0 + 5), iso(t0 + 605)), (iso(t0 + 635), iso(t0 + 1805))]
    assert (client["total_seconds"], client["reconnects"], client["via"], client["role"]) == (
        1770, 1, "video", "participant")
    assert (client["first_joined_at"], client["last_left_at"]) == (iso(t0 + 5), iso(t0 + 1805))
    assert client["published"] == ["camera", "microphone"]
    assert (host["total_seconds"], host["reconnects"], host["role"]) == (1810, 0, "host")
    assert (view["participant_count"], view["peak_concurrent"], view["duration_seconds"]) == (2, 2, 1810)
    assert view["started_at"] == iso(t0) and view["last_left_at"] == iso(t0 + 1810)
    assert api.call("GET", f"/rooms/{rid}", as_user=ids["host"]).json()["status"] == "active"


def test_room_finished_before_the_scheduled_end_keeps_the_room_joinable(api, stack, ids):
    from rooms import store
    from rooms.livekit_gateway import room_service

    lk = stack.config.livekit_url
    start = datetime.now(UTC) - timedelta(minutes=5)
    room = api.admin("POST", "/rooms", json={
        "booking_id": ids["booking"], "service_type": "therapy", "host": {"user_id": ids["host"]},
        "members": [{"user_id": ids["client"]}], "scheduled_start": start.isoformat(),
        "scheduled_end": (start + timedelta(hours=8)).isoformat(),
    }).json()
    rid, name = room["room_id"], room["livekit_room"]
    control.join(lk, _token(api, rid, ids["host"]))
    old_sid = _live(lk, name)["sid"]
    # everyone dropped and LiveKit closed the room (its departure timeout), long before the scheduled end
    room_service.delete_room(name)
    control.drain_webhooks(lk)
    assert api.call("GET", f"/rooms/{rid}", as_user=ids["host"]).json()["status"] == "open"
    assert store.get_room(rid, consistent=True).livekit_created_at is None
    entry = api.admin("GET", f"/rooms/{rid}/attendance").json()["participants"][0]
    assert entry["segments"][0]["left_at"] is not None and not entry["connected"]

    control.join(lk, _token(api, rid, ids["client"]))  # the next token creates the LiveKit room again
    assert _live(lk, name)["sid"] != old_sid
    assert api.call("GET", f"/rooms/{rid}", as_user=ids["host"]).json()["status"] == "active"
    # a late room_finished of the old LiveKit room changes nothing for the new one
    late = lw.event("room_finished", room_name=name, created_at=int(datetime.now(UTC).timestamp()))
    late.room.sid = old_sid
    assert lw.deliver(stack.config.webhook_url, late).json()["outcome"] == "handled"
    view = api.admin("GET", f"/rooms/{rid}/attendance").json()
    assert api.admin("GET", f"/rooms/{rid}").json()["status"] == "active"
    assert next(p for p in view["participants"] if p["identity"] == ids["client"])["connected"] is True


def test_ending_a_room_closes_attendance_even_when_the_leaves_are_lost(api, stack, ids, booking_room):
    lk = stack.config.livekit_url
    rid = booking_room["room_id"]
    control.join(lk, _token(api, rid, ids["host"]))
    control.join(lk, _token(api, rid, ids["client"]))
    control.configure(lk, hold_webhooks=True)  # LiveKit's participant_left / room_finished do not arrive
    try:
        assert api.admin("DELETE", f"/rooms/{rid}").status_code == 200
        view = api.admin("GET", f"/rooms/{rid}/attendance").json()
        assert view["status"] == "ended" and view["participant_count"] == 2
        segments = [s for p in view["participants"] for s in p["segments"]]
        assert len(segments) == 2 and all(s["left_at"] and s["left_reason"] == "room_ended" for s in segments)
        assert api.admin("GET", f"/rooms/{rid}").json()["participant_count"] == 2
    finally:
        control.configure(lk, hold_webhooks=False)
        control.flush_webhooks(lk)
    # the late leaves, when they come, give their exact reason and time
    view = api.admin("GET", f"/rooms/{rid}/attendance").json()
    assert {s["left_reason"] for p in view["participants"] for s in p["segments"]} == {"room_deleted"}
