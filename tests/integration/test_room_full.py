"""A full room answers the join-token request with 409 room_full (LiveKit's own refusal reaches the
browser as an unreadable websocket error), over HTTP on the local stack with the LiveKit emulator,
which enforces max participants as livekit-server does. The connected members asking again are never
refused (their rejoin replaces their connection), and a hint that drifted refuses nobody."""

from __future__ import annotations

from rooms_local.livekit_emulator import control


def _token(api, room_id: str, user: str):
    return api.call("POST", f"/rooms/{room_id}/token", as_user=user)


def _hint(room_id: str) -> int | None:
    from rooms import store

    room = store.get_room(room_id, consistent=True)
    return None if room.connected_hint is None else int(room.connected_hint)


def test_a_full_room_answers_room_full_and_lets_its_own_people_back(api, stack, ids, booking_room, drain):
    lk, rid, name = stack.config.livekit_url, booking_room["room_id"], booking_room["livekit_room"]
    assert booking_room["max_participants"] == 2
    granted = api.admin("PUT", f"/rooms/{rid}/members/{ids['other']}", json={"role": "participant"})
    assert granted.status_code in (200, 201), granted.text
    host, client = _token(api, rid, ids["host"]), _token(api, rid, ids["client"])
    assert host.status_code == client.status_code == 200
    control.join(lk, host.json()["token"])
    control.join(lk, client.json()["token"])
    drain()
    assert _hint(rid) == 2  # kept by the participant_joined transactions

    refused = _token(api, rid, ids["other"])
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["code"] == "room_full" and body["max_participants"] == 2, body
    assert "full" in body["message"]

    # the connected client and host asking again (a reload) get a token, and the rejoin works
    again = _token(api, rid, ids["client"])
    assert again.status_code == 200, again.text
    assert _token(api, rid, ids["host"]).status_code == 200
    control.join(lk, again.json()["token"])  # replaces the client's connection
    drain()
    assert _hint(rid) == 2  # the old connection's leave and the new one's join

    control.leave(lk, name, ids["client"])
    drain()
    assert _hint(rid) == 1
    third = _token(api, rid, ids["other"])
    assert third.status_code == 200, third.text
    control.join(lk, third.json()["token"])  # and LiveKit lets them in
    drain()
    assert _hint(rid) == 2


def test_a_drifted_hint_refuses_nobody(api, stack, ids, booking_room, drain):
    from rooms.store import attendance as attendance_store

    lk, rid = stack.config.livekit_url, booking_room["room_id"]
    host = _token(api, rid, ids["host"])
    control.join(lk, host.json()["token"])
    drain()
    seen = _hint(rid)
    assert seen == 1
    # a lost participant_left (LiveKit drops webhooks queued behind a slow answer): the hint says full
    assert attendance_store.correct_connected_hint(rid, 2, seen=seen)
    client = _token(api, rid, ids["client"])
    assert client.status_code == 200, client.text  # LiveKit was asked: one person connected
    control.join(lk, client.json()["token"])
    drain()
    assert _hint(rid) == 3  # the drift stays until a reconcile (next test)


def test_the_reconcile_makes_a_drifted_hint_livekit_count_again(api, stack, ids, booking_room, drain):
    from datetime import UTC, datetime

    from rooms import store
    from rooms.attendance.reconcile import reconcile_attendance
    from rooms.store import attendance as attendance_store

    lk, rid = stack.config.livekit_url, booking_room["room_id"]
    control.join(lk, _token(api, rid, ids["host"]).json()["token"])
    drain()
    assert attendance_store.correct_connected_hint(rid, 7, seen=_hint(rid))  # lost leaves
    reconcile_attendance(store.get_room(rid, consistent=True), now=datetime.now(UTC))
    assert _hint(rid) == 1  # the sweeper's check of an open room, or the room's end, corrects it
    # a join or a leave applied since the reconcile read the room wins over its correction
    assert attendance_store.correct_connected_hint(rid, 5, seen=0) is False and _hint(rid) == 1


def test_a_finished_livekit_room_leaves_nobody_counted(api, stack, ids, drain):
    from datetime import UTC, datetime, timedelta

    from rooms.livekit_gateway import room_service
    from rooms.store import attendance as attendance_store

    lk = stack.config.livekit_url
    start = datetime.now(UTC) - timedelta(minutes=5)
    room = api.admin("POST", "/rooms", json={
        "booking_id": ids["booking"], "service_type": "therapy", "host": {"user_id": ids["host"]},
        "members": [{"user_id": ids["client"]}], "scheduled_start": start.isoformat(),
        "scheduled_end": (start + timedelta(hours=8)).isoformat(),
    }).json()
    rid, name = room["room_id"], room["livekit_room"]
    control.join(lk, _token(api, rid, ids["host"]).json()["token"])
    drain()
    assert attendance_store.correct_connected_hint(rid, 4, seen=_hint(rid))  # leaves that will be lost
    room_service.delete_room(name)  # LiveKit's departure timeout, long before the scheduled end
    drain()
    assert _hint(rid) == 0  # room_finished: the LiveKit room is gone, and with it everyone
    assert _token(api, rid, ids["client"]).status_code == 200  # the next token opens it again
