"""Rooms over HTTP against the local stack: create/lookup, members, templates, ending, errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest


def test_create_twice_gives_the_same_room(api, ids):
    body = {"booking_id": ids["booking"], "service_type": "therapy", "host": {"user_id": ids["host"]}}
    first = api.admin("POST", "/rooms", json=body)
    second = api.admin("POST", "/rooms", json={**body, "title": "ignored on the second call"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["room_id"] == second.json()["room_id"]
    assert second.json()["title"] is None


def test_concurrent_creates_give_one_room(api, ids):
    body = {"service_session_id": ids["session"], "service_type": "yoga_class", "host": {"user_id": ids["host"]}}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: api.admin("POST", "/rooms", json=body), range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201]
    assert len({r.json()["room_id"] for r in responses}) == 1


def test_room_view_carries_the_wire_contract(api, ids, booking_room):
    room = booking_room
    assert room["room_type"] == "individual" and room["template"] == "individual"
    assert room["status"] == "scheduled" and room["max_participants"] == 2 and room["recording"] == "none"
    assert room["booking_id"] == ids["booking"] and room["service_session_id"] is None
    assert room["livekit_room"] and room["created_at"].endswith("Z")
    assert room["urls"] == {"room": f"/room/{room['room_id']}/", "booking": f"/room/booking/{ids['booking']}/",
                            "session": None}


def test_session_room_with_schedule_and_lookups(api, ids):
    r = api.admin("POST", "/rooms", json={
        "service_session_id": ids["session"], "service_type": "webinar", "title": "Launch",
        "scheduled_start": "2030-01-01T10:00:00+01:00", "scheduled_end": "2030-01-01T11:00:00Z",
        "host": {"user_id": ids["host"]}, "members": [{"user_id": ids["client"]}],
    })
    assert r.status_code == 201, r.text
    room = r.json()
    assert room["scheduled_start"] == "2030-01-01T09:00:00Z" and room["room_type"] == "broadcast"
    assert room["max_participants"] == 500 and room["recording"] == "automatic"
    by_session = api.call("GET", f"/sessions/{ids['session']}/room", as_user=ids["client"])
    by_id = api.call("GET", f"/rooms/{room['room_id']}", as_user=ids["host"])
    assert by_session.status_code == by_id.status_code == 200
    assert by_session.json()["room_id"] == by_id.json()["room_id"] == room["room_id"]
    # attendees of a webinar default to viewers
    token = api.call("POST", f"/rooms/{room['room_id']}/token", as_user=ids["client"])
    assert token.json()["role"] == "viewer"


def test_booking_lookup_for_members_only(api, ids, booking_room):
    assert api.call("GET", f"/bookings/{ids['booking']}/room", as_user=ids["client"]).status_code == 200
    assert api.call("GET", f"/bookings/{ids['booking']}/room", admin=True, as_user="backend").status_code == 200
    r = api.call("GET", f"/bookings/{ids['booking']}/room", as_user=ids["other"])
    assert r.status_code == 403 and r.json()["code"] == "not_a_member"
    r = api.call("GET", "/bookings/never-booked/room", as_user=ids["client"])
    assert r.status_code == 404 and r.json()["code"] == "room_not_found"


@pytest.mark.parametrize("body, status, field", [
    ({}, 422, "body"),
    ({"booking_id": "b", "service_session_id": "s"}, 422, "body"),
    ({"booking_id": "b-x", "max_participants": "many"}, 422, "max_participants"),
    ({"booking_id": "b-x", "recording": "sometimes"}, 422, "recording"),
    ({"booking_id": "b-x", "unknown_field": True}, 422, "unknown_field"),
    ({"booking_id": "b-x", "host": {"name": "no id"}}, 422, "host.user_id"),
    ({"booking_id": "b-x", "members": [{"user_id": "u", "role": "owner"}]}, 422, "members.0.role"),
    ({"booking_id": "b-y", "service_type": "therapy", "max_participants": 5}, 422, "max_participants"),
    ({"booking_id": "b-y", "template": "no-such-template"}, 422, "template"),
    ({"booking_id": "b-y", "room_type": "workshop", "members": [{"user_id": "a"}, {"user_id": "a"}]}, 422,
     "members"),
])
def test_bad_create_requests_get_422_naming_the_field(api, body, status, field):
    r = api.admin("POST", "/rooms", json={"host": {"user_id": "h"}, **body})
    assert r.status_code == status, r.text
    assert r.json()["field"] == field, r.json()
    assert r.json()["code"] in ("validation_error", "max_participants_over_limit", "unknown_template",
                                "duplicate_member")


def test_malformed_json_and_wrong_content(api):
    r = api.admin("POST", "/rooms", data="{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["field"] == "body"
    r = api.admin("POST", "/rooms", json=["a", "list"])
    assert r.status_code == 422


def test_authentication_and_admin_scope(api, ids):
    body = {"booking_id": ids["booking"], "service_type": "therapy", "host": {"user_id": ids["host"]}}
    assert api.call("POST", "/rooms", json=body).status_code == 401
    bad = api.call("POST", "/rooms", json=body, headers={"authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401
    r = api.call("POST", "/rooms", json=body, as_user=ids["host"])
    assert r.status_code == 403 and r.json()["code"] == "admin_scope_required"
    template = {"room_type": "workshop", "max_participants": 5, "max_participants_limit": 5}
    for method, path, payload in [
        ("PUT", "/rooms/x/members/y", {"role": "participant"}), ("DELETE", "/rooms/x/members/y", None),
        ("DELETE", "/rooms/x", None), ("GET", "/templates", None), ("PUT", "/templates/individual", template),
    ]:
        r = api.call(method, path, as_user=ids["host"], json=payload)
        assert r.status_code == 403 and r.json()["code"] == "admin_scope_required", (method, path, r.text)


def test_unknown_route_is_404(api):
    assert api.admin("GET", "/nothing-here").status_code == 404


def test_grant_and_revoke_membership(api, ids, booking_room):
    room_id = booking_room["room_id"]
    r = api.admin("PUT", f"/rooms/{room_id}/members/{ids['other']}", json={"role": "participant", "name": "Otto"})
    assert r.status_code == 201 and r.json()["status"] == "active"
    again = api.admin("PUT", f"/rooms/{room_id}/members/{ids['other']}", json={"name": "Otto 2"})
    assert again.status_code == 200 and again.json()["name"] == "Otto 2"
    assert api.call("POST", f"/rooms/{room_id}/token", as_user=ids["other"]).status_code == 200
    r = api.admin("DELETE", f"/rooms/{room_id}/members/{ids['other']}")
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    r = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["other"])
    assert r.status_code == 403 and r.json()["code"] == "membership_revoked"
    assert api.admin("DELETE", f"/rooms/{room_id}/members/nobody").status_code == 404
    assert api.admin("PUT", "/rooms/no-such-room/members/u", json={}).status_code == 404


def test_end_room(api, ids, booking_room):
    room_id = booking_room["room_id"]
    assert api.call("POST", f"/rooms/{room_id}/token", as_user=ids["host"]).status_code == 200
    r = api.admin("DELETE", f"/rooms/{room_id}")
    assert r.status_code == 200 and r.json()["changed"] is True
    assert r.json()["room"]["status"] == "ended" and r.json()["room"]["ended_at"]
    again = api.admin("DELETE", f"/rooms/{room_id}")
    assert again.status_code == 200 and again.json()["changed"] is False
    r = api.call("POST", f"/rooms/{room_id}/token", as_user=ids["client"])
    assert r.status_code == 409 and r.json()["code"] == "room_ended"
    r = api.admin("PUT", f"/rooms/{room_id}/members/{ids['other']}", json={})
    assert r.status_code == 409 and r.json()["code"] == "room_not_live"
    assert api.admin("DELETE", "/rooms/unknown-room").status_code == 404


def test_templates_list_and_override(api, ids):
    r = api.admin("GET", "/templates")
    names = {t["name"]: t for t in r.json()["templates"]}
    assert {"individual", "workshop", "course", "webinar", "broadcast"} <= set(names)
    custom = f"group-therapy-{ids['booking'][-6:]}"
    r = api.admin("PUT", f"/templates/{custom}", json={
        "room_type": "workshop", "max_participants": 8, "max_participants_limit": 10, "waiting_room": True})
    assert r.status_code == 200 and r.json()["source"] == "custom"
    bad = api.admin("PUT", f"/templates/{custom}", json={
        "room_type": "workshop", "max_participants": 12, "max_participants_limit": 10})
    assert bad.status_code == 422
    room = api.admin("POST", "/rooms", json={"service_session_id": ids["session"], "template": custom,
                                             "host": {"user_id": ids["host"]}})
    assert room.status_code == 201 and room.json()["max_participants"] == 8 and room.json()["waiting_room"]
    over = api.admin("POST", "/rooms", json={"service_session_id": ids["session"] + "x", "template": custom,
                                             "host": {"user_id": ids["host"]}, "max_participants": 11})
    assert over.status_code == 422 and over.json()["field"] == "max_participants"
